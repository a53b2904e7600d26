"""lstm, gru and rnn: sequences (T, features), and now and then a sample of another rank
(torch refuses a 4-dim batch too); dropout only with stacked layers, as the ops demand."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import generic_args, shape, typed


@st.composite
def recurrent(draw, op):
    layers = draw(st.integers(1, 3))
    args = generic_args(draw, op, layers=st.just(layers), dropout=st.just(0.0) if layers == 1 else st.floats(0.0, 1.0))
    x = draw(st.one_of(shape(2, 2), shape(3, 3, hi=2)))
    return {"hidden": draw(st.integers(1, 4))} | args | {"layers": layers}, [typed(draw, x)]


STRATEGIES = {"lstm": recurrent, "gru": recurrent, "rnn": recurrent}
