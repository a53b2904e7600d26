"""Globs over module paths: the one rule --freeze, --lr-for and --weights-skip pick tensors by.

A pattern is a glob (fnmatch, case-sensitive) over the dotted paths of a model's modules, the
names in a state_dict: `layer1` matches everything inside layer1, `layer*` every stage,
`fc.weight` one tensor, `*.bn*` every batch norm below the top. Torch-free, so `archspec check`
counts what a pattern freezes before any weight exists.
"""
from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from archspec.diagnostics import did_you_mean
from archspec.errors import ArchspecError


def matches(name: str, pattern: str) -> bool:
    """Whether `pattern` matches the tensor or module `name` or a module it sits in."""
    parts = name.split(".")
    return any(fnmatchcase(".".join(parts[:n]), pattern) for n in range(1, len(parts) + 1))


def chosen(names: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The names any pattern matches, in their order."""
    patterns = list(patterns)
    return [n for n in names if any(matches(n, p) for p in patterns)]


def require_matches(option: str, patterns: Iterable[str], names: list[str]) -> None:
    """Refuse a pattern that matches nothing: a misspelt --freeze would otherwise train everything."""
    names = list(dict.fromkeys(names))
    for pattern in patterns:
        if not any(matches(n, pattern) for n in names):
            paths = sorted({".".join(n.split(".")[:k]) for n in names for k in range(1, n.count(".") + 2)})
            top = list(dict.fromkeys(n.split(".")[0] for n in names))
            raise ArchspecError(f"{option} {pattern}: matches none of the model's {len(names):,} tensors"
                                f"{did_you_mean(pattern, paths)}; patterns are globs over module paths, whose "
                                f"first parts here are {', '.join(top[:8])}{', ...' if len(top) > 8 else ''}")
