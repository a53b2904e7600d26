"""Helpers for the multi-process tests: a fake world for in-process checks, and torchrun subprocesses."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LENET = ROOT / "specs" / "d2l" / "lenet.yaml"
# A short, fixed run on digits (bundled, no download). 1,527 training samples make the last global
# batch of 64 hold 55: 28 + 27 in two processes, so the uneven-shard loss weights are exercised.
RUN = ["--data", "digits", "--val-split", "0.15", "--device", "cpu", "--seed", "5", "--lr", "0.5"]


def env(**extra) -> dict:
    """One thread per process (2 cores in CI), unbuffered output, a short collective timeout as a backstop."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "ARCHSPEC_DIST_TIMEOUT": "60", **extra}


def torchrun(nproc: int, *args) -> list[str]:
    """`torchrun --standalone --nproc_per_node N -m archspec train ARGS` (c10d rendezvous on a free port)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            "-m", "archspec", "train", *map(str, args)]


def run_ok(cmd, cwd) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def fake_world(monkeypatch):
    """Pretend to be rank `rank` of `size` processes (no process group: for pure functions only)."""
    from archspec.train import distributed

    def place(rank: int, size: int, local_rank: int | None = None, local_size: int | None = None):
        world = distributed.World(rank, size, rank if local_rank is None else local_rank,
                                  size if local_size is None else local_size)
        monkeypatch.setattr(distributed, "_world", world)
        return world

    return place


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here runs on one thread (see tests/conftest.py)."""
