"""Text for language models: `text:PATH` (a file, or a folder of text files) and `text:stdlib`
(the bundled demo: a fixed selection of this Python's own standard-library source, on every
machine without a download).

The corpus becomes one id per byte (--vocab bytes: ids 0-255) or per character (--vocab chars:
the corpus' characters in code-point order, stored with the run so `generate` and --resume use
the same ids). The ids are cut into blocks of the spec's context length T: block i's input is
ids[iT : iT+T] and its target the same window one token on, so every token but the first is a
target exactly once. Validation is the text's tail: the last --val-split (default 10%) of blocks.
"""
from __future__ import annotations

import math
import os
import stat
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from archspec.errors import ArchspecError
from archspec.train.files import read_bounded, require_room

MAX_TEXT_BYTES = 1 << 30  # a corpus held in memory as ids: 1-4 bytes each, inputs and targets sharing them
MAX_FILES = 100_000
STDLIB_BYTES = 1 << 20  # the demo: whole modules, in name order, until this many bytes
DEFAULT_VAL_FRACTION = 0.1
MAX_CHARS = 1 << 20  # a chars vocabulary stored in a checkpoint


@dataclass(frozen=True)
class Vocab:
    """Ids <-> text: bytes (chars is None) or the characters of `chars`, in order."""

    chars: str | None = None

    @property
    def size(self) -> int:
        return 256 if self.chars is None else len(self.chars)

    @property
    def kind(self) -> str:
        return "bytes" if self.chars is None else "chars"

    def encode(self, text: str, where: str = "the prompt") -> torch.Tensor:
        if self.chars is None:
            return torch.tensor(list(text.encode("utf-8")), dtype=torch.long)
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = next((c for c in text if c not in index), None)
        if unknown is not None:
            raise ArchspecError(f"{where} holds {unknown!r} (U+{ord(unknown):04X}, at character "
                                f"{text.index(unknown)}), which is not in the run's vocabulary of "
                                f"{len(self.chars)} characters (those of its training text)")
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        if self.chars is None:
            return bytes(int(i) for i in ids).decode("utf-8", errors="replace")
        return "".join(self.chars[int(i)] for i in ids)

    def check_same(self, stored, where: str, source: str) -> None:
        """Refuse to read a text into other ids than a run's (a chars vocabulary comes from its text)."""
        run = Vocab.stored(stored, where)
        if run != self:
            raise ArchspecError(f"{where}: the run's vocabulary has {run.size} {run.kind}, {source} now gives "
                                f"{self.size} {self.kind}; the text changed since the run trained (its ids would "
                                "mean other characters)")

    @staticmethod
    def stored(value, where) -> "Vocab":
        """The vocabulary a checkpoint stores (None or "bytes": bytes; a string of distinct characters)."""
        if value is None or value == "bytes":
            return Vocab()
        if not isinstance(value, str) or not 2 <= len(value) <= MAX_CHARS or len(set(value)) != len(value):
            raise ArchspecError(f"{where}: the checkpoint's field vocab should be 'bytes' or a string of distinct "
                                "characters; the file was edited or forged (archspec did not write it so)")
        return Vocab(value)


@dataclass
class Corpus:
    ids: torch.Tensor  # one id per token, the smallest integer type that holds the vocabulary
    vocab: Vocab
    files: int


def read_corpus(source: str, arg: str, vocab_kind: str) -> Corpus:
    """The ids of the text `source` names (text:PATH or text:stdlib), read as bytes or characters."""
    files = stdlib_files() if arg == "stdlib" else text_files(source, Path(arg))
    total = sum(size for _, size in files)
    if total > MAX_TEXT_BYTES:
        raise ArchspecError(f"--data {source}: {total:,} bytes of text, over the limit of {MAX_TEXT_BYTES:,}")
    require_room(total * 4, f"--data {source}")
    raw = [read_bounded(path, size, "text file") for path, size in files]
    if vocab_kind == "bytes":
        return Corpus(torch.frombuffer(bytearray(b"".join(raw)), dtype=torch.uint8), Vocab(), len(files))
    text = "".join(_decoded(source, path, data) for (path, _), data in zip(files, raw))
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    alphabet = np.unique(points)
    if len(alphabet) < 2:
        raise ArchspecError(f"--data {source}: the text has {len(alphabet)} distinct character(s); a language model "
                            "needs at least 2")
    ids = np.searchsorted(alphabet, points).astype(np.uint8 if len(alphabet) <= 256 else np.int32)
    return Corpus(torch.from_numpy(ids), Vocab("".join(map(chr, alphabet.tolist()))), len(files))


def _decoded(source: str, path: Path, data: bytes) -> str:
    """A file's text; a mistake names its file and byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArchspecError(f"--data {source}: {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                            f"{exc.start}); --vocab chars reads characters, --vocab bytes reads any file") from None


def text_files(source: str, path: Path) -> list[tuple[Path, int]]:
    """A file, or every regular file under a folder (sorted; hidden ones and links to folders
    skipped), with its size."""
    if path.is_file():
        return [(path, path.stat().st_size)]
    if not path.is_dir():
        raise ArchspecError(f"--data {source}: {path} is neither a file nor a folder")
    found = []
    for top, dirs, files in os.walk(path, onerror=_unreadable(source)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            file = Path(top) / name
            if name.startswith("."):
                continue
            mode = file.stat().st_mode
            if not stat.S_ISREG(mode):
                raise ArchspecError(f"--data {source}: {file} is not a regular file; remove it from the folder")
            found.append((file, file.stat().st_size))
            if len(found) > MAX_FILES:
                raise ArchspecError(f"--data {source}: more than {MAX_FILES:,} files under {path}")
    if not found:
        raise ArchspecError(f"--data {source}: no files under {path}")
    return found


def _unreadable(source: str):
    def fail(exc: OSError):
        raise ArchspecError(f"--data {source}: cannot list {exc.filename}: {exc.strerror or exc}")

    return fail


def stdlib_files() -> list[tuple[Path, int]]:
    """The demo corpus: the top-level modules of this Python's standard library whose names do
    not start with '_', in name order, whole, until STDLIB_BYTES (the same files for one
    Python version on every machine)."""
    folder = Path(sysconfig.get_paths()["stdlib"])
    chosen, total = [], 0
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_") or not path.is_file():
            continue
        size = path.stat().st_size
        if total + size > STDLIB_BYTES:
            break
        chosen.append((path, size))
        total += size
    if not chosen:
        raise ArchspecError(f"--data text:stdlib: no standard-library source under {folder} (a Python installed "
                            "without its .py files?); use text:PATH with a text file of your own")
    return chosen


def blocks(ids: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and next-token targets, (n, length) each, views of `ids` (no copy)."""
    n = (len(ids) - 1) // length
    return ids[:n * length].view(n, length), ids[1:n * length + 1].view(n, length)


def unigram_loss(train_targets: torch.Tensor, val_targets: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy (nats per token) on the validation targets of the model that predicts every
    token from the training split's token frequencies alone (add-one smoothed, so a token unseen
    in training costs a finite amount): the bar a language model has to get under."""
    counts = torch.bincount(train_targets.reshape(-1).long(), minlength=vocab_size).double() + 1
    logp = counts.log() - math.log(float(counts.sum()))
    return float(-logp[val_targets.reshape(-1).long()].mean())
