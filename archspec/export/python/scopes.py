"""The checked graph as a tree of scopes (module paths), each with its data flow.

A scope is what becomes one nn.Module of the generated code: the root, a block call,
a sub-list. Its entries are its direct children (nodes and sub-scopes) in execution
order; `inputs` are the values it reads from outside, `outputs` those read outside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.compiler.ir import Ref

ROOT = ""


@dataclass
class Entry:
    """A direct child of a scope: one node (`node` set) or a sub-scope (`scope` set)."""

    name: str  # local name (last part of the module path)
    node: str | None = None  # the op node's name (its module path) in the graph
    scope: "Scope | None" = None
    inputs: list[str] = field(default_factory=list)  # refs read: a node's in input order, a sub-scope's in order of first use
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
    graph: object = None  # the IR the scope's nodes live in

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
    """Group the report's op nodes by module path; compute each scope's inputs and outputs."""
    g = report.graph
    root = Scope(ROOT, graph=g)
    scopes = {ROOT: root}
    for name in g.ops():
        parts = name.split(".")
        parent = root
        for k in range(1, len(parts)):
            path = ".".join(parts[:k])
            scope = scopes.get(path)
            if scope is None:
                block = g.blocks.get(path)
                owner = block[0] if block else parent.owner
                scope = scopes[path] = Scope(path, block, owner=owner, graph=g)
                parent.entries.append(Entry(parts[k - 1], scope=scope))
            parent = scope
        parent.entries.append(Entry(parts[-1], node=name))
    shapes = dict(report.input_shapes)
    for name in g.ops():
        shapes[name] = g.shape_of(Ref(name))
    readers = _readers(g)
    _flow(root, readers, shapes)
    root.inputs, root.input_shapes = list(report.input_shapes), list(report.input_shapes.values())
    root.outputs = [ref.node for ref in g.outputs]
    return root


def _readers(g) -> dict[str, list[str]]:
    """value -> names of the nodes that read it ('' stands for the model's outputs)."""
    readers: dict[str, list[str]] = {}
    for name in g.ops():
        for ref in g.inputs_of(name):
            readers.setdefault(ref.node, []).append(name)
    for ref in g.outputs:
        readers.setdefault(ref.node, []).append("")
    return readers


def _inside(name: str, path: str) -> bool:
    return not path or name.startswith(path + ".")


def _flow(scope: Scope, readers: dict, shapes: dict) -> None:
    for entry in scope.entries:
        if entry.scope is not None:
            _flow(entry.scope, readers, shapes)
            entry.inputs, entry.outputs = entry.scope.inputs, entry.scope.outputs
        else:
            entry.inputs = [ref.node for ref in scope.graph.inputs_of(entry.node)]  # one per input: add of [x, x] reads x twice
            entry.outputs = [entry.node]
    if not scope.path:
        return
    names = [n for e in scope.entries for n in _nodes(e)]
    inside = set(names)
    scope.inputs = _unique(ref for e in scope.entries for ref in e.inputs if ref not in inside)
    scope.outputs = [n for n in names if any(r == "" or not _inside(r, scope.path) for r in readers.get(n, ()))]
    scope.input_shapes = [shapes.get(ref) for ref in scope.inputs]


def _nodes(entry: Entry):
    if entry.node is not None:
        yield entry.node
    else:
        for e in entry.scope.entries:
            yield from _nodes(e)


def _unique(items) -> list:
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
