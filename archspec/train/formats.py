"""Readers for the on-disk dataset formats: IDX (MNIST), CIFAR python batches, npz, image folders.

Each reader returns numpy arrays and raises ArchspecError naming the file when it is malformed.
"""
from __future__ import annotations

import gzip
import pickle
import zipfile
import zlib
from pathlib import Path

import numpy as np

from archspec.errors import ArchspecError

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise ArchspecError(f"cannot read {path}: {exc}") from None


def read_idx(path) -> np.ndarray:
    """An IDX file (gzipped or not): magic 0x0000 + type byte + ndim, big-endian sizes, then data."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ArchspecError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ArchspecError(f"{path}: header says {dims} ({expected} bytes of data) but the file has "
                            f"{len(raw) - header}; is it truncated?")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only, so a CIFAR file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
               ("__builtin__", "object"), ("builtins", "object"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def read_cifar_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: a pickled dict with b'data' (N, 3072 uint8) and b'labels'."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (OSError, EOFError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as exc:
        raise ArchspecError(f"{path} is not a CIFAR-10 python batch: {exc}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ArchspecError(f"{path}: expected data of shape (N, 3072) and N labels, got {data.shape} "
                            f"and {len(labels)}")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar_meta(path) -> list[str] | None:
    try:
        with open(path, "rb") as f:
            meta = _ArrayUnpickler(f, encoding="bytes").load()
        return [n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"]]
    except (OSError, EOFError, KeyError, TypeError, pickle.UnpicklingError):
        return None


def read_npz(path) -> dict:
    """Arrays x (N,C,H,W or N,H,W or N,D) and y, optional x_test and y_test."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # a truncated file: zip errors
        raise ArchspecError(f"cannot read {path} as an npz archive: {exc}") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise ArchspecError(f"{path} has no array '{key}' (it has: {', '.join(sorted(arrays)) or 'none'}); "
                                "expected x, y and optionally x_test, y_test")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise ArchspecError(f"{path}: x_test and y_test must come together")
    return arrays


def list_folder(root) -> tuple[list[str], list[tuple[Path, int]]]:
    """An ImageFolder tree: one subfolder per class (sorted), image files inside."""
    root = Path(root)
    if not root.is_dir():
        raise ArchspecError(f"folder data: {root} is not a directory")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ArchspecError(f"folder data: {root} has no class subfolders (expected {root}/<class>/<image>)")
    items = [(f, i) for i, c in enumerate(classes) for f in sorted((root / c).rglob("*"))
             if f.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise ArchspecError(f"folder data: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    return classes, items


class DecodeImages:
    """A map-style dataset decoding one image file with Pillow to (C, H, W) uint8 at a fixed size."""

    def __init__(self, files, channels: int, size: tuple[int, int]):
        self.files, self.mode, self.size = list(files), ("L" if channels == 1 else "RGB"), size

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(self.files[i]) as im:
                im = im.convert(self.mode).resize((self.size[1], self.size[0]), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.uint8)
        except (OSError, UnidentifiedImageError) as exc:
            return f"cannot decode image {self.files[i]}: {exc}"  # raised in the parent, not in a worker
        return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy()


def _keep(batch):
    return batch


def decode_folder(files, channels: int, size, workers: int) -> np.ndarray:
    """Decode all images once into memory, in `workers` processes (0 = in this process)."""
    from torch.utils.data import DataLoader

    loader = DataLoader(DecodeImages(files, channels, size), batch_size=64, num_workers=workers, collate_fn=_keep)
    out = np.zeros((len(files), channels, *size), np.uint8)
    i = 0
    for batch in loader:
        for item in batch:
            if isinstance(item, str):
                raise ArchspecError(item)
            out[i] = item
            i += 1
    return out
