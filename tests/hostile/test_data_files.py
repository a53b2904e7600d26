"""Data files are untrusted input: each malformed one is one line naming the file and what was
expected, never a traceback; data that cannot train (no samples, NaN pixels) is refused and blamed
on the data; a FIFO or a link to / in an image folder is refused at once."""
from __future__ import annotations

import os
import pickle
import signal
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from archspec.cli.main import main

from ..train.writers import write_cifar, write_idx

SPEC = "archspec: 1\nname: tiny\ninput: [1, 8, 8]\nlayers: [flatten, {linear: 3}]\n"
RGB = "archspec: 1\nname: rgb\ninput: [3, 32, 32]\nlayers: [flatten, {linear: 10}]\n"


@pytest.fixture
def train(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(SPEC)
    (tmp_path / "rgb.yaml").write_text(RGB)

    def run(*args, spec="tiny.yaml"):
        result = CliRunner().invoke(main, ["train", spec, "--epochs", "1", "--batch-size", "4", "--device", "cpu",
                                           "--out", "run", *map(str, args)], catch_exceptions=False)
        assert "Traceback" not in result.output
        return result

    return run


def npz(path, **arrays):
    np.savez(path, **arrays)
    return f"npz:{path.name}"


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.array(["a", "b"] * 4), "y": np.zeros(8, int)}, "x must be an array of N numeric samples, got <U1"),
    ({"x": np.zeros(8, dtype=[("a", "u1"), ("b", "f4")]), "y": np.zeros(8, int)}, "x must be an array of N numeric"),
    ({"x": np.float32(3), "y": np.zeros(8, int)}, "x must be an array of N numeric samples, got float32 of shape ()"),
    ({"x": np.zeros((8, 1, 8, 8), np.uint8), "y": np.array(["a"] * 8)}, "labels y must be integers"),
    ({"x": np.zeros((8, 1, 8, 8), np.uint8), "y": np.zeros(8, int), "x_test": np.zeros((2, 1, 8, 8), np.uint8)},
     "x_test and y_test must come together"),
])
def test_odd_npz_arrays_are_one_line(train, tmp_path, arrays, message):
    result = train("--data", npz(tmp_path / "d.npz", **arrays))
    assert result.exit_code == 1 and message in result.output, result.output


def write_raw_idx(path, type_byte, dims, payload=b""):
    path.write_bytes(struct.pack(">BBBB", 0, 0, type_byte, len(dims)) + struct.pack(f">{len(dims)}I", *dims) + payload)


@pytest.mark.parametrize("make, message", [
    (lambda p: write_raw_idx(p, 8, [2**32 - 1] * 3), "declares 73786976243298598912.00 GiB of data but this process can get"),
    (lambda p: write_raw_idx(p, 8, [1] * 255), "the IDX header declares 255 dimensions; expected 1 to 4"),
    (lambda p: write_raw_idx(p, 0x0D, [4, 28, 28], bytes(4 * 4 * 28 * 28)), "train-images-idx3-ubyte holds float32 and data/mnist/train-labels-idx1-ubyte holds uint8; expected uint8 images"),
])
def test_odd_idx_files_are_one_line(train, tmp_path, make, message):
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    write_idx(tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte", np.zeros(4, np.uint8), compress=False)
    write_idx(tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8), compress=False)
    write_idx(tmp_path / "data" / "mnist" / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8), compress=False)
    make(tmp_path / "data" / "mnist" / "train-images-idx3-ubyte")
    result = train("--data", "mnist", "--transform", "resize=8")
    assert result.exit_code == 1 and message in result.output, result.output


class HugeShape:
    """A pickled ndarray that numpy is asked to create at 10^10 x 3072 before its data is set."""

    def __reduce__(self):
        fn, (cls, _, code), state = np.zeros((2, 3072), np.uint8).__reduce__()
        return fn, (cls, (10**10, 3072), code), state


@pytest.mark.parametrize("batch, message", [
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [10**30, 1]}, "expected b'labels' to be 2 class indices"),
    ({b"data": [[1] * 3072] * 2, b"labels": [0, 1]}, "expected b'data' to be a uint8 array of shape (N, 3072), "
                                                       "found list"),
    ({b"data": HugeShape(), b"labels": [0, 1]}, "is not a CIFAR-10 python batch: "),
    ([1, 2, 3], "expected b'data' to be a uint8 array of shape (N, 3072), found NoneType"),
])
def test_odd_cifar_batches_are_one_line(train, tmp_path, batch, message):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    write_cifar(folder, per_batch=2)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump(batch, f, protocol=2)
    result = train("--data", "cifar10", spec="rgb.yaml")
    assert result.exit_code == 1 and "data_batch_2" in result.output and message in result.output, result.output


def test_cifar_metadata_that_is_not_utf8_still_trains(train, tmp_path):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    write_cifar(folder, per_batch=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"\xff\xfe\x1b[2J" + bytes([48 + i]) for i in range(10)]}, f, protocol=2)
    result = train("--data", "cifar10", spec="rgb.yaml")
    assert result.exit_code == 0, result.output
    table = CliRunner().invoke(main, ["eval", "rgb.yaml", "--checkpoint", "run"]).output
    assert "\x1b" not in table and "\\x1b[2J0" in table


def images(folder, n=4):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")


class Deadline:
    """Fail instead of hanging: the old reader blocked forever opening a FIFO."""

    def __enter__(self):
        signal.signal(signal.SIGALRM, lambda *a: pytest.fail("blocked"))
        signal.alarm(20)

    def __exit__(self, *exc):
        signal.alarm(0)


def test_a_fifo_in_a_class_folder_is_refused_at_once(train, tmp_path):
    for c in "abc":
        images(tmp_path / "ds" / c)
    os.mkfifo(tmp_path / "ds" / "b" / "blocks.png")
    with Deadline():
        result = train("--data", "folder:ds")
    assert result.exit_code == 1 and "ds/b/blocks.png is not a regular file" in result.output, result.output


def test_a_class_folder_linked_to_the_root_is_refused_at_once(train, tmp_path):
    for c in "ab":
        images(tmp_path / "ds" / c)
    (tmp_path / "ds" / "c").symlink_to("/")  # walked the whole disk
    with Deadline():
        result = train("--data", "folder:ds")
    assert result.exit_code == 1 and "class folder ds/c is a link (to /)" in result.output, result.output


def test_no_training_samples_is_refused_not_blamed_on_the_lr(train, tmp_path):
    source = npz(tmp_path / "d.npz", x=np.zeros((0, 1, 8, 8), np.uint8), y=np.zeros(0, int),
                 x_test=np.zeros((4, 1, 8, 8), np.uint8), y_test=np.zeros(4, int))
    result = train("--data", source)
    assert result.exit_code == 1 and "data 'npz:d.npz' has 0 training samples; training needs at least 2" \
        in result.output, result.output
    assert "--lr" not in result.output


def test_an_empty_test_split_is_warned_about(train, tmp_path):
    source = npz(tmp_path / "d.npz", x=np.zeros((8, 1, 8, 8), np.uint8), y=np.arange(8) % 3,
                 x_test=np.zeros((0, 1, 8, 8), np.uint8), y_test=np.zeros(0, int))
    result = train("--data", source)
    assert result.exit_code == 0, result.output
    assert "warning: the test split of 'npz:d.npz' is empty, so no epoch is validated; --val-split 0.2" \
        in result.output


def test_nan_pixels_are_blamed_on_the_data(train, tmp_path):
    x = np.zeros((8, 1, 8, 8), np.float32)
    x[5, 0, 3, 3] = np.nan
    result = train("--data", npz(tmp_path / "d.npz", x=x, y=np.arange(8) % 3), "--val-split", "0.25")
    assert result.exit_code == 1, result.output
    assert "training sample 5 holds NaN or infinite values (1 such samples); the data is broken, not the " \
           "learning rate" in result.output
    assert "Try a lower --lr" not in result.output
