"""The shape manipulations of today's networks, written as specs with the shape ops and built
by archspec, against the hand-written references in tests/reference (torchvision's Swin-T,
ShuffleNetV2, ConvNeXt and ViT layouts; nanoGPT). Where a reference merges the batch with
windows (Swin's (B * windows, w * w, C)), the spec keeps the windows as a dim of each sample
and the test merges them to compare."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import archspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference import modern_cnn as cnn, transformers as tf  # noqa: E402


def built(input_shape, *items: str):
    text = f"archspec: 1\ninput: {list(input_shape)}\nlayers:\n" + "".join(f"  - {item}\n" for item in items)
    return archspec.build(text).eval()


def test_swin_window_partition_and_reverse():
    b, h, w, c, win = 2, 6, 9, 4, 3
    x = torch.randn(b, h, w, c)
    part = built((h, w, c), f'{{rearrange: {{pattern: "b (h wh) (w ww) c -> b (h w) (wh ww) c", sizes: {{wh: {win}, ww: {win}}}}}}}')
    windows = part(x)
    assert windows.shape == (b, 6, win * win, c)
    torch.testing.assert_close(windows.reshape(-1, win * win, c), tf.window_partition(x, win), rtol=0, atol=0)
    back = built((6, win * win, c), f'{{rearrange: {{pattern: "b (h w) (wh ww) c -> b (h wh) (w ww) c", '
                                    f'sizes: {{h: {h // win}, wh: {win}, ww: {win}}}}}}}')
    torch.testing.assert_close(back(windows), tf.window_reverse(tf.window_partition(x, win), win, b, h, w), rtol=0, atol=0)


def test_swin_pad_shift_and_crop():
    """ShiftedWindowAttention's F.pad to whole windows, its cyclic shift, the shift back and the crop."""
    x = torch.randn(2, 5, 7, 4)
    net = built((5, 7, 4), "{pad: [0, 0, 0, 2, 0, 1]}", "{roll: {shifts: [-1, -1], dims: [1, 2]}}",
                "{roll: {shifts: [1, 1], dims: [1, 2]}}", "{slice: {stop: 5}}", "{slice: {dim: 2, stop: 7}}")
    padded = torch.nn.functional.pad(x, (0, 0, 0, 2, 0, 1))
    shifted = torch.roll(torch.roll(padded, shifts=(-1, -1), dims=(1, 2)), shifts=(1, 1), dims=(1, 2))
    torch.testing.assert_close(net(x), shifted[:, :5, :7, :], rtol=0, atol=0)


def test_swin_heads_and_scores():
    """qkv(x).reshape(windows, n, 3, heads, d).permute(2, 0, 3, 1, 4), then q @ k^T, per window."""
    b, windows, n, heads, d = 2, 4, 9, 2, 3
    qkv = torch.randn(b, windows, n, 3 * heads * d)
    heads_of = built((windows, n, 3 * heads * d),
                     f'{{id: heads, rearrange: {{pattern: "b w n (three h d) -> b three w h n d", sizes: {{three: 3, h: {heads}}}}}}}',
                     "{id: q, select: 0}", "{id: k, from: heads, select: 1}", "{id: kt, transpose: {dim0: -2, dim1: -1}}",
                     "{matmul, from: [q, kt]}")
    q, k, v = qkv.reshape(b * windows, n, 3, heads, d).permute(2, 0, 3, 1, 4)
    torch.testing.assert_close(heads_of(qkv).reshape(b * windows, heads, n, n), q.matmul(k.transpose(-2, -1)))


def test_swin_patch_merging_gathers_2x2_neighbourhoods_in_torchvisions_order():
    x = torch.randn(2, 4, 6, 3)
    merge = built((4, 6, 3), '{rearrange: {pattern: "b (h p1) (w p2) c -> b h w (p2 p1 c)", sizes: {p1: 2, p2: 2}}}')
    want = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
    torch.testing.assert_close(merge(x), want, rtol=0, atol=0)


def test_shufflenet_split_and_shuffle():
    x = torch.randn(2, 8, 3, 3)
    kept = built((8, 3, 3), "{chunk: 2}")
    torch.testing.assert_close(kept(x), x.chunk(2, dim=1)[0], rtol=0, atol=0)
    shuffle = built((8, 3, 3), '{rearrange: {pattern: "b (g c) h w -> b (c g) h w", sizes: {g: 2}}}')
    torch.testing.assert_close(shuffle(x), cnn.channel_shuffle(x, 2), rtol=0, atol=0)
    pooled = built((8, 3, 3), '{reduce: {pattern: "b c h w -> b c", reduction: mean}}')
    torch.testing.assert_close(pooled(x), x.mean([2, 3]))


@pytest.mark.parametrize("pattern, dims", [("b c h w -> b h w c", [0, 2, 3, 1]), ("b h w c -> b c h w", [0, 3, 1, 2])])
def test_convnext_and_swin_permutes(pattern, dims):
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(built(x.shape[1:], f'{{rearrange: "{pattern}"}}')(x), cnn.Permute(dims)(x), rtol=0, atol=0)


def test_vit_patches_and_class_token():
    """conv_proj(x).reshape(n, hidden, -1).permute(0, 2, 1), and the class token's x[:, 0]."""
    x = torch.randn(2, 6, 4, 4)
    net = built((6, 4, 4), '{rearrange: "b c h w -> b (h w) c"}')
    torch.testing.assert_close(net(x), x.reshape(2, 6, -1).permute(0, 2, 1), rtol=0, atol=0)
    torch.testing.assert_close(built((5, 6), "{select: 0}")(x[:, 0, :5]), x[:, 0, 0], rtol=0, atol=0)


def test_gpt_heads_split_and_merged():
    """c_attn(x).split(n_embd, dim=2), view(b, t, nh, hs).transpose(1, 2), and back."""
    b, t, nh, hs = 2, 5, 3, 4
    c = nh * hs
    x = torch.randn(b, t, 3 * c)
    split = built((t, 3 * c), f"{{split: {{sizes: [{c}, {c}, {c}], dim: 2}}}}",
                  f'{{rearrange: {{pattern: "b t (h d) -> b h t d", sizes: {{h: {nh}}}}}}}')
    q = x.split(c, dim=2)[0].view(b, t, nh, hs).transpose(1, 2)
    torch.testing.assert_close(split(x), q, rtol=0, atol=0)
    merge = built((nh, t, hs), '{rearrange: "b h t d -> b t (h d)"}')
    torch.testing.assert_close(merge(q), q.transpose(1, 2).contiguous().view(b, t, c), rtol=0, atol=0)
