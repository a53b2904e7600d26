"""Normalization layers. Feature counts (num_features, normalized_shape) come from the input,
never from arguments, so a spec cannot get them out of step with the layer before."""
from __future__ import annotations

from archspec.ops import register
from archspec.ops.base import EXPR_SCHEMA, Arg, Bool, Float, Int, Op, Optional, ShapeRuleError
from archspec.ops.conv import sizes
from archspec.ops.reshape import batch_dim

class Positive(Float):
    """A number > 0 (torch refuses eps = 0 while training)."""

    exclusive = True

    def __init__(self):
        super().__init__(0.0)
        self.name = "a positive number"

    def check(self, value):
        if super().check(value) == 0.0:
            self.fail(value)
        return float(value)

    def schema(self):
        return {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, EXPR_SCHEMA]}


EPS = Arg("eps", Positive(), 1e-5, "added to the variance for stability")
MOMENTUM = Arg("momentum", Optional(Float(0.0, 1.0)), 0.1, "running-stats update rate; null = cumulative average")


class BatchNorm(Op):
    """Generic batch norm; subclasses set `dims` and the sample ranks torch accepts."""

    family = "norm"
    dims = 2
    ranks: tuple[int, ...] = (3,)
    layout = "(C, H, W)"
    args = (
        EPS,
        MOMENTUM,
        Arg("affine", Bool(), True, "learn a per-channel scale and shift"),
        Arg("track_running_stats", Bool(), True, "keep running mean/var for evaluation"),
    )

    def shape(self, a, xs):
        x = xs[0]
        if len(x) not in self.ranks:
            raise ShapeRuleError(f"{self.name}: expects input {self.layout}, found {list(x)} (rank {len(x)})")
        return tuple(x)

    def weights(self, a, xs):
        return {"weight": (xs[0][0],), "bias": (xs[0][0],)} if a["affine"] else {}

    def module(self, a, xs):
        from torch import nn

        return getattr(nn, f"BatchNorm{self.dims}d")(xs[0][0], **a)


for _d, _ranks, _layout in ((1, (1, 2), "(C,) or (C, L)"), (2, (3,), "(C, H, W)"), (3, (4,), "(C, D, H, W)")):
    register(type(f"BatchNorm{_d}d", (BatchNorm,), {
        "name": f"batchnorm{_d}d", "dims": _d, "ranks": _ranks, "layout": _layout,
        "doc": f"Batch normalization over {_layout} input, per channel (torch.nn.BatchNorm{_d}d).",
    }))


@register
class LayerNorm(Op):
    name = "layernorm"
    family = "norm"
    doc = ("Normalize over the last `dims` dims of each sample (torch.nn.LayerNorm), or over the one dim `dim` "
           "(channels-first: `dim: 1` of (C, H, W), ConvNeXt's LayerNorm2d).")
    main_arg = "dims"
    args = (
        Arg("dims", Int(1), 1, "how many trailing dims are normalized together"),
        EPS,
        Arg("elementwise_affine", Bool(), True, "learn a per-element scale (and bias)"),
        Arg("bias", Bool(), True, "learn a per-element shift (with elementwise_affine)"),
        Arg("dim", Optional(Int()), None, "normalize over this one dim instead (batch is dim 0); null: the trailing `dims`"),
    )

    def shape(self, a, xs):
        x = xs[0]
        if a["dim"] is not None:
            if a["dims"] != 1:
                raise ShapeRuleError(f"{self.name}: give dims ({a['dims']}: that many trailing dims) or dim (one chosen dim), not both")
            batch_dim(self.name, a["dim"], x)
        elif a["dims"] > len(x):
            raise ShapeRuleError(f"{self.name}: dims {a['dims']} is more than the input's rank: {list(x)} has {len(x)} dims")
        return tuple(x)

    def normalized(self, a, x) -> tuple:
        """The normalized shape: the trailing `dims` dims, or the size of `dim`."""
        return (x[batch_dim(self.name, a["dim"], x) - 1],) if a["dim"] is not None else tuple(x[-a["dims"]:])

    def weights(self, a, xs):
        if not a["elementwise_affine"]:
            return {}
        shape = self.normalized(a, xs[0])
        return {"weight": shape, **({"bias": shape} if a["bias"] else {})}

    def module(self, a, xs):
        from torch import nn

        x, shape = xs[0], self.normalized(a, xs[0])
        rest = (a["eps"], a["elementwise_affine"], a["bias"])
        if a["dim"] is None or batch_dim(self.name, a["dim"], x) == len(x):
            return nn.LayerNorm(shape, *rest)
        from archspec.layers import LayerNormAlongDim

        return LayerNormAlongDim(shape, batch_dim(self.name, a["dim"], x), *rest)


@register
class GroupNorm(Op):
    name = "groupnorm"
    family = "norm"
    doc = "Normalize channels in groups, per sample (torch.nn.GroupNorm)."
    main_arg = "groups"
    args = (
        Arg("groups", Int(1), doc="number of channel groups; must divide the channels"),
        EPS,
        Arg("affine", Bool(), True, "learn a per-channel scale and shift"),
    )

    def shape(self, a, xs):
        x = xs[0]
        if len(x) < 1:
            raise ShapeRuleError(f"{self.name}: expects input (C, ...), found {list(x)}")
        if x[0] % a["groups"]:
            raise ShapeRuleError(f"{self.name}: input channels {x[0]} not divisible by groups {a['groups']}")
        return tuple(x)

    def weights(self, a, xs):
        return {"weight": (xs[0][0],), "bias": (xs[0][0],)} if a["affine"] else {}

    def module(self, a, xs):
        from torch import nn

        return nn.GroupNorm(a["groups"], xs[0][0], a["eps"], a["affine"])


@register
class InstanceNorm2d(Op):
    name = "instancenorm2d"
    family = "norm"
    doc = "Normalize each channel of each sample over H, W (torch.nn.InstanceNorm2d)."
    args = (
        EPS,
        MOMENTUM,
        Arg("affine", Bool(), False, "learn a per-channel scale and shift"),
        Arg("track_running_stats", Bool(), False, "keep running mean/var for evaluation"),
    )

    def shape(self, a, xs):
        x = xs[0]
        if len(x) != 3:
            raise ShapeRuleError(f"{self.name}: expects input (C, H, W), found {list(x)} (rank {len(x)})")
        if x[1] * x[2] == 1:
            # torch refuses this whenever it normalizes with the input's own statistics (training)
            raise ShapeRuleError(f"{self.name}: needs more than one spatial element per channel, found {sizes(x[1:])}")
        return tuple(x)

    def weights(self, a, xs):
        return {"weight": (xs[0][0],), "bias": (xs[0][0],)} if a["affine"] else {}

    def module(self, a, xs):
        from torch import nn

        return nn.InstanceNorm2d(xs[0][0], **a)
