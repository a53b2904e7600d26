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
