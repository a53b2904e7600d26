"""Progress output: a live bar per epoch on a terminal, one plain line per epoch otherwise."""
from __future__ import annotations

import sys
import time

from archspec.diagnostics import printable
from archspec.train.metrics import EPOCH_KEYS


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def epoch_line(r: dict, epochs: int) -> str:
    """The epoch's numbers, with whatever else its task adds (a language model's perplexity: ppl)."""
    def extras(prefix):
        return "".join(f" {key[len(prefix):]} {value:.4g}" for key, value in r.items()
                       if key.startswith(prefix) and key not in EPOCH_KEYS and value is not None)

    val = f"  val loss {r['val_loss']:.4f} acc {r['val_acc']:.4f}{extras('val_')}" if r.get("val_acc") is not None else ""
    return (f"epoch {r['epoch']:>{len(str(epochs))}}/{epochs}  train loss {r['train_loss']:.4f} "
            f"acc {r['train_acc']:.4f}{extras('train_')}{val}  lr {r['lr']:.3g}  {r['samples_per_s']:,.0f} samples/s  "
            f"{r['seconds']:.1f}s")


class Progress:
    """Writes to `stream`; `tty` defaults to whether the stream is a terminal."""

    def __init__(self, epochs: int, stream=None, tty: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.epochs, self.quiet = epochs, quiet
        self._last = 0.0

    def write(self, text: str) -> None:
        """One line, its control characters escaped (names and paths come from specs and data files)."""
        if not self.quiet:
            text = printable(text)
            if self.tty:
                text = "\r\x1b[K" + text
            self.stream.write(text + "\n")
            self.stream.flush()

    def due(self, done: int, total: int) -> bool:
        """Whether the bar should be redrawn now (at most 10 times a second, and only on a terminal)."""
        return self.tty and not self.quiet and (time.monotonic() - self._last >= 0.1 or done == total)

    def step(self, epoch: int, done: int, total: int, loss: float, acc: float, samples_per_s: float) -> None:
        now = self._last = time.monotonic()
        width = 24
        filled = int(width * done / max(total, 1))
        eta = (total - done) / max(done, 1) * (now - self._epoch_start)
        self.stream.write(f"\r\x1b[Kepoch {epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{total}  loss {loss:.4f} acc {acc:.4f}  {samples_per_s:,.0f} samples/s  "
                          f"ETA {_duration(eta)}")
        self.stream.flush()

    def start_epoch(self) -> None:
        self._epoch_start = time.monotonic()
        self._last = 0.0

    def end_epoch(self, record: dict) -> None:
        self.write(epoch_line(record, self.epochs))
