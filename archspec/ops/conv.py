"""Convolutions and transposed convolutions: one generic class each, registered for 1, 2
and 3 spatial dims. Shape rules replicate torch's output-size arithmetic exactly."""
from __future__ import annotations

from archspec.ops import register
from archspec.ops.base import Arg, Bool, Choice, Int, Op, ShapeRuleError, Size, prod

LAYOUT = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}


def sizes(values) -> str:
    """(5, 5) -> '5x5': how spatial sizes read in messages."""
    return "x".join(str(v) for v in values)


def short(values) -> str:
    """(1, 1) -> '1', (1, 2) -> '1x2': a per-dim setting that is usually uniform."""
    return str(values[0]) if len(set(values)) == 1 else sizes(values)


def expect_spatial(op: str, x: tuple, dims: int) -> None:
    """Refuse an input that is not (C, *spatial) with `dims` spatial dims."""
    if len(x) != dims + 1:
        raise ShapeRuleError(f"{op}: expects input {LAYOUT[dims]} (rank {dims + 1}), found {list(x)} (rank {len(x)})")


def check_groups(op: str, channels: int, out: int, groups: int) -> None:
    for what, n in (("input channels", channels), ("out channels", out)):
        if n % groups:
            raise ShapeRuleError(f"{op}: {what} {n} not divisible by groups {groups}")


class Conv(Op):
    """Generic N-d convolution; subclasses set `dims` (and name, args, doc)."""

    family = "conv"
    dims = 2

    @staticmethod
    def make_args(dims: int) -> tuple[Arg, ...]:
        return (
            Arg("out", Int(1), doc="output channels"),
            Arg("kernel", Size(dims), doc="kernel size"),
            Arg("stride", Size(dims), 1, "step between windows"),
            Arg("padding", Size(dims, 0, ("same", "valid")), 0, "padding per side, or 'same' / 'valid'"),
            Arg("dilation", Size(dims), 1, "spacing between kernel taps"),
            Arg("groups", Int(1), 1, "blocked connections from input to output channels"),
            Arg("bias", Bool(), True, "add a learnable bias"),
            Arg("padding_mode", Choice("zeros", "reflect", "replicate", "circular"), "zeros", "how padding is filled"),
        )

    def pads(self, a: dict, spatial: tuple) -> tuple[tuple, tuple]:
        """(left, right) padding per spatial dim, as torch computes it for 'same' / 'valid'."""
        pad = a["padding"]
        if pad == "same":
            if any(s != 1 for s in a["stride"]):
                raise ShapeRuleError(f"{self.name}: padding 'same' needs stride 1, found stride {sizes(a['stride'])}")
            total = [d * (k - 1) for d, k in zip(a["dilation"], a["kernel"])]
            return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
        pad = (0,) * self.dims if pad == "valid" else pad
        return pad, pad

    def shape(self, a, xs):
        x = xs[0]
        expect_spatial(self.name, x, self.dims)
        check_groups(self.name, x[0], a["out"], a["groups"])
        spatial = x[1:]
        lo, hi = self.pads(a, spatial)
        mode = a["padding_mode"]
        if mode in ("reflect", "circular"):
            for n, p in zip(spatial * 2, lo + hi):
                if p > n or (mode == "reflect" and p == n):
                    limit = "smaller than" if mode == "reflect" else "at most"
                    raise ShapeRuleError(
                        f"{self.name}: padding_mode '{mode}' needs padding {limit} the input size, "
                        f"found padding {p} on input {sizes(spatial)}"
                    )
        effective = [d * (k - 1) + 1 for d, k in zip(a["dilation"], a["kernel"])]
        padded = [n + l + h for n, l, h in zip(spatial, lo, hi)]
        if any(e > p for e, p in zip(effective, padded)):
            raise ShapeRuleError(
                f"{self.name}: kernel {sizes(a['kernel'])} (with dilation {short(a['dilation'])}) "
                f"is larger than the padded input {sizes(padded)}"
            )
        return (a["out"], *((p - e) // s + 1 for p, e, s in zip(padded, effective, a["stride"])))

    def weights(self, a, xs):
        return {"weight": (a["out"], xs[0][0] // a["groups"], *a["kernel"]), **({"bias": (a["out"],)} if a["bias"] else {})}

    def macs(self, a, xs, out):
        return prod(out[1:]) * prod(a["kernel"]) * a["out"] * (xs[0][0] // a["groups"])

    def module(self, a, xs):
        from torch import nn

        cls = getattr(nn, f"Conv{self.dims}d")
        return cls(xs[0][0], a["out"], a["kernel"], a["stride"], a["padding"], a["dilation"],
                   a["groups"], a["bias"], a["padding_mode"])


class ConvTranspose(Op):
    """Generic N-d transposed convolution; subclasses set `dims`."""

    family = "conv"
    dims = 2

    @staticmethod
    def make_args(dims: int) -> tuple[Arg, ...]:
        return (
            Arg("out", Int(1), doc="output channels"),
            Arg("kernel", Size(dims), doc="kernel size"),
            Arg("stride", Size(dims), 1, "upsampling factor"),
            Arg("padding", Size(dims, 0), 0, "size trimmed from each side of the output"),
            Arg("output_padding", Size(dims, 0), 0, "extra size added to one side of the output"),
            Arg("groups", Int(1), 1, "blocked connections from input to output channels"),
            Arg("bias", Bool(), True, "add a learnable bias"),
            Arg("dilation", Size(dims), 1, "spacing between kernel taps"),
        )

    def shape(self, a, xs):
        x = xs[0]
        expect_spatial(self.name, x, self.dims)
        check_groups(self.name, x[0], a["out"], a["groups"])
        k, s, p, op, d = (a[n] for n in ("kernel", "stride", "padding", "output_padding", "dilation"))
        if any(o >= si and o >= di for o, si, di in zip(op, s, d)):
            raise ShapeRuleError(
                f"{self.name}: output_padding {sizes(op)} must be smaller than "
                f"stride {sizes(s)} or dilation {sizes(d)}"
            )
        out = tuple((n - 1) * si - 2 * pi + di * (ki - 1) + oi + 1
                    for n, si, pi, di, ki, oi in zip(x[1:], s, p, d, k, op))
        if any(o < 1 for o in out):
            raise ShapeRuleError(
                f"{self.name}: padding {sizes(p)} leaves an output of size {sizes(out)} from input {sizes(x[1:])}"
            )
        return (a["out"], *out)

    def weights(self, a, xs):
        return {"weight": (xs[0][0], a["out"] // a["groups"], *a["kernel"]), **({"bias": (a["out"],)} if a["bias"] else {})}

    def macs(self, a, xs, out):
        return prod(xs[0][1:]) * prod(a["kernel"]) * xs[0][0] * (a["out"] // a["groups"])

    def module(self, a, xs):
        from torch import nn

        cls = getattr(nn, f"ConvTranspose{self.dims}d")
        return cls(xs[0][0], a["out"], a["kernel"], a["stride"], a["padding"], a["output_padding"],
                   a["groups"], a["bias"], a["dilation"])


for _d in (1, 2, 3):
    register(type(f"Conv{_d}d", (Conv,), {
        "name": f"conv{_d}d", "dims": _d, "args": Conv.make_args(_d),
        "doc": f"{_d}-d convolution over {LAYOUT[_d]} input (torch.nn.Conv{_d}d).",
    }))
    register(type(f"ConvTranspose{_d}d", (ConvTranspose,), {
        "name": f"conv_transpose{_d}d", "dims": _d, "args": ConvTranspose.make_args(_d),
        "doc": f"{_d}-d transposed convolution over {LAYOUT[_d]} input (torch.nn.ConvTranspose{_d}d).",
    }))
