"""Completion while a spec is typed, when its text is usually not YAML yet: the context comes
from the current line (and the lines above it), the names from the last analysis that could
read the spec (a View): op names with their docs, the arguments of the op being written,
block names and their params, the ids `from:` can see, and `$params`."""
from __future__ import annotations

import re

from lsprotocol import types as lsp

from archspec.lang.schema import COMBINATORS, ITEM_KEYS
from archspec.lsp.outline import Item
from archspec.lsp.values import shape_text
from archspec.lsp.view import View
from archspec.ops import registry
from archspec.ops.base import REQUIRED

TAIL = 500  # characters of the line before the cursor that are read
PARAM = re.compile(r"\$(\{[^{}]*?)?[A-Za-z_0-9]*$")
FROM = re.compile(r"(?:^|[\s{,])(from|outputs):\s*(\[[^\[\]]*)?$")
KEY_BEFORE_BRACE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):\s*$")
KEY_LINE = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][A-Za-z0-9_]*):\s*(?:#.*)?$")
WORD = re.compile(r"[A-Za-z_0-9]*$")
ITEM_START = re.compile(r"^(\s*)(-\s+)?")


def completions(view: View | None, lines: list[str], at) -> list[lsp.CompletionItem]:
    line = lines[at[0]] if at[0] < len(lines) else ""
    before = line[max(0, at[1] - TAIL):at[1]]
    partial = WORD.search(before).group()
    head = before[:len(before) - len(partial)]
    block, visible = _place(view, lines, at) if view is not None else (None, [])
    if PARAM.search(before):
        return _params(view, block, expression="${" in before[before.rfind("$"):])
    if FROM.search(head):
        return _ids(view, visible)
    owner, keys_given = _enclosing_key(head, lines, at)
    if owner is not None:
        return _arguments(view, owner, keys_given)
    if _key_position(head):
        return _heads(view)
    return []


# ---- where the cursor is ------------------------------------------------------------------
def _enclosing_key(head: str, lines, at) -> tuple[str | None, set]:
    """The key whose mapping the cursor is in (`conv2d` in `conv2d: {out: 8, k|` or on an indented
    line below `conv2d:`), with the keys written there already; (None, set()) elsewhere."""
    depth = 0
    for k in range(len(head) - 1, -1, -1):
        c = head[k]
        if c in "}]":
            depth += 1
        elif c in "{[":
            if depth:
                depth -= 1
                continue
            if c == "[":
                return None, set()
            m = KEY_BEFORE_BRACE.search(head[:k])
            if m is None or not _key_position(head):
                return None, set()
            return m.group(1), set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*:", head[k + 1:]))
    if head.strip() or at[0] == 0:  # block style: only indentation before the word
        return None, set()
    indent = len(head)
    given = set()
    for row in range(at[0] - 1, max(-1, at[0] - 200), -1):
        text = lines[row]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        own = len(text) - len(text.lstrip())
        if own == indent:
            m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:", text)
            given |= {m.group(1)} if m else set()
            continue
        m = KEY_LINE.match(text)
        return (m.group(1), given) if own < indent and m else (None, set())
    return None, set()


def _key_position(head: str) -> bool:
    """Whether a key (or a bare op name) may be written here: after `- `, `{`, `[`, `,` or indentation."""
    stripped = head.rstrip()
    return not stripped or stripped.endswith(("{", ",", "[", "-")) or not stripped.lstrip("- ").strip()


def _place(view: View, lines, at) -> tuple[str | None, list[Item]]:
    """(the block whose body the cursor is in, the items `from:` can see from there)."""
    a = view.analysis
    if a.spec is None:
        return None, []
    old = view.old(at)
    item = a.item_at(old) if old is not None else None
    if item is not None:
        return item.block, item.visible()
    # an edited line: place it after the last item written above it
    above = [i for i in a.items if (start := view.new(a.range(i.path)[0])) is not None and start < tuple(at)]
    if not above:
        return None, []
    anchor = above[-1]
    m = ITEM_START.match(lines[at[0]] if at[0] < len(lines) else "")
    new_item = bool(m.group(2))
    column = len(m.group(0))
    for candidate in _ancestry(anchor):
        start = view.new(a.range(candidate.path)[0])
        if start is not None and start[1] == column:
            return candidate.block, ([candidate] if new_item and candidate.id is not None else []) + candidate.visible()
    return anchor.block, ([anchor] if anchor.id is not None else []) + anchor.visible()


def _ancestry(item: Item):
    while item is not None:
        yield item
        item = item.parent


# ---- what is offered ----------------------------------------------------------------------
def _heads(view: View | None) -> list[lsp.CompletionItem]:
    """The spec's own blocks first, then the ops, then the keywords (sort_text ranks them)."""
    out = []
    for name, body in _blocks(view).items():
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        doc = body.get("doc") if isinstance(body.get("doc"), str) else ""
        out.append(lsp.CompletionItem(str(name), kind=lsp.CompletionItemKind.Class, detail=f"block ({', '.join(map(str, params))})",
                                      documentation=doc or None, sort_text=f"0{name}"))
    out += [_op_item(name, op) for name, op in sorted(registry().items())]
    out += [lsp.CompletionItem(k, kind=lsp.CompletionItemKind.Keyword, detail="sub-list or combinator", sort_text=f"2{k}") for k in COMBINATORS]
    out += [lsp.CompletionItem(k, kind=lsp.CompletionItemKind.Keyword, detail="item key", sort_text=f"2{k}") for k in ITEM_KEYS]
    return out


def _op_item(name: str, op) -> lsp.CompletionItem:
    args = "\n".join(f"- `{a.name}`: {a.doc}" + ("" if a.default is REQUIRED else f" (default `{a.default}`)") for a in op.args)
    return lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Function, detail=f"op ({op.family})", sort_text=f"1{name}",
                              documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown, f"{op.doc}\n\n{args}".strip()))


def _arguments(view, owner: str, given: set) -> list[lsp.CompletionItem]:
    op = registry().get(owner)
    if op is not None:
        return [lsp.CompletionItem(a.name, kind=lsp.CompletionItemKind.Property, documentation=a.doc,
                                   detail=a.type.name + ("" if a.default is not REQUIRED else " (required)"),
                                   sort_text=f"{0 if a.required else 1}{k:03d}")
                for k, a in enumerate(op.args) if a.name not in given]
    body = _blocks(view).get(owner)
    params = body.get("params") if isinstance(body, dict) and isinstance(body.get("params"), dict) else {}
    return [lsp.CompletionItem(str(k), kind=lsp.CompletionItemKind.Property, detail=f"block param (default {v!r})"
                               if v != "required" else "block param (required)") for k, v in params.items() if k not in given]


def _ids(view, visible: list[Item]) -> list[lsp.CompletionItem]:
    a = view.analysis if view is not None else None
    out, seen = [], set()
    for item in visible:
        if str(item.id) in seen:
            continue
        seen.add(str(item.id))
        made = a.expansions(item) if a is not None and a.graph is not None else []
        shapes = [s for m in made if (s := shape_text(a.graph, m.value))]
        out.append(lsp.CompletionItem(str(item.id), kind=lsp.CompletionItemKind.Variable,
                                      detail=f"{item.head} → {shapes[0]}" if shapes else str(item.head)))
    inputs = a.outline.inputs if a is not None else ["input"]
    return out + [lsp.CompletionItem(name, kind=lsp.CompletionItemKind.Variable, detail="input") for name in inputs if name not in seen]


def _params(view, block: str | None, expression: bool) -> list[lsp.CompletionItem]:
    spec = view.analysis.spec if view is not None else None
    data = spec.data if spec is not None and isinstance(spec.data, dict) else {}
    out = []
    body = _blocks(view).get(block) if block is not None else None
    if isinstance(body, dict) and isinstance(body.get("params"), dict):
        out += [lsp.CompletionItem(str(k), kind=lsp.CompletionItemKind.Constant, detail=f"param of block {block} ({v})")
                for k, v in body["params"].items()]
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    out += [lsp.CompletionItem(str(k), kind=lsp.CompletionItemKind.Constant, detail=f"spec param ({v!r})") for k, v in params.items()]
    if expression:
        out += [lsp.CompletionItem("input", kind=lsp.CompletionItemKind.Variable, detail="the item's input: input.c, .h, .w, .shape"),
                lsp.CompletionItem("i", kind=lsp.CompletionItemKind.Variable, detail="the copy's index under repeat")]
    return out


def _blocks(view) -> dict:
    spec = view.analysis.spec if view is not None else None
    blocks = spec.blocks if spec is not None and isinstance(spec.data, dict) else None
    return {k: v for k, v in blocks.items() if isinstance(v, dict)} if isinstance(blocks, dict) else {}
