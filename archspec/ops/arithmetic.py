"""Elementwise math on one value: scale by a constant, pow, clamp, and the unary functions
exp, log, sqrt, rsqrt, neg, abs. Functions of their input (no module, no parameters), they
keep the shape and take batch-free values too (a learnable tensor scaled or clamped)."""
from __future__ import annotations

import operator

from archspec.ops import register
from archspec.ops.base import Arg, Float, Op, Optional, ShapeRuleError


class Elementwise(Op):
    family = "math"
    batch_free = True

    def shape(self, a, xs):
        return tuple(xs[0])


class Unary(Elementwise):
    """torch.<fn>(x)."""

    fn = "exp"

    def apply(self, a, x):
        import torch

        return getattr(torch, self.fn)(x)

    def python(self, a, xs):
        return f"torch.{self.fn}({xs[0]})"


FLOAT, NUMBER = ("float32",), ("float32", "int64")

for _name, _dtypes, _doc in (
    ("exp", FLOAT, "e ** x (torch.exp)."),
    ("log", FLOAT, "Natural logarithm (torch.log; -inf at 0, nan below)."),
    ("sqrt", FLOAT, "Square root (torch.sqrt; nan below 0)."),
    ("rsqrt", FLOAT, "1 / sqrt(x) (torch.rsqrt), as in RMS normalization."),
    ("neg", NUMBER, "-x (torch.neg)."),
    ("abs", NUMBER, "|x| (torch.abs)."),
):
    register(type(_name.title() + "Op", (Unary,), {"name": _name, "fn": _name, "dtypes": _dtypes, "doc": _doc}))


class WithConstant(Elementwise):
    """x combined with the constant its one argument gives: `fn(x, value)` in torch, `form` in Python."""

    form = "{x} * {value!r}"

    def apply(self, a, x):
        return type(self).fn(x, a[self.main_arg])

    def python(self, a, xs):
        return self.form.format(x=xs[0], value=a[self.main_arg])


for _name, _arg, _fn, _form, _doc, _arg_doc in (
    ("scale", "factor", operator.mul, "{x} * {value!r}",
     "Multiply by a constant: attention's 1 / sqrt(d) is `scale: ${d ** -0.5}`.", "the constant every element is multiplied by"),
    ("pow", "exponent", operator.pow, "{x}.pow({value!r})", "x ** exponent (torch.pow): `pow: 2` squares.",
     "the power every element is raised to"),
):
    register(type(_name.title() + "Op", (WithConstant,), {
        "name": _name, "main_arg": _arg, "fn": _fn, "form": _form, "doc": _doc, "args": (Arg(_arg, Float(), doc=_arg_doc),)}))


@register
class Clamp(Elementwise):
    name = "clamp"
    doc = "Limit every element to [min, max] (torch.clamp); give min, max or both."
    args = (
        Arg("min", Optional(Float()), None, "the lower bound; null: none"),
        Arg("max", Optional(Float()), None, "the upper bound; null: none"),
    )

    def shape(self, a, xs):
        low, high = a["min"], a["max"]
        if low is None and high is None:
            raise ShapeRuleError(f"{self.name}: give min, max or both")
        if low is not None and high is not None and low > high:
            raise ShapeRuleError(f"{self.name}: min {low} is more than max {high} (torch would set every element to max)")
        return tuple(xs[0])

    def apply(self, a, x):
        return x.clamp(a["min"], a["max"])

    def python(self, a, xs):
        return f"{xs[0]}.clamp({a['min']!r}, {a['max']!r})"
