"""Exact resume: a run SIGKILLed after epoch 2 (or Ctrl-C'd mid-epoch) and resumed equals an unbroken run."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from archspec.train.run import train

ARGS = {"data": "synthetic:800", "epochs": 4, "batch_size": 16, "seed": 3, "deterministic": True,
        "transforms": {"hflip": 0.5}}
CLI = ["--data", "synthetic:800", "--epochs", "4", "--batch-size", "16", "--seed", "3", "--deterministic",
       "--transform", "hflip=0.5"]
COMPARED = ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The unbroken run, trained once for both tests."""
    from .conftest import TINY

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocesses (OMP_NUM_THREADS=1)
    folder = tmp_path_factory.mktemp("ref")
    (folder / "tiny.yaml").write_text(TINY)
    train(str(folder / "tiny.yaml"), dict(ARGS), out=str(folder / "run"), stream=io.StringIO())
    yield folder
    torch.set_num_threads(before)


def start(spec, out, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "archspec", "train", str(spec), *CLI, "--out", str(out)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_line(proc, prefix: str) -> None:
    for line in proc.stdout:
        if line.startswith(prefix):
            return
    pytest.fail(f"the run ended before printing {prefix!r}: {proc.stderr.read()}")


def assert_same_run(a, b):
    sa, sb = (torch.load(p / "checkpoints" / "last.pt", weights_only=True) for p in (a, b))
    assert sa["epoch"] == sb["epoch"] == 4
    for name, tensor in sa["model"].items():
        assert torch.equal(tensor, sb["model"][name]), name
    rows = [[{k: json.loads(line)[k] for k in COMPARED} for line in (p / "metrics.jsonl").read_text().splitlines()]
            for p in (a, b)]
    assert rows[0] == rows[1] and len(rows[0]) == 4


def test_sigkill_after_epoch_two_then_resume_is_exact(reference, tmp_path):
    spec = reference / "tiny.yaml"
    proc = start(spec, tmp_path / "run", tmp_path)
    wait_for_line(proc, "epoch 2/4")  # printed after the epoch-2 checkpoint is on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert 2 <= saved["epoch"] < 4, "the run finished before it could be killed"
    summary = train(str(spec), {}, resume=str(tmp_path / "run"), stream=io.StringIO())
    assert summary["epochs"] == 4
    assert_same_run(reference / "run", tmp_path / "run")


def test_ctrl_c_saves_mid_epoch_exits_130_and_resumes_exactly(reference, tmp_path):
    spec = reference / "tiny.yaml"
    proc = start(spec, tmp_path / "run", tmp_path)
    wait_for_line(proc, "epoch 1/4")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted in epoch" in err and "checkpoint saved to" in err and "Traceback" not in err
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert saved["epoch"] < 4 and saved["batch"] > 0  # stopped inside an epoch
    summary = train(None, {}, resume=str(tmp_path / "run"), stream=io.StringIO())
    assert summary["epochs"] == 4
    assert_same_run(reference / "run", tmp_path / "run")
