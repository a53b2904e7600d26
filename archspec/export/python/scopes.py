"""The checked graph as a tree of scopes (module paths), each with its data flow.

A scope is what becomes one nn.Module of the generated code: the root, a block call,
a sub-list. Its entries are its direct children (nodes and sub-scopes) in execution
order; `inputs` are the values it reads from outside, `outputs` those read outside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ROOT = ""


@dataclass
class Entry:
    """A direct child of a scope: one node (`node` set) or a sub-scope (`scope` set)."""

    name: str  # local name (last part of the module path)
    node: object = None
    scope: "Scope | None" = None
    inputs: list[str] = field(default_factory=list)  # refs read, in order of first use
    outputs: list[str] = field(default_factory=list)  # refs it produces that others read


@dataclass
class Scope:
    path: str
    block: tuple | None = None  # (block name, params) when the scope is a block call
    entries: list[Entry] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    input_shapes: list[tuple] = field(default_factory=list)
    owner: str | None = None  # the block this scope is part of, if any

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def depth(self) -> int:
        return self.path.count(".") + 1 if self.path else 0

    def walk(self):
        """This scope and every scope below it, children first."""
        for e in self.entries:
            if e.scope is not None:
                yield from e.scope.walk()
        yield self


def build_tree(report) -> Scope:
    """Group the report's nodes by module path; compute each scope's inputs and outputs."""
    root = Scope(ROOT)
    scopes = {ROOT: root}
    for node in report.nodes:
        parts = node.name.split(".")
        parent = root
        for k in range(1, len(parts)):
            path = ".".join(parts[:k])
            scope = scopes.get(path)
            if scope is None:
                block = report.expanded.blocks.get(path)
                owner = block[0] if block else parent.owner
                scope = scopes[path] = Scope(path, block, owner=owner)
                parent.entries.append(Entry(parts[k - 1], scope=scope))
            parent = scope
        parent.entries.append(Entry(parts[-1], node=node))
    shapes = {name: shape for name, shape in report.input_shapes.items()}
    for node in report.nodes:
        shapes[node.name] = node.shape
    readers = _readers(report)
    _flow(root, readers, shapes)
    root.inputs, root.input_shapes = list(report.input_shapes), list(report.input_shapes.values())
    root.outputs = [v.ref for v in report.expanded.outputs]
    return root


def _readers(report) -> dict[str, list[str]]:
    """ref -> names of the nodes that read it ('' stands for the model's outputs)."""
    readers: dict[str, list[str]] = {}
    for node in report.nodes:
        for v in node.inputs:
            readers.setdefault(v.ref, []).append(node.name)
    for v in report.expanded.outputs:
        readers.setdefault(v.ref, []).append("")
    return readers


def _inside(name: str, path: str) -> bool:
    return not path or name.startswith(path + ".")


def _flow(scope: Scope, readers: dict, shapes: dict) -> None:
    for entry in scope.entries:
        if entry.scope is not None:
            _flow(entry.scope, readers, shapes)
            entry.inputs, entry.outputs = entry.scope.inputs, entry.scope.outputs
        else:
            entry.inputs = _unique(v.ref for v in entry.node.inputs)
            entry.outputs = [entry.node.name]
    if not scope.path:
        return
    names = [n for e in scope.entries for n in _nodes(e)]
    inside = set(names)
    scope.inputs = _unique(ref for e in scope.entries for ref in e.inputs if ref not in inside)
    scope.outputs = [n for n in names if any(r == "" or not _inside(r, scope.path) for r in readers.get(n, ()))]
    scope.input_shapes = [shapes.get(ref) for ref in scope.inputs]


def _nodes(entry: Entry):
    if entry.node is not None:
        yield entry.node.name
    else:
        for e in entry.scope.entries:
            yield from _nodes(e)


def _unique(items) -> list:
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
