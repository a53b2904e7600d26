"""Merges."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import dim_for, shape, some


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


STRATEGIES = {"concat": concat, "stack": stack} | {name: elementwise_merge for name in ("add", "mul", "max", "mean")}
