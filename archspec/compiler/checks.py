"""The checks that need the whole graph: values nobody uses, inputs never read, and an
`inplace: true` that would overwrite a value something else still reads. Knows nothing about
particular ops."""
from __future__ import annotations

from archspec.compiler.ir import INPUT, OP, Graph
from archspec.errors import Code, Diagnostic


def check_graph(graph: Graph) -> list[Diagnostic]:
    """Dangling outputs and unused inputs: a spec whose values go nowhere is a mistake."""
    returned = {ref.node for ref in graph.outputs} | graph.graph.get("spare", set())  # a block's other outputs may go unread
    returned |= {node for n in graph.ops() for node, _ in graph.nodes[n].get("ties", {}).values()}  # a tie uses its target
    problems = []
    for name, data in graph.nodes(data=True):
        if graph.out_degree(name) or name in returned or data["kind"] not in (INPUT, OP):
            continue
        if data["kind"] == INPUT:
            problems.append(Diagnostic(data["loc"], Code.UNUSED_INPUT, f"input '{name}' is never used"))
        else:
            problems.append(Diagnostic(data["loc"], Code.UNUSED, f"the output of '{name}' ({data['op'].name}) is never used: "
                                       "name it in a later from:, in outputs:, or remove it", list(data["notes"])))
    return problems + inplace_conflicts(graph, returned)


def inplace_conflicts(graph: Graph, returned: set) -> list[Diagnostic]:
    """An op with `inplace: true` overwrites its input: wrong values (or a failed backward)
    when anything else reads that input too, as a shortcut or a parallel branch does."""
    problems = []
    for name in graph.ops():
        data = graph.nodes[name]
        if data["args"].get("inplace") is not True:
            continue
        inputs = graph.inputs_of(name)
        if len(inputs) != 1:
            continue
        source = inputs[0].node
        readers = [n for n in graph.successors(source) if n != name and graph.nodes[n]["kind"] == OP]
        others = [_describe(graph, n) for n in readers] + ["the outputs"] * (source in returned)
        if others:
            shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
            verb = "reads" if len(others) == 1 and readers else "read"
            problems.append(Diagnostic(data["loc"], Code.INPLACE, f"{data['op'].name}: inplace: true would overwrite "
                                       f"'{source}', which {shown} also {verb}: drop inplace here", list(data["notes"])))
    return problems


def _describe(graph: Graph, name: str) -> str:
    return f"'{name}' ({graph.nodes[name]['op'].name})"
