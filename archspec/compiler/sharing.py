"""Weights used in more than one place: `share:` applies an earlier item's module (an op, or
a whole sub-list or block call) again, as a torch module placed twice in a Sequential is one
set of weights under two names; `tie:` makes a parameter of an op's module the very tensor
of another item (`lm_head`'s weight is `transformer.wte.weight`). Either way the state_dict
keeps every name, and the parameters are counted once."""
from __future__ import annotations

from dataclasses import replace

from archspec.compiler.infer import show
from archspec.compiler.ir import ERROR, OP, Ref
from archspec.compiler.refs import Fail, walk
from archspec.errors import Code, Diagnostic
from archspec.lang.schema import SHARE
from archspec.ops.base import prod


def share(ex, target, mods, path, env, sources, scope, local, frame) -> Ref:
    """The item `{share: target}`: the target's nodes again, on this item's input, with its modules."""
    where = path + (SHARE,)
    value, origin = walk(ex, target, env, where, SHARE)
    g = ex.graph
    if g.type_of(value) is None:
        raise Fail(ex.spec.error(where, Code.UNKNOWN_ID, f"share: '{target}' failed, so there is nothing to share"))
    if origin is None:
        raise ex.fail(where, Code.UNKNOWN_ID, f"share: '{target}' is an input, not a layer: share names an earlier item")
    is_node = g.nodes.get(origin, {}).get("kind") == OP
    members = [origin] if is_node else [n for n in g.ops() if n.startswith(origin + ".")]
    fed = g.inputs_of(origin) if is_node else ex.scope_inputs[origin]
    if is_node and not g.nodes[origin]["op"].roles:
        fed = []  # a learnable tensor reads nothing: sharing it is naming it twice
    elif len(sources) != len(fed):
        raise ex.fail(path + ("from",), Code.ARITY, f"share: '{target}' takes {len(fed)} input(s), found {len(sources)}")
    name = ex.claim(scope, local, path)
    renamed = {origin: name} if is_node else {n: name + n[len(origin):] for n in members}
    outside = dict(zip(fed, sources))
    for node in members:
        data = g.nodes[node]
        inputs = [Ref(renamed[r.node], r.output) if r.node in renamed else outside.get(r, r) for r in g.inputs_of(node)]
        owner = data.get("shares") or node
        copy_frame = replace(frame, frozen=g.nodes[owner]["frozen"])
        copy = ex.add_node(renamed[node], data["op"], dict(data["args"]), inputs, path, copy_frame, shares=owner)
        if g.type_of(copy) is None:
            return copy
        problem = _same_weights(g, renamed[node], owner, target, ex.spec.locate(path), frame)
        if problem:
            g.nodes[renamed[node]]["kind"] = ERROR
            ex.report(problem, frame)
            return copy
    if is_node:
        return Ref(name, value.output)
    for path_, v in list(ex.scopes.items()):  # the copy's sub-scopes, so dotted references reach into it
        if path_ == origin or path_.startswith(origin + "."):
            new = name + path_[len(origin):]
            ex.scopes[new] = Ref(renamed[v.node], v.output) if v.node in renamed else outside.get(v, v)
            ex.scope_inputs[new] = [outside.get(r, r) for r in ex.scope_inputs.get(path_, [])]
            if path_ in g.blocks:
                g.blocks[new] = g.blocks[path_]
    return ex.scopes[name]


def _same_weights(g, copy: str, owner: str, target, loc, frame) -> Diagnostic | None:
    """A shared module must get inputs that give it the same parameters (a conv shared across
    feature-map sizes is fine; a linear fed a different width is not)."""
    op, args = g.nodes[owner]["op"], g.nodes[owner]["args"]
    before = [g.shape_of(r) for r in g.inputs_of(owner)]
    after = [g.shape_of(r) for r in g.inputs_of(copy)]
    if op.params(args, before) == op.params(args, after):
        return None
    shown = " and ".join(show(s) for s in before)
    return Diagnostic(loc, Code.SHAPE, f"share: '{target}' ({op.name}) was built for input {shown}; this use's input "
                      f"{' and '.join(show(s) for s in after)} would need other weights", list(frame.notes))


def resolve_ties(ex, tie, path, env) -> dict:
    """`tie: {weight: other.weight}` -> {'weight': (node, parameter name or None for a learnable tensor item)}."""
    if not isinstance(tie, dict) or not tie:
        raise ex.fail(path + ("tie",), Code.TYPE, f"tie: expected a mapping {{parameter: other.parameter}}, found {tie!r}")
    ties = {}
    for own, target in tie.items():
        where = path + ("tie", own)
        if not isinstance(target, str):
            raise ex.fail(where, Code.TYPE, f"tie: expected a parameter's path such as wte.weight, found {target!r}")
        head, _, last = target.rpartition(".")
        found = None
        if head:
            value, node = walk(ex, head, env, where, "tie")
            if node is not None and g_kind(ex, node) == OP and ex.graph.nodes[node]["op"].roles:
                found = (node, last)
        if found is None:
            value, node = walk(ex, target, env, where, "tie")
            if node is None or g_kind(ex, node) != OP or ex.graph.nodes[node]["op"].roles:
                raise ex.fail(where, Code.UNKNOWN_ID, f"tie: '{target}' is not a parameter: name a layer's parameter "
                              "(wte.weight) or a learnable tensor item")
            found = (node, None)
        ties[str(own)] = found
    return ties


def g_kind(ex, node: str):
    return ex.graph.nodes.get(node, {}).get("kind")


def weights_of(g, node: str) -> dict | None:
    """Parameter name -> shape of an op node's module (a learnable tensor item: '' -> its shape)."""
    data = g.nodes[node]
    op = data["op"]
    if not op.roles:
        return {"": data["types"][0].shape} if op.params(data["args"], []) else {}
    return op.weights(data["args"], [g.shape_of(r) for r in g.inputs_of(node)])


def check_ties(ex, name: str, path) -> Diagnostic | None:
    """Each tied parameter must exist on both sides with one shape; it is then counted once."""
    g = ex.graph
    data = g.nodes[name]
    own = weights_of(g, name)
    loc = ex.spec.locate(path + ("tie",))
    if own is None:
        return Diagnostic(loc, Code.SHAPE, f"tie: {data['op'].name} does not declare its parameters' shapes, so none of them can be tied")
    for pname, (node, tname) in data["ties"].items():
        theirs = weights_of(g, node)
        label = f"{node}.{tname}" if tname else node
        if pname not in own:
            return Diagnostic(loc, Code.SHAPE, f"tie: {data['op'].name} has no parameter '{pname}' (its parameters: "
                              f"{', '.join(own) or 'none'})")
        if theirs is None or (tname or "") not in theirs:
            return Diagnostic(loc, Code.SHAPE, f"tie: '{label}' is not a parameter (parameters of '{node}': "
                              f"{', '.join(theirs or ()) or 'none'})")
        if tuple(own[pname]) != tuple(theirs[tname or ""]):
            return Diagnostic(loc, Code.SHAPE, f"tie: {pname} of '{name}' is {show(own[pname])} but '{label}' is "
                              f"{show(theirs[tname or ''])}")
    data["tied"] = sum(prod(own[p]) for p in data["ties"])
    return None
