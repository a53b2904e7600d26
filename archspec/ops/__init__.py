"""The op registry: ops register themselves by name; lookups suggest a name on a miss.

Built-in ops load on first use: every module of this package is imported, so a new op is a
new file (or a class in a family's file) and nothing else. So do the ops of installed plugin
packages (entry point group `archspec.ops`, see archspec.plugins), once per process."""
from __future__ import annotations

from archspec.ops.base import REQUIRED, Arg, Op, Shape, ShapeRuleError  # noqa: F401

_REGISTRY: dict[str, Op] = {}
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
        import pkgutil

        for module in pkgutil.iter_modules(__path__):  # in the order of their names
            if not module.name.startswith("_"):
                importlib.import_module(f"{__name__}.{module.name}")
        from archspec.plugins import load_entry_points

        load_entry_points()


def registry() -> dict[str, Op]:
    _load_builtins()
    return _REGISTRY


def get(name: str) -> Op | None:
    return registry().get(name)


def merges() -> tuple[str, ...]:
    """The ops that merge two or more values: what `merge:` of parallel and residual may name."""
    return tuple(name for name, op in registry().items() if op.variadic)
