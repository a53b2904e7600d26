"""The shape pass for one node: run its op's pure-Python rule on its input shapes and
store shape, parameter and MAC counts on the node. Failures become located diagnostics
that name the node and every input shape."""
from __future__ import annotations

from archspec.errors import Diagnostic
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


def infer(node) -> Diagnostic | None:
    """Fill node.shape/params/macs; return a diagnostic instead when the inputs do not fit."""
    shapes = [v.shape for v in node.inputs]
    try:
        node.shape = tuple(node.op.shape(node.args, shapes))
        node.params = node.op.params(node.args, shapes)
        node.macs = node.op.macs(node.args, shapes, node.shape)
    except ShapeRuleError as e:
        message = str(e)
        if not message.startswith(node.op.name):
            message = f"{node.op.name}: {message}"
        inputs = ", ".join(f"{v.ref} is {show(v.shape)}" for v in node.inputs)
        listed = ", ".join(show(v.shape) for v in node.inputs)
        if len(node.inputs) > 1 and message.endswith(listed):
            message = message[: -len(listed)] + inputs  # name each input beside its shape
        notes = [f"at node '{node.name}': input{'s' if len(node.inputs) > 1 else ''} {inputs}", *node.notes]
        return Diagnostic(node.loc, "shape", message, notes)
    bad = [d for d in node.shape if not isinstance(d, int) or d < 1]
    if bad:
        return Diagnostic(node.loc, "shape", f"{node.op.name}: output shape {show(node.shape)} has a size < 1", list(node.notes))
    if not fits(node.shape):
        return Diagnostic(node.loc, "too-large", f"{node.op.name}: output shape has more than 2^63 - 1 elements, "
                          "more than a torch tensor can hold", list(node.notes))
    return None

