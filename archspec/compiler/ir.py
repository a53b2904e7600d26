"""The expanded form of a spec: primitive nodes with their inputs, arguments and shapes."""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.errors import Diagnostic, Loc
from archspec.ops.base import Op


@dataclass(frozen=True)
class Value:
    """A tensor in the graph: a node's output or a graph input. shape None = unknown (after an error)."""

    ref: str
    shape: tuple | None


@dataclass
class Node:
    """One primitive op. `name` is its module path; `op` is None for an item that failed."""

    name: str
    op: Op | None
    args: dict
    inputs: list[Value]
    loc: Loc
    notes: tuple[str, ...] = ()
    shape: tuple | None = None
    params: int = 0
    macs: int = 0

    @property
    def op_name(self) -> str:
        return self.op.name if self.op else "?"


@dataclass
class Expanded:
    """A spec after expansion: graph inputs, nodes in execution order, outputs, problems."""

    spec: object
    params: dict
    inputs: dict[str, tuple | None]
    nodes: list[Node] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    blocks: dict[str, tuple[str, dict]] = field(default_factory=dict)  # scope path -> (block name, its params)
