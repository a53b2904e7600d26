"""Merges: functions of two or more inputs (no module, no parameters), registered in the
order `merge:` lists them: concat (the default of parallel), then the elementwise ones.

Elementwise merges demand identical shapes: torch would broadcast [64, 1, 1] against
[64, 28, 28] silently, which in an architecture spec is almost always a wiring mistake."""
from __future__ import annotations

from functools import reduce

from archspec.ops import register
from archspec.ops.base import Arg, Int, Op, ShapeRuleError
from archspec.ops.reshape import batch_dim


def listed(xs) -> str:
    return ", ".join(str(list(x)) for x in xs)


class Merge(Op):
    family = "merge"
    roles = ("inputs",)
    variadic = True

    def at_least_two(self, xs) -> None:
        if len(xs) < 2:
            raise ShapeRuleError(f"{self.name}: needs at least 2 inputs, found {len(xs)}")


DIM = Arg("dim", Int(), 1, "dim to join along (batch is dim 0; default 1 = channels)")


@register
class Concat(Merge):
    name = "concat"
    doc = "Join inputs along an existing dim; all other dims must agree (torch.cat)."
    main_arg = "dim"
    args = (DIM,)

    def shape(self, a, xs):
        self.at_least_two(xs)
        if any(len(x) != len(xs[0]) for x in xs):
            raise ShapeRuleError(f"{self.name}: inputs differ in rank: {listed(xs)}")
        d = batch_dim(self.name, a["dim"], xs[0]) - 1
        rest = {tuple(x[:d]) + tuple(x[d + 1 :]) for x in xs}
        if len(rest) > 1:
            raise ShapeRuleError(f"{self.name}: input shapes differ outside dim {a['dim']}: {listed(xs)}")
        return (*xs[0][:d], sum(x[d] for x in xs), *xs[0][d + 1 :])

    def apply(self, a, *xs):
        import torch

        return torch.cat(list(xs), a["dim"])

    def python(self, a, xs):
        return f"torch.cat([{', '.join(xs)}], dim={a['dim']})"


class Elementwise(Merge):
    """Combine same-shaped inputs element by element with torch.<fn>, pairwise left to right."""

    fn = "add"
    infix = ""  # the Python operator the export writes ("+"); torch.<fn> calls where there is none

    def shape(self, a, xs):
        self.at_least_two(xs)
        if any(tuple(x) != tuple(xs[0]) for x in xs):
            raise ShapeRuleError(f"{self.name}: input shapes differ: {listed(xs)}")
        return tuple(xs[0])

    def apply(self, a, *xs):
        import torch

        return reduce(getattr(torch, self.fn), xs)

    def python(self, a, xs):
        if self.infix:
            return f" {self.infix} ".join(xs)
        return reduce(lambda left, right: f"torch.{self.fn}({left}, {right})", xs)


class Mean(Elementwise):
    def apply(self, a, *xs):
        return super().apply(a, *xs) / len(xs)

    def python(self, a, xs):
        return f"({' + '.join(xs)}) / {len(xs)}"


for _name, _base, _fn, _infix, _doc in (
    ("add", Elementwise, "add", "+", "Elementwise sum of same-shaped inputs (residual connections)."),
    ("mul", Elementwise, "mul", "*", "Elementwise product of same-shaped inputs (gating)."),
    ("max", Elementwise, "maximum", "", "Elementwise maximum of same-shaped inputs."),
    ("mean", Mean, "add", "", "Elementwise mean of same-shaped inputs."),
):
    register(type(_name.capitalize() + "Merge", (_base,), {"name": _name, "fn": _fn, "infix": _infix, "doc": _doc}))

@register
class Stack(Merge):
    name = "stack"
    doc = "Join same-shaped inputs along a new dim (torch.stack)."
    main_arg = "dim"
    args = (Arg("dim", Int(), 1, "position of the new dim (batch is dim 0)"),)

    def shape(self, a, xs):
        self.at_least_two(xs)
        if any(tuple(x) != tuple(xs[0]) for x in xs):
            raise ShapeRuleError(f"{self.name}: input shapes differ: {listed(xs)}")
        d = batch_dim(self.name, a["dim"], xs[0], extra=1) - 1
        return (*xs[0][:d], len(xs), *xs[0][d:])

    def apply(self, a, *xs):
        import torch

        return torch.stack(list(xs), a["dim"])

    def python(self, a, xs):
        return f"torch.stack([{', '.join(xs)}], dim={a['dim']})"
