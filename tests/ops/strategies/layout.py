"""transpose, roll and pad."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import dim_for, shape, some, typed


@st.composite
def transpose(draw, op):
    x = draw(shape(1, 4, hi=3))
    return {"dim0": draw(dim_for(len(x))), "dim1": draw(dim_for(len(x)))}, [typed(draw, x)]


@st.composite
def roll(draw, op):
    x = draw(shape(1, 3))
    n = draw(st.integers(1, 3))
    dims = draw(st.lists(dim_for(len(x)), min_size=n, max_size=n))
    shifts = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n + draw(st.sampled_from([0, 0, 0, 1]))))
    lone = lambda v: v[0] if len(v) == 1 and draw(st.booleans()) else v  # noqa: E731 - an int stands for [int]
    return {"shifts": lone(shifts), "dims": lone(dims)}, [typed(draw, x)]


@st.composite
def pad(draw, op):
    """Pairs on at most the sample's dims (torch would pad a batch in constant mode); circular
    pads no further than around what a crop keeps (torch checks them against the whole dim
    and leaves part of its result unwritten past the kept part; the rule refuses that, tested
    apart)."""
    x = draw(shape(1, 4, hi=4))
    t = typed(draw, x)
    pairs = draw(st.integers(1, min(len(x), 3)))
    args = some(draw, mode=st.sampled_from(op.arg_map["mode"].type.choices),
                value=st.one_of(st.none(), st.just(0.0), st.floats(-2, 2, allow_nan=False)))
    amounts = draw(st.lists(st.integers(-4, 5), min_size=2 * pairs, max_size=2 * pairs + draw(st.sampled_from([0, 0, 1]))))
    if args.get("mode") == "circular":  # pads no further than around what a crop keeps
        for k in range(0, 2 * pairs, 2):
            size = x[len(x) - 1 - k // 2]
            kept = size + min(amounts[k], 0) + min(amounts[k + 1], 0)
            amounts[k : k + 2] = [a if a <= 0 else min(a, kept) for a in amounts[k : k + 2]] if kept > 0 else [1, 1]
    return {"pad": amounts, **args}, [t]


STRATEGIES = {"transpose": transpose, "roll": roll, "pad": pad}
