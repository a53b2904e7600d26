"""Swin's window constants: windows of 1-4 a side, maps mostly of whole windows, shifts mostly
smaller than the window (both sides of each refusal are reached)."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import some

SIDE = st.integers(1, 4)


@st.composite
def relative_position_index(draw, op):
    window = draw(st.one_of(SIDE, st.lists(SIDE, min_size=2, max_size=2)))
    return {"window": window, **some(draw, flatten=st.booleans(), persistent=st.booleans())}, []


@st.composite
def shift_mask(draw, op):
    window = draw(st.lists(SIDE, min_size=2, max_size=2))
    size = [w * draw(st.integers(1, 3)) + (draw(st.integers(0, 1)) if draw(st.integers(0, 5)) == 0 else 0) for w in window]
    shift = [draw(st.integers(0, w if draw(st.integers(0, 5)) == 0 else w - 1)) for w in window]
    args = {"size": size, "window": draw(st.sampled_from([window, window[0]])) if window[0] == window[1] else window,
            "shift": shift}
    return args | some(draw, value=st.floats(-1e4, 0), persistent=st.booleans()), []


STRATEGIES = {"relative_position_index": relative_position_index, "shift_mask": shift_mask}
