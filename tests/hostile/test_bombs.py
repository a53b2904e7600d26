"""Decompression bombs, built here in a few megabytes each: an npz, a gzip IDX, a checkpoint and
a PNG that would inflate to gigabytes. Each is refused from its declared sizes before anything is
inflated, in a child process under a 1.5 GiB address-space cap whose peak memory is measured."""
from __future__ import annotations

import gzip
import io
import os
import resource
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

ADDRESS_SPACE = 3 << 29  # 1.5 GiB: importing torch takes about 0.65 GiB of it
BOMB_MIB = 3815  # 4.0e9 bytes declared: under the 4 GiB a zip needs no zip64 for
MAX_PEAK_MIB = 450  # the child's peak resident memory, torch and numpy included


def deflated_zeros(mib: int, prefix: bytes = b"") -> bytes:
    """A raw deflate stream of `prefix` then `mib` MiB of zeros, in about 1 KB per MiB: after a full
    flush the compressor starts afresh, so every MiB of zeros compresses to the same bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH) if prefix else b""
    chunk = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return head + chunk * mib + c.flush(zlib.Z_FINISH)


def zip_bytes(members) -> bytes:
    """A zip archive written by hand (zipfile cannot store a precompressed stream):
    members are (name, method, payload, declared size, crc)."""
    out, central = bytearray(), bytearray()
    for name, method, payload, size, crc in members:
        offset, raw = len(out), name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(payload), size, len(raw), 0)
        out += raw + payload
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc, len(payload), size,
                               len(raw), 0, 0, 0, 0, 0, offset) + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def npy_header(shape, dtype="|u1") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def npz_bomb(path: Path) -> Path:
    header = npy_header((BOMB_MIB << 20,))
    y = io.BytesIO()
    np.save(y, np.zeros(3, np.int64))
    path.write_bytes(zip_bytes([
        ("x.npy", zipfile.ZIP_DEFLATED, deflated_zeros(BOMB_MIB, header), len(header) + (BOMB_MIB << 20), 0),
        ("y.npy", zipfile.ZIP_STORED, y.getvalue(), len(y.getvalue()), zlib.crc32(y.getvalue()))]))
    return path


def gzip_bomb(path: Path, idx_header: bytes = b"") -> Path:
    """A gzip of 5 GiB of zeros, after an IDX header if given."""
    body = deflated_zeros(5 << 10, idx_header)
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + struct.pack("<II", 0, 0))
    return path


def checkpoint_bomb(path: Path) -> Path:
    """A real torch checkpoint whose tensor record is swapped for a deflated one of 4e9 bytes."""
    from archspec.train import checkpoint

    buf = io.BytesIO()
    torch.save({"format": checkpoint.FORMAT, "model": {"w": torch.zeros(4)}}, buf)
    members = []
    with zipfile.ZipFile(buf) as z:
        for info in z.infolist():
            data = z.read(info)
            if info.filename.endswith("/data/0"):
                members.append((info.filename, zipfile.ZIP_DEFLATED, deflated_zeros(BOMB_MIB), BOMB_MIB << 20, 0))
            else:
                members.append((info.filename, zipfile.ZIP_STORED, data, len(data), zlib.crc32(data)))
    path.write_bytes(zip_bytes(members))
    return path


def png(path: Path, side: int) -> Path:
    """A 1-bit black PNG of side x side pixels (a few hundred KB for 20000 x 20000)."""
    row = bytes(1 + (side + 7) // 8)
    c = zlib.compressobj(9)
    data = b"".join(c.compress(row) for _ in range(side)) + c.flush()

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


CHILD = """
import os, sys
from archspec.errors import ArchspecError
def peak():
    with open('/proc/self/status') as status:
        return next(int(line.split()[1]) for line in status if line.startswith('VmHWM')) // 1024
try:
{call}
except ArchspecError as exc:
    print(exc.diagnostics[0].message)
    print('PEAK', peak())
    sys.exit(1)
print('PEAK', peak())
"""


def refused_in_child(call: str):
    """(exit code, first line of output, seconds, peak MiB) of `call` in a capped child."""
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    code = CHILD.format(call=textwrap.indent(textwrap.dedent(call).strip(), "    "))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=cap, timeout=120)
    seconds = time.perf_counter() - start
    lines = out.stdout.splitlines()
    peak = int(lines[-1].split()[1]) if lines and lines[-1].startswith("PEAK") else None
    return out.returncode, (lines[0] if lines else "") + out.stderr, seconds, peak


@pytest.fixture(scope="module")
def bombs():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        yield {"npz": npz_bomb(root / "bomb.npz"),
               "idx_zeros": gzip_bomb(root / "zeros-idx3-ubyte.gz"),
               "idx_long": gzip_bomb(root / "long-idx3-ubyte.gz", struct.pack(">BBBBIII", 0, 0, 8, 3, 60000, 28, 28)),
               "idx_huge": gzip_bomb(root / "huge-idx3-ubyte.gz",
                                     struct.pack(">BBBBIII", 0, 0, 8, 3, 60000, 65535, 65535)),
               "checkpoint": checkpoint_bomb(root / "bomb.pt"),
               "png_warned": png(root / "warned.png", 12_000),  # Pillow only warns about 144 Mpx
               "png_refused": png(root / "refused.png", 20_000)}  # and raises its own error at 400 Mpx


@pytest.mark.parametrize("name, call, needle", [
    ("npz", "from archspec.train.formats import read_npz; read_npz({path!r})", "declares 3.73 GiB of data"),
    ("idx_zeros", "from archspec.train.formats import read_idx; read_idx({path!r})", "is not an IDX file"),
    ("idx_long", "from archspec.train.formats import read_idx; read_idx({path!r})",
     "header says [60000, 28, 28] (47040000 bytes of data) but the file has more"),
    ("idx_huge", "from archspec.train.formats import read_idx; read_idx({path!r})", "declares 239992.68 GiB"),
    ("checkpoint", "from archspec.train.checkpoint import load; load({path!r})", "is compressed"),
    ("checkpoint", "from archspec.train.checkpoint import read_weights; read_weights({path!r})", "is compressed"),
    ("png_warned", "from archspec.train.formats import DecodeImages; print(DecodeImages([{path!r}], 1, (8, 8))[0])",
     "has more than 89,478,485 pixels (a decompression bomb?)"),
    ("png_refused", "from archspec.train.formats import DecodeImages; print(DecodeImages([{path!r}], 1, (8, 8))[0])",
     "has more than 89,478,485 pixels (a decompression bomb?)"),
    ("png_refused", "from PIL import Image; from archspec.train.segmentation import DecodePairs\n"  # as a VOC mask
                    "Image.new('L', (8, 8)).save({path!r} + '.jpg')\n"
                    "print(DecodePairs([({path!r} + '.jpg', {path!r})], 1, (8, 8), 3)[0])",
     "has more than 89,478,485 pixels (a decompression bomb?)"),
])
def test_a_bomb_is_refused_before_it_inflates(bombs, name, call, needle):
    path = bombs[name]
    assert path.stat().st_size < 8 << 20
    code, first, seconds, peak = refused_in_child(call.format(path=str(path)))
    assert needle in first and "Traceback" not in first, first
    assert code in (0, 1) and peak is not None and peak < MAX_PEAK_MIB, (code, first, peak)
    assert seconds < 60


def test_a_bomb_as_training_data_is_one_line_from_the_cli(bombs, tmp_path):
    (tmp_path / "s.yaml").write_text("archspec: 1\ninput: [1, 8, 8]\nlayers: [flatten, {linear: 3}]\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = subprocess.run([sys.executable, "-m", "archspec", "train", "s.yaml", "--data", f"npz:{bombs['npz']}",
                          "--device", "cpu", "--out", "run"], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE,) * 2))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: {bombs['npz']} (npz) declares 3.73 GiB of data but this process can get "
                                 "only "), out.stderr
    assert not (tmp_path / "run").exists()


def test_ordinary_files_still_load(tmp_path):
    """The same readers on honest files of each format (numpy's and gzip's own writers)."""
    from archspec.train import formats

    np.savez_compressed(tmp_path / "d.npz", x=np.arange(24, dtype=np.uint8).reshape(2, 3, 4), y=np.array([0, 1]))
    arrays = formats.read_npz(tmp_path / "d.npz")
    assert arrays["x"].tolist() == np.arange(24).reshape(2, 3, 4).tolist() and arrays["y"].tolist() == [0, 1]
    with gzip.open(tmp_path / "l.gz", "wb") as f:
        f.write(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([7, 8, 9]))
    assert formats.read_idx(tmp_path / "l.gz").tolist() == [7, 8, 9]
