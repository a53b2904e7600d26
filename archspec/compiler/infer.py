"""The type pass, node by node: run an op's pure-Python shape rule on its inputs' shapes and
store the output types on the node. It runs as expansion adds each node, because later items'
expressions (`if: ${input.c != planes}`) read the shapes before them. A failure becomes a
located diagnostic that names the node and every input shape, and the node an error node."""
from __future__ import annotations

from archspec.compiler.ir import ERROR, Type
from archspec.errors import Code, Diagnostic
from archspec.ops.base import ShapeRuleError

MAX_ELEMENTS = 2**63 - 1  # the most elements a torch tensor can index


def fits(shape) -> bool:
    """Whether a shape of positive ints has at most MAX_ELEMENTS elements (cheap for huge dims)."""
    total = 1
    for d in shape:
        total *= d
        if total > MAX_ELEMENTS:
            return False
    return True


def show(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def infer(graph, name: str) -> Diagnostic | None:
    """Set the `types` of op node `name`; or return the problem, the node made an error node."""
    data = graph.nodes[name]
    op = data["op"]
    try:
        shape = tuple(op.shape(data["args"], [graph.shape_of(r) for r in graph.inputs_of(name)]))
    except ShapeRuleError as e:
        return failed(graph, name, e)
    problem = None
    if any(not isinstance(d, int) or d < 1 for d in shape):
        problem = Diagnostic(data["loc"], Code.SHAPE, f"{op.name}: output shape {show(shape)} has a size < 1", list(data["notes"]))
    elif not fits(shape):
        problem = Diagnostic(data["loc"], Code.TOO_LARGE, f"{op.name}: output shape has more than 2^63 - 1 elements, "
                             "more than a torch tensor can hold", list(data["notes"]))
    if problem:
        data["kind"] = ERROR
        return problem
    data["types"] = (Type(shape),)
    return None


def failed(graph, name: str, error: ShapeRuleError) -> Diagnostic:
    """The diagnostic for an op rule that refused node `name`'s inputs; the node becomes an error node."""
    data = graph.nodes[name]
    data["kind"] = ERROR
    op, refs = data["op"], graph.inputs_of(name)
    message = str(error)
    if not message.startswith(op.name):
        message = f"{op.name}: {message}"
    inputs = ", ".join(f"{graph.label(r)} is {show(graph.shape_of(r))}" for r in refs)
    listed = ", ".join(show(graph.shape_of(r)) for r in refs)
    if len(refs) > 1 and message.endswith(listed):
        message = message[: -len(listed)] + inputs  # name each input beside its shape
    notes = [f"at node '{name}': input{'s' if len(refs) > 1 else ''} {inputs}", *data["notes"]]
    return Diagnostic(data["loc"], Code.SHAPE, message, notes)
