"""References to values: what `from:`, `outputs:` and `share:` name.

A reference is an id seen from where it is written (this list's ids, an enclosing list's, a
named input, `input`), then a dotted path into it: into a sub-list, combinator or block call
by the module path of its entries (`backbone.4`, `layer3.1.relu`); the last part after an op
with several outputs is an output index (`parts.1`), or the output's name where the op names
each apart (`lstm.h_n`). So a dotted suffix of a scope is a child path, and of an op node an
output.
"""
from __future__ import annotations

from archspec.compiler.ir import OP, Ref
from archspec.diagnostics import closest, did_you_mean
from archspec.errors import Code, Diagnostic


class Fail(Exception):
    """One item's problem, already located; None when it is reported elsewhere (the item is skipped)."""

    def __init__(self, diagnostic: Diagnostic | None, consumed: list | None = None):
        self.diagnostic = diagnostic
        self.consumed = consumed  # the values the failed item read, so they don't look unused


def reference(ex, name, env, where, key: str) -> Ref:
    """The value `name` refers to from `env`; Fail (located at `where`) when there is none."""
    return walk(ex, name, env, where, key)[0]


def walk(ex, name, env, where, key: str) -> tuple[Ref, str | None]:
    """(the value, the module path of the item that makes it, None for an input or a failed item)."""
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise ex.fail(where, Code.UNKNOWN_ID, f"{key}: expected an id, found {name!r}")
    parts = str(name).split(".") if isinstance(name, str) else [name]
    first = int(parts[0]) if isinstance(name, str) and parts[0].isdigit() and parts[0] not in env.ids else parts[0]
    value, path = env.find(first)
    if value is None:
        value, path = env.find(str(first))
    if value is None:
        visible = {str(v): v for v in env.visible()}
        meant = closest(str(parts[0]), visible)
        hint = f" (did you mean '{meant}'?)" if meant else ""
        scope = " (from: names earlier items of this list or of an enclosing one)" if key == "from" else ""
        elsewhere = "" if meant else out_of_sight(ex, env, str(parts[0]))
        failure = ex.fail(where, Code.UNKNOWN_ID, f"{key}: unknown id '{parts[0]}'{hint}{elsewhere or scope}")
        failure.consumed = [env.lookup(visible[meant])] if meant else []  # the id meant is read: no `never used` for a typo
        raise failure
    g = ex.graph
    try:
        return _inside(ex, g, value, path, parts, name, where, key)
    except Fail as f:
        f.consumed = [value]  # what the reference did reach is read: no `never used` on top
        raise


def out_of_sight(ex, env, name: str) -> str:
    """Where an id this item cannot see is (a parallel branch beside it, the inside of a block
    call, a sub-list), and the dotted path that reaches it when one does; "" when it is nowhere."""
    made = [p for p in [*ex.graph.ops(), *ex.scopes] if p.rsplit(".", 1)[-1] == name]
    if not made:
        return ""
    path = made[0]
    for seen in env.visible():
        own = env.find(seen)[1]
        if own and path.startswith(own + "."):
            return f": '{name}' is {path}, inside '{seen}': name it '{seen}{path[len(own):]}'"
    loc = ex.graph.nodes[path].get("loc") if path in ex.graph else None
    at = f" (line {loc.line})" if loc else ""
    return (f": '{name}' is {path}{at}, which this item cannot see (an item sees the earlier items of its own "
            "list and of the lists around it; parallel branches and block calls keep their ids inside)")


def _inside(ex, g, value, path, parts, name, where, key):
    for k, part in enumerate(parts[1:], start=1):
        if g.type_of(value) is None:
            return value, None  # a failed item: already reported
        so_far = ".".join(str(p) for p in parts[:k])
        if path is not None and g.nodes.get(path, {}).get("kind") == OP:
            return _output(ex, g, path, so_far, parts[k:], name, where, key), path
        if path is None or path not in ex.scopes:
            raise ex.fail(where, Code.UNKNOWN_ID, f"{key}: '{so_far}' has no entries to name ({name}): it is not a "
                          "sub-list, a combinator or a block call")
        child = f"{path}.{part}"
        if g.nodes.get(child, {}).get("kind") == OP:
            value, path = Ref(child), child
        elif child in ex.scopes:
            value, path = ex.scopes[child], child
        else:
            entries = children(ex, path)
            raise ex.fail(where, Code.UNKNOWN_ID, f"{key}: '{so_far}' has no entry '{part}'{did_you_mean(part, entries)}"
                          f" (its entries: {', '.join(entries[:12]) or 'none'}{' ...' if len(entries) > 12 else ''})")
    return value, path


def _output(ex, g, node: str, so_far: str, rest: list, name, where, key: str) -> Ref:
    """Output `rest[0]` of op node `node` (what a dotted suffix of an op means)."""
    n = len(g.nodes[node]["types"])
    op = g.nodes[node]["op"]
    if n == 1:
        raise ex.fail(where, Code.UNKNOWN_ID, f"{key}: '{so_far}' is an op ({op.name}) with one output, so '{name}' "
                      "names nothing: refer to it as " + repr(so_far))
    names = op.output_names(n)
    if len(rest) == 1 and rest[0] in names:
        return Ref(node, names.index(rest[0]))
    if len(rest) != 1 or not str(rest[0]).isdigit() or int(rest[0]) >= n:
        named = f" or {', '.join(f'{so_far}.{o}' for o in names)}" if names else ""
        raise ex.fail(where, Code.UNKNOWN_ID, f"{key}: '{so_far}' is an op ({op.name}) with {n} outputs: name one as "
                      f"{so_far}.0 ... {so_far}.{n - 1}{named}, found '{name}'")
    return Ref(node, int(rest[0]))


def children(ex, path: str) -> list[str]:
    """The local names of the entries of scope `path`, in order."""
    prefix = path + "."
    names = [n[len(prefix):].split(".")[0] for n in list(ex.graph.nodes) + list(ex.scopes) if str(n).startswith(prefix)]
    return list(dict.fromkeys(names))
