"""Pick the device and mixed-precision mode, refusing impossible requests with a clear error."""
from __future__ import annotations

import contextlib
import os

import torch

from archspec.errors import ArchspecError

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """'auto' means cuda if present, else mps, else cpu; explicit requests must be satisfiable."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ArchspecError("--device mps: the MPS backend is not available on this machine; use --device cpu")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            built = "built without CUDA" if torch.version.cuda is None else "sees no CUDA device"
            raise ArchspecError(
                f"--device {name}: CUDA is not available (torch {torch.__version__} {built}); "
                "use --device cpu or --device auto"
            )
        index = name.partition(":")[2]
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise ArchspecError(
                    f"--device {name}: no such CUDA device (this machine has {torch.cuda.device_count()})"
                )
        return torch.device(name)
    raise ArchspecError(f"--device {name}: expected auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def check_amp(amp: str, device: torch.device) -> None:
    """fp16 needs a GradScaler and CUDA kernels; on other devices bf16 is the working choice."""
    if amp == "fp16" and device.type != "cuda":
        raise ArchspecError(f"--amp fp16 needs a CUDA device, but the device is {device}; use --amp bf16 or --amp off")


def autocast(amp: str, device: torch.device):
    """The autocast context for one forward pass (a no-op when amp is off)."""
    if amp == "off":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=AMP_DTYPES[amp])


def grad_scaler(amp: str, device: torch.device) -> torch.amp.GradScaler:
    """A scaler that is only enabled for fp16, so bf16 and fp32 runs skip scaling entirely."""
    return torch.amp.GradScaler(device.type, enabled=(amp == "fp16"))


def set_deterministic(enabled: bool) -> None:
    """Ask torch (and cuBLAS) for bit-reproducible kernels; needed for exact resume on GPUs."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled and torch.cuda.is_available()
