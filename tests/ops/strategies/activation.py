"""Activations, dropout and identity."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import dim_for, on, shape, simple, some, typed


@st.composite
def along_dim(draw, op):
    x = draw(shape(1, 3))
    return some(draw, dim=dim_for(len(x))), [x]


STRATEGIES = {"softmax": along_dim, "log_softmax": along_dim, "dropout2d": on(st.tuples(*[st.integers(1, 3)] * 3))}
for _name in ("relu", "relu6", "leaky_relu", "elu", "gelu", "silu", "mish", "sigmoid", "tanh", "hardswish", "hardsigmoid",
              "dropout", "identity"):
    STRATEGIES[_name] = simple


@st.composite
def drop_path(draw, op):
    return {"p": draw(st.floats(0, 1))} | some(draw, mode=st.sampled_from(["row", "batch"])), [typed(draw, draw(shape(0, 3)))]


STRATEGIES["drop_path"] = drop_path
