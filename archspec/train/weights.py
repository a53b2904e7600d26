"""Starting weights from a file (`train --weights`, `export --checkpoint`), read as untrusted input.

A file is a torch zip (a plain state_dict, or an archspec checkpoint: archspec.train.checkpoint
reads both with weights_only, sized and verified) or a .safetensors file (a JSON header and raw
tensor bytes: nothing in it can run). Which one is told by its first bytes, not its name. Loading
is strict: every tensor of the model must come from the file with its shape, and the file may hold
nothing else, unless --weights-skip names the tensors to leave as initialized (a replaced head).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from archspec.errors import ArchspecError
from archspec.globs import chosen, require_matches
from archspec.train.files import open_regular, require_room

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since torch 1.6
MAX_HEADER = 100_000_000  # bytes of JSON: the safetensors library's own bound


def read(path, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The tensors in a weights file, by name; ArchspecError naming the file for anything else."""
    path = Path(path)
    if not path.exists():
        raise ArchspecError(f"{what} {path}: no such file")
    with open_regular(path, what) as f:  # a folder, FIFO or device is refused by name
        head = f.read(9)
        size = os.fstat(f.fileno()).st_size
    if head.startswith(ZIP_MAGIC):
        from archspec.train.checkpoint import read_weights

        return read_weights(path, what)
    return _read_safetensors(path, head, size, what)


def _read_safetensors(path: Path, head: bytes, size: int, what: str) -> dict[str, torch.Tensor]:
    """A safetensors file, its header length checked against the file before the library reads it."""
    if len(head) < 9 or head[8:9] != b"{":
        raise ArchspecError(f"cannot load {what} {path}: neither a torch file (a zip archive) nor a safetensors "
                            "file (an 8-byte header length, then JSON)")
    declared = int.from_bytes(head[:8], "little")
    if declared > min(MAX_HEADER, size - 8):
        raise ArchspecError(f"cannot load {what} {path}: its safetensors header declares {declared:,} bytes but the "
                            f"file has {size - 8:,} after the length" + (" (over the 100 MB the format allows)"
                                                                        if declared > MAX_HEADER else "; is it truncated?"))
    require_room(size, f"{what} {path}")
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise ArchspecError(f"{path} is a safetensors file; install the safetensors package to read it: "
                            "pip install 'archspec[train]'") from None
    try:
        return dict(load_file(str(path), device="cpu"))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise ArchspecError(f"cannot load {what} {path}: {first[:300]}") from None


def write_safetensors(state: dict[str, torch.Tensor], path) -> None:
    """A state_dict as .safetensors, whole or not at all (a temp file renamed into place)."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    try:
        save_file(_untied(tensors), str(tmp), metadata={"format": "pt"})
        os.replace(tmp, path)
    except (OSError, RuntimeError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise ArchspecError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _untied(tensors: dict) -> dict:
    """safetensors refuses tensors sharing memory (tied weights): each name gets its own copy."""
    seen, out = set(), {}
    for name, t in tensors.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        out[name] = t.clone() if key in seen else t
        seen.add(key)
    return out


@dataclass
class Fit:
    """How a file's tensors fit a model's state_dict, with the names --weights-skip left out."""

    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model
    reshaped: list[tuple[str, list, list]] = field(default_factory=list)  # (name, file's shape, model's shape)
    skipped: list[str] = field(default_factory=list)  # the model's tensors left as initialized
    loaded: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.reshaped)

    def problems(self, source: str) -> list[str]:
        """A line per kind of mismatch, naming the first few keys."""
        out = []
        if self.reshaped:
            name, got, want = self.reshaped[0]
            out.append(f"{_count(self.reshaped, 'tensor')} of another shape (first: {name} is {got} in {source}, "
                       f"{want} in the spec)")
        if self.missing:
            out.append(f"{_count(self.missing, 'key')} missing from {source} ({_some(self.missing)})")
        if self.unexpected:
            out.append(f"{_count(self.unexpected, 'key')} the spec does not have ({_some(self.unexpected)})")
        return out

    def note(self, path) -> str:
        """The run header's line: 'weights from F: 120 tensors loaded, 2 left as initialized (fc.weight, fc.bias)'."""
        left = f", {len(self.skipped):,} left as initialized ({_some(self.skipped, 4)})" if self.skipped else ""
        return f"weights from {path}: {self.loaded:,} tensors loaded{left}"

    def modules_to_skip(self) -> list[str]:
        """The modules holding the mis-shaped tensors ('fc' for fc.weight and fc.bias): what a replaced
        head's --weights-skip names."""
        return sorted({name.rpartition(".")[0] or name for name, _, _ in self.reshaped})


def fit(expected: dict, state: dict, skip=()) -> Fit:
    """Compare a file's tensors with the model's; names a skip pattern matches are not compared."""
    skipped = set(chosen(expected, skip)) | set(chosen(state, skip))
    return Fit(missing=[k for k in expected if k not in state and k not in skipped],
               unexpected=[k for k in state if k not in expected and k not in skipped],
               reshaped=[(k, list(state[k].shape), list(expected[k].shape)) for k in expected
                         if k in state and k not in skipped and tuple(state[k].shape) != tuple(expected[k].shape)],
               skipped=[k for k in expected if k in skipped])


def load(module: torch.nn.Module, path, skip=(), option: str = "--weights") -> Fit:
    """Load the file's tensors into `module`, all of them (strict), but those `skip` matches.

    A mismatch is one ArchspecError listing the missing, unexpected and mis-shaped keys, with the
    --weights-skip that would load the rest when only a head differs."""
    state = read(path, f"{option} file")
    expected = module.state_dict()
    skip = list(skip)
    require_matches("--weights-skip", skip, list(expected) + list(state))
    result = fit(expected, state, skip)
    if not result.ok:
        hint = ""
        if result.reshaped and not result.missing and not result.unexpected:
            heads = result.modules_to_skip()
            hint = ("; to start the model from the rest and train those afresh (a new head), add "
                    + " ".join(f"--weights-skip {m}" for m in heads))
        raise ArchspecError(f"{option} {path} does not fit the spec:\n  "
                            + "\n  ".join(result.problems("the file")) + hint)
    wanted = {k: v for k, v in state.items() if k in expected and k not in result.skipped}
    module.load_state_dict(wanted, strict=False)
    result.loaded = len(wanted)
    return result


def _count(items, word: str) -> str:
    return f"{len(items)} {word}{'s' if len(items) != 1 else ''}"


def _some(keys, n: int = 3) -> str:
    more = f", ... {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more
