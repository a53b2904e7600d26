"""Checkpoints: atomic writes, bounded weights_only loads, an integrity digest, RNG states,
and the spec-changed check.

Everything stored is a tensor or a primitive so torch.load(weights_only=True) can read it:
loading a checkpoint never runs code from the file. A checkpoint is untrusted input: its zip
records are sized before torch reads them, a sha256 of its contents stored inside it must
match (torch does not check the zip's CRCs, so flipped bytes would load silently), and every
field is checked for type and range before a run uses it (checkpoint_fields.py). read() is
how every command reads one (read_weights() for export, which also takes a bare state_dict).
"""
from __future__ import annotations

import difflib
import hashlib
import os
import random
import shutil
import signal
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from archspec.errors import ArchspecError
from archspec.train.distributed import STOP_SIGNALS
from archspec.train.files import open_regular, require_room

FORMAT = 2  # 2: with the sha256 digest of its contents
WRAPPERS = ("_orig_mod.", "module.")  # torch.compile and DataParallel prefixes of weight names


def save(path: Path, state: dict) -> None:
    """Write to a temp file, fsync, then rename: a kill mid-save leaves the old file intact.

    The digest of the contents is stored with them; Ctrl-C or SIGTERM during the write waits
    for its end (an exception inside torch's zip writer leaves a torn file and an internal error)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    state = {**state, "sha256": digest(state)}
    with signals_deferred():
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
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def copy(src: Path, dst: Path) -> None:
    """Atomic copy (best.pt from last.pt), same guarantees as save()."""
    tmp = Path(dst).with_name(Path(dst).name + ".tmp")
    with signals_deferred():
        try:
            shutil.copyfile(src, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dst)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ArchspecError(f"cannot write checkpoint {dst}: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


@contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM until the block ends, then deliver them to the handlers of before."""
    caught = []
    try:
        previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in STOP_SIGNALS}
    except ValueError:  # not the main thread: signals are the main thread's business
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        for sig in caught:
            signal.raise_signal(sig)


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


def digest(state) -> str:
    """sha256 of a checkpoint's contents: every tensor's dtype, shape and bytes, every other value's
    repr, in the order torch.save keeps (dict order survives a save and a load)."""
    h = hashlib.sha256()
    _feed(h, state)
    return h.hexdigest()


def _feed(h, value) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"T{flat.dtype}{tuple(value.shape)}:".encode())
        h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    elif isinstance(value, dict):
        h.update(b"D%d:" % len(value))
        for key, item in value.items():
            _feed(h, key)
            _feed(h, item)
    elif isinstance(value, (list, tuple)):
        h.update(b"L%d:" % len(value))
        for item in value:
            _feed(h, item)
    else:
        h.update(repr(value).encode() + b"\0")


def locate(path) -> Path:
    """A checkpoint file, or a run folder's checkpoints/last.pt."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.pt" if (path / "checkpoints").is_dir() else path / "last.pt"
    if not path.is_file():
        raise ArchspecError(f"no checkpoint at {path}")
    return path


def read_torch_file(path, what: str = "checkpoint"):
    """torch.load(weights_only=True) of a file whose zip records were sized first: records must be
    stored (torch never compresses them) and fit in memory, so a small file cannot inflate to gigabytes."""
    path = Path(path)
    with open_regular(path, what) as f:
        try:
            with zipfile.ZipFile(f) as z:
                records = z.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            raise ArchspecError(f"cannot load {what} {path}: not a torch checkpoint (torch >= 1.6 writes a zip "
                                "archive; this is not one, or it is truncated)") from None
        size = os.fstat(f.fileno()).st_size
        odd = next((r for r in records if r.compress_type != zipfile.ZIP_STORED or r.file_size != r.compress_size),
                   None)
        if odd is not None:
            raise ArchspecError(f"cannot load {what} {path}: record {odd.filename} is compressed "
                                f"({odd.compress_size:,} bytes declared to inflate to {odd.file_size:,}); torch "
                                "stores records uncompressed, so this file was not written by torch.save")
        if sum(r.compress_size for r in records) > size:
            raise ArchspecError(f"cannot load {what} {path}: its records declare more bytes than the file holds; "
                                "is it truncated?")
        require_room(sum(r.file_size for r in records), f"{what} {path}")
        f.seek(0)
        try:
            return torch.load(f, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for corrupt or foreign files
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise ArchspecError(f"cannot load {what} {path}: {first[:300]}") from None


def read(path) -> dict:
    """A training checkpoint, as every command reads one (train --resume, eval, export --checkpoint):
    a file or a run folder's last.pt, loaded (see load) and every field a run reads validated."""
    from archspec.train.checkpoint_fields import validate

    path = locate(path)
    state = load(path)
    validate(state, path)
    return state


def load(path) -> dict:
    """An archspec checkpoint, its format and integrity digest verified: what save() wrote, before
    read() checks its fields."""
    path = locate(path)
    state = read_torch_file(path)
    if not isinstance(state, dict) or state.get("format") not in (1, FORMAT):
        raise ArchspecError(f"{path} is not an archspec checkpoint (format {FORMAT})")
    if state["format"] == 1:
        raise ArchspecError(f"{path} was written by an earlier archspec (checkpoint format 1, without an "
                            "integrity digest); start a new run")
    return verified(state, path)


def read_weights(path, what: str = "checkpoint") -> dict:
    """The model weights in a training checkpoint (read as read() reads it) or in another torch file:
    a state_dict, or a mapping whose 'model' is one; torch.compile's and DataParallel's prefixes dropped."""
    from archspec.train.checkpoint_fields import validate

    path = Path(path)
    if not path.is_file():
        raise ArchspecError(f"{what} {path}: no such file")
    obj = read_torch_file(path, what)
    if isinstance(obj, dict) and type(obj.get("format")) is int and obj["format"] == FORMAT:  # ours (format 1 had no digest: weights only)
        obj = verified(obj, path)
        validate(obj, path)
    state = obj.get("model") if isinstance(obj, dict) and isinstance(obj.get("model"), dict) else obj
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ArchspecError(f"{what} {path} holds neither a state_dict nor a training checkpoint "
                            "with a 'model' state_dict")
    for prefix in WRAPPERS:
        if all(isinstance(k, str) and k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def verified(state: dict, path) -> dict:
    """`state` without its stored digest, refused when its contents do not match it."""
    stored = state.pop("sha256", None)
    if stored != digest(state):
        raise ArchspecError(f"checkpoint {path} is corrupt: its contents do not match the sha256 digest stored "
                            "in it (a disk or copy error, or an edit); use another checkpoint (best.pt, or an "
                            "earlier copy)")
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
    """The spec a run trains: its absolute path (so --resume works from any folder) and its text
    (so it works when the file is gone)."""
    path = str(Path(info.path).resolve()) if info.path else None
    return {"name": info.name, "path": path, "text": info.text, "sha256": info.sha256,
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
