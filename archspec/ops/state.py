"""Tensors of the model's state as items: a learnable `parameter` (ViT's class token, a
position table, ConvNeXt's layer scale) and a `buffer` (a constant: an index table, a mask).
They read no input and are batch-free, so they broadcast over the batch where they meet
batched values. The state_dict key is the item's own path; parameters count in the check's
totals, buffers do not."""
from __future__ import annotations

from archspec.compiler.ir import Type
from archspec.ops import register
from archspec.ops.base import DTYPE_WORDS, Arg, Bool, Choice, Float, IntList, Op, Optional, ShapeRuleError, prod

INITS = ("zeros", "ones", "constant", "normal", "trunc_normal", "uniform")
# init -> the arguments it takes, with the defaults torch's nn.init gives them
TAKES = {"constant": {"value": None}, "normal": {"mean": 0.0, "std": 1.0}, "uniform": {"a": 0.0, "b": 1.0},
         "trunc_normal": {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0}}
TENSOR_ARGS = (
    Arg("shape", IntList(minimum=1), doc="its whole shape (no batch dim), e.g. [1, 1, 768]"),
    Arg("value", Optional(Float()), None, "init constant: the value"),
    Arg("mean", Optional(Float()), None, "init normal / trunc_normal: the mean (default 0)"),
    Arg("std", Optional(Float(0.0)), None, "init normal / trunc_normal: the standard deviation (default 1)"),
    Arg("a", Optional(Float()), None, "init uniform: low end (default 0); trunc_normal: lower cutoff (default -2)"),
    Arg("b", Optional(Float()), None, "init uniform: high end (default 1); trunc_normal: upper cutoff (default 2)"),
)


class Tensor(Op):
    """A tensor of the model's state: no input, a batch-free output of its declared shape."""

    family = "state"
    roles = ()
    main_arg = "shape"
    dtype_arg = False

    def type(self, a, ts):
        init, given = a["init"], {k for k in ("value", "mean", "std", "a", "b") if a[k] is not None}
        stray = sorted(given - set(TAKES.get(init, {})))
        if stray:
            takes = ", ".join(TAKES.get(init, {})) or "no arguments"
            raise ShapeRuleError(f"{self.name}: {', '.join(stray)} do{'es' if len(stray) == 1 else ''} not apply to init "
                                 f"{init} (it takes {takes})")
        if init == "constant" and a["value"] is None:
            raise ShapeRuleError(f"{self.name}: init constant needs a value")
        bounds = self.filled(a)
        if init in ("uniform", "trunc_normal") and not bounds["a"] < bounds["b"]:
            raise ShapeRuleError(f"{self.name}: init {init} needs a < b, found a {bounds['a']}, b {bounds['b']}")
        dtype = a.get("dtype", "float32")
        if dtype != "float32" and init in ("normal", "trunc_normal", "uniform"):
            raise ShapeRuleError(f"{self.name}: init {init} makes floats, not {dtype}")
        if dtype != "float32" and init == "constant" and not float(a["value"]).is_integer():
            raise ShapeRuleError(f"{self.name}: {DTYPE_WORDS[dtype]} buffer holds whole numbers, found value {a['value']}")
        return Type(tuple(a["shape"]), dtype, batched=False)

    @staticmethod
    def filled(a) -> dict:
        """The init's arguments with torch's defaults where the spec gives none."""
        return {k: a[k] if a[k] is not None else default for k, default in TAKES.get(a["init"], {}).items()}

    def tensor(self, a):
        """The initial tensor, on torch's current default device."""
        import torch
        from torch import nn

        shape, dtype = tuple(a["shape"]), getattr(torch, a.get("dtype", "float32"))
        kw, init = self.filled(a), a["init"]
        if init == "arange":
            return torch.arange(prod(shape)).reshape(shape).to(dtype)
        if init in ("zeros", "ones"):
            return getattr(torch, init)(shape, dtype=dtype)
        if init == "constant":
            return torch.full(shape, kw["value"], dtype=dtype)
        return getattr(nn.init, init + "_")(torch.empty(shape), **kw)

    def text(self, a) -> str:
        """`tensor` as Python source."""
        shape = ", ".join(map(str, a["shape"]))
        kw, init = self.filled(a), a["init"]
        dtype = a.get("dtype", "float32")
        typed = "" if dtype == "float32" else f", dtype=torch.{dtype}"
        if init == "arange":
            return f"torch.arange({prod(a['shape'])}).reshape({shape})" + (f".to(torch.{dtype})" if dtype != "int64" else "")
        if init in ("zeros", "ones"):
            return f"torch.{init}({shape}{typed})"
        if init == "constant":
            value = int(kw["value"]) if dtype != "float32" else kw["value"]
            return f"torch.full({tuple(a['shape'])!r}, {value!r}{typed})"
        args = "".join(f", {k}={v!r}" for k, v in kw.items())
        return f"nn.init.{init}_(torch.empty({shape}){args})"


@register
class Parameter(Tensor):
    name = "parameter"
    doc = "A learnable tensor of its own (a class token, a position table, a layer scale): nn.Parameter at the item's path."
    args = (*TENSOR_ARGS[:1], Arg("init", Choice(*INITS), "zeros", "how it starts: " + ", ".join(INITS)), *TENSOR_ARGS[1:])

    def params(self, a, xs):
        return prod(a["shape"])

    def module(self, a, xs):
        from torch import nn

        return nn.Parameter(self.tensor(a))

    def python(self, a, xs):
        return f"nn.Parameter({self.text(a)})"


@register
class Buffer(Tensor):
    name = "buffer"
    doc = "A constant tensor of the model's state (an index table, a mask): nn.Buffer at the item's path, not learned."
    args = (*TENSOR_ARGS[:1], Arg("init", Choice(*INITS, "arange"), "zeros", "how it is filled: " + ", ".join(INITS) +
                                  ", or arange (0, 1, 2, ... in row-major order)"),
            Arg("dtype", Choice("float32", "int64", "bool"), "float32", "its dtype"),
            Arg("persistent", Bool(), True, "kept in the state_dict (false: rebuilt from the spec instead)"),
            *TENSOR_ARGS[1:])

    def module(self, a, xs):
        from torch import nn

        return nn.Buffer(self.tensor(a), persistent=a["persistent"])

    def python(self, a, xs):
        return f"nn.Buffer({self.text(a)}" + (", persistent=False)" if not a["persistent"] else ")")

