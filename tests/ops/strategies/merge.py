"""Merges."""
from __future__ import annotations

from hypothesis import strategies as st

from archspec.compiler.ir import Type
from strategies import dim_for, shape, some


def mismatched(draw, x, lo=1):
    """Copy of x, sometimes with one dim changed to another value >= lo."""
    if not x or draw(st.integers(0, 3)):
        return x
    i = draw(st.integers(0, len(x) - 1))
    return x[:i] + (draw(st.integers(lo, 5).filter(lambda v: v != x[i])),) + x[i + 1 :]


def thinned(draw, x):
    """x with some dims made 1 (broadcast), some changed (a clash unless the other side is 1)."""
    return tuple(draw(st.sampled_from([d, d, 1, d + 1])) for d in x)


def batch_free(draw, x):
    """A batch-free value that meets a batched x: x's trailing dims, with a leading 1 over the
    batch or (refused, as torch refuses it at some batch size) a 2 there."""
    k = draw(st.integers(0, len(x)))
    lead = draw(st.sampled_from([(), (1,), (2,)])) if k == len(x) else ()
    return Type(lead + thinned(draw, x[len(x) - k:]), batched=False)


@st.composite
def elementwise_merge(draw, op):
    """Batched inputs share one rank (the rule's own refusal otherwise, which the explicit tests
    cover); batch-free ones align from the right, as torch broadcasts them."""
    x = draw(shape(1, 3, lo=2))
    n = draw(st.integers(1, 2))
    others = [batch_free(draw, x) if draw(st.integers(0, 2)) == 0 else thinned(draw, x) for _ in range(n)]
    return {}, [x] + others


@st.composite
def concat(draw, op):
    x = draw(shape(1, 3))
    args = some(draw, dim=dim_for(len(x)))
    d = args.get("dim", 1) % (len(x) + 1) - 1
    xs = [x] * draw(st.integers(2, 3))
    if 0 <= d < len(x):  # vary the joined dim freely
        xs = [y[:d] + (draw(st.integers(1, 4)),) + y[d + 1 :] for y in xs]
    xs = [mismatched(draw, y) for y in xs]
    if draw(st.booleans()):  # a class token: batch-free, expanded over the batch
        k = draw(st.integers(0, len(xs) - 1))
        xs[k] = Type(draw(st.sampled_from([(1,), ()])) + tuple(xs[k]), batched=False)
    return args, xs


@st.composite
def stack(draw, op):
    x = draw(shape(1, 3))
    return some(draw, dim=dim_for(len(x), extra=1)), [x] + [mismatched(draw, x) for _ in range(draw(st.integers(1, 2)))]


STRATEGIES = {"concat": concat, "stack": stack} | {
    name: elementwise_merge for name in ("add", "sub", "mul", "div", "max", "min", "mean")}
