"""Leaving archspec: a checked spec as an ONNX graph, a TorchScript archive or plain
PyTorch source, optionally with trained weights; or the weights alone as safetensors.
Imports torch (unlike `check`)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from archspec.errors import ArchspecError

FORMATS = ("onnx", "torchscript", "python", "safetensors")
SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript", ".py": "python",
            ".safetensors": "safetensors"}


@dataclass
class Exported:
    """What an export wrote: its files (the python format may add a weights file) and time taken."""

    format: str
    path: Path
    files: list[Path]
    seconds: float
    module: object  # the archspec module the export was made from (weights loaded)
    report: object


def format_for(path: str | Path) -> str | None:
    """The format a file name asks for by its suffix, if any."""
    return SUFFIXES.get(Path(path).suffix.lower())


def export(spec, fmt: str, out, params: dict | None = None, checkpoint=None, dynamo: bool = False,
           force: bool = False) -> Exported:
    """Check and build `spec`, load `checkpoint` (if given) and write it to `out` as `fmt`.

    Without `force`, nothing is written over the checkpoint being read, nor over an existing file
    the user did not name (the python format's weights file beside `out`)."""
    from archspec.compiler.pipeline import build_module
    from archspec.export.weights import load_weights

    if fmt not in FORMATS:
        raise ArchspecError(f"unknown export format '{fmt}' (formats: {', '.join(FORMATS)})")
    if fmt == "safetensors" and checkpoint is None:
        raise ArchspecError("the safetensors format holds weights only: give the trained ones with --checkpoint")
    out = Path(out)
    if not out.parent.exists():
        raise ArchspecError(f"cannot write {out}: folder {out.parent} does not exist")
    if not force:
        _refuse_overwrites(out, weights_file(out) if fmt == "python" and checkpoint is not None else None, checkpoint)
    start = time.perf_counter()
    module = build_module(spec, params)  # checks the spec (and the memory) before any weight exists
    report = module.report
    if checkpoint is not None:
        load_weights(module, checkpoint)
    module.eval()
    files = _write(fmt, module, report, out, checkpoint is not None, dynamo)
    return Exported(fmt, out, files, time.perf_counter() - start, module, report)


def _write(fmt, module, report, out: Path, weights: bool, dynamo: bool) -> list[Path]:
    if fmt == "onnx":
        from archspec.export.onnx import to_onnx

        to_onnx(module, report, out, dynamo=dynamo)
        return [out]
    if fmt == "safetensors":
        from archspec.train.weights import write_safetensors

        write_safetensors(module.state_dict(), out)
        return [out]
    if fmt == "torchscript":
        from archspec.export.torchscript import to_torchscript

        to_torchscript(module, report, out)
        return [out]
    from archspec.export.python import to_python

    saved = weights_file(out) if weights else None
    _write_text(out, to_python(report, weights=saved.name if saved else None))
    if saved is None:
        return [out]
    import torch

    tmp = saved.with_name(f".{saved.name}.{os.getpid()}.tmp")
    try:  # whole or not at all: a failed write never leaves half a weights file under the name
        torch.save(module.state_dict(), tmp)
        os.replace(tmp, saved)
    except (OSError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        raise ArchspecError(f"cannot write {saved}: {getattr(exc, 'strerror', None) or exc}") from None
    return [out, saved]


def weights_file(out: Path) -> Path:
    """Where the python format writes the weights it loads: beside the .py, with the suffix .pt."""
    return Path(out).with_suffix(".pt")


def _refuse_overwrites(out: Path, weights: Path | None, checkpoint) -> None:
    for path in filter(None, (out, weights)):
        if checkpoint is not None and _same_file(path, Path(checkpoint)):
            raise ArchspecError(f"{path} is the checkpoint being read ({checkpoint}); writing there would replace "
                                "it: choose another -o (or add --force)")
    if weights is not None and weights.exists():
        raise ArchspecError(f"{weights} already exists; the python export writes its weights there, beside "
                            f"{out.name}: choose another -o, remove the file, or add --force to replace it")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links and symlinks too
    except OSError:  # one of them does not exist yet
        return a.resolve() == b.resolve()


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchspecError(f"cannot write {path}: {exc.strerror or exc}") from None

