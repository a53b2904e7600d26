"""scale, pow, clamp and the unary functions, on batched and batch-free values of any dtype."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import shape, simple, some, typed

NUMBER = st.floats(-3, 3, allow_nan=False)


@st.composite
def scale(draw, op):
    return {"factor": draw(NUMBER)}, [typed(draw, draw(shape(0, 3)))]


@st.composite
def power(draw, op):
    return {"exponent": draw(st.sampled_from([2, 3, 0.5, -1, 1.5]))}, [typed(draw, draw(shape(0, 3)))]


@st.composite
def clamp(draw, op):
    """Both bounds, one or none; min <= max, since torch quietly clamps everything to max otherwise."""
    low, high = sorted([draw(NUMBER), draw(NUMBER)])
    return some(draw, min=st.just(low), max=st.just(high)), [typed(draw, draw(shape(0, 3)))]


STRATEGIES = {"scale": scale, "pow": power, "clamp": clamp}
STRATEGIES |= {name: simple for name in ("exp", "log", "sqrt", "rsqrt", "neg", "abs")}
