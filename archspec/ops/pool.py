"""Spatial resampling: max/avg pooling, adaptive pooling, upsampling.

The pooling rule is torch's own (pooling_output_shape): padding at most half the kernel,
and with ceil_mode the last window must start inside the input or the left padding."""
from __future__ import annotations

import math

from archspec.ops import register
from archspec.ops.base import Arg, ArgType, Bool, Choice, EXPR_SCHEMA, Op, Optional, ShapeRuleError, Size, is_int, or_expr
from archspec.ops.conv import LAYOUT, expect_spatial, sizes


class Pool(Op):
    """Generic max/avg pooling; subclasses set `kind` ('max' or 'avg') and `dims`."""

    family = "pool"
    kind = "max"
    dims = 2

    @staticmethod
    def make_args(kind: str, dims: int) -> tuple[Arg, ...]:
        args = [
            Arg("kernel", Size(dims), doc="window size"),
            Arg("stride", Optional(Size(dims)), None, "step between windows; null = kernel"),
            Arg("padding", Size(dims, 0), 0, "implicit padding per side, at most half the kernel"),
        ]
        if kind == "max":
            args.append(Arg("dilation", Size(dims), 1, "spacing between window taps"))
        args.append(Arg("ceil_mode", Bool(), False, "round the output size up instead of down"))
        if kind == "avg":
            args.append(Arg("count_include_pad", Bool(), True, "count padding zeros in the average"))
        return tuple(args)

    def shape(self, a, xs):
        x = xs[0]
        expect_spatial(self.name, x, self.dims)
        k, p = a["kernel"], a["padding"]
        s = a["stride"] or k
        d = a.get("dilation", (1,) * self.dims)
        if any(pi > ki // 2 for pi, ki in zip(p, k)):
            raise ShapeRuleError(f"{self.name}: padding {sizes(p)} is more than half the kernel {sizes(k)}")
        if self.kind == "avg" and self.dims == 3 and any(n < ki for n, ki in zip(x[1:], k)):
            # torch's avg_pool3d alone checks the unpadded input against the kernel
            raise ShapeRuleError(f"{self.name}: input {sizes(x[1:])} is smaller than the kernel {sizes(k)}")
        out = []
        for n, ki, si, pi, di in zip(x[1:], k, s, p, d):
            o = (n + 2 * pi - di * (ki - 1) - 1 + (si - 1 if a["ceil_mode"] else 0)) // si + 1
            if a["ceil_mode"] and (o - 1) * si >= n + pi:
                o -= 1  # the last window would start in the right padding
            out.append(o)
        if any(o < 1 for o in out):
            raise ShapeRuleError(
                f"{self.name}: kernel {sizes(k)} (stride {sizes(s)}, padding {sizes(p)}, dilation {sizes(d)}) "
                f"leaves an output of size {sizes(out)} from input {sizes(x[1:])}"
            )
        return (x[0], *out)

    def module(self, a, xs):
        from torch import nn

        rest = {k: v for k, v in a.items() if k != "kernel"}
        return getattr(nn, f"{self.kind.capitalize()}Pool{self.dims}d")(a["kernel"], **rest)


class AdaptivePool(Op):
    """Generic adaptive pooling to a fixed output size; subclasses set `kind` and `dims`."""

    family = "pool"
    kind = "avg"
    dims = 2
    main_arg = "size"

    def shape(self, a, xs):
        expect_spatial(self.name, xs[0], self.dims)
        return (xs[0][0], *a["size"])

    def module(self, a, xs):
        from torch import nn

        return getattr(nn, f"Adaptive{self.kind.capitalize()}Pool{self.dims}d")(a["size"])


for _kind in ("max", "avg"):
    for _d in (1, 2, 3):
        register(type(f"{_kind.capitalize()}Pool{_d}d", (Pool,), {
            "name": f"{_kind}pool{_d}d", "kind": _kind, "dims": _d, "args": Pool.make_args(_kind, _d),
            "main_arg": "kernel", "doc": f"{_d}-d {_kind} pooling over {LAYOUT[_d]} input.",
        }))
        register(type(f"Adaptive{_kind.capitalize()}Pool{_d}d", (AdaptivePool,), {
            "name": f"adaptive_{_kind}pool{_d}d", "kind": _kind, "dims": _d,
            "args": (Arg("size", Size(_d), doc="output spatial size"),),
            "doc": f"{_d}-d {_kind} pooling to a fixed output size, whatever the input size.",
        }))


class PerDim(ArgType):
    """A positive value, or a list of 1 to 3 (one per spatial dim; the input decides how many)."""

    def __init__(self, integer: bool):
        self.integer = integer
        self.name = "a positive integer or a list of them" if integer else "a positive number or a list of them"

    def one(self, v):
        if isinstance(v, bool) or not (is_int(v) if self.integer else isinstance(v, (int, float))):
            return None
        return v if self.integer else float(v)

    def check(self, value):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        vals = [self.one(v) for v in items]
        if not 1 <= len(vals) <= 3 or any(v is None or not 0 < v < math.inf for v in vals):
            self.fail(value)
        return tuple(vals) if isinstance(value, (list, tuple)) else vals[0]

    def schema(self):
        item = {"type": "integer", "minimum": 1} if self.integer else {"type": "number", "exclusiveMinimum": 0}
        return {"anyOf": [item, {"type": "array", "items": or_expr(item), "minItems": 1, "maxItems": 3}, EXPR_SCHEMA]}


MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


@register
class Upsample(Op):
    name = "upsample"
    family = "pool"
    doc = "Resize the spatial dims to a size or by a scale (torch.nn.Upsample)."
    main_arg = "scale"
    args = (
        Arg("size", Optional(PerDim(True)), None, "output spatial size (give size or scale)"),
        Arg("scale", Optional(PerDim(False)), None, "spatial multiplier (give size or scale)"),
        Arg("mode", Choice("nearest", "linear", "bilinear", "bicubic", "trilinear"), "nearest", "interpolation"),
        Arg("align_corners", Optional(Bool()), None, "interpolating modes only: align corner pixels"),
    )

    def shape(self, a, xs):
        x, mode = xs[0], a["mode"]
        spatial = x[1:]
        if not 1 <= len(spatial) <= 3:
            raise ShapeRuleError(f"{self.name}: expects input (C, L), (C, H, W) or (C, D, H, W), found {list(x)}")
        if MODE_DIMS.get(mode, len(spatial)) != len(spatial):
            raise ShapeRuleError(f"{self.name}: mode '{mode}' needs {LAYOUT[MODE_DIMS[mode]]} input, found {list(x)}")
        if (a["size"] is None) == (a["scale"] is None):
            raise ShapeRuleError(f"{self.name}: give exactly one of size and scale")
        if mode == "nearest" and a["align_corners"] is not None:
            raise ShapeRuleError(f"{self.name}: align_corners applies only to the interpolating modes, not 'nearest'")
        which = "size" if a["size"] is not None else "scale"
        given = a[which] if isinstance(a[which], tuple) else (a[which],) * len(spatial)
        if len(given) != len(spatial):
            raise ShapeRuleError(
                f"{self.name}: {which} {list(given)} has {len(given)} entries for the {len(spatial)} spatial dims of {list(x)}"
            )
        out = given if which == "size" else tuple(math.floor(n * f) for n, f in zip(spatial, given))
        if any(o < 1 for o in out):
            raise ShapeRuleError(
                f"{self.name}: scale {list(given)} leaves an output of size {sizes(out)} from input {sizes(spatial)}"
            )
        return (x[0], *out)

    def module(self, a, xs):
        from torch import nn

        return nn.Upsample(a["size"], a["scale"], a["mode"], a["align_corners"])
