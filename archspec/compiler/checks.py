"""Expanded spec -> networkx DiGraph of primitive ops, and the checks that need the whole
graph: outputs nobody uses, inputs never read, blocks that call each other in a cycle.
Knows nothing about particular ops."""
from __future__ import annotations

import networkx as nx

from archspec.errors import Diagnostic
from archspec.compiler.ir import Expanded

INPUT = "input"  # node attribute `kind` of graph inputs


def to_graph(expanded: Expanded) -> nx.DiGraph:
    """Nodes are module paths (and graph input names); each carries its Node as `node`."""
    g = nx.DiGraph()
    for name, shape in expanded.inputs.items():
        g.add_node(name, kind=INPUT, shape=shape)
    for node in expanded.nodes:
        g.add_node(node.name, kind="op", node=node)
        for k, value in enumerate(node.inputs):
            g.add_edge(value.ref, node.name, index=k)
    return g


def check_graph(expanded: Expanded, g: nx.DiGraph) -> list[Diagnostic]:
    """Dangling outputs and unused inputs: a spec whose values go nowhere is a mistake."""
    outputs = {v.ref for v in expanded.outputs}
    problems = []
    for name, data in g.nodes(data=True):
        if g.out_degree(name) or name in outputs:
            continue
        if data["kind"] == INPUT:
            problems.append(Diagnostic(expanded.spec.locate(("input",)), "unused-input", f"input '{name}' is never used"))
            continue
        node = data["node"]
        if node.op is None:
            continue
        problems.append(Diagnostic(node.loc, "unused", f"the output of '{name}' ({node.op.name}) is never used: "
                                   "name it in a later from:, in outputs:, or remove it", list(node.notes)))
    return problems + inplace_conflicts(g, outputs)


def inplace_conflicts(g: nx.DiGraph, outputs: set) -> list[Diagnostic]:
    """An op with `inplace: true` overwrites its input: wrong values (or a failed backward)
    when anything else reads that input too, as a shortcut or a parallel branch does."""
    problems = []
    for name, data in g.nodes(data=True):
        node = data.get("node")
        if node is None or node.op is None or node.args.get("inplace") is not True or len(node.inputs) != 1:
            continue
        source = node.inputs[0].ref
        readers = [n for n in g.successors(source) if n != name and getattr(g.nodes[n].get("node"), "op", None) is not None]
        others = [_describe(g, n) for n in readers] + ["the outputs"] * (source in outputs)
        if others:
            shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
            verb = "reads" if len(others) == 1 and readers else "read"
            problems.append(Diagnostic(node.loc, "inplace", f"{node.op.name}: inplace: true would overwrite '{source}', "
                                       f"which {shown} also {verb}: drop inplace here", list(node.notes)))
    return problems


def _describe(g: nx.DiGraph, name: str) -> str:
    node = g.nodes[name].get("node")
    return f"'{name}' ({node.op.name})" if node is not None and node.op is not None else f"'{name}'"


def block_cycles(spec) -> list[Diagnostic]:
    """Blocks that call themselves, directly or through others, named as a cycle."""
    blocks = spec.data.get("blocks") or {}
    calls = nx.DiGraph()
    for name, body in blocks.items():
        calls.add_node(name)
        for callee, path in _calls(body, ("blocks", name), blocks):
            if not calls.has_edge(name, callee):
                calls.add_edge(name, callee, path=path)
    problems = []
    order = list(blocks)
    for cycle in nx.simple_cycles(calls):
        start = min(range(len(cycle)), key=lambda k: order.index(cycle[k]))
        cycle = cycle[start:] + cycle[:start]  # name the cycle from the block defined first
        first = cycle[0]
        chain = " -> ".join(cycle + [first])
        edge_path = calls.edges[first, cycle[1 % len(cycle)]]["path"]
        problems.append(Diagnostic(spec.locate(edge_path, key=True), "cycle", f"blocks call each other in a cycle: {chain}"))
        if len(problems) >= 10:
            break
    return problems


def _calls(value, path, blocks):
    """(block name, path of the call key) for every block call inside a YAML body."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if key in blocks:
                yield key, path + (key,)
            yield from _calls(sub, path + (key,), blocks)
    elif isinstance(value, list):
        for k, sub in enumerate(value):
            yield from _calls(sub, path + (k,), blocks)
    elif isinstance(value, str) and value in blocks:
        yield value, path
