"""The op registry: ops register themselves by name; lookups suggest a name on a miss."""
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


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import importlib

        for module in _BUILTIN_MODULES:
            importlib.import_module(f"archspec.ops.{module}")


def registry() -> dict[str, Op]:
    _load_builtins()
    return _REGISTRY


def get(name: str) -> Op | None:
    return registry().get(name)
