"""An op made from an nn.Module class (a user's plugin, or a class of torch.nn: see
archspec.ops.torch_nn): spec arguments and input sizes become its constructor keywords.
Without a shape rule it is checked by building the module on torch's meta device (no memory,
no weights) and running one forward pass there, one input per role: output shape and dtype,
parameters and MACs (torch's FLOP counter) come from that. Torch is imported only then."""
from __future__ import annotations

from typing import Callable

from archspec.compiler.ir import DTYPES
from archspec.errors import ArchspecError
from archspec.ops.base import Arg, Op, ShapeRuleError, Type

INPUT_ATTRS = ("c", "h", "w", "d", "shape", "rank")  # what `inputs=` may take, as `input.*` in specs
PROBE_BATCH = 2  # more than 1, so BatchNorm in training mode accepts a 1x1 feature map


class PluginError(ArchspecError):
    """A plugin could not be loaded or declares itself wrongly."""


class ModuleOp(Op):
    """An op made from an nn.Module class: spec arguments and input sizes become its constructor keywords."""

    family = "plugin"
    input_dtypes: tuple[str, ...] = ("float32",)  # the dtype of each input the probe makes (the last repeats)
    probe_hint = " (give the op a shape rule if it cannot run on the meta device)"  # after a failed forward pass

    def __init__(self, module_class: type, name: str, args=(), inputs: dict | None = None, shape: Callable | None = None,
                 params: Callable | None = None, macs: Callable | None = None, doc: str | None = None,
                 main_arg: str | None = None):
        self.module_class, self.name = module_class, name
        self.args, self.inputs = tuple(args), dict(inputs or {})
        self.rules = {"shape": shape, "params": params, "macs": macs}
        self.doc = doc if doc is not None else first_line(module_class.__doc__) or f"{module_class.__name__} (plugin)"
        self.main_arg = main_arg
        self._probes: dict[str, tuple] = {}
        self._validate()

    def _validate(self) -> None:
        where = f"plugin op '{self.name}' ({self.module_class.__name__})"
        if any(not isinstance(a, Arg) for a in self.args):
            raise PluginError(f"{where}: args must be archspec Arg(...) declarations")
        names = [a.name for a in self.args]
        for kw, attr in self.inputs.items():
            if attr not in INPUT_ATTRS:
                raise PluginError(f"{where}: inputs['{kw}'] must be one of {', '.join(INPUT_ATTRS)}, found {attr!r}")
            if kw in names:
                raise PluginError(f"{where}: '{kw}' is both an argument and an input size")
        for rule, fn in self.rules.items():
            if fn is not None and not callable(fn):
                raise PluginError(f"{where}: {rule}= must be a function, found {fn!r}")
        if self.main_arg is not None and self.main_arg not in names:
            raise PluginError(f"{where}: main_arg '{self.main_arg}' is not one of its args")

    @property
    def checked_by_forward(self) -> bool:
        """True when the shape comes from a forward pass on the meta device, not from a rule."""
        return self.rules["shape"] is None

    # ---- the Op contract ---------------------------------------------------------------
    def type(self, a, ts):
        """The default rule (inputs checked, then `shape`); the forward pass also gives the dtype."""
        t = super().type(a, ts)
        return Type(t.shape, self._probe(a, [x.shape for x in ts])[0][1], t.batched) if self.checked_by_forward else t

    def shape(self, a, xs):
        if self.rules["shape"]:
            return tuple(self._rule("shape", a, xs))
        return self._probe(a, xs)[0][0]

    def params(self, a, xs):
        if self.rules["params"]:
            return int(self._rule("params", a, xs))
        return self._probe(a, xs)[1]

    def macs(self, a, xs, out):
        if self.rules["macs"]:
            return int(self._rule("macs", a, xs, out))
        return self._probe(a, xs)[2] if self.checked_by_forward else 0

    def module(self, a, xs):
        try:
            kwargs = self._kwargs(a, xs)
        except ShapeRuleError as e:
            raise PluginError(str(e)) from None
        try:
            return self.module_class(**kwargs)
        except Exception as e:  # the plugin's own code: report it, with its op name, as a user-level error
            raise PluginError(f"{self.name}: {self.module_class.__name__}({show_kwargs(kwargs)}) failed: {reason(e)}") from e

    def constructor_keywords(self, a, xs) -> dict:
        """The keywords the module is built with: the spec's arguments and the input sizes it asks for."""
        return self._kwargs(a, xs)

    # ---- helpers -----------------------------------------------------------------------
    def _rule(self, which, *call):
        try:
            return self.rules[which](*call)
        except ShapeRuleError:
            raise
        except Exception as e:
            raise ShapeRuleError(f"{self.name}: its {which} rule failed: {reason(e)}") from None

    def _kwargs(self, a: dict, xs) -> dict:
        from archspec.lang.expr import ExprError, InputShape

        kwargs = dict(a)
        for kw, attr in self.inputs.items():
            try:
                kwargs[kw] = InputShape(tuple(xs[0])).attribute(attr)
            except ExprError as e:
                raise ShapeRuleError(f"{self.name}: {e}") from None
        return kwargs

    def _probe(self, a, xs) -> tuple:
        """((output shape, dtype), parameters, MACs per sample) from the module built on the meta device."""
        key = repr((sorted(a.items()), [tuple(x) for x in xs]))
        if key not in self._probes:
            if len(self._probes) > 256:
                self._probes.clear()
            self._probes[key] = self._run_probe(a, xs)
        return self._probes[key]

    def _run_probe(self, a, xs) -> tuple:
        """((output shape, dtype), parameters, MACs per sample)."""
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        kwargs = self._kwargs(a, xs)
        call = f"{self.module_class.__name__}({show_kwargs(kwargs)})"
        try:
            with torch.device("meta"):
                module = self.module_class(**kwargs)
        except Exception as e:
            raise ShapeRuleError(f"{self.name}: {call} failed: {reason(e)}") from None
        params = sum(p.numel() for p in module.parameters())
        if not self.checked_by_forward:
            return None, params, 0
        dtypes = [self.input_dtypes[min(k, len(self.input_dtypes) - 1)] for k in range(len(xs))]
        inputs = [torch.empty((PROBE_BATCH, *x), dtype=getattr(torch, d), device="meta") for x, d in zip(xs, dtypes)]
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                y = module(*inputs)
        except Exception as e:
            shown = " and ".join(str(list(x)) for x in xs)
            raise ShapeRuleError(f"{self.name}: forward pass on the meta device failed for input {shown}: "
                                 f"{reason(e)}{self.probe_hint}") from None
        if not isinstance(y, torch.Tensor):
            raise ShapeRuleError(f"{self.name}: forward returned {type(y).__name__}; an op made from a module returns one tensor")
        if y.dim() < 1 or y.shape[0] != PROBE_BATCH:
            raise ShapeRuleError(f"{self.name}: forward changed the batch dimension ({PROBE_BATCH} in, shape {list(y.shape)} out)")
        dtype = str(y.dtype).removeprefix("torch.")
        if dtype not in DTYPES:
            raise ShapeRuleError(f"{self.name}: forward returned a {dtype} tensor; values are {', '.join(DTYPES)}")
        return (tuple(int(d) for d in y.shape[1:]), dtype), params, counter.get_total_flops() // 2 // PROBE_BATCH


def first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0].strip()


def reason(e: BaseException) -> str:
    text = first_line(str(e))
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def show_kwargs(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
