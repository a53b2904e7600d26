"""take: tables of any dtype (batched or not) read by int64 indices (batched or not), the
read dim at least 2 long, as example indices lie in [0, 2). A batched index never meets a
batched table: torch would read across samples (the rule refuses it; tested apart)."""
from __future__ import annotations

from hypothesis import strategies as st

from archspec.compiler.ir import Type

from strategies import shape


@st.composite
def take(draw, op):
    table = draw(shape(1, 3, lo=2))
    table_batched = draw(st.integers(0, 3)) == 0
    index_batched = not table_batched and draw(st.booleans())
    rank = len(table) + table_batched
    args = {"dim": draw(st.integers(-rank - 1, rank))} if draw(st.integers(0, 3)) else {}
    table_dtype = draw(st.sampled_from(["float32"] * 4 + ["int64", "bool"]))
    index_dtype = draw(st.sampled_from(["int64"] * 6 + ["float32"]))
    return args, [Type(table, table_dtype, table_batched), Type(draw(shape(1, 2, hi=3)), index_dtype, index_batched)]


STRATEGIES = {"take": take}
