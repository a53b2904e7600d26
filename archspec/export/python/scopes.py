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
    inputs: list[Ref] = field(default_factory=list)  # values read, in order (a node's: one per input)
    outputs: list[Ref] = field(default_factory=list)  # values it produces that others read (a node's: all)
    shares: str | None = None  # the local name of the sibling entry whose module it is (`share:`)


@dataclass
class Scope:
    path: str
    block: tuple | None = None  # (block name, params) when the scope is a block call
    entries: list[Entry] = field(default_factory=list)
    inputs: list[Ref] = field(default_factory=list)
    outputs: list[Ref] = field(default_factory=list)
    input_shapes: list[tuple] = field(default_factory=list)
    owner: str | None = None  # the block this scope is part of, if any
    graph: object = None  # the IR the scope's nodes live in
    shared: bool = False  # a use of another scope's modules: no code of its own

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def depth(self) -> int:
        return self.path.count(".") + 1 if self.path else 0

    def walk(self):
        """This scope and every scope below it, children first (not those that share another's modules)."""
        for e in self.entries:
            if e.scope is not None and not e.scope.shared:
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
    readers = _readers(g)
    _flow(root, readers)
    root.inputs, root.input_shapes = [Ref(n) for n in report.input_shapes], list(report.input_shapes.values())
    root.outputs = list(g.outputs)
    _mark_sharing(root, g)
    return root


def _mark_sharing(scope: Scope, g) -> None:
    """Set `shares` on entries that use a sibling's module (`share:` of an op or of a scope).
    Sharing across scopes has no plain Python form here: ArchspecError names it."""
    from archspec.errors import ArchspecError

    for e in scope.entries:
        owners = {n: g.nodes[n].get("shares") for n in _nodes(e)}
        if e.scope is not None and not all(owners.values()):
            _mark_sharing(e.scope, g)  # a scope of its own, which may share inside
            continue
        if not any(owners.values()):
            continue
        prefix = f"{scope.path}." if scope.path else ""
        mine = f"{prefix}{e.name}"
        sibling = {o[len(prefix):].split(".")[0] for o in owners.values() if o.startswith(prefix)}
        if len(sibling) == 1 and all(o == f"{prefix}{next(iter(sibling))}{n[len(mine):]}" for n, o in owners.items()):
            e.shares = next(iter(sibling))
            if e.scope is not None:
                e.scope.shared = True
            continue
        node, owner = next(iter(owners.items()))
        raise ArchspecError(f"{node}: it shares the module of {owner}, in another part of the network; the python "
                            "export writes sharing between items of one list only: export to onnx or torchscript instead")


def _readers(g) -> dict[Ref, list[str]]:
    """value -> names of the nodes that read it ('' stands for the model's outputs)."""
    readers: dict[Ref, list[str]] = {}
    for name in g.ops():
        for ref in g.inputs_of(name):
            readers.setdefault(ref, []).append(name)
    for ref in g.outputs:
        readers.setdefault(ref, []).append("")
    return readers


def _inside(name: str, path: str) -> bool:
    return not path or name.startswith(path + ".")


def _flow(scope: Scope, readers: dict) -> None:
    g = scope.graph
    for entry in scope.entries:
        if entry.scope is not None:
            _flow(entry.scope, readers)
            entry.inputs, entry.outputs = entry.scope.inputs, entry.scope.outputs
        else:
            entry.inputs = g.inputs_of(entry.node)
            entry.outputs = [Ref(entry.node, k) for k in range(len(g.nodes[entry.node]["types"]))]
    if not scope.path:
        return
    names = [n for e in scope.entries for n in _nodes(e)]
    inside = set(names)
    scope.inputs = _unique(ref for e in scope.entries for ref in e.inputs if ref.node not in inside)
    scope.outputs = [ref for n in names for ref in (Ref(n, k) for k in range(len(g.nodes[n]["types"])))
                     if any(r == "" or not _inside(r, scope.path) for r in readers.get(ref, ()))]
    scope.input_shapes = [g.shape_of(ref) for ref in scope.inputs]


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
