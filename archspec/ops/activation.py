"""Shape-preserving layers: activations, dropout, identity.

They differ only in their torch class and arguments, so one table drives them all:
each entry becomes an Op whose module is torch.nn.<class>(**args)."""
from __future__ import annotations

from archspec.ops import register
from archspec.compiler.ir import DTYPES
from archspec.ops.base import Arg, Bool, Choice, Float, Int, Op, ShapeRuleError
from archspec.ops.reshape import batch_dim


class Elementwise(Op):
    """Output shape = input shape; module = torch.nn.<torch_name>(**args). Element by element,
    so a batch-free value (a learnable tensor) may go through: it stays batch-free."""

    family = "activation"
    torch_name = "Identity"
    batch_free = True

    def shape(self, a, xs):
        return tuple(xs[0])

    def module(self, a, xs):
        from torch import nn

        return getattr(nn, self.torch_name)(**a)


class AlongDim(Elementwise):
    """Softmax-like: normalizes along `dim` (batch included in the count, batch refused)."""

    batch_free = False  # its dim counts the batch

    def shape(self, a, xs):
        batch_dim(self.name, a["dim"], xs[0])
        return tuple(xs[0])


class Dropout2d(Elementwise):
    """Channel-wise dropout: torch only means it for (C, H, W) samples."""

    batch_free = False

    def shape(self, a, xs):
        if len(xs[0]) != 3:
            raise ShapeRuleError(f"{self.name}: expects input (C, H, W) (rank 3), found {list(xs[0])} (rank {len(xs[0])})")
        return tuple(xs[0])


INPLACE = Arg("inplace", Bool(), False, "overwrite the input to save memory")
DIM = Arg("dim", Int(), 1, "dim normalized (batch is dim 0; default 1 = channels)")
P = Arg("p", Float(0.0, 1.0), 0.5, "probability of zeroing an element")

# name: (torch class, base class, args, doc)
TABLE = {
    "relu": ("ReLU", Elementwise, (INPLACE,), "max(0, x)."),
    "relu6": ("ReLU6", Elementwise, (INPLACE,), "min(max(0, x), 6)."),
    "leaky_relu": ("LeakyReLU", Elementwise,
                   (Arg("negative_slope", Float(), 0.01, "slope for x < 0"), INPLACE), "x, or slope * x for x < 0."),
    "elu": ("ELU", Elementwise, (Arg("alpha", Float(), 1.0, "scale of the negative part"), INPLACE),
            "x, or alpha * (exp(x) - 1) for x < 0."),
    "gelu": ("GELU", Elementwise, (Arg("approximate", Choice("none", "tanh"), "none", "'tanh' for the fast approximation"),),
             "Gaussian error linear unit."),
    "silu": ("SiLU", Elementwise, (INPLACE,), "x * sigmoid(x) (swish)."),
    "mish": ("Mish", Elementwise, (INPLACE,), "x * tanh(softplus(x))."),
    "sigmoid": ("Sigmoid", Elementwise, (), "1 / (1 + exp(-x))."),
    "tanh": ("Tanh", Elementwise, (), "Hyperbolic tangent."),
    "hardswish": ("Hardswish", Elementwise, (INPLACE,), "Piecewise-linear swish (MobileNetV3)."),
    "hardsigmoid": ("Hardsigmoid", Elementwise, (INPLACE,), "Piecewise-linear sigmoid."),
    "softmax": ("Softmax", AlongDim, (DIM,), "Exponentials normalized to sum 1 along dim."),
    "log_softmax": ("LogSoftmax", AlongDim, (DIM,), "Log of softmax along dim."),
    "dropout": ("Dropout", Elementwise, (P, INPLACE), "Zero random elements while training, scale the rest."),
    "dropout2d": ("Dropout2d", Dropout2d, (P, INPLACE), "Zero random whole channels of (C, H, W) while training."),
    "identity": ("Identity", Elementwise, (), "Pass the input through unchanged."),
}
MAIN_ARG = {"leaky_relu": "negative_slope", "elu": "alpha", "gelu": "approximate", "softmax": "dim",
            "log_softmax": "dim", "dropout": "p", "dropout2d": "p"}

ANY_DTYPE = {"identity": DTYPES}

for _name, (_torch, _base, _args, _doc) in TABLE.items():
    register(type(_torch + "Op", (_base,), {
        "name": _name, "torch_name": _torch, "args": _args, "main_arg": MAIN_ARG.get(_name),
        "doc": f"{_doc.rstrip('.')} (torch.nn.{_torch}).", "dtypes": ANY_DTYPE.get(_name, ("float32",)),
    }))
