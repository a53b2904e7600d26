"""Learnable and constant tensors: parameter and buffer (no input; torch is asked for the
tensor's shape, dtype and parameter count)."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import shape

FLOATS = st.floats(-2, 2, allow_nan=False)


@st.composite
def init_args(draw, inits):
    """An init with only the arguments it takes (the rest are refused by the rule: explicit tests)."""
    init = draw(st.sampled_from(inits))
    args = {"init": init}
    if init == "constant":
        args["value"] = draw(st.integers(-3, 3))
    if init in ("normal", "trunc_normal"):
        args.update({k: v for k, v in (("mean", draw(FLOATS)), ("std", draw(st.floats(0.01, 2)))) if draw(st.booleans())})
    if init in ("uniform", "trunc_normal"):
        low = draw(FLOATS)
        args.update({"a": low, "b": low + draw(st.floats(0.5, 3))} if draw(st.booleans()) else {})
    return args


@st.composite
def parameter(draw, op):
    inits = ("zeros", "ones", "constant", "normal", "trunc_normal", "uniform")
    return {"shape": list(draw(shape(1, 3))), **draw(init_args(inits))}, []


@st.composite
def buffer(draw, op):
    dtype = draw(st.sampled_from(["float32", "int64", "bool"]))
    inits = ("zeros", "ones", "constant", "arange") + (("normal", "trunc_normal", "uniform") if dtype == "float32" else ())
    args = {"shape": list(draw(shape(1, 3))), "dtype": dtype, **draw(init_args(inits))}
    if draw(st.booleans()):
        args["persistent"] = draw(st.booleans())
    return args, []


STRATEGIES = {"parameter": parameter, "buffer": buffer}
