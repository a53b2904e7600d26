"""Metrics against sklearn; checkpoints: atomic, weights_only, RNG round trip, spec-change refusal."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from archspec.errors import ArchspecError
from archspec.train import checkpoint
from archspec.train.metrics import confusion_matrix, format_table, summarize
from archspec.train.model import ModelInfo


def test_metrics_equal_sklearn():
    from sklearn.metrics import accuracy_score, confusion_matrix as sk_cm, log_loss, recall_score

    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(200, 4, generator=g), torch.randint(0, 4, (200,), generator=g)
    loss = float(torch.nn.functional.cross_entropy(logits, y))
    result = summarize(y, logits, loss, 4)
    pred = logits.argmax(1).numpy()
    assert result["accuracy"] == pytest.approx(accuracy_score(y.numpy(), pred))
    assert result["confusion_matrix"] == sk_cm(y.numpy(), pred, labels=range(4)).tolist()
    assert result["per_class_accuracy"] == pytest.approx(list(recall_score(y.numpy(), pred, average=None)))
    assert loss == pytest.approx(log_loss(y.numpy(), torch.softmax(logits, 1).numpy()), rel=1e-5)
    assert "confusion matrix (rows: true class" in format_table(result)


def test_absent_class_has_no_accuracy():
    result = summarize(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 0.0, 3)
    assert result["per_class_accuracy"] == [0.5, 1.0, None]
    assert confusion_matrix(torch.tensor([2]), torch.tensor([0]), 3)[2, 0] == 1


def test_checkpoint_loads_with_weights_only_and_restores_rng(tmp_path):
    torch.manual_seed(5), np.random.seed(5), random.seed(5)
    state = {"format": checkpoint.FORMAT, "model": {"w": torch.arange(3.0)}, "rng": checkpoint.rng_state(),
             "history": [{"epoch": 1, "val_acc": None}]}
    expected = (torch.rand(3), np.random.rand(2), random.random())
    checkpoint.save(tmp_path / "c.pt", state)
    loaded = checkpoint.load(tmp_path / "c.pt")  # torch.load(weights_only=True) inside
    checkpoint.set_rng_state(loaded["rng"])
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(2), expected[1])
    assert random.random() == expected[2] and loaded["history"] == state["history"]


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save(path, {"format": checkpoint.FORMAT, "epoch": 1})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", disk_full)
    with pytest.raises(ArchspecError, match="No space left on device; the previous checkpoint .* is intact"):
        checkpoint.save(path, {"format": checkpoint.FORMAT, "epoch": 2})
    monkeypatch.undo()
    assert checkpoint.load(path)["epoch"] == 1 and not (tmp_path / "last.pt.tmp").exists()


def test_foreign_file_is_refused(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(ArchspecError, match="cannot load checkpoint"):
        checkpoint.load(tmp_path / "x.pt")


def _info(text, n_params, params):
    import hashlib

    return ModelInfo(None, "net", (1,), 2, "fc", text, hashlib.sha256(text.encode()).hexdigest(), None, n_params, params)


def test_changed_spec_is_refused_with_what_changed():
    old = _info("layers:\n  - {linear: 16}\n", 100, {"width": 16})
    saved = checkpoint.spec_record(old)
    checkpoint.check_same_spec(saved, old, "runs/a")  # unchanged: fine
    with pytest.raises(ArchspecError) as exc:
        checkpoint.check_same_spec(saved, _info("layers:\n  - {linear: 32}\n", 200, {"width": 32}), "runs/a")
    msg = str(exc.value)
    assert "cannot resume runs/a: the spec changed" in msg and "parameter count 100 -> 200" in msg
    assert "param width: 16 -> 32" in msg and "-  - {linear: 16}" in msg and "+  - {linear: 32}" in msg
