"""Ops that rearrange a sample without computing: flatten, reshape, permute.

Also home of `batch_dim` and `value_dim`, the one place that resolves a torch-style `dim`
argument (batch included, negatives allowed, batch itself refused) for the ops that take one."""
from __future__ import annotations

from archspec.ops import register
from archspec.ops.base import Arg, Int, IntList, Op, ShapeRuleError, Type, prod


def batch_dim(op: str, dim: int, x: tuple, extra: int = 0, name: str = "dim") -> int:
    """Resolve `dim` (torch convention, batch = 0) for a sample of shape `x`; return it >= 1.

    `extra` widens the range for ops that insert a dim (stack)."""
    rank = len(x) + 1 + extra
    if not -rank <= dim < rank:
        raise ShapeRuleError(
            f"{op}: {name} {dim} is out of range for input {list(x)} (batch included, valid: {-rank}..{rank - 1})"
        )
    if dim % rank == 0:
        raise ShapeRuleError(f"{op}: {name} {dim} means the batch dim (0); sample dims are 1..{rank - 1}")
    return dim % rank


def value_dim(op: str, dim: int, t: Type, extra: int = 0, name: str = "dim") -> int:
    """Resolve `dim` of a value of type `t` to an index into `t.shape`: the rule for every op
    that takes dims. A batched value's dims are torch's dims of its tensor, whose batch is dim
    0 (refused: ops work per sample); a batch-free value (a parameter) has no batch, so its
    dims index the value itself. Negative dims count from the end in both cases. Either way
    the dim a spec writes is the dim torch is given."""
    if t.batched:
        return batch_dim(op, dim, t.shape, extra, name) - 1
    rank = len(t.shape) + extra
    if not -rank <= dim < rank:
        valid = f"valid: {-rank}..{rank - 1}" if rank else "it has no dims"
        raise ShapeRuleError(f"{op}: {name} {dim} is out of range for batch-free input {list(t.shape)} ({valid})")
    return dim % rank


class MethodCall:
    """An op that is one tensor method: `call(a)` gives its name and arguments, which make both
    the torch code and the Python export's text (`x.transpose(-2, -1)`)."""

    def call(self, a: dict) -> tuple[str, tuple]:
        raise NotImplementedError

    def apply(self, a, x):
        method, args = self.call(a)
        return getattr(x, method)(*args)

    def python(self, a, xs):
        method, args = self.call(a)
        return f"{xs[0]}.{method}({', '.join(map(repr, args))})"


@register
class Flatten(Op):
    name = "flatten"
    family = "reshape"
    doc = "Merge dims start..end into one (torch.nn.Flatten; dims count the batch as 0)."
    main_arg = "start"
    args = (
        Arg("start", Int(), 1, "first dim merged (batch is dim 0)"),
        Arg("end", Int(), -1, "last dim merged, inclusive"),
    )

    def shape(self, a, xs):
        x = xs[0]
        start = batch_dim(self.name, a["start"], x, name="start")
        end = batch_dim(self.name, a["end"], x, name="end")
        if start > end:
            raise ShapeRuleError(f"{self.name}: start {a['start']} comes after end {a['end']} for input {list(x)}")
        return (*x[: start - 1], prod(x[start - 1 : end]), *x[end:])

    def module(self, a, xs):
        from torch import nn

        return nn.Flatten(a["start"], a["end"])


@register
class Reshape(Op):
    name = "reshape"
    family = "reshape"
    doc = "Give each sample a new shape with the same number of elements (one -1 is inferred)."
    main_arg = "shape"
    args = (Arg("shape", IntList(minimum=-1), doc="per-sample shape, batch excluded; one entry may be -1"),)

    def shape(self, a, xs):
        x, target = xs[0], a["shape"]
        total = prod(x)
        if target.count(-1) > 1 or 0 in target:
            raise ShapeRuleError(f"{self.name}: shape {list(target)} may hold one -1 and otherwise positive sizes")
        known = prod(v for v in target if v != -1)
        if -1 in target:
            if total % known:
                raise ShapeRuleError(
                    f"{self.name}: cannot reshape {list(x)} ({total} elements) to {list(target)}: "
                    f"{total} is not divisible by {known}"
                )
            return tuple(total // known if v == -1 else v for v in target)
        if known != total:
            raise ShapeRuleError(
                f"{self.name}: cannot reshape {list(x)} ({total} elements) to {list(target)} ({known} elements)"
            )
        return tuple(target)

    def apply(self, a, x):
        return x.reshape(x.size(0), *a["shape"])  # unflatten would give ONNX a fixed batch after it

    def python(self, a, xs):
        return f"{xs[0]}.reshape({xs[0]}.size(0), {', '.join(map(str, a['shape']))})"


@register
class Permute(Op):
    name = "permute"
    family = "reshape"
    doc = "Reorder a sample's dims; dims index the sample (0 = first non-batch dim)."
    main_arg = "dims"
    args = (Arg("dims", IntList(minimum=0), doc="a permutation of the sample's dims, e.g. [1, 2, 0]"),)

    def shape(self, a, xs):
        x, dims = xs[0], a["dims"]
        if sorted(dims) != list(range(len(x))):
            raise ShapeRuleError(
                f"{self.name}: dims {list(dims)} is not a permutation of 0..{len(x) - 1} for input {list(x)}"
            )
        return tuple(x[d] for d in dims)

    def apply(self, a, x):
        return x.permute(0, *(d + 1 for d in a["dims"]))

    def python(self, a, xs):
        return f"{xs[0]}.permute(0, {', '.join(str(d + 1) for d in a['dims'])})"
