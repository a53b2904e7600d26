"""Batch, layer, group and instance norm."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import generic_args, on, shape


@st.composite
def layernorm(draw, op):
    x = draw(shape(1, 3))
    return generic_args(draw, op, dims=st.integers(1, len(x))), [x]


@st.composite
def groupnorm(draw, op):
    return {"groups": draw(st.integers(1, 4))} | generic_args(draw, op), [draw(shape(1, 3, hi=8))]


STRATEGIES = {"layernorm": layernorm, "groupnorm": groupnorm, "instancenorm2d": on(st.tuples(*[st.integers(1, 3)] * 3))}
STRATEGIES |= {f"batchnorm{d}d": on(shape(1, 4, hi=3)) for d in (1, 2, 3)}
