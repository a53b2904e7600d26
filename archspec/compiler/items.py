"""Reading one item: its head (an op, a block or a combinator), its body and its modifiers,
the keys that do not fit together, and what an unknown head was probably meant to be."""
from __future__ import annotations

import re

from archspec.diagnostics import closest, did_you_mean
from archspec.errors import Code
from archspec.lang.expr import ExprError, resolve
from archspec.lang.schema import ITEM_KEYS, SHARE
from archspec.ops.base import describe


def split(ex, item, path, names, input_rank=lambda: None):
    """(head, body, modifiers) of an item; the head is an op, a block or a combinator, or a
    `$param` that names a block or an op."""
    if isinstance(item, str):
        item = {item: None}
    if not isinstance(item, dict):
        raise ex.fail(path, Code.TYPE, f"expected an item (an op name or a mapping), found {item!r}")
    heads = [k for k in item if k not in ITEM_KEYS]
    if not heads:
        raise ex.fail(path, Code.NO_OP, "this item has no op: expected an op, a block, or layers/parallel/residual/dense")
    if isinstance(heads[0], str) and heads[0].startswith("$"):
        chosen = chosen_head(ex, heads[0], path, names)
        item = {**{k: v for k, v in item.items() if k != heads[0]}, chosen: item[heads[0]]}
        heads = [chosen] + heads[1:]
    for head in heads:
        if head not in ex.heads:
            raise ex.fail(path + (head,), Code.UNKNOWN_OP, f"unknown op or block '{head}'{suggest(ex, head, input_rank())}", key=True)
    if len(heads) > 1:
        raise ex.fail(path + (heads[1],), Code.TWO_OPS, f"an item has one op or block, found '{heads[0]}' and '{heads[1]}' (put them in separate items)", key=True)
    head = heads[0]
    if "merge" in item and head not in ("parallel", "residual"):
        raise ex.fail(path + ("merge",), Code.BAD_KEY, "merge: belongs to parallel or residual items", key=True)
    if item.get("inline") and (head in ex.ops or head == SHARE or "repeat" in item and "id" in item):
        raise ex.fail(path + ("inline",), Code.BAD_KEY, "inline: applies to blocks, sub-lists and combinators (without repeat + id)", key=True)
    if "tie" in item and head not in ex.ops:
        raise ex.fail(path + ("tie",), Code.BAD_KEY, "tie: belongs to op items (it names parameters of the op's module)", key=True)
    if "trainable" in item and head == SHARE:
        raise ex.fail(path + ("trainable",), Code.BAD_KEY, "trainable: belongs to the item that defines a shared module, "
                        "not to a use of it", key=True)
    local = item.get("id")  # the schema reports one problem per item, so a bad id may get here
    if local is not None and (isinstance(local, bool) or not isinstance(local, (str, int))):
        raise ex.fail(path + ("id",), Code.TYPE, f"id: expected a name or an integer, found {describe(local)}")
    return head, item[head], {k: item[k] for k in ITEM_KEYS if k in item}


def chosen_head(ex, head: str, path, names) -> str:
    """The block or op a `$param` head names (torchvision's `ResNet(block, layers)`)."""
    try:
        name = resolve(head, names)
    except ExprError as e:
        raise ex.fail(path + (head,), Code.EXPR, f"{head}: {e} (an item's head `$param` names a block or an op)",
                      key=True) from None
    choices = sorted(set(ex.blocks) | set(ex.ops))
    if not isinstance(name, str) or name not in choices:
        raise ex.fail(path + (head,), Code.UNKNOWN_OP, f"{head} is {name!r}: expected the name of a block or an op"
                      f"{did_you_mean(name, choices) if isinstance(name, str) else ''}", key=True)
    return name


def suggest(ex, head, rank) -> str:
    """' (did you mean ...?)' for an unknown head; for conv, norm and pool ops the one made
    for an input of this rank (batchnorm on [C, H, W]: batchnorm2d)."""
    best = closest(head, ex.heads | set(ITEM_KEYS))
    stem = best[:-2] if best and re.search("[123]d$", best) else None
    sizes = [f"{stem}{n}d" for n in (1, 2, 3) if f"{stem}{n}d" in ex.ops] if stem else []
    fits = f"{stem}{min(max(rank - 1, 1), 3)}d" if stem and rank is not None else None
    if fits in sizes:
        best = fits
    elif len(sizes) > 1:  # the input's rank is unknown: each size, named
        named = [f"'{s}'" for s in sizes]
        return f" (did you mean {', '.join(named[:-1])} or {named[-1]}, for an input of 1, 2 or 3 spatial dims?)"
    return f" (did you mean '{best}'?)" if best else ""
