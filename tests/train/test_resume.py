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

ARGS = {"data": "synthetic:800", "device": "cpu", "epochs": 4, "batch_size": 16, "seed": 3, "deterministic": True,
        "transforms": {"hflip": 0.5}}
CLI = ["--data", "synthetic:800", "--device", "cpu", "--epochs", "4",
       "--batch-size", "16", "--seed", "3", "--deterministic",
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


# The child is the real CLI in its own process, with one hook that parks it at a known point
# (after the epoch-2 checkpoint, or before step 60 inside epoch 2) and says so, so the test's
# signal lands at that point however slow or busy the machine is.
CHILD = """
import sys, time
from archspec.train import loop, progress
mode = sys.argv[1]
end_epoch, step = progress.Progress.end_epoch, loop.Trainer._step

def parked_end_epoch(self, record):
    end_epoch(self, record)
    if mode == "kill" and record["epoch"] == 2:
        print("PARKED", flush=True)
        time.sleep(120)

def parked_step(self, x, y):
    if mode == "int" and self.pos.step == 60:
        print("PARKED", flush=True)
        deadline = time.monotonic() + 120
        while not self._stop and time.monotonic() < deadline:
            time.sleep(0.01)
    return step(self, x, y)

progress.Progress.end_epoch, loop.Trainer._step = parked_end_epoch, parked_step
from archspec.cli.main import main
main(sys.argv[2:], prog_name="archspec")
"""


def start(mode, spec, out, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, "train", str(spec), *CLI, "--out", str(out)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


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
    proc = start("kill", spec, tmp_path / "run", tmp_path)
    wait_for_line(proc, "PARKED")  # after the epoch-2 checkpoint is on disk
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert (saved["epoch"], saved["batch"]) == (2, 0)
    summary = train(str(spec), {}, resume=str(tmp_path / "run"), stream=io.StringIO())
    assert summary["epochs"] == 4
    assert_same_run(reference / "run", tmp_path / "run")


def test_ctrl_c_saves_mid_epoch_exits_130_and_resumes_exactly(reference, tmp_path):
    spec = reference / "tiny.yaml"
    proc = start("int", spec, tmp_path / "run", tmp_path)
    wait_for_line(proc, "PARKED")  # before step 61, the 11th of epoch 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted in epoch" in err and "checkpoint saved to" in err and "Traceback" not in err
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert (saved["epoch"], saved["batch"]) == (1, 11)  # stopped inside epoch 2, after the step in flight
    summary = train(None, {}, resume=str(tmp_path / "run"), stream=io.StringIO())
    assert summary["epochs"] == 4
    assert_same_run(reference / "run", tmp_path / "run")
