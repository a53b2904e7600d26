"""Go to definition (a block call to its block, an id in `from:` or `outputs:` to its item, a
`$param` to its declaration) and the spec's outline as document symbols."""
from __future__ import annotations

import re

from lsprotocol import types as lsp

from archspec.lang.schema import COMBINATORS
from archspec.lsp.analysis import Analysis, lsp_range
from archspec.lsp.outline import Item
from archspec.lsp.values import hint_text
from archspec.lsp.view import View
from archspec.ops import registry

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def definition(view: View, at, uri: str) -> lsp.Location | None:
    a = view.analysis
    old = view.old(at)
    if old is None or a.spec is None:
        return None
    span = a.span_at(old)
    item = a.item_at(old)
    if span is not None and _calls_block(item, span) and item.head in a.spec.imported and item.head not in a.outline.blocks:
        return _imported(a.spec.imported[item.head], item.head)
    target = _target(a, span, item, old) if span is not None else None
    if target is None:
        return None
    start, end = view.new(target[0]), view.new(target[1])
    return lsp.Location(uri, lsp_range(start, end)) if start and end else None


def _target(a: Analysis, span, item: Item | None, at):
    """The (start, end) that the key or value under the cursor refers to, or None."""
    path = span.path
    blocks = a.outline.blocks
    if item is not None and item.head in blocks and _calls_block(item, span):
        return a.range(("blocks", item.head), key=True)
    value = _value_at(a, path)
    # an id in `from:` (of an item) or in `outputs:` (top level)
    if item is not None and path[:len(item.path) + 1] == item.path + ("from",) and not span.key:
        return _id_target(a, item.visible(), value)
    if path[:1] == ("outputs",) and len(path) == 2:
        return _id_target(a, [i for i in reversed(a.outline.top)], value)
    # a $param inside a string value, or an item's `$param` head (the param names its block)
    head = span.key and isinstance(path[-1], str) and path[-1].startswith("$")
    if isinstance(value, str) and "$" in value and not span.key or head:
        name = _name_at(a, span, at)
        block = path[1] if path[:1] == ("blocks",) and len(path) > 1 else None
        if block is not None and name in _params(a.spec.data["blocks"].get(block)):
            return a.range(("blocks", block, "params", name), key=True)
        if name in _params(a.spec.data):
            return a.range(("params", name), key=True)
    return None


def _calls_block(item: Item | None, span) -> bool:
    """The cursor is on a block call's name: its head key, or a bare block name as the item."""
    return item is not None and (span.path == item.path + (item.head,) and span.key or span.path == item.path and isinstance(item.data, str))


def _imported(library, name: str) -> lsp.Location:
    """Where block `name` is defined in the library file it is imported from."""
    from pathlib import Path

    start = library.locate(("blocks", name), key=True)
    line, col = start.line - 1, max(start.col - 1, 0)
    return lsp.Location(Path(library.path).as_uri(), lsp_range((line, col), (line, col + len(str(name)))))


def _params(body) -> dict:
    """The `params:` mapping of a spec or a block (empty when there is none, or it is malformed)."""
    params = body.get("params") if isinstance(body, dict) else None
    return params if isinstance(params, dict) else {}


def _value_at(a: Analysis, path):
    value = a.spec.data
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _id_target(a: Analysis, visible: list[Item], name):
    found = next((i for i in visible if i.id is not None and str(i.id) == str(name)), None)
    return a.range(found.path + ("id",)) if found is not None else None


def _name_at(a: Analysis, span, at) -> str | None:
    """The identifier under the cursor in a value's text (`planes` in `${stride != 1 or input.c != planes}`)."""
    text = a.lines[at[0]]
    for m in NAME.finditer(text):
        if m.start() <= at[1] <= m.end() and (at[0], m.start()) >= span.start and text[max(0, m.start() - 1)] != ".":
            return m.group()
    return None


# ---- document symbols ---------------------------------------------------------------------
def symbols(view: View) -> list[lsp.DocumentSymbol]:
    a = view.analysis
    if a.spec is None:
        return []
    out = []
    for name, items in a.outline.blocks.items():
        start, end = a.range(("blocks", name))
        key = a.range(("blocks", name), key=True)
        symbol = _symbol(view, str(name), "block", lsp.SymbolKind.Class, (key[0], end), key, [_item(view, i) for i in items])
        out += [symbol] if symbol else []
    return out + [s for s in (_item(view, i) for i in a.outline.top) if s]


def _item(view: View, item: Item) -> lsp.DocumentSymbol | None:
    a = view.analysis
    head = item.head
    if head in registry():
        kind = lsp.SymbolKind.Function
    elif head in COMBINATORS:
        kind = lsp.SymbolKind.Array if head != "layers" else lsp.SymbolKind.Namespace
    else:
        kind = lsp.SymbolKind.Object
    name = str(item.id) if item.id is not None else str(head)
    shape = hint_text(a.graph, a.expansions(item)) if a.graph is not None else None
    detail = " ".join(x for x in ((str(head) if item.id is not None else ""), shape or "") if x)
    where = a.range(item.path)
    chosen = a.range(item.path + ("id",)) if item.id is not None else where
    children = [s for s in (_item(view, child) for child in item.children) if s]
    return _symbol(view, name, detail, kind, where, chosen, children)


def _symbol(view, name, detail, kind, where, chosen, children) -> lsp.DocumentSymbol | None:
    start, end, sel_start, sel_end = (view.new(p) for p in (*where, *chosen))
    if None in (start, end):
        return None
    if sel_start is None or sel_end is None or not start <= sel_start <= sel_end <= end:
        sel_start, sel_end = start, start
    return lsp.DocumentSymbol(name or "?", kind, lsp_range(start, end), lsp_range(sel_start, sel_end), detail=detail or None,
                              children=children or None)
