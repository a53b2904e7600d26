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
    args, declared = block_args(ex, name, args, path), block.get("params") or {}
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


def block_args(ex, name, args, path) -> dict:
    """The params a call of block `name` gives: a mapping of the block's declared params."""
    if args is not None and not isinstance(args, dict):
        raise ex.fail(path + (name,), Code.TYPE, f"block '{name}' takes a mapping of params, found {args!r}")
    declared = ex.blocks[name].get("params") or {}
    for key in args or {}:
        if key not in declared:
            hint = did_you_mean(key, declared) or (f" (params: {', '.join(declared)})" if declared else " (it takes no params)")
            raise ex.fail(path + (name, key), Code.UNKNOWN_PARAM, f"block '{name}': unknown param '{key}'{hint}", key=True)
    return args or {}


def block_outputs(ex, block, bpath, env, last, frame):
    """The call's first declared output; the others may go unread (a caller takes what it needs).
    Each unknown output is reported; then the call fails, reading what it could reach."""
    values, read, failed = [], [last], None
    for k, wanted in enumerate(block["outputs"]):
        try:
            values.append(reference(ex, wanted, env, bpath + ("outputs", k), "outputs"))
        except Fail as f:
            ex.report(f.diagnostic, frame)
            read += f.consumed or []
            failed = failed or bpath + ("outputs", k)
    if failed:
        return ex.poison(failed, read + values, frame)
    ex.graph.graph.setdefault("spare", set()).update(v.node for v in values[1:])
    return values[0]


def block_problems(spec) -> tuple[list[Diagnostic], set[str]]:
    """The problems of the spec's blocks, and the names of the blocks they make unusable (a call
    of one is skipped silently: its block's problem is reported once, where it is)."""
    from archspec.ops import registry

    ops = registry()
    taken = {**{k: "an op" for k in ops}, **{k: "a combinator" for k in COMBINATORS}, **{k: "an item key" for k in ITEM_KEYS},
             SHARE: "an item key"}
    blocks = spec.blocks
    problems, bad = [], set()
    for name, block in blocks.items():
        kinds = [k for k in COMBINATORS if k in block] if isinstance(block, dict) else [None]
        if name in taken:
            problems.append(spec.error(("blocks", name), Code.SHADOWS_OP, f"block '{name}' has the name of {taken[name]}; "
                                       "rename the block", key=True))
        elif len(kinds) != 1:
            found = f"found {', '.join(kinds)}" if kinds else "found none"
            problems.append(spec.error(("blocks", name), Code.BLOCK_BODY, f"block '{name}' needs one body: layers, parallel, "
                                       f"residual or dense; {found}", key=True))
        else:
            continue
        bad.add(name)
    clashes = input_names(spec)
    bad |= {path[1] for path, _ in clashes}
    cycles = block_cycles(spec, blocks.keys() - bad, ops)
    bad |= {name for cycle, _ in cycles for name in cycle}
    return problems + [d for _, d in clashes] + [d for _, d in cycles], bad


def read_as_op(spec, path, bad: set) -> bool:
    """Whether a schema problem at `path` lies in a call of a block named like an op, which the
    schema read as the op: the block's name is the one problem to report."""
    from archspec.ops import registry

    shadowing, node = bad & set(registry()), spec.data
    for k, part in enumerate(path):
        if k >= 2 and isinstance(node, dict) and part in shadowing:
            return True
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    return False


def input_names(spec) -> list[tuple[tuple, Diagnostic]]:
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
                path = ("blocks", name, "inputs", k)
                problems.append((path, spec.error(path, Code.BAD_NAME, f"block '{name}': input '{inp}' is {clash}; rename it")))
    return problems


def block_cycles(spec, names, ops) -> list[tuple[list[str], Diagnostic]]:
    """Blocks (of `names`) that call themselves, directly or through others, each cycle named."""
    blocks = spec.blocks
    calls = nx.DiGraph()
    for name in blocks:
        if name not in names:
            continue
        calls.add_node(name)
        for callee, path in block_calls(blocks[name], ("blocks", name), names, ops):
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
        problems.append((cycle, Diagnostic(spec.locate(edge_path, key=True), Code.CYCLE,
                                           f"blocks call each other in a cycle: {chain}")))
        if len(problems) >= 10:
            break
    return problems


def block_calls(owner, path, blocks, ops):
    """(block name, path of the call) for every item in the bodies of `owner` (a block or an
    item) whose head is a block: an id, a doc or an argument that happens to equal a block's
    name calls nothing, and an op's name is the op."""
    for item, item_path in body_items(owner, path):
        heads = [item] if isinstance(item, str) else [k for k in item if k not in ITEM_KEYS] if isinstance(item, dict) else []
        for head in heads:
            if head in blocks and head not in ops:
                yield head, item_path + (head,) if isinstance(item, dict) else item_path


def body_items(owner, path):
    """(item, its path) for every item in the bodies (layers, parallel, residual, dense) of a
    block or an item, and in those of the items inside, as expansion reads them."""
    if not isinstance(owner, dict):
        return
    for kind in COMBINATORS:
        for items, where in _item_lists(kind, owner.get(kind), path + (kind,)):
            pairs = [(x, where + (k,)) for k, x in enumerate(items)] if isinstance(items, list) else [(items, where)]
            for item, item_path in pairs:
                if item is not None:
                    yield item, item_path
                    yield from body_items(item, item_path)


def _item_lists(kind, body, path):
    """The item lists of one body with their paths (a branch may also be a single item)."""
    if kind == "layers":
        return [(body, path)] if body is not None else []
    if kind == "dense":
        return [(body.get("layers"), path + ("layers",))] if isinstance(body, dict) else []
    if kind == "parallel":
        return [(branch, path + (k,)) for k, branch in enumerate(body)] if isinstance(body, list) else []
    return [(body.get(part), path + (part,)) for part in ("body", "shortcut")] if isinstance(body, dict) else []
