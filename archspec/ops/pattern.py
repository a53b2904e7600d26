"""einops patterns: rearrange, reduce and tile (einops.repeat, whose name `repeat:` items
take), e.g. ViT's patches as `b c (h p1) (w p2) -> b (h w) (p1 p2 c)` with sizes
{p1: 16, p2: 16}.

The batch: a batched value's pattern names the whole tensor, batch first, as einops users
write it. Its first axis is a lone name on the left (`b`, `batch`, any name) and the right
starts with that same name, alone; the batch is never composed, reduced, repeated or given a
size, so every sample is rearranged alike. A batch-free value's pattern names its own dims.

einops' own parser (einops.parsing, which imports no torch) reads the patterns; the rules
here follow einops.einops' checks and compute the shapes in pure Python. The torch code is
plain reshape, reduction, permute and expand calls (what einops itself runs), so the built
module, its Python export, TorchScript and ONNX need no einops. An axis whose size comes from
the input's dims is read from the input when the module runs (`x.size(2) // 16`), not fixed at
its checked size, so a module built at 224x224 runs at 160x160 as einops would."""
from __future__ import annotations

import math
from typing import NamedTuple

from einops import EinopsError
from einops.parsing import AnonymousAxis, ParsedExpression

from archspec.compiler.ir import DTYPES, Type
from archspec.ops import register
from archspec.ops.base import EXPR_SCHEMA, Arg, ArgType, Choice, Op, ShapeRuleError, describe, is_int

ELLIPSIS = ParsedExpression("...").composition[0]  # how einops' parser writes `...`
REDUCTIONS = {"mean": "mean", "sum": "sum", "max": "amax", "min": "amin", "prod": "prod"}  # name: torch method


class Text(ArgType):
    name = "a string"

    def check(self, value):
        if not isinstance(value, str) or not value.strip():
            self.fail(value)
        return value

    def schema(self):
        return {"type": "string", "minLength": 1}


class Size(NamedTuple):
    """A size the input decides: `const` times, for each (k, div) of `dims`, the input's dim k
    divided by div (`h` of `(h p1)` with p1 16 is (2, 16): x.size(2) // 16)."""

    const: int
    dims: tuple

    def value(self, x):
        """The size, from a tensor (or an fx proxy: the traced module reads it when it runs)."""
        out = None
        for k, div in self.dims:
            n = x.size(k) if div == 1 else x.size(k) // div
            out = n if out is None else out * n
        return out if self.const == 1 else out * self.const

    def text(self, x: str) -> str:
        terms = [f"{x}.size({k})" if div == 1 else f"{x}.size({k}) // {div}" for k, div in self.dims]
        terms = terms if len(terms) == 1 and self.const == 1 else [t if "//" not in t else f"({t})" for t in terms]
        return " * ".join(terms + ([str(self.const)] if self.const != 1 else []))


class AxisSizes(dict):
    """Axis name -> size, shown as `p1: 16, p2: 16` (in pictures of the graph)."""

    def __str__(self):
        return ", ".join(f"{axis}: {size}" for axis, size in self.items())


class Sizes(ArgType):
    """Axis name -> size, for the axes of a pattern that the input's shape does not decide."""

    name = "a mapping of axis names to positive integers"

    def check(self, value):
        if not isinstance(value, dict):
            self.fail(value)
        for axis, size in value.items():
            if not is_int(size) or size < 1:
                raise ValueError(f"expected a positive integer for axis '{axis}', found {describe(size)}")
        return AxisSizes(value)

    def schema(self):
        size = {"anyOf": [{"type": "integer", "minimum": 1}, EXPR_SCHEMA]}
        return {"anyOf": [{"type": "object", "additionalProperties": size}, EXPR_SCHEMA]}


PATTERN = Arg("pattern", Text(), doc="'left -> right' in einops' notation; a batched value's first axis is the batch")
SIZES = Arg("sizes", Sizes(), {}, "sizes of axes the input does not decide: {p1: 16, p2: 16}")


class Pattern(Op):
    """An einops operation: `solve` gives the output shape and the torch steps that make it."""

    family = "reshape"
    dtypes = DTYPES
    batch_free = True
    main_arg = "pattern"
    args = (PATTERN, SIZES)

    def type(self, a, ts):
        self.check_inputs(ts)
        out, _ = self.solve(a, ts[0])
        return Type(out, ts[0].dtype, ts[0].batched)

    def bind(self, a, ts):
        return {**a, "steps": self.solve(a, ts[0])[1]}

    # ---- the pattern algebra (pure Python) -------------------------------------------------
    def solve(self, a, t: Type) -> tuple[tuple, tuple]:
        """(the output's shape, the torch steps), or ShapeRuleError saying what does not fit."""
        pattern, sizes = a["pattern"], dict(a["sizes"])
        fail = lambda why: ShapeRuleError(f"{self.name}: pattern '{pattern}': {why}")  # noqa: E731
        if pattern.count("->") != 1:
            raise fail("expected 'left -> right'")
        try:
            left, right = (ParsedExpression(side) for side in pattern.split("->"))
        except EinopsError as e:
            raise fail(str(e)) from None
        self.agree(left, right, sizes, fail)
        if t.batched:
            batch_first(left.composition, right.composition, sizes, fail)
        full = (None, *t.shape) if t.batched else tuple(t.shape)  # None: the batch, whose size is not known
        lhs, rhs = expand_ellipsis(left, right, len(full), fail)
        known, read = solve_axes(lhs, full, sizes, fail)
        for axis in sizes:
            if axis not in known and not any(axis in group for group in rhs):
                raise fail(f"axis '{axis}' in sizes is not in the pattern")
        known.update({axis: size for axis, size in sizes.items() if axis not in known})
        known.update({axis: axis.value for group in rhs for axis in group if isinstance(axis, AnonymousAxis)})
        out = tuple(None if any(known[x] is None for x in group) else math.prod(known[x] for x in group) for group in rhs)
        return out[t.batched:], self.steps(a, lhs, rhs, known, read)

    def agree(self, left, right, sizes, fail) -> None:
        """The axes of the two sides agree as this operation needs (einops' checks)."""
        if right.has_ellipsis and not left.has_ellipsis:
            raise fail("'...' on the right needs '...' on the left")
        if left.has_ellipsis_parenthesized:
            raise fail("'...' may not be inside parentheses on the left")
        for axis in sizes:
            if not ParsedExpression.check_axis_name(axis):
                raise fail(f"'{axis}' in sizes is not an axis name")

    def steps(self, a, lhs, rhs, known, read) -> tuple:
        """The tensor method calls, (name, args), that make the output: reshape, reduce,
        permute, expand, reshape, each where it changes something. A size is a number or a
        Size read from the input (the batch's, and the axes in `read`): never -1, so that an
        input of another size fails loudly instead of being folded into the batch."""

        def size(group) -> int | Size:
            if any(known[x] is None for x in group):  # the batch, alone in its group
                return Size(1, ((0, 1),))
            dims, covered = [], set()
            for x in group:
                if x in read:  # the whole input dim when the group has all its axes: (c g) is dim 1
                    k, div = read[x]
                    whole = set(lhs[k]) <= set(group)
                    dims.append((k, 1) if whole else (k, div))
                    covered |= set(lhs[k]) if whole else {x}
            const = math.prod(known[x] for x in group if x not in covered)
            return Size(const, tuple(dims)) if dims else const

        flat_l = [axis for group in lhs for axis in group]
        flat_r = [axis for group in rhs for axis in group]
        calls: list = []
        if any(len(group) != 1 for group in lhs):
            calls.append(("reshape", tuple(size([x]) for x in flat_l) or ((),)))  # ((),): to no dims at all
        reduced = tuple(k for k, x in enumerate(flat_l) if x not in flat_r)
        if reduced and a["reduction"] == "prod":  # torch's prod takes one dim at a time
            calls += [("prod", (d,)) for d in reversed(reduced)]
        elif reduced:
            calls.append((REDUCTIONS[a["reduction"]], (reduced,)))
        kept = [x for x in flat_l if x in flat_r]
        order = [x for x in flat_r if x in kept]
        if order != kept:
            calls.append(("permute", tuple(kept.index(x) for x in order)))
        if len(order) != len(flat_r):  # new axes: size 1 first, then expanded
            calls.append(("reshape", tuple(size([x]) if x in kept else 1 for x in flat_r)))
            calls.append(("expand", tuple(-1 if x in kept else known[x] for x in flat_r)))
        if any(len(group) != 1 for group in rhs):
            calls.append(("reshape", tuple(size(group) for group in rhs) or ((),)))
        return tuple(calls)

    # ---- torch ---------------------------------------------------------------------------------
    def apply(self, a, x):
        source = x
        for method, args in a["steps"]:
            x = getattr(x, method)(*(n.value(source) if isinstance(n, Size) else n for n in args))
        return x

    def python(self, a, xs):
        text = lambda n: n.text(xs[0]) if isinstance(n, Size) else repr(n)  # noqa: E731
        return xs[0] + "".join(f".{method}({', '.join(map(text, args))})" for method, args in a["steps"])


def batch_first(left: list, right: list, sizes: dict, fail) -> None:
    """A batched value's pattern begins with its batch, a lone name, on both sides."""
    first = left[0] if left else None
    if not isinstance(first, list) or len(first) != 1 or not isinstance(first[0], str):
        raise fail("the first axis of a batched value is its batch: begin the left with a name of its own (b ...)")
    batch = first[0]
    if not right or right[0] != [batch]:
        raise fail(f"the batch '{batch}' must stay the first axis, alone: begin the right with '{batch}'")
    if batch in sizes:
        raise fail(f"the batch '{batch}' takes no size: its size is the batch's")


def expand_ellipsis(left, right, ndim: int, fail) -> tuple[list, list]:
    """Both sides' compositions (lists of axis groups) with `...` replaced by the dims it stands for."""
    groups = left.composition
    if left.has_ellipsis:
        if ndim < len(groups) - 1:
            raise fail(f"the left names at least {len(groups) - 1} dims, the input has {ndim}")
        ell = [f"{ELLIPSIS}{k}" for k in range(ndim - len(groups) + 1)]
    elif ndim != len(groups):
        raise fail(f"the left names {len(groups)} dims, the input has {ndim}")
    else:
        ell = []

    def replace(composition) -> list:
        out = []
        for group in composition:
            if group == ELLIPSIS:
                out += [[x] for x in ell]
            else:
                out.append([y for x in group for y in (ell if x == ELLIPSIS else [x])])
        return out

    return replace(groups), replace(right.composition)


def solve_axes(lhs, full, sizes, fail) -> tuple[dict, dict]:
    """The size of every axis on the left, from the input's dims and the given sizes (the
    batch's is None); and, for each axis the input's dims decide, the (dim, divisor) to read
    it from when the module runs."""
    known: dict = {}
    read: dict = {}
    for k, (group, dim) in enumerate(zip(lhs, full)):
        if dim is None:
            known[group[0]] = None
            continue
        given = {x: (x.value if isinstance(x, AnonymousAxis) else sizes.get(x)) for x in group}
        unknown = [x for x, n in given.items() if n is None]
        product = math.prod(n for n in given.values() if n is not None)
        shown = "(" + " ".join(map(str, group)) + ")" if len(group) != 1 else str(group[0])
        if len(unknown) > 1:
            raise fail(f"cannot tell the sizes of {', '.join(map(str, unknown))} in {shown} apart: give all but one in sizes")
        if unknown:
            if dim % product:
                raise fail(f"{shown} is a dim of size {dim}, which is not divisible by {product}")
            given[unknown[0]] = dim // product
            read[unknown[0]] = (k, product)
        elif product != dim:
            raise fail(f"{shown} is a dim of size {dim}, not {product}")
        known.update(given)
    return known, read


@register
class Rearrange(Pattern):
    name = "rearrange"
    doc = "Reorder, merge and split dims by an einops pattern (einops.rearrange): 'b c h w -> b (h w) c'."

    def agree(self, left, right, sizes, fail):
        super().agree(left, right, sizes, fail)
        if left.has_non_unitary_anonymous_axes or right.has_non_unitary_anonymous_axes:
            raise fail("rearrange takes no numbers but 1 as axes: name the axis and give its size in sizes")
        only = left.identifiers ^ right.identifiers
        if only:
            raise fail(f"{', '.join(sorted(map(str, only)))} appear on one side only: every axis of rearrange is on both")


@register
class Reduce(Pattern):
    name = "reduce"
    doc = ("Reduce the axes the right side leaves out, by an einops pattern (einops.reduce): "
           "'b c (h 2) (w 2) -> b c h w' with max is a 2x2 max pool.")
    family = "pool"
    main_arg = None
    dtypes = ("float32", "int64")
    args = (PATTERN, Arg("reduction", Choice(*REDUCTIONS), doc="how the left-out axes combine"), SIZES)

    def type(self, a, ts):
        out = super().type(a, ts)
        reduces = any(method in REDUCTIONS.values() for method, _ in self.solve(a, ts[0])[1])
        if a["reduction"] == "mean" and out.dtype != "float32" and reduces:
            raise ShapeRuleError(f"{self.name}: reduction 'mean' needs float values, found {out.dtype}")
        return out

    def agree(self, left, right, sizes, fail):
        super().agree(left, right, sizes, fail)
        new = right.identifiers - left.identifiers
        if new:
            raise fail(f"{', '.join(sorted(map(str, new)))} on the right only: reduce cannot make axes (tile does)")


@register
class Tile(Pattern):
    name = "tile"
    doc = "Copy a value along new or grown axes by an einops pattern (einops.repeat): 'b h w -> b h w c' with sizes {c: 3}."

    def agree(self, left, right, sizes, fail):
        super().agree(left, right, sizes, fail)
        gone = left.identifiers - right.identifiers
        if gone:
            raise fail(f"{', '.join(sorted(map(str, gone)))} on the left only: tile keeps every axis (reduce drops them)")
        unsized = {x for x in right.identifiers - left.identifiers if not isinstance(x, AnonymousAxis)} - set(sizes)
        if unsized:
            raise fail(f"new axes {', '.join(sorted(unsized))} need a size: give it in sizes")
