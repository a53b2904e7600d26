"""A run folder: config.yaml, metrics.jsonl, checkpoints/{last,best}.pt, curves.png, and the
marker file that says archspec made it.

archspec writes only into folders it made (or empty ones), and a run owns its folder through an
OS lock on the marker (fcntl.flock): a second run on the same folder is refused at once, and a
crashed run leaves no stale lock, since the kernel drops it with the process.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from archspec.errors import ArchspecError
from archspec.train import checkpoint
from archspec.train.metrics import append_log
from archspec.train.recipe import OptionError

MARKER = ".archspec-run"


class FolderInUse(ArchspecError):
    """Another process holds the run folder's lock."""


class RunFolder:
    """The files of one run: config.yaml, metrics.jsonl, checkpoints/{last,best}.pt, curves.png."""

    def __init__(self, root):
        self.root = Path(root)
        self.config, self.metrics, self.curves = (self.root / n for n in ("config.yaml", "metrics.jsonl", "curves.png"))
        self.last, self.best = self.root / "checkpoints" / "last.pt", self.root / "checkpoints" / "best.pt"
        self.marker = self.root / MARKER

    def written(self) -> list[Path]:
        """What a run writes here (and --force may replace): nothing else in the folder is touched."""
        temps = [p.with_name(p.name + ".tmp") for p in (self.last, self.best)]
        events = sorted((self.root / "tensorboard").glob("events.out.tfevents.*"))  # --log tensorboard's
        return [self.config, self.metrics, self.curves, self.last, self.best, *events, *temps]

    def holds_run(self) -> bool:
        return self.marker.exists() or self.last.exists()

    def contents(self) -> list[str]:
        try:
            return sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else []
        except OSError:
            return []  # create() reports what is wrong with the folder

    def create(self) -> None:
        """Make the folders and prove they are writable before any training work."""
        try:
            (self.root / "checkpoints").mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise ArchspecError(f"--out {self.root}: cannot write the run folder: {exc.strerror or exc}") from None

    @contextmanager
    def owned(self):
        """Hold the folder's lock for the block; temporaries a killed run left behind are removed."""
        try:
            fd = os.open(self.marker, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ArchspecError(f"cannot lock the run folder {self.root}: {exc.strerror or exc}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                raise FolderInUse(f"{self.root} is in use by another archspec run"
                                  f"{f' (pid {holder})' if holder.isdigit() else ''}; wait for it to end, "
                                  "or choose another --out") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            for tmp in self.written()[-2:]:  # only an owner may remove them: they may be another run's writes
                tmp.unlink(missing_ok=True)
            yield self
        finally:
            os.close(fd)  # drops the lock

    def clear(self) -> None:
        """Remove an earlier run's files (--force): only those archspec writes."""
        for path in self.written():
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise ArchspecError(f"--force: cannot remove {path}: {exc.strerror or exc}") from None

    def write(self, path: Path, text: str) -> None:
        try:
            path.write_text(text)
        except OSError as exc:
            raise ArchspecError(f"cannot write {path}: {exc.strerror or exc}") from None

    def save_last(self, state: dict) -> Path:
        checkpoint.save(self.last, state)
        return self.last

    def epoch_done(self, record: dict, state: dict, is_best: bool) -> None:
        self.save_last(state)
        if is_best:
            checkpoint.copy(self.last, self.best)
        try:
            append_log(self.metrics, record)
        except OSError as exc:
            raise ArchspecError(f"cannot write {self.metrics}: {exc.strerror or exc}") from None


def claim_new(root: Path, force: bool, owner) -> RunFolder:
    """A folder for a new run, locked by `owner` (an ExitStack): new or empty, or holding an earlier
    run that --force replaces. A folder archspec did not make is never written into."""
    run = RunFolder(root)
    contents, had_run = run.contents(), run.holds_run()
    if contents and not had_run:
        shown = ", ".join(contents[:3]) + (f" and {len(contents) - 3} more" if len(contents) > 3 else "")
        raise OptionError(f"--out {root} is not empty ({shown}) and is not an archspec run folder; archspec writes "
                          "only into new or empty folders: choose another --out")
    run.create()
    owner.enter_context(run.owned())
    if had_run:
        if not force:
            raise OptionError(f"--out {root} already holds a run; continue it with --resume {root}, replace it "
                              "with --force, or choose another --out")
        run.clear()
    return run


def claim_default(name: str, owner, base: Path = Path("runs")) -> RunFolder:
    """runs/NAME, or runs/NAME-2, -3, ...: the first that is free, so earlier (and concurrent) runs are
    never overwritten."""
    n = 1
    while True:
        candidate = base / (name if n == 1 else f"{name}-{n}")
        n += 1
        if RunFolder(candidate).contents():
            continue
        try:
            return claim_new(candidate, False, owner)
        except (FolderInUse, OptionError):  # another run took it between the look and the lock
            continue


def claim_existing(root, owner) -> RunFolder:
    """The folder of a run being resumed, locked by `owner`."""
    run = RunFolder(root)
    if not run.last.is_file():
        raise ArchspecError(f"--resume {root}: no checkpoint at {run.last}")
    owner.enter_context(run.owned())
    return run
