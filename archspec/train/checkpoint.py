"""Checkpoints: atomic writes, weights_only loads, RNG states, and the spec-changed check.

Everything stored is a tensor or a primitive so torch.load(weights_only=True) can read it:
loading a checkpoint never runs code from the file.
"""
from __future__ import annotations

import difflib
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from archspec.errors import ArchspecError

FORMAT = 1


def save(path: Path, state: dict) -> None:
    """Write to a temp file, fsync, then rename: a kill mid-save leaves the old file intact."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except (OSError, RuntimeError) as exc:  # a disk filling mid-write: torch's zip writer re-raises as RuntimeError
        tmp.unlink(missing_ok=True)
        cause = exc.__context__ if isinstance(exc, RuntimeError) and isinstance(exc.__context__, OSError) else exc
        raise ArchspecError(f"cannot write checkpoint {path}: {getattr(cause, 'strerror', None) or cause}; "
                            "the previous checkpoint (if any) is intact") from None


def copy(src: Path, dst: Path) -> None:
    """Atomic copy (best.pt from last.pt), same guarantees as save()."""
    tmp = Path(dst).with_name(Path(dst).name + ".tmp")
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArchspecError(f"cannot write checkpoint {dst}: {exc.strerror or exc}") from None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt" if (path / "checkpoints").is_dir() else path / "last.pt"
    if not path.is_file():
        raise ArchspecError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        raise ArchspecError(f"cannot load checkpoint {path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ArchspecError(f"{path} is not an archspec checkpoint (format {FORMAT})")
    return state


def rng_state() -> dict:
    """torch, CUDA, numpy and Python RNG states as tensors and primitives."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss"]))


def spec_record(info) -> dict:
    return {"name": info.name, "path": info.path, "text": info.text, "sha256": info.sha256,
            "n_params": info.n_params, "params": dict(info.params)}


def check_same_spec(saved: dict, info, run: str) -> None:
    """Refuse to continue a run whose spec text or parameters changed, showing what changed."""
    changes = []
    if saved["sha256"] != info.sha256:
        changes.append(f"spec sha256 {saved['sha256'][:12]} -> {info.sha256[:12]}")
    if saved["n_params"] != info.n_params:
        changes.append(f"parameter count {saved['n_params']:,} -> {info.n_params:,}")
    for key in sorted(set(saved["params"]) | set(info.params)):
        old, new = saved["params"].get(key, "<unset>"), info.params.get(key, "<unset>")
        if old != new:
            changes.append(f"param {key}: {old!r} -> {new!r}")
    if not changes:
        return
    diff = list(difflib.unified_diff(saved["text"].splitlines(), info.text.splitlines(), "checkpoint", "now",
                                     lineterm="", n=0))
    shown = diff[2:14] + (["  ..."] if len(diff) > 14 else [])
    raise ArchspecError(f"cannot resume {run}: the spec changed since the run started ("
                        + "; ".join(changes) + ")" + ("\n" + "\n".join("  " + d for d in shown) if shown else "")
                        + "\nstart a new run (without --resume) to train the changed spec")
