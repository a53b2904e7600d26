"""A picture as Mermaid flowchart text (renders in GitHub and GitLab markdown as is)."""
from __future__ import annotations

import json
import re
import unicodedata

from archspec.draw.picture import Cluster, Picture, dims, title_markup
from archspec.draw.style import colours


def to_mermaid(pic: Picture) -> str:
    ids = {box_id: f"n{k}" for k, box_id in enumerate(pic.boxes)}
    lines = ["---", f"title: {_yaml_text(pic.title)}", "---", "flowchart TB"]
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


ENTITIES = {"#": "#35;", "&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;"}
PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ (),.=+\-\[\]·]*")


def _text(text: str) -> str:
    """A label's text inside its quotes: quotes, angle brackets, backticks and '#' become entities, and
    so does every control character (a newline would end the node and start a line of its own)."""
    return "".join(ENTITIES.get(c) or (f"#{ord(c)};" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
                                       else c) for c in text)


def _yaml_text(text: str) -> str:
    """The title in the YAML front matter: as is when plainly safe, else a double-quoted scalar with every
    newline and control character escaped, so a spec's name cannot end the front matter."""
    if PLAIN.fullmatch(text):
        return text
    quoted = json.dumps(text, ensure_ascii=False)  # escapes quotes, backslashes and C0 controls
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in quoted)
