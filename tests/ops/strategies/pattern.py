"""rearrange, reduce and tile (einops.repeat): einops patterns built from the input's shape (dims split into
two axes, size-1 dims written `1`, `...` for the last dims, the right side shuffled and
grouped), mostly valid, now and then broken in one way (a size that does not fit, an axis on
one side only, a dim too many, the batch moved). tests/ops/test_patterns.py runs the same
draws against einops itself."""
from __future__ import annotations

from hypothesis import strategies as st

from archspec.compiler.ir import Type
from strategies import shape

BREAKS = ("size", "unused", "missing", "extra", "rank", "batch")


def divisors(n: int) -> list[int]:
    return [p for p in range(1, n + 1) if n % p == 0]


def grouped(draw, tokens: list[str]) -> list[str]:
    """Tokens with runs of them put in parentheses now and then."""
    out, k = [], 0
    while k < len(tokens):
        n = draw(st.integers(1, 3)) if draw(st.integers(0, 2)) == 0 else 1
        run = tokens[k : k + n]
        out.append(f"({' '.join(run)})" if n > 1 or draw(st.integers(0, 9)) == 0 else run[0])
        k += n
    return out


@st.composite
def einops_case(draw, kind: str):
    """(args, [input Type]) for the op `kind`: rearrange, reduce or tile."""
    x = draw(shape(0, 3, hi=6))
    batched = draw(st.integers(0, 3)) > 0
    names = iter("cdefghijkmn")
    sizes: dict = {}
    left: list[str] = []
    axes: list[str] = []  # the left's named axes, in order; "..." stands for the dims it covers
    ellipsis = draw(st.integers(0, 3)) == 0
    covered = draw(st.integers(0, len(x))) if ellipsis else 0
    for d in x[: len(x) - covered]:
        how = draw(st.integers(0, 4))
        if d == 1 and how == 0:
            left.append(draw(st.sampled_from(["1", "()"])))
        elif how == 1:
            p = draw(st.sampled_from(divisors(d)))
            a, b = next(names), next(names)
            given = draw(st.sampled_from([a, b]))
            sizes[given] = p if given == a else d // p
            left.append(f"({a} {b})")
            axes += [a, b]
        else:
            a = next(names)
            if draw(st.integers(0, 5)) == 0:
                sizes[a] = d
            left.append(a)
            axes.append(a)
    if ellipsis:
        left.append("...")
        axes.append("...")
    right = list(axes)
    if kind == "reduce":
        right = [a for a in right if draw(st.integers(0, 2))]
    if kind == "tile":
        for _ in range(draw(st.integers(0, 2))):
            new = draw(st.one_of(st.just(next(names)), st.sampled_from(["2", "3"])))
            if not new.isdigit():
                sizes[new] = draw(st.integers(1, 3))
            right.insert(draw(st.integers(0, len(right))), new)
    right = grouped(draw, draw(st.permutations(right)))
    if draw(st.integers(0, 4)) == 0:
        right.insert(draw(st.integers(0, len(right))), "1")
    broken = draw(st.sampled_from(BREAKS)) if draw(st.integers(0, 4)) == 0 else None
    if broken == "size" and sizes:
        axis = draw(st.sampled_from(sorted(sizes)))
        sizes[axis] += draw(st.integers(1, 3))
    elif broken == "unused":
        sizes["z"] = 2
    elif broken == "missing" and axes:
        gone = draw(st.sampled_from(axes))
        right = [" ".join(w for w in r.strip("()").split() if w != gone) or "1" for r in right]
    elif broken == "extra":
        right.append("q")
    elif broken == "rank":
        left.append("r")
        right.append("r")
    if batched:
        left.insert(0, "b")
        spot = draw(st.integers(0, len(right))) if broken == "batch" else 0
        right.insert(spot, "b")
    args: dict = {"pattern": f"{' '.join(left)} -> {' '.join(right)}"}
    if sizes or draw(st.booleans()):
        args["sizes"] = sizes
    if kind == "reduce":
        args["reduction"] = draw(st.sampled_from(["mean", "sum", "max", "min", "prod"]))
    dtype = draw(st.sampled_from(["float32"] * 4 + ["int64", "bool"]))
    return args, [Type(tuple(x), dtype, batched)]


STRATEGIES = {kind: (lambda op: einops_case(op.name)) for kind in ("rearrange", "reduce", "tile")}
