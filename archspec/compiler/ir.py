"""The compiler's IR: one networkx graph, which expansion builds and every pass and reader
(types and shapes, counts, graph checks, the report, drawing, export, emission) works on.

It is a MultiDiGraph, networkx's DiGraph that allows several edges between two nodes, so an
op that reads one value twice (`add` of [x, x]; attention with query = key = value) has an
edge per input. Nodes are added in execution order; passes store their results on the nodes,
as torch.fx passes store theirs in `node.meta`.

Node key: an op's module path ("layer1.0.conv1", "class_token" for a parameter), a graph input's name, or "<error at
FILE:LINE:COL>" for an item that failed. Node attributes, and who sets them:
    kind           INPUT, OP or ERROR (an item, or an op whose rules failed)   expansion
    op             the Op (None where an item failed before its op was known)  expansion
    args           the op's evaluated, type-checked arguments, then as op.bind
                   leaves them for the torch side            expansion, type pass
    loc            the item's place in the spec                                expansion
    notes          the block call chain, innermost first, for diagnostics      expansion
    frozen         made inside `trainable: false`                              expansion
    shares         the node whose module this one uses again (`share:`)        expansion
    ties           own parameter -> (node, its parameter or None) (`tie:`)     expansion
    tied           the tied parameters' count, not this node's own          tie check
    types          one Type per output                      type pass (inputs: expansion)
    params, macs   parameters (a shared or tied weight counted once), MACs
                   per sample                                                  count pass
Edge u -> v (its key is the input's index); attributes:
    index          the input's position among v's inputs
    role           what the input is to v's op (op.roles: "input", "inputs"; later "query", ...)
    output         which output of u it reads
Graph attributes (graph.graph): "params" (the spec's params, resolved), "outputs" (the Refs
the model returns), "blocks" (scope path -> (block name, its params) for each block call),
"items" (an item's Loc -> what each expansion of it made: read it with items_made()),
"spare" (nodes whose output may go unread: a block's other declared outputs).
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

INPUT, OP, ERROR = "input", "op", "error"
DTYPES = ("float32", "int64", "bool")


@dataclass(frozen=True)
class Type:
    """A value's type: its per-sample shape, its dtype, and whether a batch dim comes first
    (learnable tensors and constants have none and broadcast over the batch)."""

    shape: tuple
    dtype: str = "float32"
    batched: bool = True


@dataclass(frozen=True)
class Ref:
    """A value: output `output` of node `node`."""

    node: str
    output: int = 0


@dataclass(frozen=True)
class Made:
    """What one expansion of an item made: its value, the nodes it added, the scope it was in."""

    value: Ref
    nodes: list
    scope: str


class Graph(nx.MultiDiGraph):
    """The IR (see the module docstring): a networkx MultiDiGraph with the accessors passes share."""

    # ---- building (expansion) ----------------------------------------------------------
    def add_input(self, name: str, type_: Type, loc=None) -> Ref:
        self.add_node(name, kind=INPUT, op=None, args={}, loc=loc, notes=(), types=(type_,))
        return Ref(name)

    def add_op(self, name: str, op, args: dict, inputs: list[Ref], loc, notes: tuple, **attributes) -> Ref:
        """An op node; `attributes` are expansion's others (frozen, shares, ties: see above)."""
        self.add_node(name, kind=OP, op=op, args=args, loc=loc, notes=notes, **attributes)
        self._connect(name, inputs, op.input_roles(len(inputs)).__getitem__)
        return Ref(name)

    def add_error(self, name: str, inputs: list[Ref], loc, notes: tuple) -> Ref:
        """A stand-in for an item that failed: it reads what the item read (so those values do
        not look unused) and has no type (so nothing after it is checked against a guess)."""
        self.add_node(name, kind=ERROR, op=None, args={}, loc=loc, notes=notes)
        self._connect(name, inputs, lambda k: None)
        return Ref(name)

    def add_item(self, loc, first: int, value: Ref, scope: str) -> None:
        """Record one expansion of the item at `loc` in the naming scope `scope` ("layer1.0."):
        the nodes added from position `first` on, and its value."""
        self.graph.setdefault("items", {}).setdefault(loc, []).append((first, len(self), value, scope))

    def _connect(self, name: str, inputs: list[Ref], role) -> None:
        for k, ref in enumerate(inputs):
            self.add_edge(ref.node, name, key=k, index=k, role=role(k), output=ref.output)

    # ---- reading -----------------------------------------------------------------------
    def ops(self) -> list[str]:
        """The op nodes, in execution order."""
        return [n for n, kind in self.nodes(data="kind") if kind == OP]

    def input_names(self) -> list[str]:
        return [n for n, kind in self.nodes(data="kind") if kind == INPUT]

    def inputs_of(self, name: str) -> list[Ref]:
        """The values node `name` reads, in order."""
        # networkx's own adjacency dicts (what its subclassing guide builds on): the views are
        # slower, and expansion asks this for every node it adds
        edges = [(d["index"], u, d["output"]) for u, keyed in self._pred[name].items() for d in keyed.values()]
        return [Ref(u, output) for _, u, output in sorted(edges)]

    def type_of(self, ref: Ref) -> Type | None:
        """The value's type; None when the node that makes it failed."""
        types = self._node[ref.node].get("types")
        return types[ref.output] if types else None

    def shape_of(self, ref: Ref) -> tuple | None:
        t = self.type_of(ref)
        return t.shape if t else None

    def label(self, ref: Ref) -> str:
        """How a value is named to people: its node, and the output's name or index where there are several."""
        types = self.nodes[ref.node].get("types") or ()
        if len(types) <= 1:
            return ref.node
        names = self.nodes[ref.node]["op"].output_names(len(types))
        return f"{ref.node}.{names[ref.output] if names else ref.output}"

    def counts_of(self, name: str) -> tuple[int, int]:
        """(parameters, MACs per sample) of node `name`; (0, 0) where the count pass did not reach it."""
        data = self._node[name]
        return data.get("params", 0), data.get("macs", 0)

    def items_made(self) -> dict[object, list[Made]]:
        """For each item's place in the spec (its Loc), what each expansion of it made, in order:
        an item of a block's body once per call. The language server's map from source positions
        to nodes; an item that made no node (`if: false`, `repeat: 0`) passes its input on."""
        order = list(self)
        return {loc: [Made(value, order[first:end], scope) for first, end, value, scope in made]
                for loc, made in self.graph.get("items", {}).items()}

    @property
    def outputs(self) -> list[Ref]:
        return self.graph.get("outputs", [])

    @property
    def spec_params(self) -> dict:
        return self.graph.get("params", {})

    @property
    def blocks(self) -> dict:
        return self.graph.get("blocks", {})
