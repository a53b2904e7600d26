"""Every spec in specs/ against a hand-written PyTorch reference of the same network.

For each spec (found by glob, so a new spec is covered at once): it checks; its parameter
count equals the reference's (and the published count for the torchvision layouts); a
forward and a backward pass run at the spec's input size, the output has the checked
shape and every parameter gets a gradient; the reference's state_dict loads with
strict=True and both give the same outputs; where SECOND_SIZES names one, the same built
module runs at a second input size and matches there too. The references live in
tests/reference/.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import torch
import yaml

import archspec
from archspec.compiler.emit import example_inputs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import FULL_SIZE, PUBLISHED_PARAMS, REFERENCES, SECOND_SIZES, TEST_PARAMS, d2l  # noqa: E402

SPECS = sorted((ROOT / "specs").rglob("*.yaml"))
BATCH = 2


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def messages(report) -> str:
    return "\n".join(str(d) for d in report.diagnostics)


# Module-scoped, parametrized fixtures: pytest groups the tests of one spec together,
# so each network (up to 138M parameters) is built once and released before the next.
@pytest.fixture(scope="module", params=SPECS, ids=rel)
def spec(request) -> Path:
    return request.param


@pytest.fixture(scope="module")
def report(spec):
    return archspec.check(str(spec), **TEST_PARAMS.get(rel(spec), {}))


@pytest.fixture(scope="module")
def model(spec, report):
    if not report.ok:
        pytest.fail(f"{rel(spec)} does not check:\n{messages(report)}")
    torch.manual_seed(0)
    return archspec.build(str(spec), **TEST_PARAMS.get(rel(spec), {}))


@pytest.fixture(scope="module")
def reference(spec):
    if rel(spec) not in REFERENCES:
        pytest.fail(f"{rel(spec)} has no reference model in tests/reference/__init__.py")
    torch.manual_seed(1)
    ref = REFERENCES[rel(spec)]()
    randomize_state(ref)
    return ref


def randomize_state(module: torch.nn.Module) -> None:
    """Give batch norms non-trivial statistics and affine weights, layer norms affine weights,
    and the tensors a module holds beside its layers (ConvNeXt's layer scales, 1e-6 at init)
    values near 1, so that a norm or scale wired to the wrong place, or left at its defaults
    after loading, changes the eval output."""
    g = torch.Generator().manual_seed(2)
    for m in module.modules():
        if any(True for _ in m.children()):
            for p in m.parameters(recurse=False):
                with torch.no_grad():
                    p.copy_(torch.rand(p.shape, generator=g) + 0.5)
        batch_norm = isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        if not (batch_norm or isinstance(m, torch.nn.LayerNorm) and m.elementwise_affine):
            continue
        with torch.no_grad():
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            if batch_norm:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(7)


def sample(report, seed: int = 3) -> list[torch.Tensor]:
    """A batch for each of the spec's inputs, in the order forward() takes them."""
    return list(example_inputs(report, batch=BATCH, seed=seed))


def outputs(y) -> list[torch.Tensor]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


def checked_shapes(report) -> list[tuple]:
    return [(BATCH, *shape) for shape in report.output_shapes.values()]


def test_spec_checks(spec, report):
    assert report.ok, messages(report)
    text = yaml.safe_load(spec.read_text())
    assert text.get("doc"), f"{rel(spec)} has no doc: line"


def test_param_count_matches_reference(spec, report, model, reference):
    expected = count(reference)
    assert report.params == expected
    assert count(model) == expected
    if rel(spec) in PUBLISHED_PARAMS:
        full = archspec.check(str(spec)).params if rel(spec) in TEST_PARAMS else expected
        assert full == PUBLISHED_PARAMS[rel(spec)]


def test_forward_backward_reaches_every_parameter(spec, report, model):
    model.train()
    model.zero_grad(set_to_none=True)
    ys = outputs(model(*sample(report)))
    assert [tuple(y.shape) for y in ys] == checked_shapes(report)
    g = torch.Generator().manual_seed(4)
    sum((y * torch.randn(y.shape, generator=g)).sum() for y in ys).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad[:5]}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
    model.zero_grad(set_to_none=True)


def test_reference_state_dict_loads_and_outputs_match(spec, report, model, reference):
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert ours == theirs
    model.load_state_dict(reference.state_dict(), strict=True)
    model.eval()
    reference.eval()
    xs = sample(report, seed=5)
    with torch.no_grad():
        expected, actual = outputs(reference(*xs)), outputs(model(*xs))
    assert [tuple(y.shape) for y in expected] == checked_shapes(report)
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, atol=1e-5, rtol=1e-5)
    if rel(spec) in SECOND_SIZES:  # the same module, unchanged: nothing in it bound to the size it was built at
        shape = SECOND_SIZES[rel(spec)]
        assert [shape] != list(report.input_shapes.values())
        x = torch.randn((BATCH, *shape), generator=torch.Generator().manual_seed(6))
        with torch.no_grad():
            torch.testing.assert_close(model(x), reference(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("path", sorted(FULL_SIZE))
def test_full_size_has_the_reference_layout(path):
    """Specs tested at a small size (TEST_PARAMS) have their full-size reference's state_dict at full size too."""
    with torch.device("meta"):
        ours, theirs = archspec.build(str(ROOT / path)).state_dict(), FULL_SIZE[path]().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_token_models_run_on_shorter_sequences(spec, report, model, reference):
    """A model declared for T tokens (GPT's block_size) takes any shorter sequence, as its reference does."""
    types = list(report.input_types.values())
    if not any(t.dtype == "int64" for t in types):
        pytest.skip("no token input")
    model.load_state_dict(reference.state_dict(), strict=True)
    model.eval(), reference.eval()
    xs = [x[:, : max(1, x.shape[1] // 2 - 1)] if t.dtype == "int64" else x for x, t in zip(sample(report, seed=6), types)]
    with torch.no_grad():
        for a, e in zip(outputs(model(*xs)), outputs(reference(*xs)), strict=True):
            torch.testing.assert_close(a, e, atol=1e-5, rtol=1e-5)


def test_every_reference_has_a_spec():
    """The converse (every spec has a reference) is the `reference` fixture's job."""
    assert set(REFERENCES) <= set(map(rel, SPECS))
    assert set(PUBLISHED_PARAMS) <= set(REFERENCES)
    assert set(SECOND_SIZES) <= set(REFERENCES)


# --- the course notes' recipes -------------------------------------------------------------
D2L_RECIPES = {  # spec: (data, lr, epochs, batch size, resize)
    "lenet": ("fashion-mnist", 0.9, 10, 256, None),
    "lenet_bn": ("fashion-mnist", 1.0, 10, 256, None),
    "alexnet": ("fashion-mnist", 0.01, 10, 128, 224),
    "vgg11": ("fashion-mnist", 0.05, 10, 128, 224),
    "nin": ("fashion-mnist", 0.1, 10, 128, 224),
    "googlenet": ("fashion-mnist", 0.1, 10, 128, 96),
    "resnet18": ("fashion-mnist", 0.05, 10, 256, 96),
    "densenet": ("fashion-mnist", 0.1, 10, 256, 96),
    "mnist_inception": ("mnist", 0.01, 10, 64, None),
    "mnist_residual": ("mnist", 0.01, 10, 64, None),
}


@pytest.mark.parametrize("name", sorted(D2L_RECIPES))
def test_d2l_recipe_is_the_notes_and_valid(name):
    from archspec.train.resolve import Layer, validate_layer

    path = ROOT / "specs" / "d2l" / f"{name}.yaml"
    recipe = validate_layer(Layer("spec", yaml.safe_load(path.read_text())["train"], file=str(path)))
    data, lr, epochs, batch, resize = D2L_RECIPES[name]
    assert (recipe["data"], recipe["lr"], recipe["epochs"], recipe["batch_size"]) == (data, lr, epochs, batch)
    assert (recipe.get("transforms") or {}).get("resize") == resize
    if data == "mnist":  # the introductory course: SGD with momentum 0.5, MNIST's mean and std
        assert recipe["momentum"] == 0.5
        assert recipe["transforms"]["normalize"] == {"mean": [0.1307], "std": [0.3081]}


@pytest.mark.parametrize("name, params, reference, input_shape", [
    ("vgg11", {"ratio": 4}, lambda: d2l.vgg11(ratio=4), (1, 224, 224)),  # the notes' small VGG
    ("resnet18", {"size": 96}, d2l.resnet18, (1, 96, 96)),
])
def test_recipe_params_give_the_notes_network(name, params, reference, input_shape):
    path = ROOT / "specs" / "d2l" / f"{name}.yaml"
    assert yaml.safe_load(path.read_text())["train"]["params"] == params
    report = archspec.check(str(path), **params)
    assert report.ok, messages(report)
    assert report.input_shapes == {"input": input_shape}
    ref = reference().eval()
    assert report.params == count(ref)
    (out_shape,) = report.output_shapes.values()
    with torch.no_grad():
        assert tuple(ref(torch.zeros(1, *input_shape)).shape) == (1, *out_shape)


# --- sizes the author no longer computes ------------------------------------------------------
MNIST_INCEPTION = ROOT / "specs" / "d2l" / "mnist_inception.yaml"


def test_mnist_inception_infers_1408():
    text = MNIST_INCEPTION.read_text()
    assert not re.search(r"\b(1408|88)\b", text), "the spec must not write the inferred sizes"
    report = archspec.check(str(MNIST_INCEPTION))
    g = report.graph
    assert [g.shape_of(ref) for ref in g.inputs_of("fc")] == [(1408,)]
    assert g.nodes["fc"]["params"] == 1408 * 10 + 10
    assert g.nodes["conv2"]["params"] == 88 * 20 * 5 * 5 + 20  # conv2's in_channels: InceptionA's 88
    assert report.output_shapes == {"fc": (10,)}


def test_cli_check_reports_fc_with_1408_inputs():
    from click.testing import CliRunner

    from archspec.cli.main import main

    result = CliRunner().invoke(main, ["check", str(MNIST_INCEPTION), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True
    fc = next(n for n in out["nodes"] if n["name"] == "fc")
    assert fc["params"] == 1408 * 10 + 10
    assert out["params"] == count(d2l.MnistInceptionNet())
