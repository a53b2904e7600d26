"""The hand-written modern references against published facts: torchvision's and nanoGPT's
parameter counts and state_dict key names (read in their sources), the semantics of
shifted windows, causal attention and channel shuffle; and small variants run at two sizes.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference import modern_cnn as cnn, transformers as tf  # noqa: E402

# name: (builder, parameters (published where one exists), state_dict keys at full size)
PUBLISHED_FACTS = {
    "convnext_tiny": (cnn.convnext_tiny, 28_589_128, 182),
    "efficientnet_b0": (cnn.efficientnet_b0, 5_288_548, 360),
    "mobilenet_v3_large": (cnn.mobilenet_v3_large, 5_483_032, 312),
    "shufflenet_v2_x1_0": (cnn.shufflenet_v2_x1_0, 2_278_604, 338),
    "vit_b_16": (tf.vit_b_16, 86_567_656, 152),
    "swin_t": (tf.swin_t, 28_288_354, 185),
    "gpt2": (tf.gpt2, 124_439_808, 149),
    "text_transformer": (tf.text_transformer, 135_170, 28),  # our design: measured, not published
    "text_lstm": (tf.text_lstm, 230_146, 19),
}

# Keys and shapes as the originals name them.
KEYS = {
    "convnext_tiny": {
        "features.0.0.weight": (96, 3, 4, 4), "features.0.1.weight": (96,),
        "features.1.0.block.0.weight": (96, 1, 7, 7), "features.1.0.block.2.weight": (96,),
        "features.1.0.block.3.weight": (384, 96), "features.1.0.block.5.weight": (96, 384),
        "features.1.0.layer_scale": (96, 1, 1), "features.2.0.weight": (96,), "features.2.1.weight": (192, 96, 2, 2),
        "features.5.8.layer_scale": (384, 1, 1), "features.7.2.block.5.bias": (768,),
        "classifier.0.weight": (768,), "classifier.2.weight": (1000, 768)},
    "efficientnet_b0": {
        "features.0.0.weight": (32, 3, 3, 3), "features.0.1.running_var": (32,),
        "features.1.0.block.0.0.weight": (32, 1, 3, 3), "features.1.0.block.1.fc1.weight": (8, 32, 1, 1),
        "features.1.0.block.1.fc2.bias": (32,), "features.1.0.block.2.0.weight": (16, 32, 1, 1),
        "features.2.0.block.0.0.weight": (96, 16, 1, 1), "features.2.0.block.2.fc1.weight": (4, 96, 1, 1),
        "features.6.3.block.1.0.weight": (1152, 1, 5, 5), "features.8.0.weight": (1280, 320, 1, 1),
        "classifier.1.weight": (1000, 1280)},
    "mobilenet_v3_large": {
        "features.0.0.weight": (16, 3, 3, 3), "features.1.block.0.0.weight": (16, 1, 3, 3),
        "features.1.block.1.0.weight": (16, 16, 1, 1), "features.2.block.0.0.weight": (64, 16, 1, 1),
        "features.4.block.2.fc1.weight": (24, 72, 1, 1), "features.4.block.2.fc2.weight": (72, 24, 1, 1),
        "features.4.block.3.1.num_batches_tracked": (), "features.15.block.2.fc1.weight": (240, 960, 1, 1),
        "features.16.0.weight": (960, 160, 1, 1), "classifier.0.weight": (1280, 960),
        "classifier.3.weight": (1000, 1280)},
    "shufflenet_v2_x1_0": {
        "conv1.0.weight": (24, 3, 3, 3), "stage2.0.branch1.0.weight": (24, 1, 3, 3),
        "stage2.0.branch1.2.weight": (58, 24, 1, 1), "stage2.0.branch2.0.weight": (58, 24, 1, 1),
        "stage2.1.branch2.0.weight": (58, 58, 1, 1), "stage2.1.branch2.3.weight": (58, 1, 3, 3),
        "stage4.3.branch2.6.running_var": (232,), "conv5.0.weight": (1024, 464, 1, 1), "fc.weight": (1000, 1024)},
    "vit_b_16": {
        "conv_proj.weight": (768, 3, 16, 16), "class_token": (1, 1, 768), "encoder.pos_embedding": (1, 197, 768),
        "encoder.layers.encoder_layer_0.ln_1.weight": (768,),
        "encoder.layers.encoder_layer_0.self_attention.in_proj_weight": (2304, 768),
        "encoder.layers.encoder_layer_0.self_attention.out_proj.weight": (768, 768),
        "encoder.layers.encoder_layer_11.mlp.0.weight": (3072, 768),
        "encoder.layers.encoder_layer_11.mlp.3.bias": (768,), "encoder.ln.weight": (768,),
        "heads.head.weight": (1000, 768)},
    "swin_t": {
        "features.0.0.weight": (96, 3, 4, 4), "features.0.2.weight": (96,), "features.1.0.norm1.weight": (96,),
        "features.1.0.attn.qkv.weight": (288, 96), "features.1.0.attn.proj.weight": (96, 96),
        "features.1.0.attn.relative_position_bias_table": (169, 3),
        "features.1.0.attn.relative_position_index": (2401,), "features.1.1.mlp.0.weight": (384, 96),
        "features.1.1.mlp.3.weight": (96, 384), "features.2.reduction.weight": (192, 384),
        "features.2.norm.weight": (384,), "features.7.1.attn.relative_position_bias_table": (169, 24),
        "norm.weight": (768,), "head.weight": (1000, 768)},
    "gpt2": {
        "transformer.wte.weight": (50257, 768), "transformer.wpe.weight": (1024, 768),
        "transformer.h.0.ln_1.weight": (768,), "transformer.h.0.attn.c_attn.weight": (2304, 768),
        "transformer.h.0.attn.c_attn.bias": (2304,), "transformer.h.0.attn.c_proj.weight": (768, 768),
        "transformer.h.11.ln_2.bias": (768,), "transformer.h.11.mlp.c_fc.weight": (3072, 768),
        "transformer.h.11.mlp.c_proj.weight": (768, 3072), "transformer.ln_f.bias": (768,),
        "lm_head.weight": (50257, 768)},
    "text_transformer": {
        "embedding.weight": (1000, 64), "position.weight": (64, 64), "layers.1.self_attn.in_proj_weight": (192, 64),
        "layers.1.linear1.weight": (128, 64), "layers.1.norm2.bias": (64,), "head.weight": (2, 64)},
    "text_lstm": {
        "embedding.weight": (1000, 64), "lstm.weight_ih_l0": (256, 64), "lstm.weight_hh_l1_reverse": (256, 64),
        "lstm.weight_ih_l1": (256, 128), "head.weight": (2, 128)},
}


@pytest.fixture(scope="module")
def full_size():
    with torch.device("meta"):
        return {name: build() for name, (build, _, _) in PUBLISHED_FACTS.items()}


@pytest.mark.parametrize("name", PUBLISHED_FACTS)
def test_full_size_counts_and_keys(full_size, name):
    net, (_, params, n_keys) = full_size[name], PUBLISHED_FACTS[name]
    assert sum(p.numel() for p in net.parameters()) == params
    state = net.state_dict()
    assert len(state) == n_keys
    assert {k: tuple(state[k].shape) for k in KEYS[name]} == KEYS[name]


def test_gpt2_ties_lm_head_to_wte(full_size):
    gpt = full_size["gpt2"]
    assert gpt.lm_head.weight is gpt.transformer.wte.weight
    assert {"lm_head.weight", "transformer.wte.weight"} <= set(gpt.state_dict())


def test_swin_relative_position_index_is_a_persistent_int_buffer(full_size):
    attn = full_size["swin_t"].features[1][0].attn
    index = tf.relative_position_index(7)
    assert index.dtype == torch.int64 and index.shape == (2401,)
    # offset (dy, dx) is row (dy + 6) * 13 + (dx + 6): the pair of a token with itself is the centre
    assert index[0] == 84 and index.max() == 168 and index.min() == 0
    assert index[1] == 6 * 13 + 5  # query (0, 0), key (0, 1): dx = -1
    assert "relative_position_index" in attn.state_dict()


@pytest.mark.parametrize("name, path, rates", [
    ("convnext_tiny", lambda m: [b.stochastic_depth for s in m.features[1::2] for b in s], (0.1, 17, 18)),
    ("efficientnet_b0", lambda m: [b.stochastic_depth for s in m.features[1:8] for b in s], (0.2, 16, 16)),
    ("swin_t", lambda m: [b.stochastic_depth for s in m.features[1::2] for b in s], (0.2, 11, 12)),
])
def test_stochastic_depth_grows_linearly_over_blocks(full_size, name, path, rates):
    total, denominator, blocks = rates
    assert [sd.p for sd in path(full_size[name])] == [total * k / denominator for k in range(blocks)]


def test_stochastic_depth_drops_whole_rows_in_training_only():
    sd, x = cnn.StochasticDepth(0.5, "row"), torch.ones(64, 3, 2, 2)
    assert sd.eval()(x) is x
    y = sd.train()(x).flatten(1)
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert (y == y[:, :1]).all()


def test_channel_shuffle_interleaves_the_two_halves():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert cnn.channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("shift", [0, 2])
def test_shifted_window_attention_mixes_only_tokens_of_one_shifted_window(shift):
    """A token's output depends on exactly the tokens of its window, the windows starting at
    `shift` without wrapping around (the cyclic roll plus the mask must hide the wrap)."""
    torch.manual_seed(0)
    w, size = 4, 8
    attn = tf.ShiftedWindowAttention(8, w, [shift, shift], num_heads=2).eval()
    x = torch.randn(1, size, size, 8)
    groups = torch.tensor([0 if i < shift else 1 + (i - shift) // w for i in range(size)])
    base = attn(x)
    for i, j in [(0, 0), (1, 2), (3, 5), (5, 7), (7, 7)]:
        nudged = x.clone()
        nudged[0, i, j] += 1.0
        changed = (attn(nudged) - base).abs().sum(-1)[0] > 1e-6
        same = (groups[:, None] == groups[i]) & (groups[None, :] == groups[j])
        assert torch.equal(changed, same), (i, j)


def test_gpt_is_causal_and_accepts_shorter_sequences():
    torch.manual_seed(0)
    gpt = tf.GPT(tf.GPTConfig(block_size=16, vocab_size=50, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(0, 50, (2, 16))
    with torch.no_grad():
        full, prefix = gpt(idx), gpt(idx[:, :5])
    assert full.shape == (2, 16, 50) and prefix.shape == (2, 5, 50)
    torch.testing.assert_close(prefix, full[:, :5])
    with pytest.raises(ValueError):
        gpt(torch.zeros(1, 17, dtype=torch.long))


TORCH_NAMES = {  # a block's keys as torch's pre-norm nn.TransformerEncoderLayer names them
    "vit": {"ln_1": "norm1", "self_attention": "self_attn", "ln_2": "norm2", "mlp.0": "linear1", "mlp.3": "linear2"},
    "gpt": {"ln_1": "norm1", "attn.c_attn.weight": "self_attn.in_proj_weight", "attn.c_attn.bias":
            "self_attn.in_proj_bias", "attn.c_proj": "self_attn.out_proj", "ln_2": "norm2", "mlp.c_fc": "linear1",
            "mlp.c_proj": "linear2"},
}


@pytest.mark.parametrize("kind", TORCH_NAMES)
def test_blocks_equal_torchs_pre_norm_encoder_layer(kind):
    """ViT's and GPT's blocks are torch's pre-norm GELU encoder layer (GPT's with a causal mask)."""
    torch.manual_seed(0)
    if kind == "vit":
        block, eps, mask = tf.EncoderBlock(2, 16, 64, 0.0, 0.0), 1e-6, None
    else:
        block, eps = tf.Block(tf.GPTConfig(n_head=2, n_embd=16)), 1e-5
        mask = torch.nn.Transformer.generate_square_subsequent_mask(9)
    layer = torch.nn.TransformerEncoderLayer(16, 2, 64, dropout=0.0, activation="gelu", layer_norm_eps=eps,
                                             batch_first=True, norm_first=True)
    renamed = {}
    for key, value in block.state_dict().items():
        prefix = next(p for p in TORCH_NAMES[kind] if key.startswith(p))
        renamed[TORCH_NAMES[kind][prefix] + key[len(prefix):]] = value
    layer.load_state_dict(renamed, strict=True)
    x = torch.randn(2, 9, 16)
    torch.testing.assert_close(block.eval()(x), layer.eval()(x, src_mask=mask, is_causal=mask is not None))


def test_text_lstm_last_pool_reads_both_directions_final_states():
    torch.manual_seed(0)
    net = tf.TextLSTM(vocab_size=30, embed_dim=8, hidden_size=6, num_classes=3).eval()
    out, (h, _) = net.lstm(net.embedding(torch.randint(0, 30, (2, 7))))
    torch.testing.assert_close(h[-2], out[:, -1, :6])
    torch.testing.assert_close(h[-1], out[:, 0, 6:])


def tiny_images(size):
    return torch.randn(2, 3, size, size)


def tiny_tokens(length, vocab=50):
    return torch.randint(0, vocab, (2, length))


# name: (small variant with 5 classes, input sizes (two where the architecture allows), input maker)
TINY = {
    "convnext": (lambda: cnn.ConvNeXt(((8, 16, 1), (16, None, 2)), num_classes=5), [64, 96], tiny_images),
    "efficientnet": (lambda: cnn.EfficientNet(((1, 3, 1, 8, 8, 1), (6, 5, 2, 8, 16, 2)), num_classes=5),
                     [64, 96], tiny_images),
    "mobilenet_v3": (lambda: cnn.MobileNetV3(((8, 3, 8, 8, True, "RE", 1), (8, 3, 24, 16, False, "HS", 2),
                                              (16, 5, 48, 16, True, "HS", 1)), last_channel=32, num_classes=5),
                     [64, 96], tiny_images),
    "shufflenet_v2": (lambda: cnn.ShuffleNetV2((1, 2, 1), (8, 16, 32, 64, 128), num_classes=5), [64, 96], tiny_images),
    "vit": (lambda: tf.VisionTransformer(32, 8, 2, 2, 16, 32, num_classes=5), [32], tiny_images),
    "swin": (lambda: tf.SwinTransformer(4, 8, (2, 2), (2, 4), 4, num_classes=5), [64, 56], tiny_images),
    "text_transformer": (lambda: tf.TextTransformer(50, 16, 16, 2, 2, 32, num_classes=5), [16, 7], tiny_tokens),
    "text_lstm": (lambda: tf.TextLSTM(50, 8, 6, pool="mean", num_classes=5), [16, 7], tiny_tokens),
}


@pytest.mark.parametrize("name", TINY)
def test_small_variant_runs_at_two_sizes_and_trains_every_parameter(name):
    build, sizes, make = TINY[name]
    torch.manual_seed(0)
    net = build()
    with torch.no_grad():
        for size in sizes:
            assert net.eval()(make(size)).shape == (2, 5)
    net.train()(make(sizes[0])).sum().backward()
    assert [n for n, p in net.named_parameters() if p.grad is None] == []


def test_vit_refuses_another_image_size():
    with pytest.raises(ValueError):
        tf.VisionTransformer(32, 8, 1, 2, 16, 32, num_classes=5)(tiny_images(48))
