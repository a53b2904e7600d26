"""Token ids and their tables: embedding (int64 ids in [0, 2), so every table has 2 rows or
more; now and then a float input, refused) and positions (any value, any dim)."""
from __future__ import annotations

from hypothesis import strategies as st

from archspec.compiler.ir import Type
from strategies import dim_for, shape


@st.composite
def embedding(draw, op):
    num = draw(st.integers(2, 6))
    args = {"num": num, "dim": draw(st.integers(1, 4))}
    if draw(st.booleans()):
        args["padding_idx"] = draw(st.integers(-num - 1, num))
    dtype = draw(st.sampled_from(["int64"] * 4 + ["float32", "bool"]))
    return args, [Type(draw(shape(0, 2)), dtype, draw(st.booleans()))]


@st.composite
def positions(draw, op):
    x = draw(shape(1, 3))
    batched = draw(st.booleans())
    dim = draw(dim_for(len(x))) if batched else draw(st.integers(-len(x) - 1, len(x)))
    return {"dim": dim}, [Type(x, draw(st.sampled_from(["float32", "int64", "bool"])), batched)]


STRATEGIES = {"embedding": embedding, "positions": positions}
