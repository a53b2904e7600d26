"""Warnings: spec text that checks, but that probably does not do what its writer meant. They
are diagnostics of severity "warning": shown beside the table, never failing a check."""
from __future__ import annotations

from archspec.compiler.blocks import body_items
from archspec.errors import Code, Diagnostic

NAMED_ONCE = ("inline", "if", "repeat")  # without these an item takes one name in its list, its position


def naming_hints(spec) -> list[Diagnostic]:
    """A parallel among other items, without an id or inline: true, is a naming level of its own:
    the layers its branches name `a` are `2.a` (and so are their state_dict keys)."""
    blocks = spec.data.get("blocks") if isinstance(spec.data.get("blocks"), dict) else {}
    owners = [({"layers": spec.data.get("layers")}, ())] + [(block, ("blocks", name)) for name, block in blocks.items()]
    hints = []
    for owner, path in owners:
        for item, item_path in body_items(owner, path):
            siblings = _at(spec.data, item_path[:-1])
            if not (isinstance(item, dict) and "parallel" in item and isinstance(item_path[-1], int) and isinstance(siblings, list)
                    and len(siblings) > 1 and not any(k in item for k in ("id", *NAMED_ONCE))):
                continue
            named = _branch_ids(item["parallel"])
            if not named:
                continue
            k = item_path[-1]
            exact = all(not (isinstance(s, dict) and any(key in s for key in NAMED_ONCE)) for s in siblings[:k])
            where = f"'{k}.{named[0]}'" if exact else f"'<its position>.{named[0]}'"
            hints.append(Diagnostic(spec.locate(item_path + ("parallel",), key=True), Code.NAMING_LEVEL,
                                    f"this parallel is a naming level: its layers are named under its position ({where}, "
                                    f"not '{named[0]}'), and so are their state_dict keys; add inline: true to name them "
                                    "in this list, or an id: to name the level", severity="warning"))
    return hints


def _branch_ids(branches) -> list:
    items = [x for b in branches for x in (b if isinstance(b, list) else [b])] if isinstance(branches, list) else []
    return [x["id"] for x in items if isinstance(x, dict) and isinstance(x.get("id"), (str, int))]


def _at(data, path):
    for part in path:
        data = data[part]
    return data
