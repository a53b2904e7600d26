"""Run folders: archspec writes only into folders it made, a run owns its folder (a second run is
refused at once, a killed one leaves no stale lock), SIGTERM is handled like Ctrl-C, a signal
during a checkpoint write never leaves a torn or stale file, the first error is the one shown,
and --resume works from any folder, even when the spec file is gone."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from archspec.cli.main import main
from archspec.errors import ArchspecError
from archspec.train import checkpoint

from ..train.conftest import TINY

FAST = ["--data", "synthetic:48", "--epochs", "2", "--batch-size", "16", "--seed", "0", "--device", "cpu"]


@pytest.fixture
def cli(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY)
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# --- never write into what archspec did not make -------------------------------------------------
def test_out_at_a_folder_archspec_did_not_make_is_refused_untouched(cli, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    files = {"config.yaml": b"my own settings\n", "metrics.jsonl": b"{}\n", "curves.png": b"my plot"}
    for name, data in files.items():
        (mine / name).write_bytes(data)
    for extra in ([], ["--force"]):
        result = cli("train", "tiny.yaml", *FAST, "--out", "mine", *extra)
        assert result.exit_code == 2, result.output
        assert "--out mine is not empty (config.yaml, curves.png, metrics.jsonl) and is not an archspec run folder" \
            in result.output
    assert {p.name: p.read_bytes() for p in mine.iterdir()} == files


def test_a_run_without_checkpoints_is_refused_and_force_replaces_only_its_files(cli, tmp_path):
    assert cli("train", "tiny.yaml", *FAST, "--out", "run").exit_code == 0
    for name in ("last.pt", "best.pt"):
        (tmp_path / "run" / "checkpoints" / name).unlink()  # the old check looked for last.pt only
    (tmp_path / "run" / "notes.txt").write_text("mine")
    result = cli("train", "tiny.yaml", *FAST, "--out", "run")
    assert result.exit_code == 2 and "--out run already holds a run; continue it with --resume run, replace it " \
                                      "with --force" in result.output
    result = cli("train", "tiny.yaml", *FAST, "--epochs", "1", "--out", "run", "--force")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 1  # the new run's, not appended


def test_default_out_skips_taken_folders(cli, tmp_path):
    (tmp_path / "runs" / "tiny").mkdir(parents=True)
    (tmp_path / "runs" / "tiny" / "x").write_text("")
    result = cli("train", "tiny.yaml", *FAST, "--epochs", "1")
    assert result.exit_code == 0 and "run folder runs/tiny-2" in result.output


# --- a run owns its folder -----------------------------------------------------------------------
# The child is the real CLI with a hook that parks it at a chosen point and says so, so a signal
# (or a second run) lands there however slow the machine is.
CHILD = """
import sys, time
from archspec.train import loop, checkpoint
mode = sys.argv[1]
step, save = loop.Trainer._step, checkpoint.torch.save

stopping = []

def parked_step(self, x, y):
    if mode in ("step", "ctrl-c-twice") and self.pos.step == 4:
        print("PARKED", flush=True)
        deadline = time.monotonic() + 60
        while not self._stop and time.monotonic() < deadline:
            time.sleep(0.01)
        stopping.append(self._stop)
    return step(self, x, y)

def parked_save(obj, f):
    save(obj, f)
    if mode == "save" or (mode == "ctrl-c-twice" and stopping):
        print("PARKED", flush=True)  # written, not yet renamed into place
        time.sleep(2 if mode == "ctrl-c-twice" else 60)

loop.Trainer._step, checkpoint.torch.save = parked_step, parked_save
from archspec.cli.main import main
main(sys.argv[2:], prog_name="archspec")
"""


def start(mode, cwd, *args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_parked(proc):
    for line in proc.stdout:
        if line.startswith("PARKED"):
            return
    pytest.fail(f"the run ended before parking: {proc.stderr.read()}")


def test_a_second_run_on_the_same_folder_is_refused_and_a_killed_one_leaves_no_lock(cli, tmp_path):
    first = start("step", tmp_path, "train", "tiny.yaml", *FAST, "--out", "run")
    try:
        wait_parked(first)  # in epoch 1: no last.pt yet, which the old check relied on
        result = cli("train", "tiny.yaml", *FAST, "--out", "run")
        assert result.exit_code == 1
        assert f"run is in use by another archspec run (pid {first.pid}); wait for it to end" in result.output
        assert "Traceback" not in result.output
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stdout.close(), first.stderr.close()
    result = cli("train", "tiny.yaml", *FAST, "--out", "run", "--force")  # the kernel dropped the lock
    assert result.exit_code == 0, result.output


def test_sigterm_saves_the_partial_epoch_and_the_curves(cli, tmp_path):
    proc = start("step", tmp_path, "train", "tiny.yaml", *FAST, "--epochs", "3", "--out", "run")
    wait_parked(proc)  # before the 5th step: epoch 2, after 1 of its 3 batches
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "stopped by SIGTERM in epoch 2 after 2 batches; checkpoint saved to run/checkpoints/last.pt" in err
    saved = checkpoint.load(tmp_path / "run")
    assert (saved["epoch"], saved["batch"]) == (1, 2)
    assert (tmp_path / "run" / "curves.png").is_file()
    assert cli("train", "--resume", "run").exit_code == 0


def test_a_kill_during_a_checkpoint_write_leaves_no_stale_temporary(cli, tmp_path):
    proc = start("save", tmp_path, "train", "tiny.yaml", *FAST, "--out", "run")
    wait_parked(proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close(), proc.stderr.close()
    tmp = tmp_path / "run" / "checkpoints" / "last.pt.tmp"
    assert tmp.is_file()  # what the kill left
    result = cli("train", "tiny.yaml", *FAST, "--out", "run", "--force")
    assert result.exit_code == 0, result.output
    assert not tmp.exists()


def test_a_second_ctrl_c_during_a_checkpoint_write_ends_cleanly(cli, tmp_path):
    proc = start("ctrl-c-twice", tmp_path, "train", "tiny.yaml", *FAST, "--epochs", "3", "--out", "run")
    wait_parked(proc)  # parked at step 5
    proc.send_signal(signal.SIGINT)  # stop: the partial epoch is being written
    wait_parked(proc)  # inside that write
    proc.send_signal(signal.SIGINT)  # again, at once
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "enforce" not in err, err
    assert not (tmp_path / "run" / "checkpoints" / "last.pt.tmp").exists()
    assert checkpoint.load(tmp_path / "run")["batch"] == 2  # the write finished whole


def test_the_first_error_is_kept_when_the_plot_fails_too(cli, monkeypatch):
    from archspec.train import plots, run

    calls = []

    def full_after_first(fd):  # the disk fills after epoch 1's checkpoints (3 fsyncs: file, folder, best.pt)
        calls.append(fd)
        if len(calls) > 3:
            raise OSError(28, "No space left on device")

    def no_plot(*args, **kwargs):
        raise ArchspecError("cannot write plot run/curves.png: No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", full_after_first)
    monkeypatch.setattr(run, "plot_runs", no_plot)
    result = cli("train", "tiny.yaml", *FAST, "--out", "run")
    assert result.exit_code == 1
    assert "cannot write checkpoint run/checkpoints/last.pt: No space left on device; the previous checkpoint " \
           "(if any) is intact" in result.output
    assert "(curves.png not written either: error: cannot write plot" in result.output
    assert plots is not None


# --- resume from anywhere ------------------------------------------------------------------------
def test_resume_from_another_folder_and_without_the_spec_file(cli, tmp_path, monkeypatch):
    assert cli("train", "tiny.yaml", *FAST, "--out", "run").exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "tiny.yaml").write_text(TINY.replace("width: 4", "width: 5"))  # a different file of that name
    monkeypatch.chdir(elsewhere)
    result = cli("train", "--resume", tmp_path / "run", "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert "resuming with the spec text" not in result.output  # the recorded absolute path still holds it
    (tmp_path / "tiny.yaml").unlink()
    result = cli("train", "--resume", tmp_path / "run", "--epochs", "4")
    assert result.exit_code == 0, result.output
    assert f"the spec file {tmp_path / 'tiny.yaml'} is gone: resuming with the spec text stored in the checkpoint" \
        in result.output
    state = checkpoint.load(tmp_path / "run")
    assert state["epoch"] == 4 and state["spec"]["path"] == str(tmp_path / "tiny.yaml")
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["sha256"]
