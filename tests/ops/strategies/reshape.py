"""Flatten, reshape and permute."""
from __future__ import annotations

import math

from hypothesis import strategies as st

from strategies import dim_for, shape, some


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


STRATEGIES = {"flatten": flatten, "reshape": reshape, "permute": permute}
