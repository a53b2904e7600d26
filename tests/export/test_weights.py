"""--checkpoint: what loads, and what is refused with a message that says why."""
from __future__ import annotations

import pytest
import torch

import archspec
from archspec.errors import ArchspecError
from archspec.export.weights import load_weights
from archspec.train.checkpoint import read_weights

from .conftest import ROOT

SPEC = ROOT / "specs/d2l/mnist_residual.yaml"


@pytest.fixture
def trained():
    torch.manual_seed(1)
    return archspec.build(SPEC).state_dict()


@pytest.mark.parametrize("wrap", [
    lambda s: s,
    lambda s: {"format": 1, "model": s, "optimizer": {}, "epoch": 4},
    lambda s: {f"_orig_mod.{k}": v for k, v in s.items()},  # saved from torch.compile
])
def test_state_dicts_and_training_checkpoints_load(wrap, trained, tmp_path):
    path = tmp_path / "w.pt"
    torch.save(wrap(trained), path)
    module = archspec.build(SPEC)
    load_weights(module, path)
    assert all(torch.equal(module.state_dict()[k], v) for k, v in trained.items())


def test_missing_and_unexpected_keys_are_named(trained, tmp_path):
    trained.pop("fc.bias")
    trained["head.weight"] = torch.zeros(1)
    torch.save(trained, tmp_path / "w.pt")
    with pytest.raises(ArchspecError) as err:
        load_weights(archspec.build(SPEC), tmp_path / "w.pt")
    assert "1 key missing from the checkpoint (fc.bias); 1 key the spec does not have (head.weight)" in str(err.value)


@pytest.mark.parametrize("content,message", [
    (b"not a checkpoint", "cannot load checkpoint .*: not a torch checkpoint"),
    (None, "no such file"),
])
def test_unreadable_files(content, message, tmp_path):
    path = tmp_path / "w.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ArchspecError, match=message):
        read_weights(path)


def test_code_in_a_pickle_is_never_run(tmp_path):
    torch.save({"model": {"w": torch.zeros(1)}, "config": object()}, tmp_path / "w.pt")
    with pytest.raises(ArchspecError, match="cannot load checkpoint .*w.pt: "):
        read_weights(tmp_path / "w.pt")


def test_something_else_than_weights(tmp_path):
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "w.pt")
    with pytest.raises(ArchspecError, match="neither a state_dict nor a training checkpoint"):
        read_weights(tmp_path / "w.pt")


def test_safetensors_export_reads_back_and_trains_on(trained, tmp_path, monkeypatch):
    """export --format safetensors writes the checkpoint's weights (the safetensors library reads
    them back the same), --verify runs the spec on them, and train --weights starts from them."""
    from click.testing import CliRunner
    from safetensors.torch import load_file

    from archspec.cli.main import main

    monkeypatch.chdir(tmp_path)
    torch.save(trained, "w.pt")
    run = CliRunner().invoke(main, ["export", str(SPEC), "-o", "w.safetensors", "--checkpoint", "w.pt", "--verify"])
    assert run.exit_code == 0, run.output
    assert "verified: outputs match" in run.output
    back = load_file("w.safetensors")
    assert sorted(back) == sorted(trained) and all(torch.equal(back[k], v) for k, v in trained.items())
    refused = CliRunner().invoke(main, ["export", str(SPEC), "--format", "safetensors"])
    assert refused.exit_code == 1 and "give the trained ones with --checkpoint" in refused.output
    module = archspec.build(SPEC)
    load_weights(module, "w.safetensors")
    assert all(torch.equal(module.state_dict()[k], v) for k, v in trained.items())
