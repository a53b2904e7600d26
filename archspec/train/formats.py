"""Readers for the on-disk dataset formats: IDX (MNIST), CIFAR python batches, npz, image folders.

Each reader returns numpy arrays and raises ArchspecError naming the file when it is malformed.
"""
from __future__ import annotations

import gzip
import math
import os
import pickle
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from archspec.errors import ArchspecError
from archspec.train.files import open_regular, require_room

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


MAX_IDX_DIMS = 4  # MNIST's images have 3, its labels 1
UNREADABLE = (OSError, EOFError, zlib.error, struct.error)  # gzip.BadGzipFile is an OSError


def read_idx(path) -> np.ndarray:
    """An IDX file (gzipped or not): magic 0x0000 + type byte + ndim, big-endian sizes, then data.

    The header is read first and the data inflated only up to the size it declares (and only when
    that fits in memory), so a small gzip of endless zeros is refused, not inflated."""
    path = Path(path)
    with open_regular(path, "data file") as f:
        try:
            gzipped = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            stream = gzip.GzipFile(fileobj=f) if gzipped else f
            head = stream.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES:
                raise ArchspecError(f"{path} is not an IDX file (bad magic number)")
            ndim = head[3]
            if not 1 <= ndim <= MAX_IDX_DIMS:
                raise ArchspecError(f"{path}: the IDX header declares {ndim} dimensions; expected 1 to {MAX_IDX_DIMS}")
            raw_dims = stream.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise ArchspecError(f"{path}: the IDX header is cut short; is the file truncated?")
            dims = list(struct.unpack(f">{ndim}I", raw_dims))
            dtype = np.dtype(IDX_TYPES[head[2]])
            expected = math.prod(dims) * dtype.itemsize
            require_room(expected, f"{path} (IDX {dims}, {dtype.name})")
            raw = stream.read(expected + 1)
        except UNREADABLE as exc:
            raise ArchspecError(f"cannot read {path}: {exc}") from None
    if len(raw) != expected:
        more = "more" if len(raw) > expected else f"{len(raw)}; is it truncated?"
        raise ArchspecError(f"{path}: header says {dims} ({expected} bytes of data) but the file has {more}")
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


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
    batch = _unpickle(path)
    data, labels = (batch.get(k) if isinstance(batch, dict) else None for k in (b"data", b"labels"))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ArchspecError(f"{path} is not a CIFAR-10 python batch: expected b'data' to be a uint8 array of "
                            f"shape (N, 3072), found {found}")
    labels = _labels(labels)
    if labels is None or len(labels) != len(data):
        raise ArchspecError(f"{path} is not a CIFAR-10 python batch: expected b'labels' to be {len(data)} "
                            "class indices (integers from 0 to 2^31 - 1)")
    return data.reshape(-1, 3, 32, 32), labels


def _labels(values) -> np.ndarray | None:
    """Class indices from a list or array, or None when they are anything else."""
    if isinstance(values, np.ndarray):
        values = values.tolist() if values.ndim == 1 and np.issubdtype(values.dtype, np.integer) else None
    if not isinstance(values, list):
        return None
    if not all(type(v) is int and 0 <= v < 2**31 for v in values):
        return None
    return np.asarray(values, dtype=np.int64)


def _unpickle(path: Path):
    with open_regular(path, "data file") as f:
        try:
            return _ArrayUnpickler(f, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError,
                OverflowError, MemoryError, struct.error, UnicodeDecodeError) as exc:
            raise ArchspecError(f"{path} is not a CIFAR-10 python batch: {str(exc).splitlines()[0][:200]}") from None
        except OSError as exc:
            raise ArchspecError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_cifar_meta(path) -> list[str] | None:
    """The class names in batches.meta, or None when it is missing or not a list of names."""
    try:
        meta = _unpickle(Path(path))
    except ArchspecError:
        return None
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        return None
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]


def read_npz(path) -> dict:
    """Arrays x (N,C,H,W or N,H,W or N,D) and y, optional x_test and y_test.

    Each member's declared sizes (the zip's, then the .npy header's) are checked before it is
    inflated: a few megabytes of deflated zeros cannot become gigabytes in memory."""
    path = Path(path)
    with open_regular(path, "data file") as f:
        try:
            with zipfile.ZipFile(f) as z:
                members = [i for i in z.infolist() if i.filename.endswith(".npy")]
                for info in members:
                    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                        raise ArchspecError(f"{path}: member {info.filename} uses a compression numpy does not "
                                            "write; refusing to inflate it")
                require_room(sum(i.file_size for i in members), f"{path} (npz)")
                arrays = {i.filename[:-4]: _npy_member(z, i, path) for i in members}
        except (*UNREADABLE, ValueError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:
            raise ArchspecError(f"cannot read {path} as an npz archive: {str(exc).splitlines()[0][:200]}") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise ArchspecError(f"{path} has no array '{key}' (it has: {', '.join(sorted(arrays)) or 'none'}); "
                                "expected x, y and optionally x_test, y_test")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise ArchspecError(f"{path}: x_test and y_test must come together")
    return arrays


def _npy_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One .npy member, its header checked against the member's declared size before the data is read."""
    from numpy.lib import format as npy

    with z.open(info) as fp:
        header = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}.get(npy.read_magic(fp))
        if header is None:
            raise ArchspecError(f"{path}: array {info.filename[:-4]} is in a .npy version archspec does not read")
        shape, fortran, dtype = header(fp)
        if dtype.hasobject:
            raise ArchspecError(f"{path}: array {info.filename[:-4]} holds Python objects (pickles); "
                                "archspec reads only numeric arrays")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise ArchspecError(f"{path}: array {info.filename[:-4]} declares shape {shape} ({nbytes:,} bytes) "
                                f"but its member holds {info.file_size:,}; the file is corrupt")
        data = fp.read(nbytes)
    if len(data) != nbytes:
        raise ArchspecError(f"{path}: array {info.filename[:-4]} is cut short; is the file truncated?")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def list_folder(root) -> tuple[list[str], list[tuple[Path, int]]]:
    """An ImageFolder tree: one subfolder per class (sorted), image files inside.

    Links to folders are not followed (a class folder linked to / would walk the whole disk), and
    anything named like an image that is not a regular file (a FIFO, a device) is refused."""
    root = Path(root)
    if not root.is_dir():
        raise ArchspecError(f"folder data: {root} is not a directory")
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    linked = next((p for p in subfolders if p.is_symlink()), None)
    if linked is not None:
        raise ArchspecError(f"folder data: class folder {linked} is a link (to {os.readlink(linked)}); archspec "
                            "does not follow links to folders in a data set: make it a real folder")
    classes = [p.name for p in subfolders]
    if not classes:
        raise ArchspecError(f"folder data: {root} has no class subfolders (expected {root}/<class>/<image>)")
    items = [(f, i) for i, c in enumerate(classes) for f in _images(root / c)]
    if not items:
        raise ArchspecError(f"folder data: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    return classes, items


def _images(folder: Path) -> list[Path]:
    """Image files under folder, sorted, without following links to folders."""
    found = []
    for top, dirs, files in os.walk(folder, onerror=_raise):
        dirs.sort()
        for name in files:
            path = Path(top) / name
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                mode = path.stat().st_mode
            except OSError as exc:
                raise ArchspecError(f"folder data: cannot read {path}: {exc.strerror or exc}") from None
            if not stat.S_ISREG(mode):
                raise ArchspecError(f"folder data: {path} is not a regular file; remove it from the data set")
            found.append(path)
    return sorted(found)


def _raise(exc: OSError):
    raise ArchspecError(f"folder data: cannot list {exc.filename}: {exc.strerror or exc}")


class DecodeImages:
    """A map-style dataset decoding one image file with Pillow to (C, H, W) uint8 at a fixed size.

    Only regular files are opened (never blocking on a FIFO), and an image of more pixels than
    Pillow's MAX_IMAGE_PIXELS is refused from its header, before it is decoded."""

    def __init__(self, files, channels: int, size: tuple[int, int]):
        self.files, self.mode, self.size = list(files), ("L" if channels == 1 else "RGB"), size

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        found = load_image(self.files[i], self.mode, self.size)
        return found if isinstance(found, str) else found[0]


def load_image(path, mode: str | None, size: tuple[int, int], nearest: bool = False):
    """One image file as (C, H, W) uint8 resized to `size`, with its (width, height) and Pillow mode as
    stored; or the error as a string (workers hand it to the parent, which raises it).

    mode None keeps the stored values (a palette PNG's class indices); `nearest` resizes without
    mixing values, as masks must be. An image of more than MAX_IMAGE_PIXELS is refused from its header."""
    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    too_big = f"image {path} has more than {limit:,} pixels (a decompression bomb?); refusing to decode it"
    try:
        with open_regular(path, "image") as f, Image.open(f) as im:
            stored, stored_mode = im.size, im.mode
            if stored[0] * stored[1] > limit:  # read from the header; Pillow only warns up to twice this
                return too_big
            im = im if mode is None else im.convert(mode)
            im = im.resize((size[1], size[0]), Image.NEAREST if nearest else Image.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except ArchspecError as exc:
        return str(exc.diagnostics[0].message)  # raised in the parent, not in a worker
    except Image.DecompressionBombError:
        return too_big
    except (OSError, UnidentifiedImageError, ValueError, EOFError) as exc:
        return f"cannot decode image {path}: {exc}"
    return (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy()), stored, stored_mode


def _keep(batch):
    return batch


def decode_folder(files, channels: int, size, workers: int) -> np.ndarray:
    """Decode all images once into memory, in `workers` processes (0 = in this process)."""
    from torch.utils.data import DataLoader

    require_room(len(files) * channels * size[0] * size[1], f"{len(files):,} images at {channels}x{size[0]}x{size[1]}")
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
