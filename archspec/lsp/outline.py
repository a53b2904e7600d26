"""A spec's items as its author wrote them: each layer list's items, nested in sub-lists and
combinators, at the top level and in every block's body, and the ids `from:` can see from
each. Read from the parsed YAML alone (no expansion), so it works on a spec with errors."""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.lang.schema import COMBINATORS, ITEM_KEYS


@dataclass(eq=False)
class Item:
    """One item of a layer list: where it is (its YAML path), what it says, and its context."""

    path: tuple
    data: object
    parent: Item | None  # the item whose body holds this one; None for a list's root items
    block: str | None  # the block whose body holds it; None at the top level
    earlier: tuple = ()  # the items before it in its own list
    children: list = field(default_factory=list)

    @property
    def head(self) -> str | None:
        """Its op, block or combinator name (the first key that is not an item key)."""
        if isinstance(self.data, str):
            return self.data
        if isinstance(self.data, dict):
            return next((k for k in self.data if isinstance(k, str) and k not in ITEM_KEYS), None)
        return None

    @property
    def id(self):
        value = self.data.get("id") if isinstance(self.data, dict) else None
        return value if isinstance(value, (str, int)) and not isinstance(value, bool) else None

    def visible(self) -> list[Item]:
        """The earlier items with an id that `from:` can name from here, innermost list first."""
        out, item = [], self
        while item is not None:
            out += [e for e in reversed(item.earlier) if e.id is not None]
            item = item.parent
        return out


@dataclass
class Outline:
    top: list[Item]  # the top-level layers
    blocks: dict[str, list[Item]]  # block name -> the items of its body
    inputs: list[str]  # the names of a spec's inputs (`input` alone, or a mapping's keys)

    def all(self) -> list[Item]:
        """Every item, each list's items before their children."""
        out: list[Item] = []

        def walk(items):
            for item in items:
                out.append(item)
                walk(item.children)

        for items in [*self.blocks.values(), self.top]:
            walk(items)
        return out


def outline(data) -> Outline:
    if not isinstance(data, dict):
        return Outline([], {}, ["input"])
    blocks = {}
    for name, block in (data.get("blocks") if isinstance(data.get("blocks"), dict) else {}).items():
        kind = next((k for k in COMBINATORS if k in block), None) if isinstance(block, dict) else None
        blocks[name] = _body(kind, block[kind], ("blocks", name, kind), None, str(name)) if kind else []
    inputs = list(data["input"]) if isinstance(data.get("input"), dict) else ["input"]
    return Outline(_list(data.get("layers"), ("layers",), None, None), blocks, [str(k) for k in inputs])


def _body(kind, body, path, parent, block) -> list[Item]:
    """The items directly inside a sub-list or combinator body (its branches' items, in order)."""
    if kind == "layers":
        return _list(body, path, parent, block)
    if kind == "dense" and isinstance(body, dict):
        return _list(body.get("layers"), path + ("layers",), parent, block)
    if kind == "parallel" and isinstance(body, list):
        return [item for j, branch in enumerate(body) for item in _branch(branch, path + (j,), parent, block)]
    if kind == "residual" and isinstance(body, dict):
        return [item for key in ("body", "shortcut") if key in body for item in _branch(body[key], path + (key,), parent, block)]
    return []


def _branch(body, path, parent, block) -> list[Item]:
    """A branch is a list of items or a single item (as expansion reads it)."""
    if isinstance(body, list):
        return _list(body, path, parent, block)
    return [_item(body, path, parent, block, ())] if isinstance(body, (dict, str)) else []


def _list(items, path, parent, block) -> list[Item]:
    out: list[Item] = []
    for k, data in enumerate(items if isinstance(items, list) else []):
        out.append(_item(data, path + (k,), parent, block, tuple(out)))
    return out


def _item(data, path, parent, block, earlier) -> Item:
    item = Item(path, data, parent, block, earlier)
    head = item.head
    if head in COMBINATORS and isinstance(data, dict):
        item.children = _body(head, data[head], path + (head,), item, block)
    return item
