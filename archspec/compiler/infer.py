"""The type pass, node by node: run an op's pure-Python type rule on its inputs' types and
store the output types on the node. It runs as expansion adds each node, because later items'
expressions (`if: ${input.c != planes}`) read the shapes before them. A failure becomes a
located diagnostic that names the node and every input's type, and the node an error node."""
from __future__ import annotations

from archspec.compiler.ir import DTYPES, ERROR, Type
from archspec.errors import Code, Diagnostic
from archspec.ops.base import InputError, ShapeRuleError

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


def show_type(t: Type) -> str:
    """A type as the check's table writes it: the shape, then the dtype unless float32 and
    `no batch` for a batch-free value: `[16] int64`, `[1, 1, 768] no batch`."""
    words = ([] if t.dtype == "float32" else [t.dtype]) + ([] if t.batched else ["no batch"])
    return " ".join([show(t.shape), *words])


def infer(graph, name: str) -> Diagnostic | None:
    """Set the `types` of op node `name` (and its args as the op binds them); or return the
    problem, the node made an error node."""
    data = graph._node[name]  # networkx's own dict: the view costs more, once per node
    op, args = data["op"], data["args"]
    ts = [graph.type_of(r) for r in graph.inputs_of(name)]
    try:
        result = op.type(args, ts)
        types = (result,) if isinstance(result, Type) else result
        if not isinstance(types, tuple) or len(types) != op.n_outputs(args) or not all(map(_valid, types)):
            raise ShapeRuleError(f"{op.name}: its type rule gave {result!r}, not {op.n_outputs(args)} "
                                 "Type(shape, dtype, batched) (a bug in the op)")
    except ShapeRuleError as e:
        return failed(graph, name, e)
    for t in types:
        problem = _bad_shape(op, t.shape, data)
        if problem:
            data["kind"] = ERROR
            return problem
    data["types"] = types if all(type(t.shape) is tuple for t in types) else \
        tuple(Type(tuple(t.shape), t.dtype, t.batched) for t in types)
    data["args"] = op.bind(args, ts)
    return None


def _bad_shape(op, shape, data) -> Diagnostic | None:
    for d in shape:
        if type(d) is not int:
            return Diagnostic(data["loc"], Code.SHAPE, f"{op.name}: output shape {show(shape)} holds a size that is "
                              "not an integer", list(data["notes"]))
        if d < 1:
            return Diagnostic(data["loc"], Code.SHAPE, f"{op.name}: output shape {show(shape)} has a size < 1", list(data["notes"]))
    if not fits(shape):
        return Diagnostic(data["loc"], Code.TOO_LARGE, f"{op.name}: output shape has more than 2^63 - 1 elements, "
                          "more than a torch tensor can hold", list(data["notes"]))
    return None


def _valid(t) -> bool:
    return isinstance(t, Type) and isinstance(t.shape, (tuple, list)) and t.dtype in DTYPES and isinstance(t.batched, bool)


def failed(graph, name: str, error: ShapeRuleError) -> Diagnostic:
    """The diagnostic for an op rule that refused node `name`'s inputs; the node becomes an error node."""
    data = graph.nodes[name]
    data["kind"] = ERROR
    op, refs = data["op"], graph.inputs_of(name)
    if isinstance(error, InputError) and error.index < len(refs):
        message = error.render(graph.label(refs[error.index]))
    else:
        message = str(error)
    if not message.startswith(op.name):
        message = f"{op.name}: {message}"
    types = [graph.type_of(r) for r in refs]
    inputs = ", ".join(f"{graph.label(r)} is {show_type(t)}" for r, t in zip(refs, types))
    listed = ", ".join(show(t.shape) for t in types)
    if len(refs) > 1 and listed in message:
        message = message.replace(listed, inputs, 1)  # name each input beside its shape
    notes = [f"at node '{name}': input{'s' if len(refs) > 1 else ''} {inputs}"] if refs else []
    return Diagnostic(data["loc"], Code.SHAPE, message, notes + list(data["notes"]))
