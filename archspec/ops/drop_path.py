"""drop_path: stochastic depth, the residual-branch dropout of ConvNeXt, EfficientNet and Swin."""
from __future__ import annotations

from archspec.ops import register
from archspec.ops.base import Arg, Choice, Float, Op


@register
class DropPath(Op):
    name = "drop_path"
    family = "activation"  # beside dropout, which the listing and the pictures group with activations
    doc = ("Stochastic depth: while training, zero a sample's whole input (row) or the batch's (batch) with "
           "probability p, scaling survivors by 1/(1-p); identity in eval (torchvision.ops.StochasticDepth).")
    main_arg = "p"
    args = (
        Arg("p", Float(0.0, 1.0), doc="probability of dropping the input (0: never)"),
        Arg("mode", Choice("row", "batch"), "row", "'row': each sample on its own; 'batch': the whole batch at once"),
    )

    def shape(self, a, xs):
        return tuple(xs[0])

    def module(self, a, xs):
        from archspec.layers import DropPath

        return DropPath(a["p"], a["mode"])
