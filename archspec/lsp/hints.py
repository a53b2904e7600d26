"""Inlay hints: each item's output shape, right after the item when it is written on one line,
at the end of its first line when it spans several (a sub-list's or a block-style mapping's first
line names it; its last line belongs to its last child)."""
from __future__ import annotations

from lsprotocol import types as lsp

from archspec.lsp.analysis import position
from archspec.lsp.values import counts_text, hint_text
from archspec.lsp.view import View


def inlay_hints(view: View, first_line: int, last_line: int) -> list[lsp.InlayHint]:
    a = view.analysis
    g = a.graph
    if g is None:
        return []
    hints = []
    for item in a.items:
        made = a.expansions(item)
        text = hint_text(g, made) if made else None
        if text is None:
            continue
        start, end = a.range(item.path)
        at = end if end[0] == start[0] else (start[0], len(a.lines[start[0]].rstrip()))
        at = view.new(at)
        if at is None or not first_line <= at[0] <= last_line:
            continue
        nodes = [n for m in made for n in m.nodes]
        hints.append(lsp.InlayHint(position(at), text, kind=lsp.InlayHintKind.Type, padding_left=True,
                                   tooltip=counts_text(g, nodes) if nodes else "dropped: passes its input on"))
    return hints
