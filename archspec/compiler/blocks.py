"""Blocks: the checks of a spec's blocks before expansion (a block named like an op, a
combinator or an item key; a block without exactly one body; input names that clash; blocks
that call each other in a cycle), and the expansion of a block call: its params evaluated,
its inputs bound to the values the call's `from:` gives, its outputs resolved."""
from __future__ import annotations

import networkx as nx

from archspec.compiler.refs import Fail, reference
from archspec.compiler.scope import Env, Frame
from archspec.diagnostics import did_you_mean
from archspec.errors import Code, Diagnostic
from archspec.lang.schema import COMBINATORS, ITEM_KEYS, SHARE

RESERVED = ("input", "i")  # names expressions already give


def block_inputs(block: dict) -> list[str]:
    """The names a block's inputs have inside it: its `inputs:`, or the one `input`."""
    return list(block.get("inputs") or ["input"])


def takes_words(head: str, blocks: dict) -> str:
    names = block_inputs(blocks[head]) if head in blocks else ["input"]
    return "one input" if len(names) == 1 else f"{len(names)} inputs ({', '.join(names)})"


def call_block(ex, name, args, path, sources: list, scope, frame: Frame, inline: bool = False):
    """Expand a call of block `name` fed with `sources` into `scope`; its value is its first output."""
    block, bpath = ex.blocks[name], ("blocks", name)
    if name in frame.blocks or len(frame.blocks) >= ex.limits.max_block_depth:
        chain = " -> ".join(frame.blocks + (name,))
        message = f"blocks call each other without end: {chain}" if name in frame.blocks else \
            f"blocks call blocks more than {ex.limits.max_block_depth} deep: {chain}"
        raise ex.fail(path + (name,), Code.RECURSION, message, key=True)
    if args is not None and not isinstance(args, dict):
        raise ex.fail(path + (name,), Code.TYPE, f"block '{name}' takes a mapping of params, found {args!r}")
    args, declared = args or {}, block.get("params") or {}
    for key in args:
        if key not in declared:
            hint = did_you_mean(key, declared) or (f" (params: {', '.join(declared)})" if declared else " (it takes no params)")
            raise ex.fail(path + (name, key), Code.UNKNOWN_PARAM, f"block '{name}': unknown param '{key}'{hint}", key=True)
    x = sources[0]
    seen = {n: ex.seen(v) for n, v in zip(block_inputs(block), sources)}
    caller = {**frame.names, "input": ex.seen(x)}
    names = {**ex.root_params, **seen, "input": ex.seen(x)}
    for key, default in declared.items():
        if key in args:
            names[key] = ex.evaluate(args[key], path + (name, key), caller)
        elif default == "required":
            raise ex.fail(path + (name,), Code.MISSING_PARAM, f"block '{name}': missing required param '{key}'", key=True)
        else:
            names[key] = ex.evaluate(default, bpath + ("params", key), names)
    if not inline:
        ex.graph.blocks[scope.prefix[:-1]] = (name, {k: names[k] for k in declared})
    note = f"in block '{name}' called at {ex.spec.locate(path)} ({scope.prefix[:-1] or 'top level'})"
    del names["input"]  # each item's own; a named input's stays: `${skip.c}`
    inner = Frame(names, (note,) + frame.notes, frame.blocks + (name,), frame.frozen)
    kind = next(k for k in COMBINATORS if k in block)
    env = Env(x, ids=dict(zip(block_inputs(block), sources)) if "inputs" in block else {})
    if kind == "layers":
        last = ex.expand_list(block["layers"], bpath + ("layers",), env, scope, inner)
    else:
        last = ex.expand_body(kind, block[kind], bpath, env, x, scope, inner, block.get("merge"))
    return block_outputs(ex, block, bpath, env, last, frame) if block.get("outputs") else last


def block_outputs(ex, block, bpath, env, last, frame):
    """The call's first declared output; the others may go unread (a caller takes what it needs)."""
    values = []
    for k, wanted in enumerate(block["outputs"]):
        try:
            values.append(reference(ex, wanted, env, bpath + ("outputs", k), "outputs"))
        except Fail as f:
            ex.report(f.diagnostic, frame)
            return ex.poison(bpath + ("outputs", k), [last], frame)
    ex.graph.graph.setdefault("spare", set()).update(v.node for v in values[1:])
    return values[0]


def block_problems(spec) -> list[Diagnostic]:
    from archspec.ops import registry

    taken = {**{k: "an op" for k in registry()}, **{k: "a combinator" for k in COMBINATORS}, **{k: "an item key" for k in ITEM_KEYS},
             SHARE: "an item key"}
    shadowing = [
        spec.error(("blocks", name), Code.SHADOWS_OP, f"block '{name}' has the name of {taken[name]}; rename the block", key=True)
        for name in spec.blocks if name in taken
    ]
    bodies = []
    for name, block in spec.blocks.items():
        kinds = [k for k in COMBINATORS if k in block] if isinstance(block, dict) else [None]
        if len(kinds) != 1:
            found = f"found {', '.join(kinds)}" if kinds else "found none"
            bodies.append(spec.error(("blocks", name), Code.BLOCK_BODY, f"block '{name}' needs one body: layers, parallel, "
                                     f"residual or dense; {found}", key=True))
    return shadowing + bodies + input_names(spec) + block_cycles(spec)


def input_names(spec) -> list[Diagnostic]:
    """A block's input names must differ from each other, its params and the names expressions give."""
    problems = []
    for name, block in spec.blocks.items():
        if not isinstance(block, dict) or not isinstance(block.get("inputs"), list):
            continue
        params = block.get("params") or {}
        for k, inp in enumerate(block["inputs"]):
            clash = "a name expressions give" if inp in RESERVED and (inp != "input" or k) else \
                "a param of the block" if inp in params else "an earlier input" if inp in block["inputs"][:k] else None
            if clash:
                problems.append(spec.error(("blocks", name, "inputs", k), Code.BAD_NAME, f"block '{name}': input '{inp}' "
                                           f"is {clash}; rename it"))
    return problems


def block_cycles(spec) -> list[Diagnostic]:
    """Blocks that call themselves, directly or through others, named as a cycle."""
    blocks = spec.blocks
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
            if key not in ITEM_KEYS and key != SHARE:  # `id: up` names an item, it calls nothing
                yield from _calls(sub, path + (key,), blocks)
    elif isinstance(value, list):
        for k, sub in enumerate(value):
            yield from _calls(sub, path + (k,), blocks)
    elif isinstance(value, str) and value in blocks:
        yield value, path
