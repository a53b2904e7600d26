"""mean_over, sum_over, max_over, min_over: dims of batched and batch-free values, some out of
range or named twice, with and without keepdim."""
from __future__ import annotations

from hypothesis import strategies as st

from archspec.compiler.ir import Type
from strategies import dim_for, shape, some, typed


def dims_for(t) -> st.SearchStrategy:
    """Dims as `value_dim` reads them: batched values never name the batch (torch would reduce it)."""
    if isinstance(t, Type) and not t.batched:
        r = len(t.shape)
        return st.integers(-r - 1, r)
    return dim_for(len(t.shape if isinstance(t, Type) else t))


@st.composite
def reduction(draw, op):
    x = typed(draw, draw(shape(1, 3)))  # torch reads dim 0 or -1 of a scalar as the scalar; the rule has no dims there
    one = dims_for(x)
    dims = draw(st.one_of(one, st.lists(one, min_size=1, max_size=3)))
    return {"dims": dims} | some(draw, keepdim=st.booleans()), [x]


STRATEGIES = {name: reduction for name in ("mean_over", "sum_over", "max_over", "min_over")}
