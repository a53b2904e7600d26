"""The language's constructs, each against a hand-written torch module with the names the
reference rules promise: load_state_dict(strict=True) proves the names, equal outputs
prove the wiring."""
from __future__ import annotations

import textwrap

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import archspec


def spec(text: str) -> str:
    return textwrap.dedent(text)


def assert_same(built, reference, *inputs):
    reference.load_state_dict(built.state_dict(), strict=True)
    built.eval(), reference.eval()
    with torch.no_grad():
        got, want = built(*inputs), reference(*inputs)
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w)
    else:
        torch.testing.assert_close(got, want)


def test_block_with_parallel_body_matches_a_hand_written_inception():
    built = archspec.build(spec("""
        archspec: 1
        input: [3, 12, 12]
        blocks:
          inception:
            params: {c1: required, c2: required}
            parallel:
              - [{id: p1_1, conv2d: {out: $c1, kernel: 1}}, relu]
              - [{id: p2_1, conv2d: {out: "${c2[0]}", kernel: 1}}, relu, {id: p2_2, conv2d: {out: "${c2[1]}", kernel: 3, padding: 1}}, relu]
              - [{id: p4_1, maxpool2d: {kernel: 3, stride: 1, padding: 1}}, {id: p4_2, conv2d: {out: 2, kernel: 1}}, relu]
        layers:
          - {id: inc, inception: {c1: 4, c2: [3, 5]}}
    """))

    class Inception(nn.Module):
        def __init__(self):
            super().__init__()
            self.p1_1 = nn.Conv2d(3, 4, 1)
            self.p2_1, self.p2_2 = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 5, 3, padding=1)
            self.p4_1, self.p4_2 = nn.MaxPool2d(3, 1, 1), nn.Conv2d(3, 2, 1)

        def forward(self, x):
            p1 = F.relu(self.p1_1(x))
            p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
            p4 = F.relu(self.p4_2(self.p4_1(x)))
            return torch.cat((p1, p2, p4), dim=1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inc = Inception()

        def forward(self, x):
            return self.inc(x)

    assert built.report.output_shapes == {"inc.9": (11, 12, 12)}
    assert_same(built, Net(), torch.randn(2, 3, 12, 12))


def test_residual_with_identity_shortcut_and_projection():
    built = archspec.build(spec("""
        archspec: 1
        input: [4, 8, 8]
        layers:
          - id: same
            residual: {body: [{id: conv, conv2d: {out: 4, kernel: 3, padding: 1}}, {id: bn, batchnorm2d}]}
          - relu
          - id: down
            residual:
              body: [{id: conv, conv2d: {out: 6, kernel: 3, stride: 2, padding: 1}}]
              shortcut: {id: proj, conv2d: {out: 6, kernel: 1, stride: 2}}
            merge: add
    """))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.same = nn.Module()
            self.same.conv, self.same.bn = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
            self.down = nn.Module()
            self.down.conv, self.down.proj = nn.Conv2d(4, 6, 3, 2, 1), nn.Conv2d(4, 6, 1, 2)

        def forward(self, x):
            x = F.relu(self.same.bn(self.same.conv(x)) + x)
            return self.down.conv(x) + self.down.proj(x)

    assert_same(built, Net(), torch.randn(2, 4, 8, 8))


def test_dense_block_concatenates_each_copy_in_its_own_scope():
    built = archspec.build(spec("""
        archspec: 1
        input: [4, 6, 6]
        layers:
          - id: block
            dense:
              repeat: {times: 3, id: "layer${i + 1}"}
              layers: [{id: norm, batchnorm2d}, relu, {id: conv, conv2d: {out: 2, kernel: 3, padding: 1}}]
    """))

    class Layer(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm, self.conv = nn.BatchNorm2d(c), nn.Conv2d(c, 2, 3, padding=1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Module()
            for k in range(3):
                self.block.add_module(f"layer{k + 1}", Layer(4 + 2 * k))

        def forward(self, x):
            for layer in self.block.children():
                x = torch.cat((x, layer.conv(F.relu(layer.norm(x)))), dim=1)
            return x

    assert built.report.output_shapes["block.layer3.3"] == (10, 6, 6)
    assert_same(built, Net(), torch.randn(2, 4, 6, 6))


def test_numbering_follows_nn_sequential_with_repeat_inline_and_if():
    report = archspec.check(spec("""
        archspec: 1
        input: [3, 16, 16]
        params: {extra: false}
        blocks:
          convrelu:
            params: {out: required}
            layers: [{conv2d: {out: $out, kernel: 3, padding: 1}}, relu]
        layers:
          - {id: features, layers: [
              {convrelu: {out: 8}, inline: true},
              {maxpool2d: 2},
              {convrelu: {out: 8}, repeat: 2},
              {relu, if: $extra},
              {convrelu: {out: "${4 * (i + 1)}"}, repeat: 2, id: stage}]}
          - flatten
          - {id: classifier, layers: [{dropout: 0.5}, {linear: 10}]}
    """))
    assert report.ok, report.diagnostics
    assert [n for n in report.graph.ops() if report.graph.nodes[n]["params"]] == [
        "features.0", "features.3.0", "features.4.0", "features.stage.0.0", "features.stage.1.0", "classifier.1"]
    # inline splices conv 0 and relu 1; the pool is 2; repeat without an id numbers its copies 3 and 4;
    # the dropped relu takes no number; `stage` is entry 5 but goes by its id
    names = report.graph.ops()
    assert [n for n in names if n.startswith("features.") and n.count(".") == 1] == ["features.0", "features.1", "features.2"]
    assert "features.5" not in names


def test_named_inputs_and_several_outputs():
    built = archspec.build(spec("""
        archspec: 1
        input: {image: [1, 8, 8], extra: [5]}
        layers:
          - {id: conv, conv2d: {out: 2, kernel: 3}, from: image}
          - {id: flat, flatten}
          - {id: head, linear: 3}
          - {id: side, linear: 3, from: extra}
          - {id: both, add, from: [head, side]}
        outputs: [both, flat]
    """))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.head, self.side = nn.Conv2d(1, 2, 3), nn.Linear(72, 3), nn.Linear(5, 3)

        def forward(self, image, extra):
            flat = torch.flatten(self.conv(image), 1)
            return self.head(flat) + self.side(extra), flat

    assert built.report.output_shapes == {"both": (3,), "flat": (72,)}
    assert_same(built, Net(), torch.randn(2, 1, 8, 8), torch.randn(2, 5))


@pytest.mark.parametrize("merge, fn", [
    ("mul", lambda a, b: a * b), ("max", torch.maximum), ("mean", lambda a, b: (a + b) / 2),
    ("stack", lambda a, b: torch.stack((a, b), 1)), ("concat", lambda a, b: torch.cat((a, b), 1)),
])
def test_parallel_merges_compute_what_torch_computes(merge, fn):
    built = archspec.build(spec(f"""
        archspec: 1
        input: [3, 4, 4]
        layers:
          - {{parallel: [sigmoid, tanh], merge: {merge}}}
    """))
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(built(x), fn(torch.sigmoid(x), torch.tanh(x)))


def test_block_defaults_may_read_the_input_shape_and_params_can_be_set():
    text = spec("""
        archspec: 1
        input: [8, 4, 4]
        params: {width: 8}
        blocks:
          maybe_res:
            params: {out: required, use_res: "${input.c == out}"}
            layers:
              - {id: conv, conv2d: {out: $out, kernel: 3, padding: 1}}
              - {add, from: [conv, input], if: $use_res}
        layers:
          - {id: b, maybe_res: {out: $width}}
    """)
    for params, ops in (({}, ["conv2d", "add"]), ({"width": 6}, ["conv2d"])):
        g = archspec.check(text, **params).graph
        assert [g.nodes[n]["op"].name for n in g.ops()] == ops
    bad = archspec.check(text, widht=6)
    assert [d.message for d in bad.diagnostics] == ["unknown param 'widht' (did you mean 'width'?)"]


def test_emitted_module_is_an_fx_graph_module_with_spec_names():
    built = archspec.build("specs/resnet18.yaml")
    assert isinstance(built, torch.fx.GraphModule)
    assert "layer2.0.downsample.0.weight" in built.state_dict()
    assert "layer1.0.downsample.0.weight" not in built.state_dict()
    assert type(built).__name__ == "Resnet18"
