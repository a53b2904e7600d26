"""Templates: a scope as the code it needs, with every number still concrete.

A scope that is a plain chain of modules becomes an inline `nn.Sequential`; the root,
block calls and scopes with branches become classes. Entries refer to values as
("in", k) (the k-th input of the scope) or ("e", j, o) (output o of entry j).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from archspec.export.python.modules import Ctor, ctor, module_of

ROOT_KEY = ("<root>",)


@dataclass
class Leaf:
    """A torch.nn constructor call."""

    ctor: Ctor


@dataclass
class Seq:
    """An inline nn.Sequential of (name, body) items."""

    items: list


@dataclass
class Call:
    """A call of a generated class; `values` are its arguments for this instance."""

    cls: object  # ClassDef
    values: tuple


@dataclass
class Func:
    """A functional node (a merge, reshape, permute): an expression in forward."""

    op: object  # the Op
    args: dict


@dataclass
class State:
    """A learnable or constant tensor item: an attribute made by the op's Python form."""

    op: object
    args: dict


@dataclass
class Alias:
    """The module of a sibling entry, used again (`share:`): the same attribute under a second name."""

    target: str  # the sibling's local name


@dataclass
class TEntry:
    name: str
    body: object  # Leaf | Seq | Call | Func | State | Alias
    inputs: list  # refs
    n_out: int
    stateful: bool
    where: str  # module path, for messages
    unpacked: tuple = ()  # where each output sits in what the call returns, as index text: ("[0]", "[1][0]", ...)

    @property
    def key(self) -> tuple:
        """How entries are matched between calls: by name when the name is in the state_dict."""
        return ("name", self.name) if self.stateful else ("op", shape(self.body))


@dataclass
class Template:
    scope: object  # Scope
    kind: str  # "seq" (a chain of modules) or "graph" (a forward with branches)
    entries: list[TEntry] = field(default_factory=list)
    outputs: list = field(default_factory=list)


def shape(body) -> tuple:
    """A body's structure, all values left out: two bodies of equal shape differ only in numbers."""
    if isinstance(body, Leaf):
        return ("leaf", body.ctor.cls, tuple(k for k, _ in body.ctor.args))
    if isinstance(body, Call):
        return ("call", id(body.cls))
    if isinstance(body, Seq):
        return ("seq", tuple((name, shape(b)) for name, b in body.items))
    if isinstance(body, Alias):
        return ("alias", body.target)
    kind = "state" if isinstance(body, State) else "func"
    return (kind, body.op.name, repr(sorted(body.args.items())))


def values(body, path=()):
    """(position, value) of every number a body holds, in a fixed order."""
    if isinstance(body, Leaf):
        for k, v in body.ctor.args:
            yield path + (k,), v
    elif isinstance(body, Call):
        for p, v in zip(body.cls.signature, body.values):
            yield path + (p.name,), v
    elif isinstance(body, Seq):
        for name, b in body.items:
            yield from values(b, path + (name,))


def stateful(body) -> bool:
    if isinstance(body, (State, Alias)):
        return True
    if isinstance(body, Leaf):
        return body.ctor.stateful
    if isinstance(body, Call):
        return body.cls.stateful
    if isinstance(body, Seq):
        return any(stateful(b) for _, b in body.items)
    return False


def class_key(scope) -> tuple | None:
    """Which class a scope becomes an instance of; None for an inline nn.Sequential."""
    if not scope.path:
        return ROOT_KEY
    if scope.block is not None:
        return ("block", scope.block[0])
    if is_chain(scope):
        return None
    stem = scope.name.rstrip("0123456789") or (f"{scope.owner}_layer" if scope.owner else "layer")
    return ("scope", scope.depth, stem)


def is_module(scope, entry) -> bool:
    """Whether an entry is an nn.Module called in forward (not a function, a tensor or a second use)."""
    if entry.shares is not None:
        return False
    if entry.scope is not None:
        return True
    made = module_of(scope.graph, entry.node)
    return made is not None and not isinstance(made, torch.Tensor)


def is_chain(scope) -> bool:
    """A chain of modules, each reading only the previous one: what nn.Sequential runs."""
    if len(scope.inputs) != 1 or len(scope.outputs) != 1 or not all(is_module(scope, e) for e in scope.entries):
        return False
    previous = scope.inputs[0]
    for e in scope.entries:
        if e.inputs != [previous] or len(e.outputs) != 1:
            return False
        previous = e.outputs[0]
    return scope.outputs == [previous]


def body_of(scope, entry, classes) -> object:
    """The code for one entry of `scope`; `classes(scope)` gives the Call of a scope that is a class."""
    if entry.shares is not None and (entry.scope is not None or module_of(scope.graph, entry.node) is not None):
        return Alias(entry.shares)
    if entry.scope is not None:
        call = classes(entry.scope)
        if call is not None:
            return call
        return Seq([(e.name, body_of(entry.scope, e, classes)) for e in entry.scope.entries])
    module = module_of(scope.graph, entry.node)
    data = scope.graph.nodes[entry.node]
    if module is None:
        return Func(data["op"], dict(data["args"]))
    if isinstance(module, torch.Tensor):
        return State(data["op"], dict(data["args"]))
    return Leaf(ctor(module, entry.node, _keywords(scope.graph, entry.node)))


def _keywords(graph, name: str) -> dict | None:
    """The keywords a module op was built with, when it knows them (a torch.nn class named in the
    spec, a recurrent layer)."""
    data = graph.nodes[name]
    return data["op"].constructor_keywords(data["args"], [graph.shape_of(r) for r in graph.inputs_of(name)])


def template(scope, classes) -> Template:
    kind = "seq" if scope.path and is_chain(scope) or not scope.path and _root_chain(scope) else "graph"
    produced: dict[str, tuple] = {ref: ("in", k) for k, ref in enumerate(scope.inputs)}
    t = Template(scope, kind)
    for j, e in enumerate(scope.entries):
        body = body_of(scope, e, classes)
        refs = [produced[r] for r in e.inputs]
        t.entries.append(TEntry(e.name, body, refs, len(e.outputs), stateful(body), _where(scope, e), _unpacked(scope, e)))
        for o, ref in enumerate(e.outputs):
            produced[ref] = ("e", j, o)
    t.outputs = [produced[r] for r in scope.outputs]
    return t


class Text:
    """A value as Python source, for an op's `unpack`: indexing and method calls build the text
    (`Text("")[1][0].transpose(0, 1)` is `[1][0].transpose(0, 1)`)."""

    def __init__(self, text: str):
        self.text = text

    def __getitem__(self, k) -> "Text":
        return Text(f"{self.text}[{k!r}]")

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args: Text(f"{self.text}.{name}({', '.join(map(repr, args))})")

    def __str__(self) -> str:
        return self.text


def _unpacked(scope, entry) -> tuple:
    """For a node with several outputs, where its op's `unpack` finds each in the call's result."""
    if entry.node is None or len(entry.outputs) < 2:
        return ()
    data = scope.graph.nodes[entry.node]
    return tuple(str(x) for x in data["op"].unpack(data["args"], Text(""), len(entry.outputs)))


def _root_chain(scope) -> bool:
    """The root is an nn.Sequential only when it is the notes' style: a numbered chain."""
    return is_chain(scope) and all(e.name.isdigit() for e in scope.entries)


def _where(scope, entry) -> str:
    return f"{scope.path}.{entry.name}" if scope.path else entry.name
