"""The torch.nn classes named in specs (`nn.<Class>`): one or two hand-picked calls per class
that needs arguments or a particular input, the others on small inputs of any rank. Their
rule is a forward pass on the meta device; torch on the CPU is the oracle, so the harness
compares the meta device's answers (shape, dtype, parameters, MACs, refusals) with real ones.
Now and then the first input becomes batch-free or of another dtype, which the op refuses."""
from __future__ import annotations

from hypothesis import strategies as st

import archspec.ops as ops
from archspec.compiler.ir import Type

IDS = Type((5,), "int64")
CONV = {"in_channels": 2, "out_channels": 3, "kernel_size": 3}
RECURRENT = {"input_size": 3, "hidden_size": 4}
ATTENTION = {"d_model": 4, "nhead": 2, "dim_feedforward": 8, "batch_first": True}

# class: [(keyword arguments, inputs), ...]
EXAMPLES = {
    **{f"Adaptive{kind}Pool{d}d": [({"output_size": size}, [x])]
       for kind in ("Avg", "Max") for d, size, x in ((1, 2, (3, 5)), (2, [2, 3], (3, 5, 6)), (3, 1, (2, 3, 3, 3)))},
    **{f"{kind}Pool{d}d": [({"kernel_size": 2}, [x]), ({"kernel_size": 3}, [x])]
       for kind in ("Avg", "Max") for d, x in ((1, (3, 5)), (2, (2, 4, 4)), (3, (1, 2, 4, 4)))},
    **{f"LPPool{d}d": [({"norm_type": 2, "kernel_size": 2}, [x])] for d, x in ((1, (3, 4)), (2, (2, 4, 4)), (3, (1, 2, 4, 4)))},
    **{f"MaxUnpool{d}d": [({"kernel_size": 2}, [x, Type(x, "int64")])] for d, x in ((1, (3, 4)), (2, (2, 3, 3)), (3, (1, 2, 2, 2)))},
    **{f"FractionalMaxPool{d}d": [({"kernel_size": 2, "output_size": 2}, [x])] for d, x in ((2, (2, 5, 5)), (3, (1, 4, 4, 4)))},
    **{f"{kind}Norm{d}d": [({"num_features": 3}, [x]), ({"num_features": 2}, [x])]
       for kind in ("Batch", "Instance") for d, x in ((1, (3, 5)), (2, (3, 4, 4)), (3, (3, 2, 2, 2)))},
    **{f"Conv{d}d": [(CONV, [x]), (CONV | {"padding": "same"}, [x]), (CONV, [(3,) + x[1:]])]
       for d, x in ((1, (2, 6)), (2, (2, 5, 5)), (3, (2, 3, 3, 3)))},
    **{f"ConvTranspose{d}d": [(CONV | {"stride": 2}, [x])] for d, x in ((1, (2, 4)), (2, (2, 3, 3)), (3, (2, 2, 2, 2)))},
    **{f"{kind}Pad{d}d": [({"padding": 1} | extra, [x]), ({"padding": 3} | extra, [x])]
       for kind, extra in (("Circular", {}), ("Constant", {"value": 0.5}), ("Reflection", {}), ("Replication", {}), ("Zero", {}))
       for d, x in ((1, (2, 4)), (2, (2, 3, 4)), (3, (1, 3, 3, 3)))},
    **{f"Dropout{d}d": [({}, [x])] for d, x in ((1, (2, 3)), (2, (2, 3, 3)), (3, (1, 2, 2, 2)))},
    "FeatureAlphaDropout": [({}, [(2, 3, 3)])],
    "Bilinear": [({"in1_features": 3, "in2_features": 4, "out_features": 2}, [(3,), (4,)]),
                 ({"in1_features": 3, "in2_features": 4, "out_features": 2}, [(3,), (3,)])],
    "CosineSimilarity": [({}, [(4,), (4,)]), ({"dim": 1}, [(3, 2), (3, 2)])],
    "PairwiseDistance": [({}, [(4,), (4,)])],
    "ChannelShuffle": [({"groups": 2}, [(4, 3, 3)]), ({"groups": 3}, [(4, 3, 3)])],
    "CrossMapLRN2d": [({"size": 3}, [(4, 3, 3)])],
    "LocalResponseNorm": [({"size": 2}, [(4, 3, 3)])],
    "Embedding": [({"num_embeddings": 4, "embedding_dim": 3}, [IDS])],
    "EmbeddingBag": [({"num_embeddings": 4, "embedding_dim": 3}, [IDS]), ({"num_embeddings": 4, "embedding_dim": 3}, [(5,)])],
    "Fold": [({"output_size": [4, 4], "kernel_size": 2}, [(8, 9)]), ({"output_size": [4, 4], "kernel_size": 2}, [(8, 8)])],
    "Unfold": [({"kernel_size": 2}, [(2, 4, 4)]), ({"kernel_size": [2, 3], "stride": 2}, [(2, 5, 5)])],
    "GroupNorm": [({"num_groups": 2, "num_channels": 4}, [(4, 3)]), ({"num_groups": 3, "num_channels": 4}, [(4, 3)])],
    "LayerNorm": [({"normalized_shape": 4}, [(3, 4)]), ({"normalized_shape": [3, 4]}, [(3, 4)])],
    "RMSNorm": [({"normalized_shape": 4}, [(3, 4)]), ({"normalized_shape": 4}, [(4, 3)])],
    "Linear": [({"in_features": 4, "out_features": 2}, [(4,)]), ({"in_features": 4, "out_features": 2, "bias": False}, [(3, 4)])],
    "GRUCell": [(RECURRENT, [(3,)])],
    "RNNCell": [(RECURRENT, [(3,)]), (RECURRENT | {"nonlinearity": "relu"}, [(3,)])],
    "LSTMCell": [(RECURRENT, [(3,)])],  # returns (h, c): refused on both sides
    "MultiheadAttention": [({"embed_dim": 4, "num_heads": 2, "batch_first": True}, [(3, 4)] * 3)],  # (output, weights)
    "PixelShuffle": [({"upscale_factor": 2}, [(8, 2, 3)]), ({"upscale_factor": 2}, [(6, 2, 3)])],
    "PixelUnshuffle": [({"downscale_factor": 2}, [(2, 4, 6)])],
    "Softmax2d": [({}, [(2, 3, 3)])],
    "GLU": [({}, [(4,)]), ({"dim": -2}, [(2, 3)])],
    "Threshold": [({"threshold": 0.1, "value": 0.0}, [(3,)])],
    # batch_first false: in eval torch's fused encoder kernel, which the FLOP counter cannot see, is not taken
    "Transformer": [(ATTENTION | {"num_encoder_layers": 1, "num_decoder_layers": 1, "batch_first": False}, [(3, 4), (2, 4)])],
    "TransformerDecoderLayer": [(ATTENTION, [(3, 4), (2, 4)])],
    "TransformerEncoderLayer": [(ATTENTION, [(3, 4)]), (ATTENTION | {"norm_first": True, "activation": "gelu"}, [(3, 4)])],
    "Unflatten": [({"dim": 1, "unflattened_size": [2, 3]}, [(6, 2)]), ({"dim": 1, "unflattened_size": [4, 2]}, [(6, 2)])],
    "Upsample": [({"scale_factor": 2}, [(2, 3)]), ({"size": [4, 5], "mode": "bilinear"}, [(2, 3, 3)])],
    "UpsamplingBilinear2d": [({"scale_factor": 2}, [(2, 3, 3)])],
    "UpsamplingNearest2d": [({"size": 4}, [(2, 3, 3)])],
}


ANY_RANK = [({}, [(3,)]), ({}, [(2, 3)]), ({}, [(2, 3, 4)])]


@st.composite
def torch_nn(draw, op):
    """A few fixed calls (the rule is torch's own kernel: the point is meta against CPU, not a search)."""
    given, xs = draw(st.sampled_from(EXAMPLES.get(op.class_name, ANY_RANK)))
    first, kind = xs[0], draw(st.sampled_from(["as is", "batch-free", "int64"]))
    if not isinstance(first, Type) and kind != "as is":  # refused, naming the input
        first = Type(first, batched=False) if kind == "batch-free" else Type(first, "int64")
    return dict(given), [first, *xs[1:]]


STRATEGIES = {name: torch_nn for name, op in ops.registry().items() if op.family == "nn"}
