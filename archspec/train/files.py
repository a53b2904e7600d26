"""Opening files archspec did not write: regular files only, reads bounded, memory counted first.

A FIFO, socket or device named like a data file would block the run or stream without end;
a file's declared sizes (array headers, zip records) are checked against the memory this
process can still get before anything is read or inflated.
"""
from __future__ import annotations

import os
import resource
import stat

from archspec.errors import ArchspecError
from archspec.report import human_bytes


def open_regular(path, what: str = "file"):
    """`path` opened for binary reading, refused unless it is a regular file (after symlinks).

    O_NONBLOCK keeps the open itself from waiting on a FIFO that has no writer."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ArchspecError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ArchspecError(f"{what} {path} is not a regular file (it is {_kind(mode)}); refusing to read it")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path, limit: int, what: str = "file") -> bytes:
    """The whole of a regular file, refused when it holds more than `limit` bytes."""
    with open_regular(path, what) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ArchspecError(f"{what} {path} is over the limit of {limit:,} bytes")
    return data


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a plain file"


def memory_room() -> int | None:
    """Bytes this process can still allocate: free memory (and a cgroup's room), and what its
    address-space limit (ulimit -v) leaves; None when neither can be told."""
    from archspec.resources import free_bytes

    found = [n for n in (free_bytes("cpu"), _address_space_room()) if n is not None]
    return min(found) if found else None


def _address_space_room() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as f:
            used = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration, ValueError, IndexError):
        used = 0
    return max(soft - used, 0)


def require_room(declared: int, what: str, room: int | None = None) -> None:
    """Refuse a file whose declared contents would not fit in memory, before reading them."""
    room = memory_room() if room is None else room
    if room is not None and declared > room:
        raise ArchspecError(f"{what} declares {human_bytes(declared)} of data but this process can get only "
                            f"{human_bytes(room)} of memory; refusing to read it (a decompression bomb, or "
                            "data too big for this machine)")
