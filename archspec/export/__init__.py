"""Leaving archspec: a checked spec as an ONNX graph, a TorchScript archive or plain
PyTorch source, optionally with trained weights. Imports torch (unlike `check`)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from archspec.errors import ArchspecError

FORMATS = ("onnx", "torchscript", "python")
SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript", ".py": "python"}


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


def export(spec, fmt: str, out, params: dict | None = None, checkpoint=None, dynamo: bool = False) -> Exported:
    """Check and build `spec`, load `checkpoint` (if given) and write it to `out` as `fmt`."""
    from archspec.compiler.pipeline import build_module
    from archspec.export.weights import load_weights

    if fmt not in FORMATS:
        raise ArchspecError(f"unknown export format '{fmt}' (formats: {', '.join(FORMATS)})")
    out = Path(out)
    if not out.parent.exists():
        raise ArchspecError(f"cannot write {out}: folder {out.parent} does not exist")
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
    if fmt == "torchscript":
        from archspec.export.torchscript import to_torchscript

        to_torchscript(module, report, out)
        return [out]
    from archspec.export.python import to_python

    saved = out.with_suffix(".pt") if weights else None
    _write_text(out, to_python(report, weights=saved.name if saved else None))
    if saved is None:
        return [out]
    import torch

    torch.save(module.state_dict(), saved)
    return [out, saved]


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArchspecError(f"cannot write {path}: {exc.strerror or exc}") from None

