"""How what an item made in the IR reads in the editor: its value's shape, the name of each
expansion (a block body's item is expanded once per call), parameters and MACs."""
from __future__ import annotations

from archspec.compiler.infer import show
from archspec.compiler.ir import Graph, Made, Ref
from archspec.report import human

MAX_SHAPES = 3  # distinct shapes an inlay hint lists before "…"


def shape_text(graph: Graph, ref: Ref) -> str | None:
    """'[64, 56, 56]', with the dtype when it is not float32; None when the value failed."""
    t = graph.type_of(ref)
    if t is None:
        return None
    text = show(t.shape)
    if t.dtype != "float32":
        text += f" {t.dtype}"
    if not t.batched:
        text += " (no batch dim)"
    return text


def totals(graph: Graph, nodes: list[str]) -> tuple[int, int]:
    """(parameters, MACs per sample) over `nodes`."""
    params = macs = 0
    for name in nodes:
        p, m = graph.counts_of(name)
        params, macs = params + p, macs + m
    return params, macs


def counts_text(graph: Graph, nodes: list[str]) -> str:
    params, macs = totals(graph, nodes)
    return f"{params:,} params · {human(macs)} MACs"


def expansion_name(graph: Graph, made: Made) -> str:
    """The module path of one expansion: its node, the scope its nodes share, or (when it made
    none) the scope it was expanded in."""
    if len(made.nodes) == 1:
        return made.nodes[0]
    if not made.nodes:
        return made.scope.rstrip(".") or "top level"
    parts = [name.split(".") for name in made.nodes]
    common = []
    for column in zip(*parts):
        if len(set(column)) > 1:
            break
        common.append(column[0])
    return ".".join(common) or "top level"


def call_params(graph: Graph, made: Made) -> dict:
    """The params of the block call that this expansion is inside (the innermost); {} at the top level."""
    parts = made.scope.rstrip(".").split(".")
    for k in range(len(parts), 0, -1):
        called = graph.blocks.get(".".join(parts[:k]))
        if called is not None:
            return called[1]
    return {}


def hint_text(graph: Graph, made: list[Made]) -> str | None:
    """The shapes an item's expansions produce, distinct, in order (bounded); None when none checked."""
    shapes = list(dict.fromkeys(s for m in made if (s := shape_text(graph, m.value)) is not None))
    if not shapes:
        return None
    more = " | …" if len(shapes) > MAX_SHAPES else ""
    return " | ".join(shapes[:MAX_SHAPES]) + more
