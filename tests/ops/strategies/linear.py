"""The fully connected layer."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import generic_args, shape, typed


@st.composite
def linear(draw, op):
    return {"out": draw(st.integers(1, 6))} | generic_args(draw, op), [typed(draw, draw(shape(1, 3, hi=5)))]


STRATEGIES = {"linear": linear}
