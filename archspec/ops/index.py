"""Taking parts of a value along one dim: select (one index, the dim removed), slice
(start:stop:step), split (given sizes) and chunk (n parts), the last two with one output per
part (`split.0`, `split.1`, ...).

Dims follow `value_dim`: a batched value's count the batch as 0, a batch-free value's index
the value itself. Any dtype goes through, and batch-free values too (a slice of a learnable
table); an empty part is refused, as a model cannot use it."""
from __future__ import annotations

from archspec.compiler.ir import DTYPES, Type
from archspec.ops import register
from archspec.ops.base import Arg, Int, IntList, Op, Optional, ShapeRuleError
from archspec.ops.reshape import MethodCall, value_dim

DIM = Arg("dim", Int(), 1, "the dim (a batched value's batch is dim 0; default 1 = the first dim of a sample)")


class Along(Op):
    """An op on one dim of any value; `parts` gives the output shapes from the input's type
    and the resolved dim `d` (an index into its shape)."""

    family = "index"
    dtypes = DTYPES
    batch_free = True
    several = False  # one output, or one per part

    def type(self, a, ts):
        self.check_inputs(ts)
        t = ts[0]
        d = value_dim(self.name, a["dim"], t)
        shapes = [tuple(s) for s in self.parts(a, t.shape, d)]
        return tuple(Type(s, t.dtype, t.batched) for s in shapes) if self.several else Type(shapes[0], t.dtype, t.batched)

    def parts(self, a, x: tuple, d: int) -> list[tuple]:
        raise NotImplementedError

    def bind(self, a, ts):
        """`at`: the dim's position in the tensor torch sees (counting a batch), for indexing."""
        return {**a, "at": value_dim(self.name, a["dim"], ts[0]) + ts[0].batched}


def index_text(at: int, key: str) -> str:
    """`key` at position `at` of an indexing expression: `[:, 0]` for at 1."""
    return "[" + ":, " * at + key + "]"


@register
class Select(Along):
    name = "select"
    doc = "One index along a dim, the dim removed (x[:, 0]: ViT's class token); negative indices count from the end."
    main_arg = "index"
    args = (Arg("index", Int(), doc="the index; -1 is the last"), DIM)

    def parts(self, a, x, d):
        if not -x[d] <= a["index"] < x[d]:
            raise ShapeRuleError(f"{self.name}: index {a['index']} is out of range for dim {a['dim']} of size {x[d]} "
                                 f"(valid: {-x[d]}..{x[d] - 1})")
        return [x[:d] + x[d + 1 :]]

    def apply(self, a, x):
        return x[(slice(None),) * a["at"] + (a["index"],)]

    def python(self, a, xs):
        return xs[0] + index_text(a["at"], str(a["index"]))


@register
class Slice(Along):
    name = "slice"
    doc = "Every step-th index from start up to stop along a dim (x[:, start:stop:step]); bounds as Python's."
    args = (
        Arg("start", Optional(Int()), None, "first index (negative counts from the end; null: the beginning)"),
        Arg("stop", Optional(Int()), None, "index to stop before (negative counts from the end; null: the end)"),
        Arg("step", Int(1), 1, "stride between taken indices"),
        DIM,
    )

    def parts(self, a, x, d):
        n = len(range(*slice(a["start"], a["stop"], a["step"]).indices(x[d])))
        if n == 0:
            raise ShapeRuleError(f"{self.name}: {self.key(a)} takes nothing from dim {a['dim']} of size {x[d]}")
        return [x[:d] + (n,) + x[d + 1 :]]

    @staticmethod
    def key(a) -> str:
        text = lambda v: "" if v is None else str(v)  # noqa: E731
        return f"{text(a['start'])}:{text(a['stop'])}" + (f":{a['step']}" if a["step"] != 1 else "")

    def apply(self, a, x):
        return x[(slice(None),) * a["at"] + (slice(a["start"], a["stop"], a["step"]),)]

    def python(self, a, xs):
        return xs[0] + index_text(a["at"], self.key(a))


class Parts(Along):
    """Several outputs, one per part."""

    several = True
    outputs = ("part",)

    def unpack(self, a, y, n):
        return tuple(y[k] for k in range(n))  # torch gives a tuple even of one part


@register
class Split(MethodCall, Parts):
    name = "split"
    doc = "Cut a dim into parts of the given sizes, which add up to it (torch.split): one output per size."
    main_arg = "sizes"
    args = (Arg("sizes", IntList(minimum=1), doc="the parts' sizes along dim, e.g. [64, 64]"), DIM)

    def n_outputs(self, a):
        return len(a["sizes"])

    def parts(self, a, x, d):
        if sum(a["sizes"]) != x[d]:
            raise ShapeRuleError(f"{self.name}: sizes {list(a['sizes'])} add up to {sum(a['sizes'])}, "
                                 f"not to the size {x[d]} of dim {a['dim']}")
        return [x[:d] + (n,) + x[d + 1 :] for n in a["sizes"]]

    def call(self, a):
        return "split", (list(a["sizes"]), a["dim"])


@register
class Chunk(MethodCall, Parts):
    name = "chunk"
    doc = ("Cut a dim into n parts of ceil(size / n), the last one smaller when n does not divide it "
           "(torch.chunk): n outputs.")
    main_arg = "n"
    args = (Arg("n", Int(1), doc="how many parts"), DIM)

    def n_outputs(self, a):
        return a["n"]

    def parts(self, a, x, d):
        n, size = a["n"], x[d]
        step = -(-size // n)
        sizes = [min(step, size - k) for k in range(0, size, step)]
        if len(sizes) != n:
            # torch.chunk returns fewer parts here; a spec's item has exactly n outputs
            raise ShapeRuleError(f"{self.name}: dim {a['dim']} of size {size} makes {len(sizes)} parts of at most "
                                 f"{step} ({', '.join(map(str, sizes))}) as torch.chunk cuts it, not {n}: "
                                 f"use split with sizes that add up to {size}")
        return [x[:d] + (s,) + x[d + 1 :] for s in sizes]

    def call(self, a):
        return "chunk", (a["n"], a["dim"])
