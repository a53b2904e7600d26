"""The math ops beyond what tests/ops/test_ops.py draws: the rules' hand-computed types (the
dims rule on batched and batch-free values) and refusals; and archspec's own layers through
their ops against hand-written references: drop_path against torchvision's StochasticDepth
algorithm under the same seed (tests/reference/modern_cnn.py writes it after
torchvision/ops/stochastic_depth.py), layernorm over a chosen dim against torchvision's
LayerNorm2d (permute, nn.LayerNorm's kernel, permute back)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import archspec
from archspec import ops
from archspec.compiler.ir import Type
from archspec.export.python import to_python
from archspec.ops.base import InputError, ShapeRuleError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference.modern_cnn import LayerNorm2d, StochasticDepth  # noqa: E402


def type_of(name, t, **given):
    op = ops.get(name)
    a, problems = op.check_args(given)
    assert not problems
    return op.type(a, [t])


@pytest.mark.parametrize("name, given, t, out", [
    ("mean_over", {"dims": [2, 3]}, Type((8, 5, 5)), Type((8,))),  # ShuffleNet's x.mean([2, 3])
    ("mean_over", {"dims": [-1, -2], "keepdim": True}, Type((8, 5, 5)), Type((8, 1, 1))),
    ("mean_over", {"dims": 1}, Type((7, 16)), Type((16,))),  # a text model's mean over tokens
    ("sum_over", {"dims": 0}, Type((7, 16), batched=False), Type((16,), batched=False)),  # a parameter's own dim 0
    ("sum_over", {"dims": -1}, Type((5,), "int64"), Type((), "int64")),
    ("max_over", {"dims": [0, 1]}, Type((2, 3), "bool", batched=False), Type((), "bool", batched=False)),
    ("min_over", {"dims": 2, "keepdim": True}, Type((3, 4)), Type((3, 1))),
    ("scale", {"factor": 0.125}, Type((1, 1, 8), batched=False), Type((1, 1, 8), batched=False)),
    ("abs", {}, Type((4,), "int64"), Type((4,), "int64")),
    ("clamp", {"min": 0}, Type((4,)), Type((4,))),
])
def test_hand_computed_types(name, given, t, out):
    assert type_of(name, t, **given) == out


@pytest.mark.parametrize("name, given, t, message", [
    ("mean_over", {"dims": 0}, Type((3, 4)), "mean_over: dim 0 means the batch dim (0); sample dims are 1..2"),
    ("mean_over", {"dims": 2}, Type((3, 4), batched=False), "mean_over: dim 2 is out of range for batch-free input [3, 4] (valid: -2..1)"),
    ("mean_over", {"dims": 0}, Type((), batched=False), "mean_over: dim 0 is out of range for batch-free input [] (it has no dims)"),
    ("sum_over", {"dims": [1, -2]}, Type((3, 4)), "sum_over: dims [1, -2] name the same dim twice (1 and -2)"),
    ("clamp", {}, Type((3,)), "clamp: give min, max or both"),
    ("clamp", {"min": 2, "max": 1}, Type((3,)), "clamp: min 2.0 is more than max 1.0 (torch would set every element to max)"),
])
def test_refusals(name, given, t, message):
    with pytest.raises(ShapeRuleError) as err:
        type_of(name, t, **given)
    assert str(err.value) == message


@pytest.mark.parametrize("name, t", [("mean_over", Type((4,), "int64")), ("exp", Type((4,), "int64")),
                                     ("drop_path", Type((4,), batched=False)), ("neg", Type((4,), "bool"))])
def test_dtype_and_batch_refusals_name_the_input(name, t):
    op = ops.get(name)
    with pytest.raises(InputError, match=f"^{name}: expects "):
        op.type(op.check_args({"dims": 1} if name.endswith("_over") else {"p": 0.1} if name == "drop_path" else {})[0], [t])


def build(layers: str, input_shape: str):
    return archspec.build(f"archspec: 1\nname: t\ninput: {input_shape}\nlayers:\n{layers}")


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_drop_path_equals_torchvisions_stochastic_depth_under_one_seed(mode, p):
    model = build(f"  - {{id: dp, drop_path: {{p: {p}, mode: {mode}}}}}", "[3, 4, 5]")
    reference = StochasticDepth(p, mode)
    x = torch.randn(64, 3, 4, 5)
    for seed in range(3):
        torch.manual_seed(seed)
        got = model.train()(x)
        torch.manual_seed(seed)
        want = reference.train()(x)
        assert torch.equal(got, want)
    per_sample = got.flatten(1)
    dropped = (per_sample == 0).all(1)
    if mode == "batch" or p in (0.0, 1.0):
        assert dropped.all() or not dropped.any()  # the whole batch at once
    if p not in (0.0, 1.0):
        survivors = per_sample[~dropped]
        torch.testing.assert_close(survivors, x.flatten(1)[~dropped] / (1 - p))
    assert torch.equal(model.eval()(x), x) and not dict(model.state_dict())


def test_drop_path_drops_samples_independently_in_row_mode():
    model = build("  - {drop_path: 0.5}", "[8]").train()
    torch.manual_seed(0)
    dropped = (model(torch.ones(2000, 8)) == 0).all(1).float()
    assert 0.45 < dropped.mean() < 0.55


@pytest.mark.parametrize("dim", [1, -3])
def test_channels_first_layernorm_is_torchvisions_layernorm2d(dim):
    model = build(f"  - {{id: norm, layernorm: {{dim: {dim}, eps: 1.0e-6}}}}", "[6, 4, 5]")
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert state == {"norm.weight": (6,), "norm.bias": (6,)}
    with torch.no_grad():
        model.norm.weight.normal_()
        model.norm.bias.normal_()
    reference = LayerNorm2d(6, eps=1e-6)
    reference.load_state_dict({k.removeprefix("norm."): v for k, v in model.state_dict().items()}, strict=True)
    x = torch.randn(3, 6, 4, 5) * 3 + 1
    assert torch.equal(model(x), reference(x))
    assert model.report.params == 12


def test_layernorm_over_the_middle_dim_of_a_sequence_and_over_the_last():
    """dim 1 of (C, L) normalizes each position's C values; dim -1 is plain nn.LayerNorm."""
    middle = build("  - {id: norm, layernorm: {dim: 1, bias: false}}", "[4, 7]")
    x = torch.randn(2, 4, 7)
    want = F.layer_norm(x.transpose(1, 2), (4,), middle.norm.weight).transpose(1, 2)
    torch.testing.assert_close(middle(x), want, rtol=0, atol=1e-6)
    assert middle.report.params == 4
    last = build("  - {id: norm, layernorm: {dim: -1}}", "[4, 7]")
    assert type(last.norm) is torch.nn.LayerNorm and last.norm.normalized_shape == (7,)


@pytest.mark.parametrize("item, message", [
    ("{layernorm: {dims: 2, dim: 1}}", "layernorm: give dims (2: that many trailing dims) or dim (one chosen dim), not both"),
    ("{layernorm: {dim: 0}}", "layernorm: dim 0 means the batch dim (0); sample dims are 1..3"),
    ("{layernorm: {dim: 4}}", "layernorm: dim 4 is out of range for input [6, 4, 5] (batch included, valid: -4..3)"),
    ("{drop_path: 1.5}", "'drop_path': expected a value <= 1.0, found 1.5"),
    ("{drop_path: {p: 0.1, mode: rows}}", "drop_path: argument 'mode': expected one of 'row', 'batch', found 'rows'"),
])
def test_refusals_are_located(item, message):
    report = archspec.check(f"archspec: 1\nname: t\ninput: [6, 4, 5]\nlayers:\n  - {item}\n")
    assert [(d.loc.line, d.message.split(" (did you")[0]) for d in report.diagnostics] == [(5, message)]


def test_the_python_export_defines_archspecs_layers_and_draws_the_same_noise():
    """The exported file holds DropPath and LayerNormAlongDim themselves (it imports only torch);
    trained with one seed, it drops what the built module drops."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "math.yaml"
    text = to_python(archspec.check(fixture))
    for line in ["class DropPath(nn.Module):", "class LayerNormAlongDim(nn.LayerNorm):", "self.drop_row = DropPath(0.2)",
                 "self.drop_batch = DropPath(0.5, mode='batch')", "self.norm = LayerNormAlongDim(2, eps=1e-06)",
                 ".mean(dim=1)", ".clamp(-1.5, None)", ".amax(dim=-2)", ".amin(dim=(-1, -2), keepdim=True)",
                 "torch.rsqrt(", " * 0.25", ".pow(2.0)", "self.similar(out, seq)"]:
        assert line in text, line
    assert [line for line in text.splitlines() if line.startswith(("import", "from"))] == ["import torch", "from torch import nn"]
    namespace: dict = {}
    exec(compile(text, "math.py", "exec"), namespace)  # noqa: S102 - our own export, as a user runs it
    built = archspec.build(fixture)
    exported = namespace["Math"]()
    exported.load_state_dict(built.state_dict(), strict=True)
    image, seq = torch.randn(16, 8, 4, 4), torch.randn(16, 5, 6)
    torch.manual_seed(1)
    want = built.train()(image, seq)
    torch.manual_seed(1)
    got = exported.train()(image, seq)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, equal_nan=True)  # rsqrt of a negative minimum


def test_the_picture_colours_each_family():
    from archspec.draw import draw
    from archspec.draw.style import colours

    report = archspec.check(Path(__file__).resolve().parents[1] / "fixtures" / "math.yaml")
    dot = draw(report, "dot")
    for node, family in [("pooled", "reduction"), ("big", "reduction"), ("inverse", "math"), ("patches", "nn"),
                         ("similar", "nn"), ("norm", "norm"), ("2.drop_row", "activation")]:
        assert report.graph.nodes[node]["op"].family == family
        fill, border = colours(family)
        assert f'"{node}" [label=<<b>{node.rsplit(".", 1)[-1]}</b>: ' in dot
        assert f'fillcolor="{fill}", color="{border}"' in dot.split(f'"{node}" [label=', 1)[1].split("\n", 1)[0]
    assert '"seq_norm" -> "similar"' in dot and '"seq" -> "similar"' in dot  # both inputs of a torch.nn class


@pytest.mark.parametrize("name", __import__("archspec.layers", fromlist=["__all__"]).__all__)
def test_each_layer_is_self_contained(name):
    """What the Python export relies on: a layer's source alone, beside torch and nn, defines it."""
    import inspect

    from archspec import layers

    namespace = {"torch": torch, "nn": torch.nn}
    exec(compile(inspect.getsource(getattr(layers, name)), name, "exec"), namespace)  # noqa: S102 - our own source
    made = namespace[name]  # a module class, or a function filling a buffer
    assert callable(made) and (not isinstance(made, type) or issubclass(made, torch.nn.Module))
