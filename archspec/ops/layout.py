"""Ops that move a value's elements or add a border, computing nothing: transpose (swap two
dims), roll (cyclic shifts, Swin's shifted windows) and pad (constant, reflect, replicate,
circular, with torch.nn.functional.pad's argument convention: last dim first).

Dims follow `value_dim` (a batched value's batch is dim 0 and is never moved, rolled or
padded); batch-free values go through too."""
from __future__ import annotations

from archspec.compiler.ir import DTYPES, Type
from archspec.ops import register
from archspec.ops.base import Arg, Choice, Float, Int, IntList, Ints, Op, Optional, ShapeRuleError
from archspec.ops.reshape import MethodCall, value_dim


class Layout(Op):
    family = "reshape"
    dtypes = DTYPES
    batch_free = True

    def type(self, a, ts):
        self.check_inputs(ts)
        return Type(tuple(self.rule(a, ts[0])), ts[0].dtype, ts[0].batched)

    def rule(self, a, t) -> tuple:
        raise NotImplementedError


@register
class Transpose(MethodCall, Layout):
    name = "transpose"
    doc = "Swap two dims (torch.transpose): {dim0: -2, dim1: -1} turns keys into keys^T for attention."
    args = (Arg("dim0", Int(), doc="one dim (a batched value's batch is dim 0)"),
            Arg("dim1", Int(), doc="the other dim"))

    def rule(self, a, t):
        i = value_dim(self.name, a["dim0"], t, name="dim0")
        j = value_dim(self.name, a["dim1"], t, name="dim1")
        x = list(t.shape)
        x[i], x[j] = x[j], x[i]
        return x

    def call(self, a):
        return "transpose", (a["dim0"], a["dim1"])


@register
class Roll(MethodCall, Layout):
    name = "roll"
    doc = "Shift elements cyclically along dims, those pushed past the end coming back first (torch.roll)."
    args = (Arg("shifts", Ints(), doc="the shift along each dim (negative: towards the start)"),
            Arg("dims", Ints(), doc="the dims, one per shift (a batched value's batch is dim 0)"))

    def rule(self, a, t):
        if len(a["shifts"]) != len(a["dims"]):
            raise ShapeRuleError(f"{self.name}: {len(a['shifts'])} shifts {list(a['shifts'])} for "
                                 f"{len(a['dims'])} dims {list(a['dims'])}: give one shift per dim")
        for d in a["dims"]:
            value_dim(self.name, d, t, name="dims entry")
        return t.shape

    def call(self, a):
        return "roll", (a["shifts"], a["dims"])


@register
class Pad(Layout):
    name = "pad"
    doc = ("Pad the last dims (torch.nn.functional.pad): pad = [left, right] for the last dim, then "
           "[top, bottom] for the one before, ...; negative amounts crop.")
    main_arg = "pad"
    dtypes = ("float32",)
    args = (
        Arg("pad", IntList(min_items=2), doc="pairs of amounts, the last dim's first: [1, 1, 2, 2] pads W by 1, H by 2"),
        Arg("mode", Choice("constant", "reflect", "replicate", "circular"), "constant",
            "constant: a value; reflect: mirrored without the edge; replicate: the edge repeated; circular: wrapped"),
        Arg("value", Optional(Float()), None, "the constant mode's fill value (null: 0)"),
    )

    def rule(self, a, t):
        pad, mode, x = a["pad"], a["mode"], t.shape
        pairs = len(pad) // 2
        rank = len(x) + t.batched  # the rank of the tensor torch pads
        if len(pad) % 2:
            raise ShapeRuleError(f"{self.name}: pad {list(pad)} has {len(pad)} entries; it takes pairs (left, right), "
                                 "the last dim's first")
        if pairs > len(x):
            whose, never = ("a sample", " (the batch is never padded)") if t.batched else ("the input", "")
            raise ShapeRuleError(f"{self.name}: pad {list(pad)} pads the last {pairs} dims, but {whose} {list(x)} "
                                 f"has {len(x)}{never}")
        if mode != "constant" and a["value"]:
            raise ShapeRuleError(f"{self.name}: value {a['value']} applies to mode 'constant' only, not '{mode}'")
        if mode != "constant" and not (pairs <= 3 and rank - pairs in (1, 2)):
            need = " or ".join(str(n) for n in (rank - 2, rank - 1) if 1 <= n <= 3) or "no"
            raise ShapeRuleError(f"{self.name}: mode '{mode}' pads the last 1, 2 or 3 dims of a tensor with 1 or 2 dims "
                                 f"more (torch's limit): {self.tensor(t)} takes {need} pairs, found {pairs}")
        out = list(x)
        for k in range(pairs):
            d = len(x) - 1 - k
            left, right = pad[2 * k], pad[2 * k + 1]
            out[d] = x[d] + left + right
            problem = self.limit(mode, x[d], left, right)
            if problem or out[d] < 1:
                raise ShapeRuleError(f"{self.name}: ({left}, {right}) on dim {d + t.batched} of size {x[d]} "
                                     f"{problem or f'leaves {max(out[d], 0)} elements'}")
        return out

    @staticmethod
    def tensor(t) -> str:
        return str(["B", *t.shape] if t.batched else list(t.shape)).replace("'", "")

    @staticmethod
    def limit(mode: str, size: int, left: int, right: int) -> str:
        """What torch refuses in (left, right) on a dim of `size` in `mode`, or ''."""
        if mode == "reflect" and max(left, right) >= size:
            return f"in mode 'reflect': each amount must be smaller than the size {size}"
        kept = size + min(left, 0) + min(right, 0)  # what a crop leaves: a circular pad wraps around it
        if mode == "circular" and max(left, right) > max(kept, 0):
            # torch checks the amounts against the whole dim only; past the kept part its result is
            # partly unwritten memory (torch 2.13)
            of = f" (of {size}, the crop's)" if kept < size else ""
            return f"in mode 'circular': an amount may wrap around the {max(kept, 0)} elements kept{of} at most once"
        if mode == "constant" and size + min(left, 0) + min(right, 0) < 0:
            return "crops more than the whole dim"
        return ""

    def apply(self, a, x):
        from torch.nn import functional as F

        return F.pad(x, list(a["pad"]), a["mode"], a["value"])

    def python(self, a, xs):
        extra = "" if a["mode"] == "constant" else f", mode={a['mode']!r}"
        extra += "" if a["value"] is None else f", value={a['value']!r}"
        return f"torch.nn.functional.pad({xs[0]}, {list(a['pad'])}{extra})"
