"""--download against a local HTTP server on 127.0.0.1 serving files in the real formats."""
from __future__ import annotations

import functools
import io
import hashlib
import http.server
import tarfile
import threading

import pytest

from archspec.errors import ArchspecError
from archspec.train import download as dl
from archspec.train.data import load_data
from archspec.train.recipe import Recipe

from .writers import write_cifar, write_mnist


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def md5(path):
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def entry(path):
    """A RESOURCES file entry for a served file: its checksum and size."""
    return md5(path), path.stat().st_size


def recipe(tmp_path, data):
    return Recipe(data=data, data_dir=str(tmp_path / "data"), download=True)


def test_real_mirrors_and_checksums_are_kept():
    assert dl.RESOURCES["mnist"]["files"]["t10k-labels-idx1-ubyte.gz"] == ("md5:ec29112dd5afa0611ce80d1b7f02629c",
                                                                         4542)
    assert dl.RESOURCES["cifar10"]["files"]["cifar-10-python.tar.gz"][1] == 170_498_071
    assert dl.RESOURCES["cifar10"]["mirrors"] == ["https://www.cs.toronto.edu/~kriz/"]


def test_mnist_download_falls_back_to_the_next_mirror(tmp_path, server, monkeypatch):
    root, url = server
    files = write_mnist(root / "mirror2")
    monkeypatch.setitem(dl.RESOURCES, "mnist", {
        "mirrors": [url + "missing/", url + "mirror2/"],
        "files": {path.name: entry(path) for path, _ in files.values()}})
    data = load_data(recipe(tmp_path, "mnist"), (1, 28, 28), 10, log=lambda m: None)
    assert len(data.train) == 40 and len(data.val) == 20 and data.val_from == "test split"
    assert data.train.y.tolist() == files["train-labels-idx1-ubyte"][1].tolist()
    assert (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()


def test_checksum_mismatch_is_refused_and_nothing_is_kept(tmp_path, server, monkeypatch):
    root, url = server
    files = write_mnist(root)
    wrong = {path.name: entry(path) for path, _ in files.values()}
    wrong["train-images-idx3-ubyte.gz"] = ("md5:" + "0" * 32, None)
    monkeypatch.setitem(dl.RESOURCES, "fashion-mnist", {"mirrors": [url], "files": wrong})
    with pytest.raises(ArchspecError) as exc:
        load_data(recipe(tmp_path, "fashion-mnist"), (1, 28, 28), 10, log=lambda m: None)
    assert "train-images-idx3-ubyte.gz: checksum mismatch (expected md5:000" in str(exc.value)
    assert not list((tmp_path / "data" / "fashion-mnist").glob("train-images*"))


def test_cifar_archive_is_verified_extracted_and_loaded(tmp_path, server, monkeypatch):
    root, url = server
    written = write_cifar(tmp_path / "src" / "cifar-10-batches-py")
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setitem(dl.RESOURCES, "cifar10", {"mirrors": [url], "files": {archive.name: entry(archive)},
                                                  "folder": "cifar-10-batches-py"})
    data = load_data(recipe(tmp_path, "cifar10"), (3, 32, 32), 10, log=lambda m: None)
    assert len(data.train) == 30 and len(data.val) == 6 and data.classes[9] == "truck"
    assert data.val.y.tolist() == written["test_batch"][1]


def test_unreachable_mirror_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(dl.RESOURCES, "mnist", {"mirrors": ["http://127.0.0.1:9/"], "files": {"a.gz": ("md5:00", 9)}})
    with pytest.raises(ArchspecError, match=r"could not fetch a.gz from any mirror: http://127.0.0.1:9/a.gz: "):
        dl.download("mnist", tmp_path, log=lambda m: None, timeout=5)


def serve_cifar(tmp_path, root, url, monkeypatch, extra=None):
    """The CIFAR archive on the server (with an extra member, if given) and RESOURCES pointing at it."""
    src = tmp_path / "src" / "cifar-10-batches-py"
    if not src.exists():
        write_cifar(src)
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
        if extra:
            info = tarfile.TarInfo(extra)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    monkeypatch.setitem(dl.RESOURCES, "cifar10", {"mirrors": [url], "files": {archive.name: entry(archive)},
                                                  "folder": "cifar-10-batches-py"})


def test_an_extraction_cut_short_is_redone_not_trained_on(tmp_path, server, monkeypatch):
    root, url = server
    serve_cifar(tmp_path, root, url, monkeypatch)
    real, calls = tarfile.TarFile._extract_member, []

    def ctrl_c_after_three(self, *args, **kwargs):  # Ctrl-C (or a full disk) half way through
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "_extract_member", ctrl_c_after_three)
    with pytest.raises(KeyboardInterrupt):
        load_data(recipe(tmp_path, "cifar10"), (3, 32, 32), 10, log=lambda m: None)
    monkeypatch.setattr(tarfile.TarFile, "_extract_member", real)
    folder = tmp_path / "data" / "cifar10"
    assert sorted(p.name for p in folder.iterdir()) == ["cifar-10-python.tar.gz"]  # verified; nothing half-made
    data = load_data(recipe(tmp_path, "cifar10"), (3, 32, 32), 10, log=lambda m: None)  # the next run extracts again
    assert len(data.train) == 30 and len(data.val) == 6


def test_a_refused_member_leaves_no_partial_folder(tmp_path, server, monkeypatch):
    root, url = server
    serve_cifar(tmp_path, root, url, monkeypatch, extra="../escape.txt")
    with pytest.raises(ArchspecError, match="cannot extract .*cifar-10-python.tar.gz: "):
        load_data(recipe(tmp_path, "cifar10"), (3, 32, 32), 10, log=lambda m: None)
    assert not (tmp_path / "data" / "escape.txt").exists()
    assert sorted(p.name for p in (tmp_path / "data" / "cifar10").iterdir()) == ["cifar-10-python.tar.gz"]


def test_a_cifar_folder_missing_a_batch_is_refused(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()  # was skipped silently
    with pytest.raises(ArchspecError, match="cifar-10-batches-py lacks data_batch_3; the data set is incomplete"):
        load_data(Recipe(data="cifar10", data_dir=str(tmp_path)), (3, 32, 32), 10)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()  # became a 20% hold-out
    with pytest.raises(ArchspecError, match="lacks data_batch_3, test_batch"):
        load_data(Recipe(data="cifar10", data_dir=str(tmp_path)), (3, 32, 32), 10)
