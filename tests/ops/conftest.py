"""Hypothesis strategies, one per op: each draws (args as a spec would give them, input shapes).

Sizes are tiny so torch runs fast; ranges deliberately reach inputs that are too small or
mismatched, so both the accepting and the refusing side of each shape rule get exercised.
Inputs where torch silently does something else than the op means (broadcasting, dim 0,
wrong-rank inputs torch reads as unbatched) are left to the explicit tests."""
from __future__ import annotations

import math

import pytest
from hypothesis import strategies as st

from archspec.ops.base import Bool, Choice, Float, Optional

SPATIAL_MAX = {1: 8, 2: 6, 3: 4}


def size(dims, lo, hi):
    """An int or a list of `dims` ints, as a spec may write kernel/stride/padding."""
    return st.one_of(st.integers(lo, hi), st.lists(st.integers(lo, hi), min_size=dims, max_size=dims))


def shape(min_rank, max_rank, lo=1, hi=4):
    return st.lists(st.integers(lo, hi), min_size=min_rank, max_size=max_rank).map(tuple)


def dim_for(rank, extra=0):
    """Dims in torch convention for a sample of `rank`: in range and not the batch, or out of range."""
    r = rank + 1 + extra
    return st.sampled_from([v for v in range(-r - 1, r + 1) if not (-r <= v < r and v % r == 0)])


def for_type(t):
    if isinstance(t, Bool):
        return st.booleans()
    if isinstance(t, Float):
        lo = -2.0 if t.minimum is None else t.minimum
        hi = 2.0 if t.maximum is None else t.maximum
        return st.floats(lo, hi, allow_nan=False, exclude_min=getattr(t, "exclusive", False))
    if isinstance(t, Choice):
        return st.sampled_from(t.choices)
    if isinstance(t, Optional):
        return st.one_of(st.none(), for_type(t.inner))
    raise TypeError(f"no generic strategy for {type(t).__name__}")


def some(draw, **options):
    """Each optional argument is given about half the time, else left to its default."""
    return {k: draw(v) for k, v in options.items() if draw(st.booleans())}


def generic_args(draw, op, **overrides):
    optional = [arg for arg in op.args if not arg.required]
    return some(draw, **{a.name: overrides[a.name] if a.name in overrides else for_type(a.type) for a in optional})


def spatial_input(draw, dims, channels):
    return (channels, *draw(st.tuples(*[st.integers(1, SPATIAL_MAX[dims])] * dims)))


def channels(draw, groups):
    """Usually a multiple of groups, sometimes any count (torch must then refuse)."""
    return draw(st.one_of(st.integers(1, 3).map(lambda m: m * groups), st.integers(1, 6)))


def conv(dims, transposed):
    @st.composite
    def draw_conv(draw, op):
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        args = {"out": channels(draw, groups), "kernel": draw(size(dims, 1, 3 if transposed else 4)), "groups": groups}
        common = dict(stride=size(dims, 1, 3), dilation=size(dims, 1, 2), bias=st.booleans())
        if transposed:
            args |= some(draw, padding=size(dims, 0, 3), output_padding=size(dims, 0, 2), **common)
        else:
            pad = st.one_of(size(dims, 0, 2), st.sampled_from(["same", "valid"]))
            args |= some(draw, padding=pad, padding_mode=for_type(op.arg_map["padding_mode"].type), **common)
        return args, [spatial_input(draw, dims, channels(draw, groups))]

    return draw_conv


def pool(dims, kind):
    @st.composite
    def draw_pool(draw, op):
        args = {"kernel": draw(size(dims, 1, 4 if dims < 3 else 3))}
        args |= some(draw, stride=st.one_of(st.none(), size(dims, 1, 3)), padding=size(dims, 0, 2), ceil_mode=st.booleans())
        args |= some(draw, **({"dilation": size(dims, 1, 2)} if kind == "max" else {"count_include_pad": st.booleans()}))
        return args, [spatial_input(draw, dims, draw(st.integers(1, 3)))]

    return draw_pool


def adaptive(dims):
    @st.composite
    def draw_adaptive(draw, op):
        return {"size": draw(size(dims, 1, 4))}, [spatial_input(draw, dims, draw(st.integers(1, 3)))]

    return draw_adaptive


@st.composite
def simple(draw, op, x=shape(1, 3), **overrides):
    """Ops whose arguments are all Bool/Float/Choice: generic arguments on input `x`."""
    return generic_args(draw, op, **overrides), [draw(x)]


@st.composite
def along_dim(draw, op):
    x = draw(shape(1, 3))
    return some(draw, dim=dim_for(len(x))), [x]


@st.composite
def flatten(draw, op):
    x = draw(shape(1, 4, hi=3))
    return some(draw, start=dim_for(len(x)), end=dim_for(len(x))), [x]


@st.composite
def reshape(draw, op):
    x = draw(shape(1, 3))
    n = math.prod(x)
    fits = st.sampled_from([[n], [-1], list(reversed(x)), [x[0], -1], [-1, 1], [1, n, 1]])
    return {"shape": draw(st.one_of(fits, st.lists(st.integers(-1, 6), min_size=1, max_size=3)))}, [x]


@st.composite
def permute(draw, op):
    x = draw(shape(1, 4, hi=3))
    dims = st.one_of(st.permutations(range(len(x))), st.lists(st.integers(0, len(x)), min_size=1, max_size=len(x) + 1))
    return {"dims": draw(dims)}, [x]


@st.composite
def layernorm(draw, op):
    x = draw(shape(1, 3))
    return generic_args(draw, op, dims=st.integers(1, len(x))), [x]


@st.composite
def groupnorm(draw, op):
    return {"groups": draw(st.integers(1, 4))} | generic_args(draw, op), [draw(shape(1, 3, hi=8))]


MODES = {0: ["nearest"], 1: ["nearest", "linear"], 2: ["nearest", "bilinear", "bicubic"], 3: ["nearest", "trilinear"]}


@st.composite
def upsample(draw, op):
    """Mostly well-formed (one of size/scale, a mode for the input's rank), sometimes not."""
    x = draw(st.one_of(shape(2, 4, hi=5), shape(1, 1)))
    n = len(x) - 1
    odd = draw(st.integers(0, 4)) == 0  # about one draw in five breaks a rule on purpose
    args = {"mode": draw(st.sampled_from(op.arg_map["mode"].type.choices if odd else MODES[n]))}
    per_dim = (lambda v: st.one_of(v, st.lists(v, min_size=1, max_size=3))) if odd else (
        lambda v: st.one_of(v, st.lists(v, min_size=max(n, 1), max_size=max(n, 1))))
    scale = st.floats(0.2, 3.0).map(lambda f: round(f, 2))
    which = draw(st.sampled_from(["size", "scale", "both", "neither"] if odd else ["size", "scale"]))
    if which in ("size", "both"):
        args["size"] = draw(per_dim(st.integers(1, 5)))
    if which in ("scale", "both"):
        args["scale"] = draw(per_dim(scale))
    if args["mode"] != "nearest" or odd:
        args |= some(draw, align_corners=st.booleans())
    return args, [x]


def mismatched(draw, x, lo=1):
    """Copy of x, sometimes with one dim changed to another value >= lo."""
    if not x or draw(st.integers(0, 3)):
        return x
    i = draw(st.integers(0, len(x) - 1))
    return x[:i] + (draw(st.integers(lo, 5).filter(lambda v: v != x[i])),) + x[i + 1 :]


@st.composite
def elementwise_merge(draw, op):
    """Changed dims stay >= 2 so torch cannot broadcast where the rule refuses."""
    x = draw(shape(1, 3, lo=2))
    return {}, [x] + [mismatched(draw, x, lo=2) for _ in range(draw(st.integers(1, 2)))]


@st.composite
def concat(draw, op):
    x = draw(shape(1, 3))
    args = some(draw, dim=dim_for(len(x)))
    d = args.get("dim", 1) % (len(x) + 1) - 1
    xs = [x] * draw(st.integers(2, 3))
    if 0 <= d < len(x):  # vary the joined dim freely
        xs = [y[:d] + (draw(st.integers(1, 4)),) + y[d + 1 :] for y in xs]
    return args, [mismatched(draw, y) for y in xs]


@st.composite
def stack(draw, op):
    x = draw(shape(1, 3))
    return some(draw, dim=dim_for(len(x), extra=1)), [x] + [mismatched(draw, x) for _ in range(draw(st.integers(1, 2)))]


@st.composite
def linear(draw, op):
    return {"out": draw(st.integers(1, 6))} | generic_args(draw, op), [draw(shape(1, 3, hi=5))]


def on(x):
    """`simple` on inputs drawn from x."""
    return lambda op: simple(op, x=x)


def build() -> dict:
    """op name -> function(op) returning a strategy of (args, input shapes)."""
    chw = st.tuples(*[st.integers(1, 3)] * 3)
    table = {
        "linear": linear, "flatten": flatten, "reshape": reshape, "permute": permute, "upsample": upsample,
        "softmax": along_dim, "log_softmax": along_dim, "layernorm": layernorm, "groupnorm": groupnorm,
        "dropout2d": on(chw), "instancenorm2d": on(chw), "concat": concat, "stack": stack,
    }
    for name in ("add", "mul", "max", "mean"):
        table[name] = elementwise_merge
    for name in ("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "mish", "sigmoid", "tanh",
                 "hardswish", "hardsigmoid", "dropout", "identity"):
        table[name] = simple
    for d in (1, 2, 3):
        table[f"conv{d}d"], table[f"conv_transpose{d}d"] = conv(d, False), conv(d, True)
        table[f"batchnorm{d}d"] = on(shape(1, 4, hi=3))
        for kind in ("max", "avg"):
            table[f"{kind}pool{d}d"], table[f"adaptive_{kind}pool{d}d"] = pool(d, kind), adaptive(d)
    return table


class Strategies(dict):
    def __repr__(self):  # hypothesis prints fixtures of a failing example; keep that short
        return "<op strategies>"


@pytest.fixture(scope="session")
def op_strategies() -> dict:
    return Strategies(build())
