"""Pooling, adaptive pooling and upsampling."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import shape, size, some, spatial_input


def pool(dims, kind):
    @st.composite
    def draw_pool(draw, op):
        args = {"kernel": draw(size(dims, 1, 4 if dims < 3 else 3))}
        args |= some(draw, stride=st.one_of(st.none(), size(dims, 1, 3)), padding=size(dims, 0, 2), ceil_mode=st.booleans())
        args |= some(draw, **({"dilation": size(dims, 1, 2)} if kind == "max" else {"count_include_pad": st.booleans()}))
        return args, [spatial_input(draw, dims, draw(st.integers(1, 3)))]

    return draw_pool


def adaptive(dims):
    @st.composite
    def draw_adaptive(draw, op):
        return {"size": draw(size(dims, 1, 4))}, [spatial_input(draw, dims, draw(st.integers(1, 3)))]

    return draw_adaptive


MODES = {0: ["nearest"], 1: ["nearest", "linear"], 2: ["nearest", "bilinear", "bicubic"], 3: ["nearest", "trilinear"]}


@st.composite
def upsample(draw, op):
    """Mostly well-formed (one of size/scale, a mode for the input's rank), sometimes not."""
    x = draw(st.one_of(shape(2, 4, hi=5), shape(1, 1)))
    n = len(x) - 1
    odd = draw(st.integers(0, 4)) == 0  # about one draw in five breaks a rule on purpose
    args = {"mode": draw(st.sampled_from(op.arg_map["mode"].type.choices if odd else MODES[n]))}
    per_dim = (lambda v: st.one_of(v, st.lists(v, min_size=1, max_size=3))) if odd else (
        lambda v: st.one_of(v, st.lists(v, min_size=max(n, 1), max_size=max(n, 1))))
    scale = st.floats(0.2, 3.0).map(lambda f: round(f, 2))
    which = draw(st.sampled_from(["size", "scale", "both", "neither"] if odd else ["size", "scale"]))
    if which in ("size", "both"):
        args["size"] = draw(per_dim(st.integers(1, 5)))
    if which in ("scale", "both"):
        args["scale"] = draw(per_dim(scale))
    if args["mode"] != "nearest" or odd:
        args |= some(draw, align_corners=st.booleans())
    return args, [x]


STRATEGIES = {"upsample": upsample}
for _d in (1, 2, 3):
    for _kind in ("max", "avg"):
        STRATEGIES[f"{_kind}pool{_d}d"], STRATEGIES[f"adaptive_{_kind}pool{_d}d"] = pool(_d, _kind), adaptive(_d)
