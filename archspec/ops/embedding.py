"""Token inputs: `embedding` looks int64 ids up in a learned table (nn.Embedding), and
`positions` makes the ids 0 .. T-1 of a value's sequence dim, so a position table is
`embedding` read at `positions` (nanoGPT's `wpe(arange(t))`). The positions come from the
tensor's actual length when the model runs, so a model declared for `block_size` tokens runs
on any shorter sequence; the check sees the declared length."""
from __future__ import annotations

from archspec.compiler.ir import DTYPES, Type
from archspec.ops import register
from archspec.ops.base import Arg, Int, Op, Optional, ShapeRuleError
from archspec.ops.reshape import value_dim


@register
class Embedding(Op):
    name = "embedding"
    family = "embedding"
    doc = ("Look int64 ids up in a learned table of `num` rows of `dim` features: (...) -> (..., dim) "
           "(torch.nn.Embedding; its `weight` is (num, dim)).")
    dtypes = ("int64",)
    batch_free = True  # positions are the same for every sample
    args = (
        Arg("num", Int(1), doc="rows of the table: the vocabulary size (ids must be in [0, num))"),
        Arg("dim", Int(1), doc="features per row"),
        Arg("padding_idx", Optional(Int()), None, "an id whose row stays zero and gets no gradient; null: none"),
    )

    def type(self, a, ts):
        self.check_inputs(ts)
        p = a["padding_idx"]
        if p is not None and not -a["num"] <= p < a["num"]:
            raise ShapeRuleError(f"{self.name}: padding_idx {p} is not a row of a table of {a['num']} rows")
        return Type((*ts[0].shape, a["dim"]), "float32", ts[0].batched)

    def weights(self, a, xs):
        return {"weight": (a["num"], a["dim"])}

    def module(self, a, xs):
        from torch import nn

        return nn.Embedding(a["num"], a["dim"], padding_idx=a["padding_idx"])


@register
class Positions(Op):
    name = "positions"
    family = "embedding"
    doc = ("The int64 positions 0, 1, ..., T-1 along a dim of the input, T its length when the model runs "
           "(torch.arange): no batch, to read a position table with `embedding`.")
    dtypes = DTYPES
    batch_free = True
    main_arg = "dim"
    args = (Arg("dim", Int(), 1, "the sequence dim (a batched value's batch is dim 0; default 1: tokens (B, T))"),)

    def type(self, a, ts):
        self.check_inputs(ts)
        d = value_dim(self.name, a["dim"], ts[0])
        return Type((ts[0].shape[d],), "int64", batched=False)

    def bind(self, a, ts):
        """`at`: the dim's place in the tensor torch sees (counting a batch)."""
        return {**a, "at": value_dim(self.name, a["dim"], ts[0]) + ts[0].batched}

    def apply(self, a, x):
        import torch

        return torch.arange(x.shape[a["at"]], device=x.device)

    def python(self, a, xs):
        return f"torch.arange({xs[0]}.shape[{a['at']}], device={xs[0]}.device)"
