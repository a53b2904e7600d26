"""Hypothesis strategies, one per op, discovered: each module here gives STRATEGIES, op name
-> function(op) returning a strategy of (args as a spec would give them, input shapes). A new
op adds its strategy to the module of its family (or a new module) and nothing else.

Sizes are tiny so torch runs fast; ranges deliberately reach inputs that are too small or
mismatched, so both the accepting and the refusing side of each shape rule get exercised.
Inputs where torch silently does something else than the op means (broadcasting, dim 0,
wrong-rank inputs torch reads as unbatched) are left to the explicit tests. This module holds
the helpers the families share."""
from __future__ import annotations

import importlib
import pkgutil

from hypothesis import strategies as st

from archspec.compiler.ir import DTYPES, Type
from archspec.ops.base import Bool, Choice, Float, Optional

SPATIAL_MAX = {1: 8, 2: 6, 3: 4}


def size(dims, lo, hi):
    """An int or a list of `dims` ints, as a spec may write kernel/stride/padding."""
    return st.one_of(st.integers(lo, hi), st.lists(st.integers(lo, hi), min_size=dims, max_size=dims))


def shape(min_rank, max_rank, lo=1, hi=4):
    return st.lists(st.integers(lo, hi), min_size=min_rank, max_size=max_rank).map(tuple)


def dim_for(rank, extra=0):
    """Dims in torch convention for a sample of `rank`: in range and not the batch, or out of range."""
    r = rank + 1 + extra
    return st.sampled_from([v for v in range(-r - 1, r + 1) if not (-r <= v < r and v % r == 0)])


def for_type(t):
    if isinstance(t, Bool):
        return st.booleans()
    if isinstance(t, Float):
        lo = -2.0 if t.minimum is None else t.minimum
        hi = 2.0 if t.maximum is None else t.maximum
        return st.floats(lo, hi, allow_nan=False, exclude_min=getattr(t, "exclusive", False))
    if isinstance(t, Choice):
        return st.sampled_from(t.choices)
    if isinstance(t, Optional):
        return st.one_of(st.none(), for_type(t.inner))
    raise TypeError(f"no generic strategy for {type(t).__name__}")


def some(draw, **options):
    """Each optional argument is given about half the time, else left to its default."""
    return {k: draw(v) for k, v in options.items() if draw(st.booleans())}


def generic_args(draw, op, **overrides):
    optional = [arg for arg in op.args if not arg.required]
    return some(draw, **{a.name: overrides[a.name] if a.name in overrides else for_type(a.type) for a in optional})


def spatial_input(draw, dims, channels):
    return (channels, *draw(st.tuples(*[st.integers(1, SPATIAL_MAX[dims])] * dims)))


def typed(draw, x):
    """Mostly the plain shape x (a batched float32 value); now and then the same shape as a
    batch-free value or with another dtype, so ops' type rules meet those too."""
    kind = draw(st.integers(0, 5))
    if kind == 4:
        return Type(tuple(x), batched=False)
    if kind == 5:
        return Type(tuple(x), draw(st.sampled_from(DTYPES[1:])))
    return x


@st.composite
def simple(draw, op, x=shape(1, 3), **overrides):
    """Ops whose arguments are all Bool/Float/Choice: generic arguments on input `x`."""
    return generic_args(draw, op, **overrides), [typed(draw, draw(x))]


def on(x):
    """`simple` on inputs drawn from x."""
    return lambda op: simple(op, x=x)


def discover() -> dict:
    """op name -> strategy function, from every module of this package."""
    table: dict = {}
    for module in pkgutil.iter_modules(__path__):
        found = importlib.import_module(f"{__name__}.{module.name}").STRATEGIES
        twice = set(found) & set(table)
        assert not twice, f"strategies for {sorted(twice)} are given twice"
        table.update(found)
    return table
