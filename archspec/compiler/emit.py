"""Checked graph -> torch.fx.GraphModule whose submodule paths are the spec's names.

Module ops become `call_module` nodes at their module path (so state_dict keys are the
spec's ids); functional ops (merges) are recorded by running their torch code on fx
proxies. The generated forward is plain Python with no interpretation overhead.
"""
from __future__ import annotations

import re

import torch
import torch.fx as fx
from torch.fx.proxy import GraphAppendingTracer


def emit(report) -> fx.GraphModule:
    graph = fx.Graph()
    tracer = GraphAppendingTracer(graph)
    root = torch.nn.Module()
    values: dict[str, fx.Node] = {}
    inputs = report.input_shapes
    for name in inputs:
        values[name] = graph.placeholder("x" if len(inputs) == 1 else name)
    for node in report.nodes:
        args = tuple(values[v.ref] for v in node.inputs)
        module = node.op.module(node.args, [v.shape for v in node.inputs])
        if module is not None:
            _install(root, node.name, module)
            values[node.name] = graph.call_module(node.name, args)
        else:
            result = node.op.apply(node.args, *(fx.Proxy(a, tracer) for a in args))
            values[node.name] = result.node
    outputs = [values[v.ref] for v in report.expanded.outputs]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    graph.lint()
    return fx.GraphModule(root, graph, class_name=_class_name(report.spec.name))


def _install(root: torch.nn.Module, path: str, module: torch.nn.Module) -> None:
    *parents, leaf = path.split(".")
    owner = root
    for part in parents:
        child = owner._modules.get(part)
        if child is None:
            child = torch.nn.Module()
            owner.add_module(part, child)
        owner = child
    owner.add_module(leaf, module)


def _class_name(name: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", name)
    joined = "".join(w[:1].upper() + w[1:] for w in words if w)
    return joined if joined[:1].isalpha() else "Net" + joined
