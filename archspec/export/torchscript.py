"""TorchScript export: torch.jit.script keeps every dimension dynamic; tracing is the
fallback for an op whose code TorchScript cannot compile."""
from __future__ import annotations

import warnings
from pathlib import Path

from archspec.errors import ArchspecError


def to_torchscript(module, report, path: Path) -> None:
    import torch

    from archspec.compiler.emit import example_inputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of torch.export
        try:
            scripted = torch.jit.script(module)
        except Exception:  # TorchScript's compiler raises many types; tracing handles what it can't
            try:
                scripted = torch.jit.trace(module, example_inputs(report, batch=2))
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ArchspecError(f"TorchScript export of {report.spec.name} failed: {first}") from None
    try:
        scripted.save(str(path))
    except (OSError, RuntimeError) as exc:
        raise ArchspecError(f"cannot write {path}: {exc}") from None
