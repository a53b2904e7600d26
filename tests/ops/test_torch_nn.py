"""torch.nn classes named in specs (`nn.PixelShuffle: {upscale_factor: 2}`): the table matches
the installed torch, only layer classes are listed, a spec without one never imports torch,
mistakes are located (a misspelt class with did-you-mean, an unknown keyword, a wrong dtype),
the built module is torch's own class at the item's path, and the Python export writes the
call as the spec wrote it. tests/ops/test_ops.py runs each class against torch on the CPU."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import archspec
from archspec import ops
from archspec.cli.main import main
from archspec.compiler.ir import Type
from archspec.export.python import to_python
from archspec.ops import torch_nn
from archspec.ops._torch_nn_table import CLASSES
from archspec.ops.base import InputError

SPEC = """\
archspec: 1
name: tail
input: [8, 4, 4]
layers:
  - {id: shuffle, nn.PixelShuffle: {upscale_factor: 2}}
  - {id: conv, nn.Conv2d: {in_channels: 2, out_channels: 4, kernel_size: 3, padding: 1}}
  - {id: unfold, nn.Unfold: {kernel_size: 3}}
  - {permute: [1, 0]}
  - {id: encoder, nn.TransformerEncoderLayer: {d_model: 36, nhead: 4, dim_feedforward: 64, batch_first: true}}
  - {mean_over: 1}
  - {id: head, nn.Linear: {in_features: 36, out_features: 3}}
"""


def test_the_table_is_the_installed_torch_nn():
    """`python -m archspec.ops.torch_nn` regenerates it; a new torch shows up here first."""
    assert torch_nn.survey() == CLASSES


def test_only_layer_classes_are_listed():
    names = {name for name, op in ops.registry().items() if op.family == "nn"}
    assert names == {f"nn.{c}" for c in CLASSES} and len(names) > 100
    for cls in CLASSES:
        found = getattr(nn, cls)
        assert isinstance(found, type) and issubclass(found, nn.Module) and not cls.startswith(("_", "Lazy"))
    for refused in ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "Module", "MSELoss", "CrossEntropyLoss",
                    "LazyLinear", "TransformerEncoder", "DataParallel", "LSTM", "RNNBase"):
        assert refused not in CLASSES and hasattr(nn, refused)


def test_a_spec_without_a_torch_nn_class_never_imports_torch_and_one_with_it_checks():
    code = f"""
import sys, archspec
assert archspec.check('specs/resnet50.yaml').ok
bad = archspec.check('archspec: 1\\nname: t\\ninput: [8, 4, 4]\\nlayers:\\n  - {{nn.PixelShufle: {{upscale_factor: 2}}}}\\n')
assert 'did you mean' in bad.diagnostics[0].message, bad.diagnostics
assert 'torch' not in sys.modules, 'torch was imported'
report = archspec.check({SPEC!r})
assert report.ok and 'torch' in sys.modules
print(report.to_dict()["checked_by_forward"])
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.replace("'", '"')) == ["nn.Conv2d", "nn.Linear", "nn.PixelShuffle",
                                                          "nn.TransformerEncoderLayer", "nn.Unfold"]


def test_the_built_modules_are_torchs_own_at_the_items_paths():
    model = archspec.build(SPEC)
    assert type(model.shuffle) is nn.PixelShuffle and model.shuffle.upscale_factor == 2
    reference = nn.ModuleDict({"conv": nn.Conv2d(2, 4, 3, padding=1), "head": nn.Linear(36, 3),
                               "encoder": nn.TransformerEncoderLayer(36, 4, 64, batch_first=True)})
    reference.load_state_dict(model.state_dict(), strict=True)
    model.eval(), reference.eval()
    x = torch.randn(2, 8, 4, 4)
    y = reference["conv"](nn.functional.pixel_shuffle(x, 2))
    y = reference["encoder"](nn.functional.unfold(y, 3).transpose(1, 2))
    torch.testing.assert_close(model(x), reference["head"](y.mean(1)))
    report = model.report
    assert report.params == sum(p.numel() for p in reference.parameters())
    assert [report.graph.nodes[n]["types"][0].shape for n in ("shuffle", "unfold", "encoder")] == [(2, 8, 8), (36, 36), (36, 36)]


def test_the_python_export_writes_the_call_as_the_spec_does():
    text = to_python(archspec.check(SPEC))
    for call in ["self.shuffle = nn.PixelShuffle(upscale_factor=2)",
                 "self.conv = nn.Conv2d(in_channels=2, out_channels=4, kernel_size=3, padding=1)",
                 "self.unfold = nn.Unfold(kernel_size=3)",
                 "d_model=36, nhead=4, dim_feedforward=64, batch_first=True"]:
        assert call in text


def check(items: str):
    return archspec.check(f"archspec: 1\nname: t\ninput: [8, 4, 4]\nlayers:\n{items}")


@pytest.mark.parametrize("item, where, message", [
    ("{nn.PixelShufle: {upscale_factor: 2}}", (5, 6), "unknown op or block 'nn.PixelShufle' (did you mean 'nn.PixelShuffle'?)"),
    ("{torch.nn.ReLU: {}}", (5, 6), "unknown op or block 'torch.nn.ReLU' (did you mean 'nn.ReLU'?)"),
    ("{nn.PixelShuffle: {upscale: 2}}", (5, 24), "nn.PixelShuffle: unknown argument 'upscale' (did you mean 'upscale_factor'?)"),
    ("{nn.Conv2d: {in_channels: 8, kernel_size: 3}}", (5, 6), "nn.Conv2d: missing required argument 'out_channels'"),
    ("{nn.PixelShuffle: 3}", (5, 5), "nn.PixelShuffle: forward pass on the meta device failed for input [8, 4, 4]: RuntimeError: "),
    ("{nn.Embedding: {num_embeddings: 10, embedding_dim: 4}}", (5, 5), "nn.Embedding: expects an int64 input, found float32 input [8, 4, 4]"),
    ("{nn.MultiheadAttention: {embed_dim: 16, num_heads: 2, batch_first: true}, from: [a, a, a]}", (6, 5),
     "nn.MultiheadAttention: forward returned tuple; an op made from a module returns one tensor"),
])
def test_mistakes_are_located(item, where, message):
    items = f"  - {item}\n" if "from:" not in item else f"  - {{id: a, flatten: 2}}\n  - {item}\n"
    report = check(items)
    assert [(d.loc.line, d.loc.col) for d in report.diagnostics] == [where]
    assert report.diagnostics[0].message.startswith(message)  # torch's own words follow a failed forward pass


def test_inputs_follow_the_forward_signature():
    bilinear, embedding = ops.get("nn.Bilinear"), ops.get("nn.Embedding")
    assert bilinear.roles == ("input1", "input2") and bilinear.main_arg is None
    a = bilinear.check_args({"in1_features": 3, "in2_features": 4, "out_features": 2})[0]
    assert a == {"in1_features": 3, "in2_features": 4, "out_features": 2}  # torch fills in the rest
    assert bilinear.type(a, [Type((3,)), Type((4,))]) == Type((2,)) and bilinear.params(a, [(3,), (4,)]) == 26
    a = embedding.check_args({"num_embeddings": 10, "embedding_dim": 4})[0]
    assert embedding.type(a, [Type((7,), "int64")]) == Type((7, 4), "float32")
    with pytest.raises(InputError, match=r"^nn.Embedding: expects a batched input, found batch-free input 0 \[7\]$"):
        embedding.type(a, [Type((7,), "int64", batched=False)])
    assert ops.get("nn.PixelShuffle").main_arg == "upscale_factor"


def test_archspec_ops_lists_and_describes_them():
    listing = CliRunner().invoke(main, ["ops"]).output
    assert "nn.PixelShuffle, nn.PixelUnshuffle" in listing and "any layer class of torch.nn" in listing
    detail = CliRunner().invoke(main, ["ops", "nn.Unfold"]).output
    assert "checked by a forward pass on the meta device" in detail and "kernel_size" in detail
    described = json.loads(CliRunner().invoke(main, ["ops", "nn.Unfold", "--format", "json"]).output)
    assert described["checked_by_forward"] and described["category"] == "nn"
    assert [a["name"] for a in described["args"]] == ["kernel_size", "dilation", "padding", "stride"]
