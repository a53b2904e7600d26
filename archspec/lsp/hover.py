"""Hover: on an item, its op's (or block's) doc, its output shape, parameters and MACs; on an
item of a block's body, one line per call (bounded); on an op's argument, the argument's doc."""
from __future__ import annotations

from lsprotocol import types as lsp

from archspec.lsp.analysis import Analysis, lsp_range
from archspec.lsp.outline import Item
from archspec.lsp.values import call_params, counts_text, expansion_name, shape_text
from archspec.lsp.view import View
from archspec.ops import registry
from archspec.ops.base import REQUIRED

MAX_CALLS = 8  # expansions listed one per line before "… and N more"


def hover(view: View, at) -> lsp.Hover | None:
    old = view.old(at)
    a = view.analysis
    if old is None or a.spec is None:
        return None
    item = a.item_at(old)
    if item is None:
        return None
    span = a.span_at(old)
    lines = [*_argument(item, span), *describe(a, item)]
    start, end = a.range(item.path)
    start, end = view.new(start), view.new(end)
    where = lsp_range(start, end) if start and end else None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, "\n\n".join(lines)), where)


def describe(a: Analysis, item: Item) -> list[str]:
    """Paragraphs of markdown about one item: what it is, then what it made."""
    return [_what(a, item), *_made(a, item)]


def _what(a: Analysis, item: Item) -> str:
    head = item.head
    name = f"`{item.id}`: " if item.id is not None else ""
    op = registry().get(head) if isinstance(head, str) else None
    if op is not None:
        return f"{name}**{head}** (op, {op.family}): {op.doc}"
    if head in a.outline.blocks or isinstance(head, str) and head in a.spec.imported:
        data = a.spec.blocks.get(head)
        doc = data.get("doc") if isinstance(data, dict) and isinstance(data.get("doc"), str) else ""
        library = a.spec.imported.get(head) if head not in a.outline.blocks else None
        kind = f"block of {library.file.rsplit('/', 1)[-1]}" if library is not None else "block"
        return f"{name}**{head}** ({kind}){': ' + doc if doc else ''}"
    return f"{name}**{head}**"


def _made(a: Analysis, item: Item) -> list[str]:
    g = a.graph
    if g is None:
        return ["_shapes unknown: the check stopped before expanding the spec (see its errors)_"]
    made = a.expansions(item)
    if not made:
        return ["_not expanded: its block is never called, or an error stopped the check before it_"]
    if len(made) == 1:
        nodes = made[0].nodes
        return [_one(g, made[0]) + (f" · {len(nodes)} nodes" if len(nodes) > 1 else "")]
    lines = [f"expanded {len(made)} times (per call of its block, per copy of a repeat):"]
    for m in made[:MAX_CALLS]:
        params = call_params(g, m)
        called = f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else ""
        lines.append(f"- `{expansion_name(g, m)}`{called}: {_one(g, m)}")
    if len(made) > MAX_CALLS:
        lines.append(f"- … and {len(made) - MAX_CALLS} more")
    return ["\n".join(lines)]


def _one(g, made) -> str:
    if not made.nodes:
        return f"dropped: passes its input on, `{shape_text(g, made.value) or '?'}`"
    shape = shape_text(g, made.value)
    if shape is None:
        return "failed, or not checked after an earlier error"
    return f"output `{shape}` · {counts_text(g, made.nodes)}"


def _argument(item: Item, span) -> list[str]:
    """On an op's argument name: the argument's doc, type and default."""
    op = registry().get(item.head) if isinstance(item.head, str) else None
    n = len(item.path)
    if op is None or span is None or not span.key or span.path[:n + 1] != item.path + (item.head,) or len(span.path) != n + 2:
        return []
    arg = op.arg_map.get(span.path[-1])
    if arg is None:
        return []
    default = "required" if arg.default is REQUIRED else f"default `{arg.default}`"
    return [f"argument **{arg.name}**: {arg.doc} ({arg.type.name}; {default})"]
