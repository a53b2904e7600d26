"""Checked graph -> torch.fx.GraphModule whose submodule paths are the spec's names.

Module ops become `call_module` nodes at their module path (so state_dict keys are the
spec's ids); tensors of the model's state (parameters, buffers) are registered at their path
and read with `get_attr`; functional ops (merges) are recorded by running their torch code on
fx proxies. A node with several outputs is indexed as its op unpacks it. The generated
forward is plain Python with no interpretation overhead.
"""
from __future__ import annotations

import re

import torch
import torch.fx as fx
from torch.fx.proxy import GraphAppendingTracer

from archspec.compiler.ir import Ref


def emit(report) -> "SpecModule":
    """The module of a valid report, built from its graph."""
    g = report.graph
    graph = fx.Graph()
    tracer = GraphAppendingTracer(graph)
    root = torch.nn.Module()
    values: dict[Ref, fx.Node] = {}
    inputs = g.input_names()
    for name in inputs:
        values[Ref(name)] = graph.placeholder("x" if len(inputs) == 1 else name)
    made_by: dict[str, object] = {}  # node -> the module or tensor it made (shared by the nodes that share it)
    for name in g.ops():
        data, refs = g.nodes[name], g.inputs_of(name)
        op, args = data["op"], tuple(values[r] for r in refs)
        owner = data.get("shares")
        made = made_by[owner] if owner else op.module(data["args"], [g.shape_of(r) for r in refs])
        made_by[name] = made
        if isinstance(made, torch.Tensor):  # an nn.Parameter or nn.Buffer: registered by setattr
            _install(root, name, made)
            result = fx.Proxy(graph.get_attr(name), tracer)
        elif made is not None:
            _install(root, name, made)
            result = fx.Proxy(graph.call_module(name, args), tracer)
        else:
            result = op.apply(data["args"], *(fx.Proxy(a, tracer) for a in args))
        outputs = op.unpack(data["args"], result, len(data["types"]))
        for k, value in enumerate(outputs):
            values[Ref(name, k)] = value.node
    _freeze_and_tie(g, made_by)
    outputs = [values[ref] for ref in g.outputs]
    graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    graph.lint()
    module = SpecModule(root, graph, report)
    for path, sub in root.named_modules():  # GraphModule copies buffers as persistent ones
        for leaf in sub._non_persistent_buffers_set:
            owner = module.get_submodule(path)
            owner.register_buffer(leaf, getattr(owner, leaf), persistent=False)
    return module


def _freeze_and_tie(g, made_by: dict) -> None:
    """requires_grad off for what `trainable: false` made; then each tied parameter becomes the
    very tensor it is tied to (keeping that tensor's trainability)."""
    for name in g.ops():
        data, made = g.nodes[name], made_by[name]
        if data.get("frozen") and not data.get("shares") and made is not None:
            for p in [made] if isinstance(made, torch.Tensor) else made.parameters():
                p.requires_grad_(False)
    for name in g.ops():
        for own, (node, theirs) in g.nodes[name].get("ties", {}).items():
            target = made_by[node] if theirs is None else getattr(made_by[node], theirs)
            setattr(made_by[name], own, target)


class SpecModule(fx.GraphModule):
    """What archspec.build returns: a GraphModule whose forward is the spec's graph and whose
    `report` is the check it was built from (shapes, counts, the IR). The report travels with
    the module because its users (export, training) are handed the module and need those facts
    without checking the spec again."""

    def __init__(self, root: torch.nn.Module, graph: fx.Graph, report):
        super().__init__(root, graph, class_name=class_name(report.spec.name))
        self.report = report


def _install(root: torch.nn.Module, path: str, module) -> None:
    """Put a module, parameter or buffer at its dotted path, making plain modules for the scopes above it."""
    *parents, leaf = path.split(".")
    owner = root
    for part in parents:
        child = owner._modules.get(part)
        if child is None:
            child = torch.nn.Module()
            owner.add_module(part, child)
        owner = child
    setattr(owner, leaf, module)  # nn.Module's setattr registers a module, an nn.Parameter or an nn.Buffer


def example_inputs(report, batch: int = 2, seed: int = 0, device=None) -> tuple:
    """Random inputs of the spec's declared types, one per input, with a batch dim: floats from
    a normal; int64 inputs drawn from their `range` (valid token ids), bools either way."""
    gen = torch.Generator().manual_seed(seed)
    g = report.graph
    out = []
    for name, t in report.input_types.items():
        size = (batch, *t.shape)
        if t.dtype == "float32":
            x = torch.randn(size, generator=gen)
        elif t.dtype == "int64":
            low, high = g.nodes[name]["range"]
            x = torch.randint(low, high, size, generator=gen)
        else:
            x = torch.randint(0, 2, size, generator=gen).bool()
        out.append(x.to(device) if device is not None else x)
    return tuple(out)


def class_name(name: str) -> str:
    """A Python class name for a spec or block name: resnet18 -> Resnet18, d2l-net -> D2lNet."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    joined = "".join(w[:1].upper() + w[1:] for w in words if w)
    return joined if joined[:1].isalpha() else "Net" + joined
