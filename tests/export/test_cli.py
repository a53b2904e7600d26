"""`archspec export` as a user runs it: exit codes and messages, format from the suffix."""
from __future__ import annotations

import sys

import onnx
import pytest
import torch
from click.testing import CliRunner

import archspec
from archspec.cli.main import main

from .conftest import ROOT

LENET = str(ROOT / "specs/d2l/lenet.yaml")


def run(*args):
    return CliRunner().invoke(main, ["export", *map(str, args)])


def test_onnx_from_suffix_with_dynamic_batch_and_verify(tmp_path):
    out = tmp_path / "lenet.onnx"
    result = run(LENET, "-o", out, "--verify")
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output and "verified: outputs match" in result.output
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    (x,), (y,) = model.graph.input, model.graph.output
    assert (x.name, y.name) == ("input", "output")
    assert x.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [d.dim_value for d in x.type.tensor_type.shape.dim[1:]] == [1, 28, 28]


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_format_option_and_default_file_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(LENET, "--format", "torchscript", "--set", "num_classes=3")
    assert result.exit_code == 0, result.output
    loaded = torch.jit.load(str(tmp_path / "lenet.pt"))
    assert loaded(torch.randn(4, 1, 28, 28)).shape == (4, 3)


@pytest.mark.parametrize("args,message", [
    (["-o", "x.bin"], "say which format"),
    ([], "say which format"),
    (["-o", "x.py", "--format", "onnx"], "looks like python, not onnx"),
    (["-o", "x.py", "--dynamo"], "--dynamo applies to --format onnx only"),
])
def test_usage_errors_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(LENET, *args)
    assert result.exit_code == 2 and message in result.output


def test_a_broken_spec_is_located_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("archspec: 1\ninput: [1, 8, 8]\nlayers:\n  - {conv2d: {out: 4, kernal: 3}}\n")
    result = run(bad, "-o", tmp_path / "bad.onnx")
    assert result.exit_code == 1
    assert f"{bad}:4:23: error: conv2d: unknown argument 'kernal' (did you mean 'kernel'?)" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "bad.onnx").exists()


def test_checkpoint_mismatch_is_an_error_not_a_traceback(tmp_path):
    ckpt = tmp_path / "w.pt"
    torch.save(archspec.build(LENET, num_classes=3).state_dict(), ckpt)
    result = run(LENET, "-o", tmp_path / "x.onnx", "--checkpoint", ckpt)
    assert result.exit_code == 1
    assert "does not fit the spec: 2 tensors of another shape (first: 11.weight is [3, 84] in the checkpoint, " \
           "[10, 84] in the spec); was it trained with other --set values?" in result.output
    assert run(LENET, "-o", tmp_path / "x.onnx", "--checkpoint", ckpt, "--set", "num_classes=3").exit_code == 0


def test_missing_onnx_gets_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    result = run(LENET, "-o", tmp_path / "x.onnx")
    assert result.exit_code == 1
    assert "error: onnx is not installed; install the export extra: pip install 'archspec[export]'" in result.output


def test_dynamo_exporter(tmp_path):
    result = run(str(ROOT / "specs/d2l/mnist_residual.yaml"), "-o", tmp_path / "m.onnx", "--dynamo", "--verify")
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
