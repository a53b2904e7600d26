"""The op registry: ops register themselves by name; lookups suggest a name on a miss.

Built-in ops load on first use; so do the ops of installed plugin packages (entry point
group `archspec.ops`, see archspec.plugins), once per process."""
from __future__ import annotations

from archspec.ops.base import REQUIRED, Arg, Op, Shape, ShapeRuleError  # noqa: F401

_REGISTRY: dict[str, Op] = {}
_BUILTIN_MODULES = ("conv", "linear", "norm", "activation", "pool", "merge", "reshape")
_loaded = False


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add one instance of an Op subclass to the registry under `cls.name`."""
    op = cls()
    if op.name in _REGISTRY and type(_REGISTRY[op.name]) is not cls:
        raise ValueError(f"op '{op.name}' is already registered")
    _REGISTRY[op.name] = op
    return cls


def add(op: Op) -> Op:
    """Register an op instance made at run time (a plugin: archspec.plugins checks its name)."""
    _load_builtins()
    _REGISTRY[op.name] = op
    return op


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import importlib

        for module in _BUILTIN_MODULES:
            importlib.import_module(f"archspec.ops.{module}")
        from archspec.plugins import load_entry_points

        load_entry_points()


def registry() -> dict[str, Op]:
    _load_builtins()
    return _REGISTRY


def get(name: str) -> Op | None:
    return registry().get(name)
