"""What a picture of a checked spec shows, independent of the drawing format: boxes (inputs,
layers, merges, collapsed blocks, outputs) with their labels, edges between them, and the
nesting of scopes as clusters. Pure Python: drawing a spec never imports torch."""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.compiler.ir import Ref, Type
from archspec.ops.base import REQUIRED



@dataclass
class Box:
    id: str
    kind: str  # "input", "op", "merge", "parameter", "buffer", "block" (a collapsed scope) or "output"
    title: str
    details: list[str]
    type: Type | None
    family: str  # colour group: the op's family (conv, norm, activation, ...), or the kind

    @property
    def shape(self) -> tuple | None:
        return self.type.shape if self.type else None


@dataclass
class Cluster:
    path: str
    label: str
    boxes: list[str] = field(default_factory=list)
    children: list["Cluster"] = field(default_factory=list)
    block: bool = False  # the scope of a block call: its frame names the block, even around one box

    def size(self) -> int:
        return len(self.boxes) + sum(c.size() for c in self.children)


@dataclass
class Picture:
    title: str
    boxes: dict[str, Box]
    edges: list[tuple[str, str, str]]  # (from, to, label): the label names which output of several it carries
    root: Cluster


def title_markup(box, escape) -> str:
    """A box's title for an HTML-like label: the name bold before 'name: op', or the whole
    title bold for inputs, outputs and blocks. `escape` is the target format's text escaper."""
    if ": " in box.title:
        name, op = box.title.split(": ", 1)
        return f"<b>{escape(name)}</b>: {escape(op)}"
    if box.kind in ("input", "output", "block"):
        return f"<b>{escape(box.title)}</b>"
    return escape(box.title)


def dims(t) -> str:
    """A value's type as a box shows it: 3×32×32, with its dtype unless float32 and `no batch`."""
    if t is None:
        return "?"
    words = ([] if t.dtype == "float32" else [t.dtype]) + ([] if t.batched else ["no batch"])
    return " ".join(["×".join(str(d) for d in t.shape) or "scalar", *words])


def picture(report, depth: int | None = None) -> Picture:
    """The picture of a valid report; scopes deeper than `depth` become one box each."""
    g = report.graph
    blocks = g.blocks
    nodes = g.ops()
    rep = {n: _cut(n, depth) for n in nodes}
    for name in report.input_shapes:
        rep[name] = name
    boxes: dict[str, Box] = {}
    for name, t in report.input_types.items():
        boxes[name] = Box(name, "input", name, [], t, "input")
    members: dict[str, list] = {}
    for n in nodes:
        if rep[n] == n:
            boxes[n] = _op_box(g, n)
        else:
            members.setdefault(rep[n], []).append(n)
    edges = _edges(g, rep)
    for path, inside in members.items():
        boxes[path] = _block_box(g, path, inside)
    for k, ref in enumerate(g.outputs):
        out = "output" if len(g.outputs) == 1 else f"output {k + 1}"
        boxes[out] = Box(out, "output", out if len(g.outputs) == 1 else f"output: {g.label(ref)}", [],
                         g.type_of(ref), "output")
        edges.append((rep[ref.node], out, _output_label(g, ref)))
    title = _title(report)
    root = Cluster("", title)
    clusters = {"": root}
    for box_id in boxes:
        if boxes[box_id].kind in ("input", "output"):
            root.boxes.append(box_id)
            continue
        parent = _cluster_for(box_id, clusters, blocks, depth)
        parent.boxes.append(box_id)
    _drop_singletons(root)
    return Picture(title, boxes, list(dict.fromkeys(edges)), root)


def _cut(name: str, depth: int | None) -> str:
    parts = name.split(".")
    return name if depth is None or len(parts) <= depth else ".".join(parts[:depth])


def _edges(g, rep) -> list[tuple[str, str, str]]:
    out = []
    for u, v, data in g.edges(data=True):
        a, b = rep.get(u, u), rep.get(v, v)
        if a != b:
            labels = (_output_label(g, Ref(u, data["output"])) if a == u else "", _role_label(g, v, data["role"]) if b == v else "")
            out.append((a, b, ": ".join(label for label in labels if label)))
    return list(dict.fromkeys(out))


def _role_label(g, node: str, role: str | None) -> str:
    """What an input is to its op, where the op's inputs mean different things (attention's
    query, key, value and mask; matmul's left and right)."""
    op = g.nodes[node].get("op")
    return role if op is not None and role and not op.variadic and len(op.roles) > 1 else ""


def _output_label(g, ref: Ref) -> str:
    """Which output an edge carries, where its node has several: the op's name for it, or its index."""
    data = g.nodes[ref.node]
    if len(data.get("types") or ()) < 2:
        return ""
    names = data["op"].outputs
    return names[ref.output] if len(set(names)) == len(names) >= len(data["types"]) else str(ref.output)


def _op_box(g, name: str) -> Box:
    data = g.nodes[name]
    op = data["op"]
    local = name.rsplit(".", 1)[-1]
    kind = "merge" if op.variadic else op.name if not op.roles else "op"  # parameters and buffers: boxes of their own
    title = op.name if local.isdigit() or local == op.name else f"{local}: {op.name}"
    details = _args(op, data["args"]) + ([f"shares {data['shares']}"] if data.get("shares") else []) + \
        [f"{own} = {node}{'.' + theirs if theirs else ''}" for own, (node, theirs) in data.get("ties", {}).items()] + \
        (["frozen"] if data.get("frozen") and data.get("params") else [])
    return Box(name, kind, title, details, g.type_of(Ref(name)), op.family)


def _args(op, args: dict) -> list[str]:
    """The arguments that differ from their defaults (output channels show in the shape)."""
    shown = []
    for arg in op.args:
        if arg.name in ("out", "shape") or arg.name not in args:
            continue
        value = args[arg.name]
        if arg.default is not REQUIRED:
            try:
                if arg.type.check(arg.default) == value:
                    continue
            except ValueError:
                pass
        shown.append(f"{arg.name}={_value(value)}")
    return _wrap(shown)


def _wrap(items: list[str]) -> list[str]:
    """Short `k=v` items, a few to a line."""
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) > 26:
            lines.append(line)
            line = ""
        line = f"{line} {item}".strip()
    return lines + [line] if line else lines


def _value(value) -> str:
    if isinstance(value, tuple) and value and len(set(value)) == 1:
        value = value[0]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "×".join(map(str, value))
    return str(value)


def _block_box(g, path: str, inside: list[str]) -> Box:
    """A collapsed scope: its block (or what it is made of), parameter total and output shape."""
    blocks = g.blocks
    params = sum(g.nodes[n]["params"] for n in inside)
    last = _exit_node(g, inside) or inside[-1]
    block = blocks.get(path)
    details = _wrap([f"{k}={_value(tuple(v) if isinstance(v, list) else v)}" for k, v in block[1].items()]) if block else []
    if block:
        what = block[0]
    else:
        depth = path.count(".") + 1
        called = [name for p, (name, _) in blocks.items() if p.startswith(path + ".") and p.count(".") == depth]
        parts = {n.split(".")[depth] for n in inside if n.count(".") >= depth}
        same = len(set(called)) == 1 and len(called) == len(parts)
        what = f"{len(called)} × {called[0]}" if same else f"{len(inside)} layers"
    local = path.rsplit(".", 1)[-1]
    return Box(path, "block", f"{local}: {what}", details + [f"{params:,} params"], g.type_of(Ref(last)), "block")


def _exit_node(g, inside: list[str]) -> str | None:
    """The node whose value leaves a collapsed scope: the last one no node inside reads."""
    read = {r.node for n in inside for r in g.inputs_of(n)}
    unread = [n for n in inside if n not in read]
    return unread[-1] if unread else None


def _title(report) -> str:
    spec = report.spec
    params = ", ".join(f"{k}={v}" for k, v in report.graph.spec_params.items())
    head = f"{spec.name}({params})" if params else spec.name
    return f"{head} · {report.params:,} parameters"


def _cluster_for(box_id: str, clusters: dict, blocks: dict, depth) -> Cluster:
    parts = box_id.split(".")
    parent = clusters[""]
    for k in range(1, len(parts)):
        path = ".".join(parts[:k])
        if path not in clusters:
            block = blocks.get(path)
            label = path
            if block:
                args = ", ".join(f"{a}={_value(tuple(v) if isinstance(v, list) else v)}" for a, v in block[1].items())
                label = f"{path} · {block[0]}({args})" if args else f"{path} · {block[0]}"
            cluster = Cluster(path, label, block=block is not None)
            clusters[path] = cluster
            parent.children.append(cluster)
        parent = clusters[path]
    return parent


def _drop_singletons(cluster: Cluster) -> None:
    """A plain scope around one box adds a frame and no information: lift its box out."""
    kept = []
    for child in cluster.children:
        _drop_singletons(child)
        if child.size() <= 1 and not child.block:
            cluster.boxes += child.boxes  # its own children were lifted into it already
        else:
            kept.append(child)
    cluster.children = kept
