"""`archspec train` under torchrun on the CPU (gloo): the same curve as one process, resume across
world sizes, a killed process ends the job, and the --nproc shortcut.

The global sample order depends only on the seed and the global batch, so 2 processes x 32 and
1 process x 64 see the same batches; they differ only in the order floats are summed.
"""
from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import torch
import yaml

from archspec.train.run import train

from .conftest import LENET, ROOT, RUN, env, run_ok, torchrun

CURVE = ("train_loss", "train_acc", "val_loss", "val_acc")
ONE = {"data": "digits", "val_split": 0.15, "device": "cpu", "seed": 5, "lr": 0.5, "batch_size": 64}


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def weights(run):
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]


def assert_same_curve(a: list, b: list):
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b]
    for ra, rb in zip(a, b):
        assert ra["step"] == rb["step"] and ra["lr"] == rb["lr"]
        for key in CURVE:
            assert ra[key] == pytest.approx(rb[key], abs=1e-5), (ra["epoch"], key)


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()  # saved from the bare module: no DDP "module." prefix
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-5, msg=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process x 64 for 3 epochs and for 2; two processes x 32 for 2 epochs (torchrun)."""
    root = tmp_path_factory.mktemp("dist")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1)
    train(str(LENET), {**ONE, "epochs": 3}, out=str(root / "one3"), stream=io.StringIO())
    train(str(LENET), {**ONE, "epochs": 2}, out=str(root / "one2"), stream=io.StringIO())
    torch.set_num_threads(before)
    two = run_ok(torchrun(2, LENET, *RUN, "--batch-size", "32", "--epochs", "2", "--out", root / "two2"), root)
    return root, two


def test_two_processes_give_the_curve_of_one_process_with_the_global_batch(runs):
    root, two = runs
    assert_same_curve(records(root / "two2"), records(root / "one3")[:2])
    config = yaml.safe_load((root / "two2" / "config.yaml").read_text())
    assert config["world_size"] == 2 and config["recipe"]["batch_size"] == 32
    # only rank 0 prints and writes; its samples/s counts both processes' samples
    assert len(re.findall(r"^epoch 1/2 ", two.stdout, re.M)) == 1 and two.stdout.count("done: lenet") == 1
    assert "cpu x 2 processes, batch 32 each (global 64)" in two.stdout
    assert all(r["samples_per_s"] > 0 for r in records(root / "two2"))
    assert sorted(p.name for p in (root / "two2").iterdir()) == [".archspec-run", "checkpoints", "config.yaml",
                                                                  "curves.png", "metrics.jsonl"]


def test_checkpoint_of_two_processes_resumes_in_one(runs):
    root, _ = runs
    torch.set_num_threads(1)
    summary = train(None, {"epochs": 3}, resume=str(root / "two2"), stream=io.StringIO())
    assert summary["epochs"] == 3
    config = yaml.safe_load((root / "two2" / "config.yaml").read_text())
    assert config["world_size"] == 1 and config["recipe"]["batch_size"] == 64  # the global batch is kept
    assert_same_curve(records(root / "two2"), records(root / "one3"))
    assert_same_weights(weights(root / "two2"), weights(root / "one3"))


def test_checkpoint_of_one_process_resumes_in_two(runs):
    root, _ = runs
    resumed = run_ok(torchrun(2, "--resume", root / "one2", "--epochs", "3"), root)
    assert "trained in 1 process(es), now 2: batch 32 each keeps its global batch of 64" in resumed.stdout
    assert_same_curve(records(root / "one2"), records(root / "one3"))
    assert_same_weights(weights(root / "one2"), weights(root / "one3"))


def workers(launcher_pid: int) -> dict[int, int]:
    """rank -> pid of the training processes whose parent is the torchrun agent (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        except (OSError, ValueError):
            continue
        if ppid == launcher_pid and b"RANK" in environ:
            found[int(environ[b"RANK"])] = int(entry)
    return found


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the worker processes in /proc")
@pytest.mark.parametrize("launcher", ["torchrun", "--nproc"])
def test_a_killed_process_stops_the_whole_job(tmp_path, launcher):
    args = [LENET, *RUN, "--epochs", "500", "--out", tmp_path / "run"]
    cmd = (torchrun(2, *args) if launcher == "torchrun"
           else [sys.executable, "-m", "archspec", "train", *map(str, args), "--nproc", "2"])
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if re.match(r"epoch +1/", line):
                break
        ranks = workers(proc.pid)
        assert sorted(ranks) == [0, 1], ranks
        os.kill(ranks[1], signal.SIGKILL)
        out, err = proc.communicate(timeout=120)  # a hang fails here instead of blocking CI
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode not in (0, None)
    assert not pid_alive(ranks[0]), "rank 0 outlived the job"
    if launcher == "torchrun":
        assert "SIGKILL" in err and "rank      : 1" in err  # torchrun's own failure report
    else:
        assert proc.returncode == 1 and "Traceback" not in err
        assert f"error: training process rank 1 (pid {ranks[1]}) was killed by SIGKILL" in err
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["epoch"] >= 1


def test_nproc_runs_the_same_command_in_two_processes(tmp_path):
    proc = run_ok([sys.executable, "-m", "archspec", "train", str(LENET), *RUN, "--epochs", "1", "--nproc", "2",
                   "--batch-size", "32", "--out", "run"], tmp_path)
    assert proc.stdout.count("epoch 1/1 ") == 1 and "global 64" in proc.stdout
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["world_size"] == 2 and len(records(tmp_path / "run")) == 1


def test_a_language_model_trains_in_two_processes_as_in_one(tmp_path):
    """The token task under DDP: next-token targets sharded like labels, val sums reduced over ranks."""
    (tmp_path / "corpus.txt").write_text("".join(f"the cat sat on mat {i % 7}.\n" for i in range(80)))
    gpt = ROOT / "specs" / "gpt_small.yaml"
    args = ["--data", f"text:{tmp_path / 'corpus.txt'}", "--vocab", "chars", "--device", "cpu", "--seed", "2",
            "--epochs", "2", "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=16", "--set", "block_size=8"]
    torch.set_num_threads(1)
    run_ok([sys.executable, "-m", "archspec", "train", gpt, *args, "--batch-size", "16", "--out", tmp_path / "one"],
           tmp_path)
    run_ok(torchrun(2, gpt, *args, "--batch-size", "8", "--out", tmp_path / "two"), tmp_path)
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    assert_same_curve(two, one)
    assert all(ra["val_ppl"] == pytest.approx(rb["val_ppl"], rel=1e-5) for ra, rb in zip(one, two))
    assert_same_weights(weights(tmp_path / "two"), weights(tmp_path / "one"))
