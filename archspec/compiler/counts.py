"""The count pass: parameters and multiply-accumulates of every op node, from its op's
pure-Python rules, stored on the node; the report sums them. Weights are counted once, as
torch's parameters() counts them: a node that shares another's module has none of its own,
and a tied parameter belongs to the item it is tied to."""
from __future__ import annotations

from archspec.compiler.infer import failed
from archspec.errors import Diagnostic
from archspec.ops.base import ShapeRuleError


def count(graph) -> list[Diagnostic]:
    """Set `params` and `macs` on every op node; a rule that fails is a located problem."""
    problems = []
    for name in graph.ops():
        data = graph.nodes[name]
        op, args = data["op"], data["args"]
        shapes = [graph.shape_of(r) for r in graph.inputs_of(name)]
        try:
            data["params"] = 0 if data.get("shares") else op.params(args, shapes) - data.get("tied", 0)
            data["macs"] = op.macs(args, shapes, data["types"][0].shape)
        except ShapeRuleError as e:
            problems.append(failed(graph, name, e))
    return problems
