"""A picture as Mermaid flowchart text (renders in GitHub and GitLab markdown as is)."""
from __future__ import annotations

from archspec.draw.picture import Cluster, Picture, dims, title_markup
from archspec.draw.style import colours


def to_mermaid(pic: Picture) -> str:
    ids = {box_id: f"n{k}" for k, box_id in enumerate(pic.boxes)}
    lines = ["---", f"title: {_text(pic.title)}", "---", "flowchart TB"]
    families = sorted({box.family for box in pic.boxes.values()})
    for family in families:
        fill, border = colours(family)
        lines.append(f"  classDef {family} fill:{fill},stroke:{border},color:#111")
    counter = iter(range(1 << 30))
    lines += _cluster(pic, pic.root, ids, counter, 1)
    lines += [f"  {ids[a]} -->" + (f"|{_text(label)}|" if label else "") + f" {ids[b]}" for a, b, label in pic.edges]
    return "\n".join(lines) + "\n"


def _cluster(pic: Picture, cluster: Cluster, ids: dict, counter, depth: int) -> list[str]:
    pad = "  " * depth
    out = [pad + _node(pic.boxes[b], ids[b]) for b in cluster.boxes]
    for child in cluster.children:
        out.append(f'{pad}subgraph c{next(counter)}["{_text(child.label)}"]')
        out += _cluster(pic, child, ids, counter, depth + 1)
        out.append(f"{pad}end")
    return out


def _node(box, node_id: str) -> str:
    title = title_markup(box, _text)
    label = "<br/>".join([title, *(_text(d) for d in box.details), _text(dims(box.type))])
    open_, close = {"merge": ("((", "))"), "input": ("([", "])"), "output": ("([", "])"), "parameter": ("[(", ")]"),
                    "buffer": ("[/", "/]")}.get(box.kind, ("[", "]"))
    return f'{node_id}{open_}"{label}"{close}:::{box.family}'


def _text(text: str) -> str:
    """Mermaid labels are quoted; quotes and angle brackets become entities."""
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
