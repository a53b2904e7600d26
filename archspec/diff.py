"""What differs between two checked specs: nodes added, removed or changed (matched by
module path), their ops, arguments, inputs, shapes and parameters, and the totals."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

FIELDS = ("op", "args", "inputs", "shape", "params")


@dataclass
class Change:
    """One node that is only in A ('-'), only in B ('+'), or in both but different ('~')."""

    kind: str
    name: str
    a: dict | None
    b: dict | None
    fields: dict = field(default_factory=dict)  # field -> (in A, in B), for '~'

    def to_dict(self) -> dict:
        out = {"kind": {"-": "removed", "+": "added", "~": "changed"}[self.kind], "name": self.name}
        if self.a is not None:
            out["a"] = self.a
        if self.b is not None:
            out["b"] = self.b
        if self.fields:
            out["changed"] = {k: {"a": a, "b": b} for k, (a, b) in self.fields.items()}
        return out


@dataclass
class SpecDiff:
    a: object  # Report
    b: object
    changes: list[Change]

    @property
    def identical(self) -> bool:
        return not self.changes

    def count(self, kind: str) -> int:
        return sum(c.kind == kind for c in self.changes)

    def totals(self) -> dict:
        """Per total: (in A, in B)."""
        pick = {
            "nodes": lambda r: len(r.graph.ops()),
            "params": lambda r: r.params,
            "macs": lambda r: r.macs,
            "outputs": lambda r: {k: list(v) for k, v in r.output_shapes.items()},
            "inputs": lambda r: {k: list(v) for k, v in r.input_shapes.items()},
        }
        return {k: (f(self.a), f(self.b)) for k, f in pick.items()}

    def to_dict(self) -> dict:
        side = lambda r: {"name": r.spec.name, "file": r.spec.file}  # noqa: E731
        return {
            "a": side(self.a), "b": side(self.b),
            **{k: {"a": a, "b": b} for k, (a, b) in self.totals().items()},
            "added": self.count("+"), "removed": self.count("-"), "changed": self.count("~"),
            "nodes_changed": [c.to_dict() for c in self.changes],
        }


def describe(graph, name: str) -> dict:
    """An op node as plain data: what the diff compares."""
    node = graph.nodes[name]
    return {
        "op": node["op"].name,
        "args": {k: plain(v) for k, v in node["args"].items()},
        "inputs": [graph.label(r) for r in graph.inputs_of(name)],
        "shape": list(node["types"][0].shape),
        "params": node["params"],
    }


def plain(value):
    return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def diff(a, b) -> SpecDiff:
    """Compare two valid reports node by node, in the order the nodes run."""
    nodes_a = {n: describe(a.graph, n) for n in a.graph.ops()}
    nodes_b = {n: describe(b.graph, n) for n in b.graph.ops()}
    names_a, names_b = list(nodes_a), list(nodes_b)
    changes: list[Change] = []
    matcher = difflib.SequenceMatcher(None, names_a, names_b, autojunk=False)
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        changes += [Change("-", n, nodes_a[n], None) for n in names_a[i1:i2] if n not in nodes_b]
        for name in names_b[j1:j2]:
            if name not in nodes_a:
                changes.append(Change("+", name, None, nodes_b[name]))
                continue
            old, new = nodes_a[name], nodes_b[name]
            fields = {k: (old[k], new[k]) for k in FIELDS if old[k] != new[k]}
            if "args" in fields:  # only the arguments that differ (an op that changed brings its own)
                keys = [k for k in {**old["args"], **new["args"]} if old["args"].get(k, fields) != new["args"].get(k, fields)]
                fields["args"] = tuple({k: side["args"][k] for k in keys if k in side["args"]} for side in (old, new))
            if fields:
                changes.append(Change("~", name, old, new, fields))
    return SpecDiff(a, b, changes)
