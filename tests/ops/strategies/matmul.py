"""matmul of batched and batch-free values: mostly shapes that multiply, now and then not."""
from __future__ import annotations

from hypothesis import strategies as st

from archspec.compiler.ir import Type


@st.composite
def matmul(draw, op):
    """Right operands are matrices where torch would take a vector and accept, and a left vector
    has more than one element: torch's FLOP counter misses matrix-vector products and a
    [1] @ [..., 1, m] (the hand-computed tests cover them). A batched left vector meets a
    batch-free matrix: torch would make [k] @ [H, k, m] a [H, B, m] and [k] @ batched [k, m] a
    [B, B, m], which the rule refuses (tested apart)."""
    small = st.integers(1, 3)
    n, k, m = draw(small), draw(small), draw(small)
    front = draw(st.lists(small, max_size=2))
    left_batched, right_batched = draw(st.booleans()), draw(st.booleans())
    left = (*draw(st.sampled_from([front, front[1:], []])), n, k)
    right = (*draw(st.sampled_from([front, front[1:], [], [1]])), k if draw(st.integers(0, 5)) else k + 1, m)
    if left_batched and right_batched and len(left) > 1:  # one rank: torch lines the batch of another up with a sample dim
        right = (*[draw(st.sampled_from([d, 1, 2])) for d in left[:-2]], *right[-2:])
    if k > 1 and draw(st.integers(0, 3)) == 0:
        left = left[-1:]  # a vector
        if left_batched:
            right, right_batched = right[-2:], False
    if right_batched and draw(st.integers(0, 3)) == 0:
        right = right[-2:-1]  # refused: a batched [D] is a (B, D) matrix
    dtype = draw(st.sampled_from(["float32"] * 5 + ["int64"]))
    return {}, [Type(left, dtype, left_batched), Type(right, "float32", right_batched)]


STRATEGIES = {"matmul": matmul}
