"""Fetch the standard datasets from their usual mirrors, verifying every file's checksum."""
from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from archspec.errors import ArchspecError

_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
# Checksums as published with torchvision's dataset classes.
RESOURCES = {
    "mnist": {
        "mirrors": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
        "files": dict(zip(_MNIST_FILES, ("md5:f68b3c2dcbeaaa9fbdd348bbdeb94873", "md5:d53e105ee54ea40749a09fcbcd1e9432",
                                         "md5:9fb629c4189551a2d022fa330f9573f3", "md5:ec29112dd5afa0611ce80d1b7f02629c"))),
    },
    "fashion-mnist": {
        "mirrors": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "files": dict(zip(_MNIST_FILES, ("md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d", "md5:25c81989df183df01b3e8a0aad5dffbe",
                                         "md5:bef4ecab320f06d8554ea6380940ec79", "md5:bb300cfdad3c16e7a12a480ee83cd310"))),
    },
    "cifar10": {
        "mirrors": ["https://www.cs.toronto.edu/~kriz/"],
        "files": {"cifar-10-python.tar.gz": "md5:c58f30108f718f92721af3b95e74349a"},
    },
}


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


def download(name: str, dest: Path, log=print, resources: dict | None = None, timeout: float = 60) -> Path:
    """Download (and for cifar10 extract) a dataset into dest; files already verified are kept."""
    res = (resources or RESOURCES).get(name)
    if res is None:
        raise ArchspecError(f"--download: no mirror known for '{name}'")
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchspecError(f"--download: cannot create {dest}: {exc.strerror or exc}") from None
    for filename, checksum in res["files"].items():
        target = dest / filename
        if target.exists() and verify(target, checksum):
            continue
        _fetch(filename, checksum, res["mirrors"], target, log, timeout)
        if filename.endswith(".tar.gz"):
            _extract(target, dest)
    return dest


def _fetch(filename, checksum, mirrors, target: Path, log, timeout) -> None:
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        tmp = target.with_name(target.name + ".part")
        log(f"downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            failures.append(f"{url}: {getattr(exc, 'reason', None) or exc}")
            tmp.unlink(missing_ok=True)
            continue
        if not verify(tmp, checksum):
            failures.append(f"{url}: checksum mismatch (expected {checksum}, got "
                            f"{checksum.partition(':')[0]}:{file_digest(tmp, checksum.partition(':')[0])})")
            tmp.unlink(missing_ok=True)
            continue
        os.replace(tmp, target)
        return
    raise ArchspecError(f"--download: could not fetch {filename}:\n  " + "\n  ".join(failures))


def _extract(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ArchspecError(f"cannot extract {archive}: {exc}") from None
