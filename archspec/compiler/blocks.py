"""Checks of a spec's blocks before expansion: a block named like an op, a combinator or an
item key; a block without exactly one body; blocks that call each other in a cycle."""
from __future__ import annotations

import networkx as nx

from archspec.errors import Code, Diagnostic
from archspec.lang.schema import COMBINATORS, ITEM_KEYS


def block_problems(spec) -> list[Diagnostic]:
    from archspec.ops import registry

    taken = {**{k: "an op" for k in registry()}, **{k: "a combinator" for k in COMBINATORS}, **{k: "an item key" for k in ITEM_KEYS}}
    shadowing = [
        spec.error(("blocks", name), Code.SHADOWS_OP, f"block '{name}' has the name of {taken[name]}; rename the block", key=True)
        for name in (spec.data.get("blocks") or {}) if name in taken
    ]
    bodies = []
    for name, block in (spec.data.get("blocks") or {}).items():
        kinds = [k for k in COMBINATORS if k in block] if isinstance(block, dict) else [None]
        if len(kinds) != 1:
            found = f"found {', '.join(kinds)}" if kinds else "found none"
            bodies.append(spec.error(("blocks", name), Code.BLOCK_BODY, f"block '{name}' needs one body: layers, parallel, "
                                     f"residual or dense; {found}", key=True))
    return shadowing + bodies + block_cycles(spec)


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
        problems.append(Diagnostic(spec.locate(edge_path, key=True), Code.CYCLE, f"blocks call each other in a cycle: {chain}"))
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
