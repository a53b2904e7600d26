"""Reductions over dims of one value: mean_over, sum_over, max_over, min_over.

Named `<how>_over` so that they cannot be read as the elementwise merges `mean`, `max`,
`min` (which combine several values) nor as einops' `reduce` (a pattern): `mean_over: [2, 3]`
is ShuffleNet's `x.mean([2, 3])`. Dims follow `value_dim`: torch's dims, the batch as dim 0
of a batched value, the value's own dims for a batch-free one."""
from __future__ import annotations

from archspec.ops import register
from archspec.ops.base import Arg, Bool, Ints, Op, ShapeRuleError, Type
from archspec.ops.reshape import value_dim


def resolve_dims(op: str, dims: tuple, t: Type) -> list[int]:
    """The dims as indices into t.shape (see value_dim); a dim named twice is refused, as torch does."""
    found: dict[int, int] = {}
    for d in dims:
        k = value_dim(op, d, t)
        if k in found:
            raise ShapeRuleError(f"{op}: dims {list(dims)} name the same dim twice ({found[k]} and {d})")
        found[k] = d
    return sorted(found)


class Reduction(Op):
    """Reduce a value over `dims` with torch.<fn>; the reduced dims go, or stay as 1 with keepdim."""

    family = "reduction"
    main_arg = "dims"
    batch_free = True
    fn = "mean"
    args = (
        Arg("dims", Ints(), doc="the dim or dims reduced (torch's dims: a batched value's batch is dim 0)"),
        Arg("keepdim", Bool(), False, "keep each reduced dim as size 1 (to broadcast against the input)"),
    )

    def type(self, a, ts):
        self.check_inputs(ts)
        x = ts[0]
        gone = resolve_dims(self.name, a["dims"], x)
        shape = tuple(1 if k in gone else n for k, n in enumerate(x.shape) if a["keepdim"] or k not in gone)
        return Type(shape, x.dtype, x.batched)

    def apply(self, a, x):
        return getattr(x, self.fn)(dim=a["dims"], keepdim=a["keepdim"])

    def python(self, a, xs):
        dims = a["dims"][0] if len(a["dims"]) == 1 else a["dims"]
        return f"{xs[0]}.{self.fn}(dim={dims!r}{', keepdim=True' if a['keepdim'] else ''})"


for _name, _fn, _dtypes, _doc in (
    ("mean_over", "mean", ("float32",), "Mean over dims (torch.mean): global average pooling is `mean_over: [2, 3]`."),
    ("sum_over", "sum", ("float32", "int64"), "Sum over dims (torch.sum)."),
    ("max_over", "amax", ("float32", "int64", "bool"), "Largest value over dims (torch.amax: the values, no indices)."),
    ("min_over", "amin", ("float32", "int64", "bool"), "Smallest value over dims (torch.amin: the values, no indices)."),
):
    register(type(_name.title().replace("_", "") + "Op", (Reduction,), {"name": _name, "fn": _fn, "dtypes": _dtypes, "doc": _doc}))
