"""Checkpoints under faults, with real processes and real errors (the mocked ones are in
tests/train): a kill in the middle of a write, a full disk, a truncated or foreign file,
and a pickle that would run code."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from archspec.errors import ArchspecError
from archspec.train import checkpoint

WRITER = textwrap.dedent("""
    import sys, torch
    from archspec.train import checkpoint
    path, start = sys.argv[1], int(sys.argv[2])
    for epoch in range(start, start + 10_000):
        checkpoint.save(path, {"format": checkpoint.FORMAT, "epoch": epoch,
                               "model": {"w": torch.full((4_000_000,), float(epoch))}})
        print(epoch, flush=True)
""")


def state(epoch, size=10):
    return {"format": checkpoint.FORMAT, "epoch": epoch, "model": {"w": torch.full((size,), float(epoch))}}


def test_sigkill_during_writes_leaves_a_complete_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save(path, state(0, 4_000_000))
    kills = []
    for trial in range(4):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(1000 * (trial + 1))],
                                 stdout=subprocess.PIPE, text=True)
        child.stdout.readline()  # one save done: the next ones are in flight
        time.sleep(0.05 * trial)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        loaded = checkpoint.load(path)  # never a torn file: the previous or the newest whole one
        assert torch.equal(loaded["model"]["w"], torch.full((4_000_000,), float(loaded["epoch"])))
        kills.append(loaded["epoch"])
    assert all(k >= 1000 for k in kills)


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save(path, state(1))
    (tmp_path / "last.pt.tmp").symlink_to("/dev/full")  # every write there fails with ENOSPC
    with pytest.raises(ArchspecError, match=r"cannot write checkpoint .*last.pt: No space left on device; "
                                            r"the previous checkpoint \(if any\) is intact"):
        checkpoint.save(path, state(2))
    assert checkpoint.load(path)["epoch"] == 1
    assert not (tmp_path / "last.pt.tmp").exists()


def test_a_file_size_limit_mid_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save(path, state(1))
    code = textwrap.dedent(f"""
        import resource, signal, torch
        from archspec.errors import ArchspecError
        from archspec.train import checkpoint
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            checkpoint.save({str(path)!r}, {{"format": checkpoint.FORMAT, "epoch": 2, "model": {{"w": torch.zeros(1_000_000)}}}})
        except ArchspecError as e:
            print(e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in out.stderr, out.stderr
    assert "cannot write checkpoint" in out.stdout and "the previous checkpoint (if any) is intact" in out.stdout
    assert checkpoint.load(path)["epoch"] == 1


def test_a_truncated_checkpoint_is_refused_with_its_path(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save(path, state(3, 100_000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchspecError, match=f"cannot load checkpoint {path}: "):
        checkpoint.load(path)


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


PWNED = "/tmp/archspec-checkpoint-pwned"


def test_a_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "model": Payload()}, path)
    with pytest.raises(ArchspecError, match=f"cannot load checkpoint {path}: "):
        checkpoint.load(path)
    path.write_bytes(pickle.dumps(Payload(), protocol=2))
    with pytest.raises(ArchspecError, match=f"cannot load checkpoint {path}"):
        checkpoint.load(path)
    assert not os.path.exists(PWNED)


def test_a_torch_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(3)}, path)
    with pytest.raises(ArchspecError, match=f"{path} is not an archspec checkpoint"):
        checkpoint.load(path)
