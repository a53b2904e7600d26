"""The IR is one networkx graph: expansion's nodes and ordered input edges, the passes' results
on the nodes, and nothing kept beside it."""
from __future__ import annotations

import networkx as nx
import torch

import archspec
from archspec.compiler.ir import ERROR, INPUT, OP, Graph, Ref, Type
from archspec.errors import Loc
from archspec.ops.base import Op

TWICE = """\
archspec: 1
name: twice
input: [3, 4]
params: {width: 5}
blocks:
  lin:
    params: {out: required}
    layers: [{id: fc, linear: $out}]
layers:
  - {id: proj, lin: {out: $width}}
  - {add, from: [proj, proj]}
"""


def test_the_report_holds_the_graph_and_the_passes_results_are_on_its_nodes():
    report = archspec.check(TWICE)
    g = report.graph
    assert report.ok and isinstance(g, nx.DiGraph)
    assert list(g.nodes) == ["input", "proj.fc", "1"] and g.ops() == ["proj.fc", "1"]
    fc = g.nodes["proj.fc"]
    assert (fc["kind"], fc["op"].name, fc["args"], fc["loc"]) == (OP, "linear", {"out": 5, "bias": True}, Loc("<spec>", 8, 14))
    assert fc["notes"] == ("in block 'lin' called at <spec>:10:5 (proj)",)
    assert fc["types"] == (Type((3, 5), "float32", True),) and (fc["params"], fc["macs"]) == (4 * 5 + 5, 3 * 4 * 5)
    assert g.nodes["input"]["kind"] == INPUT and g.type_of(Ref("input")) == Type((3, 4))
    assert g.spec_params == {"width": 5} and g.outputs == [Ref("1")] and g.blocks == {"proj": ("lin", {"out": 5})}
    assert report.params == 25 and report.output_shapes == {"1": (3, 5)}


def test_an_op_reading_one_value_twice_has_an_edge_per_input():
    report = archspec.check(TWICE)
    g = report.graph
    edges = sorted(g.in_edges("1", keys=True, data=True))
    assert edges == [("proj.fc", "1", 0, {"index": 0, "role": "inputs", "output": 0}),
                     ("proj.fc", "1", 1, {"index": 1, "role": "inputs", "output": 0})]
    assert g.inputs_of("1") == [Ref("proj.fc"), Ref("proj.fc")]
    module = archspec.build(TWICE)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(module(x), 2 * module.proj.fc(x))


def test_a_failed_item_is_an_error_node_that_keeps_what_it_read():
    report = archspec.check(TWICE.replace("{add, from: [proj, proj]}", "{conv2d: {out: 2, kernel: 3}}"))
    g = report.graph
    assert [d.code for d in report.diagnostics] == ["shape"]
    assert g.nodes["1"]["kind"] == ERROR and "types" not in g.nodes["1"] and g.type_of(Ref("1")) is None
    assert g.inputs_of("1") == [Ref("proj.fc")] and g.ops() == ["proj.fc"]


class Attention(Op):
    """An op with three roles and two outputs, as attention and LSTM will have."""

    name = "attention_like"
    roles = ("query", "key", "value")


def test_the_data_model_holds_roles_several_outputs_and_batch_free_values():
    g = Graph()
    x = g.add_input("tokens", Type((7,), "int64"))
    table = g.add_input("table", Type((7, 8), batched=False))
    g.add_op("att", Attention(), {}, [table, x, table], Loc("s", 1, 1), ())
    g.nodes["att"]["types"] = (Type((7, 8)), Type((7, 7), "float32", True))
    assert [(d["index"], d["role"], u) for u, _, d in sorted(g.in_edges("att", data=True), key=lambda e: e[2]["index"])] \
        == [(0, "query", "table"), (1, "key", "tokens"), (2, "value", "table")]
    assert g.inputs_of("att") == [table, x, table]
    assert g.type_of(Ref("att", 1)).shape == (7, 7) and g.label(Ref("att", 1)) == "att.1"
    assert g.type_of(table).batched is False and g.type_of(x).dtype == "int64"
    assert g.label(x) == "tokens"
