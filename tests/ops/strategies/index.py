"""select, slice, split and chunk: any dtype, batched or batch-free values (`typed`)."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import dim_for, shape, some, typed


def along(draw, x) -> dict:
    """A dim of a sample of x's rank (sometimes out of range; never the batch), half the time the default."""
    return some(draw, dim=dim_for(len(x)))


def size_at(x, args) -> int:
    """The size of the dim the args name for batched x, or 3 when out of range."""
    d = args.get("dim", 1) % (len(x) + 1) - 1
    return x[d] if 0 <= d < len(x) else 3


@st.composite
def select(draw, op):
    x = draw(shape(1, 3))
    args = along(draw, x)
    n = size_at(x, args)
    return {**args, "index": draw(st.integers(-n - 1, n))}, [typed(draw, x)]


@st.composite
def slice_(draw, op):
    x = draw(shape(1, 3, hi=6))
    bound = st.one_of(st.none(), st.integers(-7, 7))
    return along(draw, x) | some(draw, start=bound, stop=bound, step=st.integers(1, 3)), [typed(draw, x)]


@st.composite
def split(draw, op):
    x = draw(shape(1, 3, hi=6))
    args = along(draw, x)
    n = size_at(x, args)
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else []
    fits = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    sizes = draw(st.one_of(st.just(fits), st.lists(st.integers(1, 4), min_size=1, max_size=4)))
    return {**args, "sizes": sizes}, [typed(draw, x)]


@st.composite
def chunk(draw, op):
    x = draw(shape(1, 3, hi=7))
    return {**along(draw, x), "n": draw(st.integers(1, 5))}, [typed(draw, x)]


STRATEGIES = {"select": select, "slice": slice_, "split": split, "chunk": chunk}
