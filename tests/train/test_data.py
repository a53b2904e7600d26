"""Data sources and the checks against the spec's input, made before any training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from archspec.errors import ArchspecError
from archspec.train.data import check_against_spec, load_data
from archspec.train.model import ModelInfo
from archspec.train.recipe import Recipe

from .writers import write_mnist


def recipe(data, **kw):
    return Recipe(data=data, **kw)


def info(input_shape=(1, 28, 28), k=10, params=None):
    return ModelInfo(module=None, name="net", input_shape=input_shape, num_classes=k, output_name="fc",
                     text="", sha256="", path=None, n_params=0, params=params or {"num_classes": k})


def test_digits_is_sklearns_set_split_deterministically():
    from sklearn.datasets import load_digits

    a, b = load_data(recipe("digits"), (1, 28, 28), 10), load_data(recipe("digits"), (1, 28, 28), 10)
    assert len(a.train) + len(a.val) == 1797 and len(a.val) == 359 and a.val_from == "20% of train"
    assert torch.equal(a.val.y, b.val.y) and torch.equal(a.train.x, b.train.x)
    ref = load_digits()
    assert sorted(a.train.y.tolist() + a.val.y.tolist()) == sorted(ref.target.tolist())
    assert int(a.train.x.max()) == 255 and a.train.x.shape[1:] == (1, 8, 8)
    check_against_spec(a, info((3, 32, 32)), {})  # digits are fitted to any image input: no error


def test_val_split_of_a_dataset_with_a_test_split_holds_out_train(tmp_path):
    write_mnist(tmp_path / "mnist", n_train=50, n_test=10)
    data = load_data(recipe("mnist", data_dir=str(tmp_path), val_split=0.2), (1, 28, 28), 10)
    assert (len(data.train), len(data.val), data.val_from) == (40, 10, "20% of train")


def test_missing_idx_files_name_the_folders(tmp_path):
    with pytest.raises(ArchspecError) as exc:
        load_data(recipe("fashion-mnist", data_dir=str(tmp_path)), (1, 28, 28), 10)
    assert "no train-images-idx3-ubyte[.gz] in " + str(tmp_path / "fashion-mnist") in str(exc.value)
    assert "--download" in str(exc.value)


def test_unknown_source_suggests():
    with pytest.raises(ArchspecError, match="did you mean 'digits'"):
        load_data(recipe("digit"), (1, 28, 28), 10)


def test_shape_mismatch_suggests_resize(tmp_path):
    write_mnist(tmp_path / "mnist")
    data = load_data(recipe("mnist", data_dir=str(tmp_path)), (1, 96, 96), 10)
    with pytest.raises(ArchspecError) as exc:
        check_against_spec(data, info((1, 96, 96)), {})
    assert "data 'mnist' gives samples of shape 1x28x28 but spec 'net' takes input 1x96x96; " \
           "add --transform resize=96" in str(exc.value)
    check_against_spec(data, info((1, 96, 96)), {"resize": [96, 96]})
    check_against_spec(data, info((784,)), {})  # a flat input takes the flattened image


def test_class_count_and_label_range(tmp_path):
    digits = load_data(recipe("digits"), (1, 28, 28), 100)
    with pytest.raises(ArchspecError, match="has 10 classes but spec 'net' outputs 100 features .*--set num_classes=10"):
        check_against_spec(digits, info(k=100), {})
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((6, 1, 28, 28), np.uint8), y=np.array([0, 1, 2, 3, 4, 12]))
    data = load_data(recipe(f"npz:{path}"), (1, 28, 28), 10)
    with pytest.raises(ArchspecError) as exc:
        check_against_spec(data, info(), {})
    assert f"data 'npz:{path}': train labels range over [0, 12] but spec 'net' outputs 10 classes" in str(exc.value)


def test_npz_three_dim_images_and_float_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.random.rand(10, 8, 8).astype(np.float32), y=np.arange(10) % 3,
             x_test=np.zeros((4, 8, 8), np.float32), y_test=np.zeros(4, np.int64))
    data = load_data(recipe(f"npz:{path}"), (1, 8, 8), 3)
    assert data.train.x.shape == (10, 1, 8, 8) and len(data.val) == 4
    np.savez(path, x=np.zeros((4, 8, 8)), y=np.zeros(4))
    with pytest.raises(ArchspecError, match="labels y must be integers"):
        load_data(recipe(f"npz:{path}"), (1, 8, 8), 3)


def test_folder_with_train_and_val_subfolders(tmp_path):
    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            Image.new("L", (9, 9), 200 if cls == "b" else 10).save(tmp_path / split / cls / "0.png")
    data = load_data(recipe(f"folder:{tmp_path}"), (1, 4, 4), 2)
    assert data.classes == ["a", "b"] and data.train.y.tolist() == [0, 1] and len(data.val) == 2
    assert data.train.x.shape == (2, 1, 4, 4) and int(data.train.x[1].min()) == 200


def test_synthetic_matches_the_spec_and_is_learnable():
    data = load_data(recipe("synthetic:40"), (3, 4, 4), 5)
    assert data.train.x.shape == (40, 3, 4, 4) and len(data.val) == 10
    assert int(data.train.y.max()) < 5 and data.num_classes == 5
    with pytest.raises(ArchspecError, match="synthetic:N with N from 2 to 10,000,000"):
        load_data(recipe("synthetic:x"), (3, 4, 4), 5)
