"""The fully connected layer: acts on the last dim, so any leading sample dims pass through."""
from __future__ import annotations

from archspec.ops import register
from archspec.ops.base import Arg, Bool, Int, Op, ShapeRuleError, prod


@register
class Linear(Op):
    name = "linear"
    family = "linear"
    batch_free = True  # it acts on the last dim: a learnable table may go through it
    doc = "Affine map of the last dim: (..., in) -> (..., out) (torch.nn.Linear)."
    main_arg = "out"
    args = (
        Arg("out", Int(1), doc="output features"),
        Arg("bias", Bool(), True, "add a learnable bias"),
    )

    def shape(self, a, xs):
        x = xs[0]
        if len(x) < 1:
            raise ShapeRuleError(f"{self.name}: expects input of rank >= 1 (..., features), found {list(x)}")
        return (*x[:-1], a["out"])

    def weights(self, a, xs):
        return {"weight": (a["out"], xs[0][-1]), **({"bias": (a["out"],)} if a["bias"] else {})}

    def macs(self, a, xs, out):
        return prod(xs[0]) * a["out"]

    def module(self, a, xs):
        from torch import nn

        return nn.Linear(xs[0][-1], a["out"], bias=a["bias"])
