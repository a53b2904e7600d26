"""A picture as Graphviz DOT text: HTML-like labels, op families as colours, scopes as
nested clusters, merges as ellipses so branches visibly meet."""
from __future__ import annotations

from archspec.draw.picture import Cluster, Picture, dims, title_markup
from archspec.draw.style import cluster_fill, colours

FONT = "Helvetica"


def to_dot(pic: Picture) -> str:
    lines = [
        f"digraph {_q(pic.title)} {{",
        f'  graph [rankdir=TB, fontname="{FONT}", fontsize=14, labelloc=t, nodesep=0.25, ranksep=0.3, '
        f"label={_label_title(pic.title)}];",
        f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=10, penwidth=1, margin="0.12,0.05"];',
        '  edge [arrowsize=0.6, color="#555555", penwidth=0.9];',
    ]
    lines += _cluster(pic, pic.root, 1, _branch_rows(pic))
    lines += [f"  {_q(a)} -> {_q(b)}" + (f' [label=<{_esc(label)}>, fontsize=9]' if label else "") + ";"
              for a, b, label in pic.edges]
    return "\n".join(lines + ["}"]) + "\n"


def _branch_rows(pic: Picture) -> list[list[str]]:
    """The first layers of parallel branches, in spec order (dot would reorder them freely)."""
    targets: dict[str, list[str]] = {}
    for a, b, _ in pic.edges:
        if pic.boxes[b].kind in ("op", "block"):
            targets.setdefault(a, []).append(b)
    return [row for row in targets.values() if len(row) > 1]


def _cluster(pic: Picture, cluster: Cluster, depth: int, rows: list) -> list[str]:
    pad = "  " * depth
    out = [pad + _node(pic.boxes[b]) for b in cluster.boxes]
    mine = set(cluster.boxes)
    for row in rows:
        if all(b in mine for b in row):
            chain = " -> ".join(_q(b) for b in row)
            out.append(f"{pad}{{rank=same; {chain} [style=invis];}}")
    for child in cluster.children:
        out.append(f"{pad}subgraph {_q('cluster_' + child.path)} {{")
        out.append(f'{pad}  label=<<b>{_esc(child.label)}</b>>; labeljust=l; fontsize=11; style="rounded,filled"; '
                   f'fillcolor="{cluster_fill(depth)}"; color="#9aa5b1";')
        out += _cluster(pic, child, depth + 1, rows)
        out.append(pad + "}")
    return out


def _node(box) -> str:
    fill, border = colours(box.family)
    title = title_markup(box, _esc)
    rows = [title] + [f'<font point-size="9">{_esc(d)}</font>' for d in box.details]
    rows.append(f'<font color="#444444">{_esc(dims(box.type))}</font>')
    shape = {"merge": "ellipse", "input": "oval", "output": "oval", "parameter": "cylinder", "buffer": "note"}.get(box.kind)
    extra = f", shape={shape}" if shape else ""
    if box.kind == "block":
        extra += ', style="rounded,filled,bold"'
    return f'{_q(box.id)} [label=<{"<br/>".join(rows)}>, fillcolor="{fill}", color="{border}"{extra}];'


def _label_title(title: str) -> str:
    return f"<<b>{_esc(title)}</b>>"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
