"""Merges: functions of two or more inputs (no module, no parameters), registered in the
order `merge:` lists them: concat (the default of parallel), then the elementwise ones.

Elementwise merges broadcast as torch does, on the values' whole shapes: a batched value of
sample shape S is (B, *S), a batch-free one of shape T is T, aligned from the right. So a
squeeze-and-excitation gate [C, 1, 1] scales [C, H, W], and a batch-free [1, 1, D] or [D]
(a learnable tensor) meets every sample. The batch must stay the result's first dim: batched
inputs have one rank, and a batch-free input has at most one dim more, a 1 over the batch.
Shapes that do not broadcast are refused with the dims at odds."""
from __future__ import annotations

from functools import reduce

from archspec.compiler.ir import DTYPES, Type
from archspec.ops import register
from archspec.ops.base import Arg, Int, Op, ShapeRuleError
from archspec.ops.reshape import batch_dim


def listed(xs) -> str:
    return ", ".join(str(list(x)) for x in xs)


class Merge(Op):
    family = "merge"
    roles = ("inputs",)
    variadic = True
    batch_free = True

    def at_least_two(self, xs) -> None:
        if len(xs) < 2:
            raise ShapeRuleError(f"{self.name}: needs at least 2 inputs, found {len(xs)}")

    def sample_rank(self, ts) -> int | None:
        """The rank of the batched inputs' samples (one for all of them), None when all are batch-free."""
        ranks = {len(t.shape) for t in ts if t.batched}
        if len(ranks) > 1:
            raise ShapeRuleError(f"{self.name}: batched inputs differ in rank: {listed(t.shape for t in ts)} (torch would "
                                 "line a batch up with a sample dim): reshape one of them first")
        return ranks.pop() if ranks else None


DIM = Arg("dim", Int(), 1, "dim to join along (batch is dim 0; default 1 = channels)")


@register
class Concat(Merge):
    name = "concat"
    doc = ("Join inputs along an existing dim; all other dims must agree (torch.cat). A batch-free input is "
           "expanded over the batch: [1, 1, D] or [1, D] joins batched [L, D] along dim 1.")
    main_arg = "dim"
    args = (DIM,)
    dtypes = DTYPES

    def type(self, a, ts):
        self.check_inputs(ts)
        self.at_least_two(ts)
        if len({t.dtype for t in ts}) > 1:
            raise ShapeRuleError(f"{self.name}: inputs differ in dtype: {', '.join(t.dtype for t in ts)}")
        rank = self.sample_rank(ts)
        if rank is None:  # all batch-free: torch.cat of whole shapes, dim counting from 0
            return Type(self.join(a, [t.shape for t in ts], whole=True), ts[0].dtype, batched=False)
        xs = [t.shape if t.batched else self.over_batch(t.shape, rank) for t in ts]
        return Type(self.join(a, xs), ts[0].dtype)

    def over_batch(self, shape, rank) -> tuple:
        """A batch-free input's shape per sample once expanded over the batch."""
        if len(shape) == rank + 1 and shape[0] == 1:
            return tuple(shape[1:])
        if len(shape) == rank:
            return tuple(shape)
        raise ShapeRuleError(f"{self.name}: a batch-free input {list(shape)} is expanded over the batch: give it the "
                             f"batched inputs' rank ({rank}), or one more dim of size 1 first")

    def join(self, a, xs, whole: bool = False) -> tuple:
        if any(len(x) != len(xs[0]) for x in xs):
            raise ShapeRuleError(f"{self.name}: inputs differ in rank: {listed(xs)}")
        if whole:
            rank = len(xs[0])
            if not -rank <= a["dim"] < rank:
                raise ShapeRuleError(f"{self.name}: dim {a['dim']} is out of range for batch-free inputs {listed(xs)} "
                                     f"(valid: {-rank}..{rank - 1})")
            d = a["dim"] % rank
        else:
            d = batch_dim(self.name, a["dim"], xs[0]) - 1
        rest = {tuple(x[:d]) + tuple(x[d + 1:]) for x in xs}
        if len(rest) > 1:
            raise ShapeRuleError(f"{self.name}: input shapes differ outside dim {a['dim']}: {listed(xs)}")
        return (*xs[0][:d], sum(x[d] for x in xs), *xs[0][d + 1:])

    def bind(self, a, ts):
        rank = self.sample_rank(ts)
        expand = tuple(rank is not None and not t.batched for t in ts)
        return {"dim": a["dim"], **({"expand": expand, "rank": rank} if any(expand) else {})}

    def apply(self, a, *xs):
        import torch

        if "expand" in a:
            batch = next(x for x, e in zip(xs, a["expand"]) if not e).size(0)
            xs = [x.expand(batch, *[-1] * a["rank"]) if e else x for x, e in zip(xs, a["expand"])]
        return torch.cat(list(xs), a["dim"])

    def python(self, a, xs):
        if "expand" in a:
            batch = next(x for x, e in zip(xs, a["expand"]) if not e)
            rest = ", -1" * a["rank"]
            xs = [f"{x}.expand({batch}.size(0){rest})" if e else x for x, e in zip(xs, a["expand"])]
        return f"torch.cat([{', '.join(xs)}], dim={a['dim']})"


def broadcast(op: str, ts) -> Type:
    """The type of an elementwise result: torch's broadcasting of the whole shapes, the batch first."""
    shapes = [t.shape for t in ts]
    rank = max(len(s) for s in shapes)
    batched = [t for t in ts if t.batched]
    if batched:
        full = len(batched[0].shape) + 1
        for t in ts:
            if not t.batched and (len(t.shape) > full or len(t.shape) == full and t.shape[0] != 1):
                raise ShapeRuleError(f"{op}: input shapes do not broadcast: {listed(shapes)}: the batch-free "
                                     f"{list(t.shape)} has {len(t.shape)} dims, so its first lines up with the batch "
                                     f"and must be 1 (at most {full} dims)")
        rank = full - 1
    out, clashes = [], []
    for k in range(1, rank + 1):
        sizes = [s[-k] for s in shapes if len(s) >= k]
        big = list(dict.fromkeys(d for d in sizes if d != 1))
        if len(big) > 1:
            clashes.append(f"dim {rank - k + 1 if batched else rank - k} is {' vs '.join(map(str, big))}")
        out.insert(0, big[-1] if big else 1)
    if clashes:
        raise ShapeRuleError(f"{op}: input shapes do not broadcast: {listed(shapes)}: {', '.join(reversed(clashes))}; "
                             "make each dim equal, or 1 in all inputs but one")
    return Type(tuple(out), "float32", bool(batched))


class Elementwise(Merge):
    """Combine inputs element by element with torch.<fn>, pairwise left to right, broadcasting."""

    fn = "add"
    infix = ""  # the Python operator the export writes ("+"); torch.<fn> calls where there is none

    def type(self, a, ts):
        self.check_inputs(ts)
        self.at_least_two(ts)
        self.sample_rank(ts)
        return broadcast(self.name, ts)

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
    ("add", Elementwise, "add", "+", "Elementwise sum, broadcasting (residual connections, position tables)."),
    ("sub", Elementwise, "sub", "-", "Elementwise difference, first minus the rest, broadcasting."),
    ("mul", Elementwise, "mul", "*", "Elementwise product, broadcasting (gating: a [C, 1, 1] gate scales [C, H, W])."),
    ("div", Elementwise, "div", "/", "Elementwise quotient, first divided by the rest, broadcasting."),
    ("max", Elementwise, "maximum", "", "Elementwise maximum, broadcasting."),
    ("min", Elementwise, "minimum", "", "Elementwise minimum, broadcasting."),
    ("mean", Mean, "add", "", "Elementwise mean, broadcasting."),
):
    register(type(_name.capitalize() + "Merge", (_base,), {"name": _name, "fn": _fn, "infix": _infix, "doc": _doc}))

@register
class Stack(Merge):
    name = "stack"
    doc = "Join same-shaped inputs along a new dim (torch.stack)."
    batch_free = False
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
