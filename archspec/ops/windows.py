"""Swin's window constants as items: `relative_position_index` (which row of a relative
position bias table each pair of a window's tokens reads) and `shift_mask` (the additive mask
of shifted-window attention). Each is a buffer computed from its arguments when the module is
built (archspec/layers/windows.py), so the spec states what the tensor means instead of how to
compute it. Both are batch-free; read one with `from:` like any value."""
from __future__ import annotations

from archspec.compiler.ir import Type
from archspec.ops import register
from archspec.ops.base import Arg, Bool, Float, Op, ShapeRuleError, Size

WINDOW = Arg("window", Size(2), doc="the window's side, or [height, width]")


class WindowConstant(Op):
    """A buffer of the model's state filled by the function of archspec.layers named `name`,
    called with `call(a)`; the Python export writes that call and copies the function."""

    family = "state"
    roles = ()
    dtype = "float32"  # the buffer's

    def type(self, a, ts):
        return Type(tuple(self.rule(a)), self.dtype, batched=False)

    def rule(self, a) -> tuple:
        raise NotImplementedError

    def call(self, a) -> tuple:
        """The function's arguments."""
        raise NotImplementedError

    def function(self):
        from archspec.layers import windows

        return getattr(windows, self.name)

    def module(self, a, xs):
        import torch
        from torch import nn

        with torch.device("cpu"):  # a few small ops: slow on the meta device export builds on, so made here and moved
            made = self.function()(*self.call(a))
        return nn.Buffer(made.to(torch.get_default_device()), persistent=a["persistent"])

    def python(self, a, xs):
        args = ", ".join(map(repr, self.call(a)))
        return f"nn.Buffer({self.name}({args})" + ("" if a["persistent"] else ", persistent=False") + ")"

    def sources(self):
        return [self.function()]


@register
class RelativePositionIndex(WindowConstant):
    name = "relative_position_index"
    doc = ("For each (query, key) pair of a window's tokens, the row of the relative position bias table "
           "holding their offset: an int64 buffer of (n, n), n = window height * width (Swin).")
    main_arg = "window"
    dtype = "int64"
    args = (WINDOW,
            Arg("flatten", Bool(), False, "(n * n,) as torchvision's Swin stores it, instead of (n, n) as timm's"),
            Arg("persistent", Bool(), True, "kept in the state_dict (torchvision: true; timm: false)"))

    def rule(self, a):
        n = a["window"][0] * a["window"][1]
        return (n * n,) if a["flatten"] else (n, n)

    def call(self, a):
        return tuple(a["window"]), a["flatten"]


@register
class ShiftMask(WindowConstant):
    name = "shift_mask"
    doc = ("The additive attention mask of Swin's shifted windows: (windows, n, n), `value` between tokens of "
           "a window that the cyclic shift brought from different regions, 0 elsewhere.")
    args = (Arg("size", Size(2), doc="the (H, W) map cut into windows (padded to whole windows)"),
            WINDOW,
            Arg("shift", Size(2, minimum=0), doc="the cyclic shift along H and W (torchvision: window // 2, or 0 "
                                                 "along a side no longer than the window)"),
            Arg("value", Float(), -100.0, "what masked pairs get (Swin: -100)"),
            Arg("persistent", Bool(), False, "kept in the state_dict (torchvision and timm: false)"))

    def rule(self, a):
        (h, w), (wh, ww), (sh, sw) = a["size"], a["window"], a["shift"]
        if h % wh or w % ww:
            raise ShapeRuleError(f"{self.name}: size {[h, w]} is not a whole number of {wh} x {ww} windows; "
                                 "pad the map to a multiple of the window first")
        if sh >= wh or sw >= ww:
            raise ShapeRuleError(f"{self.name}: shift {[sh, sw]} must be smaller than the window {[wh, ww]} along each side")
        n = wh * ww
        return ((h // wh) * (w // ww), n, n)

    def call(self, a):
        return tuple(a["size"]), tuple(a["window"]), tuple(a["shift"]), a["value"]
