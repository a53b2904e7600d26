"""Plugin ops: a user's own layer made into an op without editing archspec.

Three ways in, one set of keywords (those of `register_op`):
- an entry point in group `archspec.ops` (`se = "mypkg.layers:SqueezeExcite"`) naming an
  Op subclass, an Op instance, or an nn.Module class whose keywords sit in a class
  attribute `archspec_op = dict(args=[...], inputs={...})`;
- `--plugin MODULE[:OBJECT]` on the command line;
- `archspec.register_op(SqueezeExcite, args=[...], inputs={...})` in Python.
A spec never names Python code: it uses the op by name, like a built-in.

An nn.Module without a shape rule of its own is checked by one forward pass on torch's meta
device (archspec.ops.module_op).
"""
from __future__ import annotations

import contextlib
import importlib
import re
import sys
import warnings

from archspec.ops.base import (  # noqa: F401  (re-exported: the types plugin authors declare args with)
    REQUIRED, Arg, Bool, Choice, Float, Int, IntList, Op, Optional, ShapeRuleError, Size,
)
from archspec.ops.module_op import ModuleOp, PluginError, reason  # noqa: F401  (ModuleOp, PluginError: public here)

GROUP = "archspec.ops"
KEYWORDS = ("args", "inputs", "shape", "params", "macs", "doc", "main_arg")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_origins: dict[str, str] = {}  # plugin op name -> where it came from


class PluginWarning(UserWarning):
    """An installed plugin was skipped (it failed to import, or its name is taken)."""


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
            raise PluginError(f"cannot import {module_name}: {reason(e)}") from None
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
            warnings.warn(f"archspec: skipped plugin op from {where}: {reason(e)}", PluginWarning, stacklevel=2)


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
        raise PluginError(f"{path}: {reason(e)}") from None
    return module


def _is_module_class(target) -> bool:
    """An nn.Module subclass, recognised without importing torch when torch is not loaded yet."""
    if not isinstance(target, type) or "torch" not in sys.modules:
        return False
    import torch

    return issubclass(target, torch.nn.Module)


def _schema_changed() -> None:
    """The JSON Schema is generated from the registry and cached: a new op must reach it."""
    schema = sys.modules.get("archspec.lang.schema")
    for value in vars(schema).values() if schema is not None else ():
        if callable(getattr(value, "cache_clear", None)):  # spec_schema() and the validators built from it
            value.cache_clear()


def snake_case(name: str) -> str:
    """SqueezeExcite -> squeeze_excite, SEBlock -> se_block."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
