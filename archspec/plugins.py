"""Plugin ops: a user's own layer made into an op without editing archspec.

Three ways in, one set of keywords (those of `register_op`):
- an entry point in group `archspec.ops` (`se = "mypkg.layers:SqueezeExcite"`) naming an
  Op subclass, an Op instance, or an nn.Module class whose keywords sit in a class
  attribute `archspec_op = dict(args=[...], inputs={...})`;
- `--plugin MODULE[:OBJECT]` on the command line;
- `archspec.register_op(SqueezeExcite, args=[...], inputs={...})` in Python.
A spec never names Python code: it uses the op by name, like a built-in.

An op without a shape rule of its own is checked by building it on torch's meta device
(no memory, no weights) and running one forward pass there: output shape, parameters and
MACs (torch's FLOP counter) come from that. Torch is imported only for such ops.
"""
from __future__ import annotations

import contextlib
import importlib
import re
import sys
import warnings
from typing import Callable

from archspec.errors import ArchspecError
from archspec.ops.base import (  # noqa: F401  (re-exported: the types plugin authors declare args with)
    REQUIRED, Arg, Bool, Choice, Float, Int, IntList, Op, Optional, ShapeRuleError, Size,
)

GROUP = "archspec.ops"
INPUT_ATTRS = ("c", "h", "w", "d", "shape", "rank")  # what `inputs=` may take, as `input.*` in specs
PROBE_BATCH = 2  # more than 1, so BatchNorm in training mode accepts a 1x1 feature map
KEYWORDS = ("args", "inputs", "shape", "params", "macs", "doc", "main_arg")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_origins: dict[str, str] = {}  # plugin op name -> where it came from


class PluginError(ArchspecError):
    """A plugin could not be loaded or declares itself wrongly."""


class PluginWarning(UserWarning):
    """An installed plugin was skipped (it failed to import, or its name is taken)."""


class ModuleOp(Op):
    """An op made from an nn.Module class: spec arguments and input sizes become its constructor keywords."""

    def __init__(self, module_class: type, name: str, args=(), inputs: dict | None = None, shape: Callable | None = None,
                 params: Callable | None = None, macs: Callable | None = None, doc: str | None = None,
                 main_arg: str | None = None):
        self.module_class, self.name = module_class, name
        self.args, self.inputs = tuple(args), dict(inputs or {})
        self.rules = {"shape": shape, "params": params, "macs": macs}
        self.doc = doc if doc is not None else _first_line(module_class.__doc__) or f"{module_class.__name__} (plugin)"
        self.main_arg = main_arg
        self._probes: dict[str, tuple] = {}
        self._validate()

    def _validate(self) -> None:
        where = f"plugin op '{self.name}' ({self.module_class.__name__})"
        if not isinstance(self.module_class, type):
            raise PluginError(f"{where}: expected a class, found {self.module_class!r}")
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
    def shape(self, a, xs):
        if self.rules["shape"]:
            return tuple(self._rule("shape", a, xs))
        return self._probe(a, xs)[0]

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
            raise PluginError(f"{self.name}: {self.module_class.__name__}({_show(kwargs)}) failed: {_reason(e)}") from e

    # ---- helpers -----------------------------------------------------------------------
    def _rule(self, which, *call):
        try:
            return self.rules[which](*call)
        except ShapeRuleError:
            raise
        except Exception as e:
            raise ShapeRuleError(f"{self.name}: its {which} rule failed: {_reason(e)}") from None

    def _kwargs(self, a: dict, xs) -> dict:
        from archspec.spec.expr import ExprError, InputShape

        kwargs = dict(a)
        for kw, attr in self.inputs.items():
            try:
                kwargs[kw] = InputShape(tuple(xs[0])).attribute(attr)
            except ExprError as e:
                raise ShapeRuleError(f"{self.name}: {e}") from None
        return kwargs

    def _probe(self, a, xs) -> tuple:
        """(output shape, parameters, MACs per sample) from the module built on the meta device."""
        key = repr((sorted(a.items()), [tuple(x) for x in xs]))
        if key not in self._probes:
            if len(self._probes) > 256:
                self._probes.clear()
            self._probes[key] = self._run_probe(a, xs)
        return self._probes[key]

    def _run_probe(self, a, xs) -> tuple:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        kwargs = self._kwargs(a, xs)
        call = f"{self.module_class.__name__}({_show(kwargs)})"
        try:
            with torch.device("meta"):
                module = self.module_class(**kwargs)
        except Exception as e:
            raise ShapeRuleError(f"{self.name}: {call} failed: {_reason(e)}") from None
        params = sum(p.numel() for p in module.parameters())
        if not self.checked_by_forward:
            return None, params, 0
        x = torch.empty((PROBE_BATCH, *xs[0]), device="meta")
        try:
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                y = module(x)
        except Exception as e:
            raise ShapeRuleError(f"{self.name}: forward pass on the meta device failed for input {list(xs[0])}: "
                                 f"{_reason(e)} (give the op a shape rule if it cannot run on the meta device)") from None
        if not isinstance(y, torch.Tensor):
            raise ShapeRuleError(f"{self.name}: forward returned {type(y).__name__}; a plugin op returns one tensor")
        if y.dim() < 2 or y.shape[0] != PROBE_BATCH:
            raise ShapeRuleError(f"{self.name}: forward changed the batch dimension ({PROBE_BATCH} in, shape {list(y.shape)} out)")
        return tuple(int(d) for d in y.shape[1:]), params, counter.get_total_flops() // 2 // PROBE_BATCH


# ---- registration -------------------------------------------------------------------------
def register_op(target, name: str | None = None, **keywords) -> Op:
    """Make `target` an op: an Op subclass or instance, or an nn.Module class plus keywords
    (args, inputs, shape, params, macs, doc, main_arg). Returns the registered op."""
    return _register(target, name, keywords, origin="register_op()")


def _register(target, name, keywords, origin: str) -> Op:
    from archspec import ops

    op = as_op(target, name, keywords)
    if not NAME.match(op.name or ""):
        raise PluginError(f"plugin op name {op.name!r} must be a name (letters, digits, _)")
    existing = ops.registry().get(op.name)
    if existing is not None and existing is not op:
        holder = _origins.get(op.name, "a built-in op")
        raise PluginError(f"cannot register op '{op.name}' from {origin}: the name is taken by {holder}")
    ops.add(op)
    _origins[op.name] = origin
    _schema_changed()
    return op


def as_op(target, name: str | None = None, keywords: dict | None = None) -> Op:
    """The Op that `target` stands for (see register_op)."""
    keywords = dict(keywords or {})
    unknown = [k for k in keywords if k not in KEYWORDS]
    if unknown:
        raise PluginError(f"unknown keyword '{unknown[0]}' for a plugin op (expected: {', '.join(KEYWORDS)})")
    if isinstance(target, type) and issubclass(target, Op):
        target = target()
    if isinstance(target, Op):
        if keywords:
            raise PluginError(f"op '{target.name}' is an Op: its arguments and rules are its own, not keywords")
        if name is not None and name != target.name:
            raise PluginError(f"op class {type(target).__name__} is named '{target.name}', not '{name}'")
        return target
    if not _is_module_class(target):
        raise PluginError(f"a plugin op is an Op subclass or an nn.Module class, found {target!r}")
    declared = getattr(target, "archspec_op", None) or {}
    if not isinstance(declared, dict):
        raise PluginError(f"{target.__name__}.archspec_op must be a dict of register_op keywords")
    declared = dict(declared)
    name = name or declared.pop("name", None) or snake_case(target.__name__)
    unknown = [k for k in declared if k not in KEYWORDS]
    if unknown:
        raise PluginError(f"{target.__name__}.archspec_op: unknown keyword '{unknown[0]}' (expected: name, {', '.join(KEYWORDS)})")
    return ModuleOp(target, name, **{**declared, **keywords})


@contextlib.contextmanager
def restoring():
    """Undo every op registered inside the block: plugin tests and notebooks start clean each time."""
    from archspec import ops

    table = ops.registry()
    saved, origins = dict(table), dict(_origins)
    try:
        yield
    finally:
        table.clear()
        table.update(saved)
        _origins.clear()
        _origins.update(origins)
        _schema_changed()


def origin(name: str) -> str | None:
    """Where a plugin op came from (entry point, --plugin, register_op()), or None for a built-in."""
    return _origins.get(name)


def load_plugin(value: str) -> list[str]:
    """`--plugin`: import MODULE (which registers its ops), or register MODULE:OBJECT. Returns new op names."""
    from archspec import ops

    module_name, _, attr = value.partition(":")
    before = set(ops.registry())
    if module_name.endswith(".py"):
        module = _import_file(module_name)
    else:
        if "" not in sys.path and "." not in sys.path:
            sys.path.append(".")  # `--plugin my_layers` finds ./my_layers.py, as `python -m` would
        try:
            module = importlib.import_module(module_name)
        except Exception as e:
            raise PluginError(f"cannot import {module_name}: {_reason(e)}") from None
    if attr:
        target = getattr(module, attr, None)
        if target is None:
            raise PluginError(f"module {module_name} has no attribute '{attr}'")
        op = as_op(target)
        if ops.registry().get(op.name) is not op:
            _register(op, None, {}, origin=f"--plugin {value}")
    return sorted(set(ops.registry()) - before)


def load_entry_points() -> None:
    """Register the ops of installed packages (group `archspec.ops`); a broken one is skipped with a warning."""
    from importlib.metadata import entry_points

    from archspec import ops

    for ep in entry_points(group=GROUP):
        where = f"entry point '{ep.name} = {ep.value}'" + (f" of {ep.dist.name} {ep.dist.version}" if ep.dist else "")
        if ops.registry().get(ep.name) is not None:
            warnings.warn(f"archspec: skipped plugin op from {where}: the name is taken by "
                          f"{_origins.get(ep.name, 'a built-in op')}", PluginWarning, stacklevel=2)
            continue
        try:
            _register(ep.load(), ep.name, {}, origin=where)
        except Exception as e:
            warnings.warn(f"archspec: skipped plugin op from {where}: {_reason(e)}", PluginWarning, stacklevel=2)


# ---- small helpers ------------------------------------------------------------------------
def _import_file(path: str):
    import importlib.util
    from pathlib import Path

    name = "archspec_plugin_" + re.sub(r"\W", "_", Path(path).stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not Path(path).is_file():
        raise PluginError(f"no such file: {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise PluginError(f"{path}: {_reason(e)}") from None
    return module


def _is_module_class(target) -> bool:
    """An nn.Module subclass, recognised without importing torch when torch is not loaded yet."""
    if not isinstance(target, type) or "torch" not in sys.modules:
        return False
    import torch

    return issubclass(target, torch.nn.Module)


def _schema_changed() -> None:
    """The JSON Schema is generated from the registry and cached: a new op must reach it."""
    schema = sys.modules.get("archspec.spec.schema")
    for value in vars(schema).values() if schema is not None else ():
        if callable(getattr(value, "cache_clear", None)):  # spec_schema() and the validators built from it
            value.cache_clear()


def snake_case(name: str) -> str:
    """SqueezeExcite -> squeeze_excite, SEBlock -> se_block."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0].strip()


def _reason(e: BaseException) -> str:
    text = _first_line(str(e))
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _show(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
