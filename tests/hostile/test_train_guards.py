"""`archspec train` refuses, before training, a model over --max-params or one whose
weights, gradients, optimizer state and a batch of activations exceed the free memory."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

import archspec
from archspec import resources
from archspec.cli.main import main

SPEC = """\
archspec: 1
name: small
input: [1, 8, 8]
layers:
  - {conv2d: {out: 4, kernel: 3, padding: 1}}
  - relu
  - flatten
  - {linear: 3}
"""
FAST = ["--data", "synthetic:32", "--epochs", "1", "--batch-size", "16", "--seed", "0", "--device", "cpu"]


@pytest.fixture
def train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yaml").write_text(SPEC)

    def run(*args):
        return CliRunner().invoke(main, ["train", "small.yaml", *FAST, "--out", "run", *args], catch_exceptions=False)

    return run


def test_max_params_refuses_before_training(train, tmp_path):
    result = train("--max-params", "100")
    assert result.exit_code == 1
    assert "small.yaml:8:5: error: the model has 811 parameters, over the limit of 100 (raise it with --max-params)" \
        in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_training_memory_counts_gradients_optimizer_and_a_batch(train, monkeypatch, tmp_path):
    report = archspec.check(SPEC)
    build = resources.needed_bytes(report)  # what archspec.build itself needs: fits
    monkeypatch.setattr(resources, "free_bytes", lambda device="cpu": build + 100)
    result = train("--optimizer", "adam")
    assert result.exit_code == 1, result.output
    need = resources.human_bytes(resources.needed_bytes(report, batch=16, param_copies=3))
    assert f"the model needs {need} (811 parameters x 4 bytes x 3 + " in result.output
    assert "x 16 samples) but cpu has" in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_training_copies_per_optimizer():
    assert resources.training_copies("sgd") == 2
    assert resources.training_copies("sgd", momentum=0.9) == 3
    assert resources.training_copies("adamw", momentum=0.0) == 4


def test_a_model_that_fits_trains(train):
    result = train("--max-params", "1000")
    assert result.exit_code == 0, result.output


def write_npz(path, labels):
    import numpy as np

    np.savez(path, x=np.zeros((len(labels), 1, 8, 8), np.uint8), y=np.array(labels))


def test_a_truncated_data_file_is_refused_with_its_path(train, tmp_path):
    write_npz(tmp_path / "d.npz", [0, 1, 2] * 8)
    data = (tmp_path / "d.npz").read_bytes()
    (tmp_path / "d.npz").write_bytes(data[: len(data) // 2])  # zipfile.BadZipFile escaped as a traceback
    result = CliRunner().invoke(main, ["train", "small.yaml", "--data", "npz:d.npz", "--epochs", "1", "--device", "cpu",
                                       "--out", "run"], catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "cannot read d.npz as an npz archive" in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_labels_out_of_range_are_refused_before_training(train, tmp_path):
    write_npz(tmp_path / "d.npz", [0, 1, 2, 7] * 6)
    result = CliRunner().invoke(main, ["train", "small.yaml", "--data", "npz:d.npz", "--epochs", "1", "--device", "cpu",
                                       "--out", "run"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "data 'npz:d.npz': train labels range over [0, 7] but spec 'small' outputs 3 classes" in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_checkpoint_of_another_spec_is_refused_by_eval(train, tmp_path):
    assert train().exit_code == 0
    (tmp_path / "wide.yaml").write_text(SPEC.replace("out: 4", "out: 6").replace("name: small", "name: wide"))
    result = CliRunner().invoke(main, ["eval", "wide.yaml", "--checkpoint", "run"], catch_exceptions=False)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "checkpoint run does not fit spec 'wide' (1,215 parameters now, 811 in the checkpoint): size mismatch" \
        in result.output
