"""Readers against files written independently in the real formats."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from archspec.errors import ArchspecError
from archspec.train import formats

from .writers import write_cifar, write_idx


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28))
    path = write_idx(tmp_path / "train-images-idx3-ubyte", images, compress)
    np.testing.assert_array_equal(formats.read_idx(path), images)


def test_idx_truncated_and_foreign_files_are_refused(tmp_path):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((3, 4, 4)), compress=False)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ArchspecError, match="truncated"):
        formats.read_idx(path)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(ArchspecError, match="not an IDX file"):
        formats.read_idx(other)


def test_cifar_batches_read_as_nchw(tmp_path):
    written = write_cifar(tmp_path)
    x, y = formats.read_cifar_batch(tmp_path / "data_batch_2")
    data, labels = written["data_batch_2"]
    assert x.shape == (6, 3, 32, 32) and list(y) == labels
    np.testing.assert_array_equal(x[:, 1].reshape(6, -1), data[:, 1024:2048])  # green plane is the second third
    assert formats.read_cifar_meta(tmp_path / "batches.meta")[0] == "airplane"


def test_cifar_reader_refuses_code_in_pickles(tmp_path):
    evil = tmp_path / "data_batch_1"
    evil.write_bytes(pickle.dumps({b"data": print, b"labels": []}, protocol=2))
    with pytest.raises(ArchspecError, match="refusing to load (__builtin__|builtins).print"):
        formats.read_cifar_batch(evil)


def test_npz_requires_x_and_y(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 3)))
    with pytest.raises(ArchspecError, match="has no array 'y'"):
        formats.read_npz(tmp_path / "d.npz")


def test_folder_decodes_with_pillow_to_the_requested_size(tmp_path):
    for cls, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.new("RGB", (20 + i, 10), color).save(tmp_path / cls / f"{i}.png")
    classes, items = formats.list_folder(tmp_path)
    assert classes == ["cat", "dog"] and [label for _, label in items] == [0, 0, 1, 1]
    arr = formats.decode_folder([f for f, _ in items], channels=3, size=(6, 5), workers=0)
    assert arr.shape == (4, 3, 6, 5) and arr.dtype == np.uint8
    assert arr[0, :, 0, 0].tolist() == [255, 0, 0] and arr[3, :, 2, 2].tolist() == [0, 0, 255]
    gray = formats.decode_folder([items[0][0]], channels=1, size=(4, 4), workers=0)
    assert gray.shape == (1, 1, 4, 4) and gray[0, 0, 0, 0] == 76  # PIL's L = 0.299 R


def test_broken_image_is_named(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"not a png")
    _, items = formats.list_folder(tmp_path)
    with pytest.raises(ArchspecError, match="cannot decode image .*x.png"):
        formats.decode_folder([items[0][0]], 3, (4, 4), workers=0)
