"""Attention: the core on packed or separate q, k, v with an optional mask (shapes that fit
the scores, and now and then ones that do not), and nn.MultiheadAttention's layout in self-,
cross- and q/k/v form, with feature counts that split into the heads or not."""
from __future__ import annotations

from hypothesis import strategies as st

from archspec.compiler.ir import Type
from strategies import generic_args

small = st.integers(1, 3)


@st.composite
def attention(draw, op):
    heads, d, dv = draw(small), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    lead = tuple(draw(st.lists(st.integers(1, 2), max_size=1)))
    l, s = draw(small), draw(small)
    e = heads * d + (1 if draw(st.integers(0, 7)) == 0 else 0)
    args = {"heads": heads} | generic_args(draw, op)
    if draw(st.booleans()):
        inputs = [Type((*lead, l, 3 * e))]
        s = l
    else:
        inputs = [Type((*lead, l, e)), Type((*lead, s, e)), Type((*lead, s, heads * dv))]
    if draw(st.integers(0, 2)) == 0:
        args.pop("causal", None)
        scores = (*lead, heads, l, s)
        batched = draw(st.booleans())
        if batched:
            mask = tuple(draw(st.sampled_from([n, 1])) for n in scores)
        else:
            mask = scores[-draw(st.integers(2, len(scores))):]
            mask = tuple(draw(st.sampled_from([n, 1, n + 1] if k == 0 else [n, 1])) for k, n in enumerate(mask))
        inputs.append(Type(mask, draw(st.sampled_from(["float32", "bool"])), batched))
    return args, inputs


@st.composite
def multihead_attention(draw, op):
    heads = draw(small)
    e = heads * draw(st.integers(1, 2)) + (1 if draw(st.integers(0, 7)) == 0 else 0)
    l, s = draw(small), draw(small)
    n = draw(st.integers(1, 3))
    kdim = draw(st.sampled_from([e, e, 2]))
    vdim = kdim if n < 3 else draw(st.sampled_from([e, e, 3]))
    shapes = [(l, e), (s, kdim), (s, vdim)][:n]
    if draw(st.integers(0, 9)) == 0:
        shapes[0] = (1, *shapes[0])  # refused: MultiheadAttention takes sequences
    return {"heads": heads} | generic_args(draw, op), [Type(x) for x in shapes]


STRATEGIES = {"attention": attention, "multihead_attention": multihead_attention}
