"""Batch, layer, group and instance norm."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import dim_for, generic_args, on, shape


@st.composite
def layernorm(draw, op):
    """The trailing `dims`, or one `dim` (in range or not; never both, which the explicit tests refuse)."""
    x = draw(shape(1, 3))
    args = generic_args(draw, op, dims=st.integers(1, len(x)), dim=st.none())
    if draw(st.booleans()):
        args = {k: v for k, v in args.items() if k != "dims"} | {"dim": draw(dim_for(len(x)))}
    return args, [x]


@st.composite
def groupnorm(draw, op):
    return {"groups": draw(st.integers(1, 4))} | generic_args(draw, op), [draw(shape(1, 3, hi=8))]


STRATEGIES = {"layernorm": layernorm, "groupnorm": groupnorm, "instancenorm2d": on(st.tuples(*[st.integers(1, 3)] * 3))}
STRATEGIES |= {f"batchnorm{d}d": on(shape(1, 4, hi=3)) for d in (1, 2, 3)}
