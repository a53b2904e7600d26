"""Typed values, learnable tensors, broadcasting, dotted wiring, sharing, tying and freezing,
each against a hand-written PyTorch module: the same state_dict (loaded strictly), the same
parameter count, the same outputs."""
from __future__ import annotations

import json
import textwrap
from collections import OrderedDict

import torch
from torch import nn

import archspec
from archspec import plugins
from archspec.compiler.emit import example_inputs


def build(text: str, **params):
    return archspec.build(textwrap.dedent(text), **params)


def assert_same(built, reference, *xs):
    """Strict load of the reference's weights, equal outputs, equal parameter counts."""
    built.load_state_dict(reference.state_dict(), strict=True)
    built.eval(), reference.eval()
    assert sum(p.numel() for p in built.parameters()) == sum(p.numel() for p in reference.parameters()) == built.report.params
    with torch.no_grad():
        got, want = built(*xs), reference(*xs)
    for a, b in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,), strict=True):
        torch.testing.assert_close(a, b)


TOKENS = """\
archspec: 1
name: tokens
input:
  tokens: {shape: [$block_size], dtype: int64, range: [3, $vocab]}
  mask: {shape: [$block_size], dtype: bool}
params: {block_size: 6, vocab: 11}
outputs: [ids, flags]
layers:
  - {id: ids, identity, from: tokens}
  - {id: flags, identity, from: mask}
"""


def test_int_inputs_are_declared_checked_and_made_in_their_range():
    report = archspec.check(TOKENS)
    assert report.ok and [(t.shape, t.dtype) for t in report.input_types.values()] == [((6,), "int64"), ((6,), "bool")]
    tokens, mask = example_inputs(report, batch=50, seed=1)
    assert tokens.dtype == torch.int64 and tokens.shape == (50, 6) and 3 <= int(tokens.min()) and int(tokens.max()) < 11
    assert set(tokens.unique().tolist()) == set(range(3, 11)) and mask.dtype == torch.bool
    module = archspec.build(TOKENS)
    ids, flags = module(tokens, mask)
    assert torch.equal(ids, tokens) and torch.equal(flags, mask)
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["input_dtypes"] == {"tokens": "int64", "mask": "bool"} and data["output_dtypes"] == {"ids": "int64", "flags": "bool"}
    assert data["nodes"][0] == {"name": "ids", "op": "identity", "shape": [6], "params": 0, "macs": 0, "dtype": "int64"}
    assert "ids    identity  [6] int64" in report.table() and "input: tokens [6] int64, mask [6] bool" in report.table()


def test_a_float_op_refuses_an_int_value_at_its_line():
    report = archspec.check(TOKENS.replace("{id: ids, identity, from: tokens}", "{id: ids, linear: 4, from: tokens}"))
    (d,) = report.diagnostics
    assert (d.loc.line, d.message) == (9, "linear: expects a float input, found int64 tokens [6]")


VIT_LIKE = """\
archspec: 1
name: vit_like
input: [4, 8]
blocks:
  scaled:
    params: {}
    layers:
      - {id: fc, linear: 8}
      - {id: layer_scale, parameter: {shape: ["${input.c}", 1], init: constant, value: 0.5}}
      - {mul, from: [fc, layer_scale]}
layers:
  - {id: class_token, parameter: {shape: [1, 1, 8]}}
  - {concat: 1, from: [class_token, input]}
  - id: encoder
    layers:
      - {id: pos_embedding, parameter: {shape: [1, 5, 8], init: trunc_normal, std: 0.02}}
      - {add, from: [input, pos_embedding]}
  - {id: stages, layers: [{id: 0, scaled}, {id: 1, scaled}]}
  - {id: index, buffer: {shape: [5, 1], init: arange, dtype: int64, persistent: false}}
  - {id: ones, buffer: {shape: [8], init: ones}}
  - {id: out, add, from: [stages, ones]}
  - {id: picked, identity, from: index}
outputs: [out, picked]
"""


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.layer_scale = nn.Parameter(torch.full((5, 1), 0.5))

    def forward(self, x):
        return self.fc(x) * self.layer_scale


class VitLike(nn.Module):
    """torchvision's VisionTransformer idiom: class_token expanded over the batch, a position table."""

    def __init__(self):
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, 8))
        self.encoder = nn.Module()
        self.encoder.pos_embedding = nn.Parameter(torch.empty(1, 5, 8).normal_(std=0.02))
        self.stages = nn.Sequential(Scaled(), Scaled())
        self.register_buffer("index", torch.arange(5).reshape(5, 1), persistent=False)
        self.register_buffer("ones", torch.ones(8))

    def forward(self, x):
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.stages(x + self.encoder.pos_embedding) + self.ones, self.index


def test_learnable_and_constant_tensors_sit_at_their_paths():
    built, reference = build(VIT_LIKE), VitLike()
    assert sorted(built.state_dict()) == sorted(reference.state_dict())  # `index` is not persistent: not in it
    assert "stages.1.layer_scale" in built.state_dict() and "index" not in built.state_dict()
    assert torch.equal(built.index, torch.arange(5).reshape(5, 1)) and isinstance(built.class_token, nn.Parameter)
    assert torch.equal(built.get_parameter("stages.1.layer_scale"), torch.full((5, 1), 0.5))
    for p in (reference.class_token, reference.stages[0].layer_scale):
        p.data.normal_()  # so that the tensors' values matter
    assert_same(built, reference, torch.randn(3, 4, 8))
    assert built.report.params == 8 + 40 + 2 * (72 + 5)  # buffers are not parameters
    rows = {r.name: r for r in built.report.rows()}
    assert rows["class_token"].type.batched is False and rows["index"].type.dtype == "int64"
    assert "class_token            parameter  [1, 1, 8] no batch" in built.report.table()


def test_a_squeeze_excitation_gate_is_a_broadcasting_mul_at_any_input_size():
    spec = """\
    archspec: 1
    name: se
    input: [8, $size, $size]
    params: {size: 16}
    layers:
      - {id: conv, conv2d: {out: 8, kernel: 3, padding: 1}}
      - {id: se, layers: [{id: avgpool, adaptive_avgpool2d: 1}, {id: fc1, conv2d: {out: 2, kernel: 1}}, relu,
                          {id: fc2, conv2d: {out: 8, kernel: 1}}, sigmoid]}
      - {mul, from: [conv, se]}
    """

    class SE(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(8, 8, 3, padding=1)
            self.se = nn.Sequential()
            self.se.add_module("avgpool", nn.AdaptiveAvgPool2d(1))
            self.se.add_module("fc1", nn.Conv2d(8, 2, 1))
            self.se.add_module("2", nn.ReLU())
            self.se.add_module("fc2", nn.Conv2d(2, 8, 1))
            self.se.add_module("4", nn.Sigmoid())

        def forward(self, x):
            y = self.conv(x)
            return y * self.se(y)

    reference = SE()
    built = build(spec)
    assert_same(built, reference, torch.randn(2, 8, 16, 16))
    assert_same(built, reference, torch.randn(2, 8, 32, 32))  # built at 16, run at 32: the gate is not tied to a size


def test_dotted_references_tap_inside_a_backbone_and_blocks_take_two_inputs():
    spec = """\
    archspec: 1
    name: taps
    input: [3, 8, 8]
    blocks:
      up:
        params: {}
        inputs: [x, skip]
        layers:
          - {id: up, from: x, conv_transpose2d: {out: "${skip.c}", kernel: 2, stride: 2}}
          - {concat, from: [skip, up]}
          - {id: conv, conv2d: {out: 4, kernel: 1}}
    layers:
      - id: backbone
        layers:
          - {conv2d: {out: 4, kernel: 3, padding: 1}}
          - relu
          - {id: down, layers: [{maxpool2d: 2}, {id: c, conv2d: {out: 6, kernel: 1}}]}
      - {id: head, up, from: [backbone, backbone.1]}
      - {id: aux, from: backbone.down.c, flatten}
    outputs: [head, aux, backbone.0]
    """

    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.up, self.conv = nn.ConvTranspose2d(6, 4, 2, stride=2), nn.Conv2d(8, 4, 1)

        def forward(self, x, skip):
            return self.conv(torch.cat([skip, self.up(x)], 1))

    class Taps(nn.Module):  # IntermediateLayerGetter's idea: outputs taken from inside the backbone
        def __init__(self):
            super().__init__()
            down = nn.Sequential(OrderedDict(zip(["0", "c"], [nn.MaxPool2d(2), nn.Conv2d(4, 6, 1)])))
            self.backbone = nn.Sequential(OrderedDict(zip(["0", "1", "down"], [nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), down])))
            self.head = Up()

        def forward(self, x):
            first = self.backbone[0](x)
            relu = self.backbone[1](first)
            deep = self.backbone.down(relu)
            return self.head(deep, relu), deep.flatten(1), first

    assert_same(build(spec), Taps(), torch.randn(2, 3, 8, 8))


def test_several_outputs_of_one_op_are_addressed_by_index():
    from tests.compiler.test_contract import doc_op

    spec = """\
    archspec: 1
    name: parts
    input: [6]
    layers:
      - {id: parts, halves: 3}
      - {id: first, linear: 2}                 # the chain reads output 0
      - {id: total, add, from: [first, parts.2]}
    outputs: [total, parts.1]
    """
    with plugins.restoring():
        doc_op("halves")
        built = build(spec)
        report = built.report
        bad = archspec.check(textwrap.dedent(spec).replace("parts.2]", "parts.3]").replace("[total, parts.1]", "[total, first.0]"))
    assert report.output_shapes == {"total": (2,), "parts.1": (2,)}
    x = torch.randn(2, 6)
    total, middle = built(x)
    torch.testing.assert_close(total, built.first(x[:, :2]) + x[:, 4:])
    torch.testing.assert_close(middle, x[:, 2:4])
    assert [d.message for d in bad.diagnostics] == [
        "from: 'parts' is an op (halves) with 3 outputs: name one as parts.0 ... parts.2, found 'parts.3'",
        "outputs: 'first' is an op (linear) with one output, so 'first.0' names nothing: refer to it as 'first'"]


SHARED_BLOCK = """\
archspec: 1
name: shared_block
input: [4]
blocks:
  mlp:
    params: {}
    layers: [{id: fc, linear: 4}, relu]
layers:
  - {id: enc, mlp}
  - {id: again, share: enc}
  - {id: lm, linear: {out: 4, bias: false}, tie: {weight: enc.fc.weight}}
  - {id: head, linear: 2, trainable: false}
"""


class SharedBlock(nn.Module):
    def __init__(self):
        super().__init__()
        block = nn.Module()
        block.fc, block.relu = nn.Linear(4, 4), nn.ReLU()
        self.enc = self.again = block
        self.lm = nn.Linear(4, 4, bias=False)
        self.lm.weight = self.enc.fc.weight
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        block = self.enc
        x = block.relu(block.fc(block.relu(block.fc(x))))
        return self.head(self.lm(x))


def test_a_shared_block_a_tied_weight_and_a_frozen_layer_are_torchs():
    built, reference = build(SHARED_BLOCK.replace(", relu]", ", {id: relu, relu}]")), SharedBlock()
    assert list(built.state_dict()) == list(reference.state_dict()) == [
        "enc.fc.weight", "enc.fc.bias", "again.fc.weight", "again.fc.bias", "lm.weight", "head.weight", "head.bias"]
    assert_same(built, reference, torch.randn(3, 4))
    assert built.again.fc.weight.data_ptr() == built.enc.fc.weight.data_ptr() == built.lm.weight.data_ptr()
    assert built.report.params == 20 + 10 and built.report.trainable_params == 20
    assert [n for n, p in built.named_parameters() if not p.requires_grad] == ["head.weight", "head.bias"]
    table = built.report.table()
    assert table.splitlines()[3].split() == ["name", "op", "output", "shape", "params", "trainable", "MACs"]
    assert "again.fc    linear (shares enc.fc)  [4]                0          0    16" in table


def test_sharing_needs_inputs_that_give_the_same_weights():
    """A shared Linear(4, 4) fed 2 features would need other weights: refused at the share."""
    spec = SHARED_BLOCK.replace("  - {id: again, share: enc}", "  - {linear: 2}\n  - {id: again, share: enc}")
    (d,) = archspec.check(spec).diagnostics
    assert (d.loc.line, d.message) == (11, "share: 'enc' (linear) was built for input [4]; this use's input [2] would need "
                                           "other weights")


def test_the_notes_shared_layer_is_one_tensor_under_two_names():
    """specs/d2l/shared_mlp.yaml (its parameters, strict load and outputs are tests/test_specs.py's):
    the two uses are one nn.Linear, so a step on one is a step on the other, as in the notes."""
    from pathlib import Path

    built = archspec.build(str(Path(__file__).resolve().parents[2] / "specs" / "d2l" / "shared_mlp.yaml"))
    first, second = built.get_submodule("2"), built.get_submodule("4")
    assert first is second and first.weight.data_ptr() == second.weight.data_ptr()
    assert built.report.params == sum(p.numel() for p in built.parameters()) == 121
    with torch.no_grad():
        first.weight[0, 0] = 100.0
    assert built.state_dict()["4.weight"][0, 0] == 100.0


def test_a_repeated_two_input_block_feeds_each_copy_the_last_output_and_the_same_skip():
    spec = """\
    archspec: 1
    name: repeated
    input: [4]
    blocks:
      mix:
        params: {}
        inputs: [x, skip]
        layers: [{add, from: [x, skip]}, {id: fc, linear: 4}]
    layers:
      - {id: a, linear: 4}
      - {id: stack, mix, from: [a, input], repeat: 2}
    """
    built = build(spec)
    x = torch.randn(3, 4)
    a = built.a(x)
    one = built.get_submodule("stack.0.fc")(a + x)
    torch.testing.assert_close(built(x), built.get_submodule("stack.1.fc")(one + x))


def test_a_single_named_input_is_an_id_from_can_name():
    """`input: {tokens: ...}` names its one input as several inputs are named: `from: tokens`
    reads it after other items, as GPT's positions read the tokens after the embedding."""
    spec = """\
archspec: 1
input: {tokens: {shape: [6], dtype: int64, range: [0, 10]}}
layers:
  - {id: wte, embedding: {num: 10, dim: 4}}
  - {id: pos, positions, from: tokens}
  - {id: wpe, embedding: {num: 6, dim: 4}}
  - {add, from: [wte, wpe]}
"""
    report = archspec.check(spec)
    assert report.ok, [d.message for d in report.diagnostics]
    assert list(report.output_shapes.values()) == [(6, 4)]
