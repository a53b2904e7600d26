"""Fetch the standard datasets from their usual mirrors, verifying every file's checksum.

A mirror is untrusted: each file is capped at its known size, must arrive within a deadline
(so a drip feed ends, wherever it drips: headers or body), and any malformed HTTP makes the
next mirror be tried. Each download writes its own temporary file and renames it into place
only once verified, so concurrent runs sharing a --data-dir never see each other's halves;
an archive is extracted into a temporary folder and renamed into place only when complete.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

from archspec.diagnostics import printable
from archspec.errors import ArchspecError

_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# Checksums as published with torchvision's dataset classes; sizes in bytes as the mirrors serve them.
RESOURCES = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
        "files": dict(zip(_MNIST_FILES, (("md5:f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
                                         ("md5:d53e105ee54ea40749a09fcbcd1e9432", 28_881),
                                         ("md5:9fb629c4189551a2d022fa330f9573f3", 1_648_877),
                                         ("md5:ec29112dd5afa0611ce80d1b7f02629c", 4_542)))),
    },
    "fashion-mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "files": dict(zip(_MNIST_FILES, (("md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", 26_421_880),
                                         ("md5:25c81989df183df01b3e8a0aad5dffbe", 29_515),
                                         ("md5:bef4ecab320f06d8554ea6380940ec79", 4_422_102),
                                         ("md5:bb300cfdad3c16e7a12a480ee83cd310", 5_148)))),
    },
    "cifar10": {
        "mirrors": ["https://www.cs.toronto.edu/~kriz/"],
        "files": {"cifar-10-python.tar.gz": ("md5:c58f30108f718f92721af3b95e74349a", 170_498_071)},
        "folder": "cifar-10-batches-py",  # what the archive holds: present means extracted whole
    },
}
MAX_BYTES = 1 << 30  # a file of no known size
MIN_RATE = 50_000  # bytes per second on average, after the connection timeout: slower is given up
CHUNK = 1 << 16
# what a malformed or hostile answer raises: bad status line, too many or too long headers,
# a bad chunk (ValueError), a reset or timed-out socket (OSError)
FAILURES = (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)


def file_digest(path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path, checksum: str) -> bool:
    """`checksum` is 'md5:<hex>' or 'sha256:<hex>'."""
    algorithm, _, expected = checksum.partition(":")
    return file_digest(path, algorithm) == expected.lower()


def download(name: str, dest: Path, log=print, resources: dict | None = None, timeout: float = 60,
             min_rate: float = MIN_RATE) -> Path:
    """Download (and for cifar10 extract) a dataset into dest; files already verified are kept."""
    res = (resources or RESOURCES).get(name)
    if res is None:
        raise ArchspecError(f"--download: no mirror known for '{name}'")
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchspecError(f"--download: cannot create {dest}: {exc.strerror or exc}") from None
    folder = res.get("folder")
    if folder and (dest / folder).is_dir():
        return dest
    for filename, (checksum, size) in res["files"].items():
        target = dest / filename
        if not (target.is_file() and verify(target, checksum)):
            _fetch(filename, checksum, size, res["mirrors"], target, log, timeout, min_rate)
        if folder:
            _extract(target, dest, folder)
    return dest


def _fetch(filename, checksum, size, mirrors, target: Path, log, timeout, min_rate) -> None:
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        log(f"downloading {url}")
        try:
            part = _get(url, target, size or MAX_BYTES, timeout, min_rate)
        except _Failed as exc:
            failures.append(f"{url}: {exc}")
            continue
        algorithm = checksum.partition(":")[0]
        if not verify(part, checksum):
            failures.append(f"{url}: checksum mismatch (expected {checksum}, got "
                            f"{algorithm}:{file_digest(part, algorithm)})")
            part.unlink(missing_ok=True)
            continue
        os.replace(part, target)
        return
    raise ArchspecError(f"--download: could not fetch {filename} from any mirror: " + "; ".join(failures))


class _Failed(Exception):
    """One mirror failed; the message is one line."""


def _get(url: str, target: Path, cap: int, timeout: float, min_rate: float) -> Path:
    """The body of `url` in a temporary file of its own beside target (never more than `cap` bytes,
    never longer than the deadline); removed again if anything goes wrong."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".part")
    part = Path(name)
    deadline = _Deadline(timeout + cap / min_rate)
    try:
        with os.fdopen(fd, "wb") as out, deadline:
            with deadline.opener().open(url, timeout=timeout) as response:
                announced = response.headers.get("Content-Length", "")
                if announced.isdigit() and int(announced) > cap:
                    raise _Failed(f"announces {int(announced):,} bytes; expected at most {cap:,}")
                got = 0
                while block := response.read1(CHUNK):
                    got += len(block)
                    if got > cap:
                        raise _Failed(f"sent more than the expected {cap:,} bytes")
                    out.write(block)
            if deadline.expired:
                raise _Failed(f"gave up after {deadline.seconds:.0f} s ({got:,} of {cap:,} bytes): too slow")
        return part
    except FAILURES as exc:
        part.unlink(missing_ok=True)
        if deadline.expired:
            raise _Failed(f"gave up after {deadline.seconds:.0f} s: too slow") from None
        reason = " ".join(str(getattr(exc, "reason", None) or exc).split()) or type(exc).__name__
        if isinstance(exc, (http.client.HTTPException, ValueError)):
            reason = f"the answer is not valid HTTP ({reason})"
        raise _Failed(printable(reason)[:300]) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise


class _Deadline:
    """Shuts the connection down when the transfer's time is up, wherever it is blocked: the
    per-read timeout alone never fires on a mirror that sends one byte every few seconds."""

    def __init__(self, seconds: float):
        self.seconds, self.expired, self.sockets = seconds, False, []
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()

    def _expire(self):
        self.expired = True
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
            except OSError:
                pass

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib with connections whose sockets the deadline can reach (urllib hands the socket to
        the response and forgets it)."""
        deadline = self

        def watched(base):
            class Watched(base):
                def connect(self):
                    super().connect()
                    deadline.sockets.append(self.sock)
            return Watched

        class HTTP(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(watched(http.client.HTTPConnection), req)

        class HTTPS(urllib.request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(watched(http.client.HTTPSConnection), req, context=self._context)

        return urllib.request.build_opener(HTTP, HTTPS)


def _extract(archive: Path, dest: Path, folder: str) -> None:
    """Extract into a temporary folder and rename `folder` into place only once all of it is there:
    an extraction cut short (a refused member, Ctrl-C, a full disk) leaves nothing to train on."""
    tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".extract-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        if not (tmp / folder).is_dir():
            raise ArchspecError(f"cannot extract {archive}: it holds no folder {folder}")
        try:
            os.rename(tmp / folder, dest / folder)
        except OSError:
            if not (dest / folder).is_dir():  # else another run extracted it first: keep theirs
                raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchspecError(f"cannot extract {archive}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
