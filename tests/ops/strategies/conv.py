"""Convolutions and transposed convolutions."""
from __future__ import annotations

from hypothesis import strategies as st

from strategies import for_type, size, some, spatial_input


def channels(draw, groups):
    """Usually a multiple of groups, sometimes any count (torch must then refuse)."""
    return draw(st.one_of(st.integers(1, 3).map(lambda m: m * groups), st.integers(1, 6)))


def conv(dims, transposed):
    @st.composite
    def draw_conv(draw, op):
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        args = {"out": channels(draw, groups), "kernel": draw(size(dims, 1, 3 if transposed else 4)), "groups": groups}
        common = dict(stride=size(dims, 1, 3), dilation=size(dims, 1, 2), bias=st.booleans())
        if transposed:
            args |= some(draw, padding=size(dims, 0, 3), output_padding=size(dims, 0, 2), **common)
        else:
            pad = st.one_of(size(dims, 0, 2), st.sampled_from(["same", "valid"]))
            args |= some(draw, padding=pad, padding_mode=for_type(op.arg_map["padding_mode"].type), **common)
        return args, [spatial_input(draw, dims, channels(draw, groups))]

    return draw_conv


STRATEGIES = {f"conv{d}d": conv(d, False) for d in (1, 2, 3)} | {f"conv_transpose{d}d": conv(d, True) for d in (1, 2, 3)}
