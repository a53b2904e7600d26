"""Data sources, resolved by name, loaded into memory and checked against the spec's input.

Images stay uint8 (N, C, H, W) until a batch is taken, so big sets cost a quarter of float.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from archspec.diagnostics import did_you_mean
from archspec.errors import ArchspecError
from archspec.train import formats, segmentation
from archspec.train.download import download
from archspec.train.files import require_room
from archspec.train.recipe import DATA_KINDS, SOURCES, Recipe

DEFAULT_VAL_SPLIT = 0.2
SYNTHETIC_SIZE = 512
MAX_SYNTHETIC = 10_000_000
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


@dataclass
class Split:
    x: torch.Tensor  # uint8 in [0, 255] or float
    y: torch.Tensor  # int64 labels

    def __len__(self):
        return self.y.shape[0]


@dataclass
class Data:
    name: str
    train: Split
    val: Split | None
    num_classes: int | None = None  # from the dataset's metadata, when it has any
    classes: list[str] | None = None
    fit_to_input: bool = False  # digits: resized and channel-replicated to the spec's input
    val_from: str = ""  # "test split" or "N% of train"
    vocab: object = None  # text: the archspec.train.text.Vocab its ids come from
    unigram_loss: float | None = None  # text: the validation loss of predicting training-split frequencies

    def to(self, device) -> "Data":
        """The same data with its splits on `device`, where it stays for the whole run."""
        def move(split):
            return None if split is None else Split(split.x.to(device), split.y.to(device))

        return replace(self, train=move(self.train), val=move(self.val))


def load_data(recipe: Recipe, input_shape: tuple, num_classes: int, log=print, tokens: tuple | None = None) -> Data:
    """Load recipe.data and carve the validation split (see split_val); `tokens`: the [low, high)
    of a spec's int64 token input, which synthetic data then draws its ids from."""
    source = recipe.data
    kind, _, arg = source.partition(":")
    if kind == "digits":
        data = _digits()
    elif kind in ("mnist", "fashion-mnist"):
        data = _idx(kind, Path(recipe.data_dir), recipe.download, log)
    elif kind == "cifar10":
        data = _cifar(Path(recipe.data_dir), recipe.download, log)
    elif kind == "npz" and arg:
        data = _npz(source, Path(arg))
    elif kind == "folder" and arg:
        data = _folder(source, Path(arg), input_shape, recipe.workers)
    elif kind == "synthetic":
        data = _synthetic(source, arg, input_shape, num_classes, tokens, recipe.task == "segmentation")
    elif kind == "text" and arg:
        return check_samples(_text(recipe, source, arg, input_shape), log)
    elif kind == "voc" and arg:
        data = segmentation.voc(source, Path(arg), input_shape, num_classes, recipe.workers)
    else:
        raise ArchspecError(f"--data {source!r}: unknown data source{did_you_mean(kind, DATA_KINDS)}; "
                            f"expected one of {', '.join(SOURCES)}")
    check_finite(data)
    return check_samples(split_val(data, recipe.val_split), log)


def check_finite(data: Data) -> None:
    """Refuse NaN or infinite values in float data, naming the first sample as the file numbers them:
    they would surface as a NaN loss, blamed on the learning rate."""
    for split_name, split in (("training", data.train), ("test", data.val)):
        if split is not None and len(split) and split.x.is_floating_point():
            finite = torch.isfinite(split.x.reshape(len(split), -1)).all(dim=1)
            if not bool(finite.all()):
                first = int((~finite).nonzero()[0])
                raise ArchspecError(f"data {data.name!r}: {split_name} sample {first} holds NaN or infinite values "
                                    f"({int((~finite).sum())} such samples); the data is broken, not the "
                                    "learning rate: fix or drop those samples")


def check_samples(data: Data, log=print) -> Data:
    """Refuse a training split of fewer than 2 samples; warn when the validation split is empty,
    since the run then has no validation score."""
    if len(data.train) < 2:
        raise ArchspecError(f"data {data.name!r} has {len(data.train)} training sample"
                            f"{'s' if len(data.train) != 1 else ''}; training needs at least 2")
    if data.val is not None and len(data.val) == 0:
        log(f"warning: the {data.val_from or 'validation split'} of {data.name!r} is empty, so no epoch is "
            "validated; --val-split 0.2 holds out part of train instead")
    return data


def split_val(data: Data, val_split: float | None) -> Data:
    """Use the test split as validation unless val_split asks to hold out part of train instead.

    The hold-out permutation uses a fixed seed, so every run of a recipe validates on the same samples.
    """
    if data.val is not None and val_split is None:
        data.val_from = "test split"
        return data
    frac = DEFAULT_VAL_SPLIT if val_split is None else val_split
    n = len(data.train)
    n_val = int(round(n * frac))
    if n_val < 1 or n_val >= n:
        raise ArchspecError(f"data {data.name!r}: {n} training samples cannot be split {frac:g} for validation")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    x, y = data.train.x, data.train.y
    data.train, data.val = Split(x[train_idx], y[train_idx]), Split(x[val_idx], y[val_idx])
    data.val_from = f"{frac:.0%} of train"
    return data


def _split(x: np.ndarray, y: np.ndarray) -> Split:
    x = np.ascontiguousarray(x)
    x = x if x.flags.writeable else x.copy()  # IDX arrays are views of read-only bytes
    return Split(torch.from_numpy(x), torch.from_numpy(np.asarray(y, dtype=np.int64).copy()))


def _digits() -> Data:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    return Data("digits", _split(x, d.target), None, num_classes=10,
                classes=[str(i) for i in range(10)], fit_to_input=True)


def _find(dirs: list[Path], base: str) -> Path | None:
    for d in dirs:
        for name in (base + ".gz", base):
            if (d / name).is_file():
                return d / name
    return None


def _idx(name: str, root: Path, fetch: bool, log) -> Data:
    folder = root / name
    if fetch:
        download(name, folder, log=log)
    dirs = [folder, root, root / {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}[name] / "raw"]
    parts = {}
    for key, base in (("xtr", "train-images-idx3-ubyte"), ("ytr", "train-labels-idx1-ubyte"),
                      ("xte", "t10k-images-idx3-ubyte"), ("yte", "t10k-labels-idx1-ubyte")):
        path = _find(dirs, base)
        if path is None:
            raise ArchspecError(f"{name}: no {base}[.gz] in {' or '.join(map(str, dirs))}; "
                                "point --data-dir at the IDX files or add --download")
        parts[key] = (path, formats.read_idx(path))
    for xk, yk in (("xtr", "ytr"), ("xte", "yte")):
        (xp, x), (yp, y) = parts[xk], parts[yk]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ArchspecError(f"{name}: {xp} holds {x.shape} and {yp} holds {y.shape}; expected (N, H, W) "
                                "images and N labels")
        if x.dtype != np.uint8 or not np.issubdtype(y.dtype, np.integer):
            raise ArchspecError(f"{name}: {xp} holds {x.dtype.name} and {yp} holds {y.dtype.name}; expected uint8 images "
                                "(IDX type 0x08) and integer labels")
    return Data(name, _split(parts["xtr"][1][:, None], parts["ytr"][1]),
                _split(parts["xte"][1][:, None], parts["yte"][1]), num_classes=10)


def _cifar(root: Path, fetch: bool, log) -> Data:
    if fetch:
        download("cifar10", root / "cifar10", log=log)
    candidates = [root / "cifar10" / "cifar-10-batches-py", root / "cifar-10-batches-py", root]
    folder = next((d for d in candidates if (d / "data_batch_1").is_file()), None)
    if folder is None:
        raise ArchspecError(f"cifar10: no data_batch_1 in {' or '.join(map(str, candidates))}; "
                            "point --data-dir at the python batches or add --download")
    missing = [name for name in CIFAR_BATCHES if not (folder / name).exists()]
    if missing:  # a half-extracted archive must not train on what happens to be there
        raise ArchspecError(f"cifar10: {folder} lacks {', '.join(missing)}; the data set is incomplete (an "
                            "extraction cut short?): remove the folder and run again with --download")
    batches = [formats.read_cifar_batch(folder / name) for name in CIFAR_BATCHES[:-1]]
    x, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])
    val = _split(*formats.read_cifar_batch(folder / "test_batch"))
    return Data("cifar10", _split(x, y), val, num_classes=10, classes=formats.read_cifar_meta(folder / "batches.meta"))


def _npz(source: str, path: Path) -> Data:
    arrays = formats.read_npz(path)

    def split(xk, yk):
        x, y = arrays[xk], arrays[yk]
        if x.dtype.names or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_) or x.ndim < 2:
            raise ArchspecError(f"{path}: {xk} must be an array of N numeric samples, got {x.dtype} of shape "
                                f"{x.shape}")
        if y.ndim != 1 or len(x) != len(y):
            raise ArchspecError(f"{path}: {xk} has shape {x.shape} and {yk} has shape {y.shape}; "
                                f"expected N samples and N labels")
        if not np.issubdtype(y.dtype, np.integer) or y.dtype == np.uint64:
            raise ArchspecError(f"{path}: labels {yk} must be integers (class indices), got {y.dtype}")
        if x.ndim == 3:
            x = x[:, None]
        if np.issubdtype(x.dtype, np.integer) and x.dtype not in (np.uint8, np.uint64):
            x = x.astype(np.int64)  # token ids stay whole; a float spec's batches are made float
        elif x.dtype != np.uint8:
            x = x.astype(np.float32)
        return _split(x, y)

    val = split("x_test", "y_test") if "x_test" in arrays else None
    return Data(source, split("x", "y"), val)


def _text(recipe: Recipe, source: str, arg: str, input_shape: tuple) -> Data:
    """A text as blocks of the spec's context (archspec.train.text); validation is its tail."""
    from archspec.train import text

    if len(input_shape) != 1:
        raise ArchspecError(f"--data {source}: text trains a language model, whose input is (T,) token ids; "
                            f"the spec takes input {_fmt(input_shape)}")
    corpus = text.read_corpus(source, arg, recipe.vocab)
    x, y = text.blocks(corpus.ids, input_shape[0])
    frac = recipe.val_split or text.DEFAULT_VAL_FRACTION
    n_val = int(round(len(x) * frac))
    if n_val < 1 or len(x) - n_val < 2:
        raise ArchspecError(f"--data {source}: {len(corpus.ids):,} tokens make {len(x)} blocks of {input_shape[0]} "
                            f"(the spec's context), too few to hold out {frac:g} for validation and train on 2")
    train, val = Split(x[:-n_val], y[:-n_val]), Split(x[-n_val:], y[-n_val:])
    return Data(source, train, val, val_from=f"the last {frac:.0%} of the text", vocab=corpus.vocab,
                unigram_loss=text.unigram_loss(train.y, val.y, corpus.vocab.size))


def _folder(source: str, root: Path, input_shape: tuple, workers: int) -> Data:
    if len(input_shape) != 3:
        raise ArchspecError(f"{source}: image folders need a spec input of shape (C, H, W), got {input_shape}")
    subsets = {name: root / name for name in ("train", "val", "test") if (root / name).is_dir()}
    train_root = subsets.get("train", root)
    val_root = subsets.get("val") or subsets.get("test") if "train" in subsets else None
    classes, items = formats.list_folder(train_root)
    c, h, w = input_shape

    def decode(listing):
        files, labels = zip(*listing)
        return Split(torch.from_numpy(formats.decode_folder(files, c, (h, w), workers)), torch.tensor(labels))

    val = None
    if val_root is not None:
        val_classes, val_items = formats.list_folder(val_root)
        if val_classes != classes:
            raise ArchspecError(f"{source}: {val_root} has classes {val_classes}, {train_root} has {classes}")
        val = decode(val_items)
    return Data(source, decode(items), val, num_classes=len(classes), classes=classes)


def _synthetic(source: str, arg: str, input_shape: tuple, num_classes: int, tokens: tuple | None = None,
               masks: bool = False) -> Data:
    """Gaussian noise around one random prototype per class: learnable, so smoke runs show progress.
    For a token input, a random id sequence per class with a quarter of its ids replaced; for
    segmentation, shapes and their masks (segmentation.synthetic_shapes)."""
    try:
        n = int(arg) if arg else SYNTHETIC_SIZE
    except ValueError:
        n = 0
    if not 2 <= n <= MAX_SYNTHETIC:
        raise ArchspecError(f"--data {source[:40]}: expected synthetic or synthetic:N with N from 2 to "
                            f"{MAX_SYNTHETIC:,} samples")
    if masks:
        return segmentation.synthetic_shapes(source, n, input_shape, num_classes)
    require_room((n + max(n // 4, 1)) * math.prod(input_shape) * 4 * 2, f"--data {source}")
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, num_classes, (n + max(n // 4, 1),), generator=g)
    if tokens is not None:
        protos = torch.randint(*tokens, (num_classes, *input_shape), generator=g)
        noise = torch.randint(*tokens, (len(y), *input_shape), generator=g)
        x = torch.where(torch.rand(noise.shape, generator=g) < 0.25, noise, protos[y])
        return Data(source, Split(x[:n], y[:n]), Split(x[n:], y[n:]), num_classes=num_classes)
    protos = torch.rand(num_classes, *input_shape, generator=g)
    x = (protos[y] + 0.25 * torch.randn(len(y), *input_shape, generator=g)).clamp(0, 1)
    return Data(source, Split(x[:n], y[:n]), Split(x[n:], y[n:]), num_classes=num_classes)


def sample_shape(data: Data, transforms: dict, input_shape: tuple) -> tuple:
    """The shape of one sample after the deterministic transforms (resize, digits' fitting)."""
    shape = tuple(data.train.x.shape[1:])
    if len(shape) == 3:
        c, h, w = shape
        if data.fit_to_input and len(input_shape) == 3:
            c, (h, w) = (input_shape[0] if c == 1 else c), input_shape[1:]
        if "resize" in transforms:
            h, w = transforms["resize"]
        shape = (c, h, w)
    return shape


def check_against_spec(data: Data, info, transforms: dict) -> None:
    """Refuse data that cannot feed the spec: sample shape, class count and label range."""
    if info.task.name == "segmentation" or data.train.y.dim() == 3:  # masks: segmentation's own checks
        return segmentation.check_against_spec(data, info, transforms)
    spec_in, k = tuple(info.input_shape), info.num_classes
    got = sample_shape(data, transforms, spec_in)
    where = f"data {data.name!r}"
    if got != spec_in and not (len(spec_in) == 1 and math.prod(got) == spec_in[0]):
        hint = ""
        if len(got) == 3 and len(spec_in) == 3 and got[0] == spec_in[0]:
            hint = (f"; add --transform resize={spec_in[1]}" if spec_in[1] == spec_in[2]
                    else f"; add --transform resize=[{spec_in[1]},{spec_in[2]}]")
        if len(got) == 1 and len(spec_in) == 1:
            hint = _param_hint(info, spec_in[0], got[0], "length")
        raise ArchspecError(f"{where} gives samples of shape {_fmt(got)} but spec {info.name!r} takes input "
                            f"{_fmt(spec_in)}{hint}")
    if len(spec_in) != 3 and transforms:
        raise ArchspecError(f"transforms {', '.join(transforms)} need image input (C, H, W); spec {info.name!r} "
                            f"takes {_fmt(spec_in)}")
    param_hint = next((f"; set the class count with --set {p}={data.num_classes}" for p in info.params
                       if "class" in p.lower()), "")
    if data.num_classes is not None and data.num_classes != k:
        raise ArchspecError(f"{where} has {data.num_classes} classes but spec {info.name!r} outputs {k} features "
                            f"({info.output_name}){param_hint}")
    _check_targets(data, info)
    for split_name, split in (("train", data.train), ("validation", data.val)):
        if split is None or len(split) == 0:
            continue
        if info.input_range is not None:
            _check_tokens(where, split_name, split.x, info)
        lo, hi = int(split.y.min()), int(split.y.max())
        if lo < 0 or hi >= k:
            raise ArchspecError(f"{where}: {split_name} labels range over [{lo}, {hi}] but spec {info.name!r} "
                                f"outputs {k} classes ({info.output_name}), so labels must lie in [0, {k - 1}]")


def _check_targets(data: Data, info) -> None:
    """The data's targets are the task's (a label per sample, next tokens, a mask), and a text's
    vocabulary fits the spec's input range and output."""
    task, where = info.task, f"data {data.name!r}"
    want, got = task.target_shape(info), tuple(data.train.y.shape[1:])
    if got != want:
        hint = ("text: data trains language models, whose output is (T, vocab)" if data.vocab is not None else
                "a language model trains on text:PATH or text:stdlib" if task.name == "language_model" else
                f"{task.name} wants {'one label per sample' if not want else 'targets of shape ' + _fmt(want)}")
        raise ArchspecError(f"{where} gives targets of shape ({_fmt(got)}) per sample, but spec {info.name!r} trains "
                            f"as {task.name} (from {info.task_from}), whose targets are ({_fmt(want)}); {hint}")
    if data.vocab is None:
        return
    size, (lo, hi) = data.vocab.size, info.input_range
    read = f"{where} read as {data.vocab.kind} (--vocab) has {size} token ids"
    if lo != 0 or hi < size:
        raise ArchspecError(f"{read} but spec {info.name!r} takes ids in [{lo}, {hi}) (its input's range)"
                            f"{_param_hint(info, hi, size, 'vocabulary size')}")
    if info.num_classes < size:
        raise ArchspecError(f"{read} but spec {info.name!r} outputs {info.num_classes} logits per position "
                            f"({info.output_name}){_param_hint(info, info.num_classes, size, 'vocabulary size')}")


def _param_hint(info, value: int, wanted: int, what: str) -> str:
    """'; set the length with --set max_len=16' when a spec param holds the value that differs."""
    name = next((p for p, v in info.params.items() if v == value and type(v) is int), None)
    return f"; set the {what} with --set {name}={wanted}" if name else ""


def _check_tokens(where: str, split_name: str, x, info) -> None:
    """A token input takes whole ids in the range its spec declares (an embedding's rows)."""
    lo, hi = info.input_range
    if x.is_floating_point() or x.dtype == torch.bool:
        raise ArchspecError(f"{where}: {split_name} samples are {str(x.dtype).removeprefix('torch.')}, but spec "
                            f"{info.name!r} takes int64 token ids in [{lo}, {hi})")
    if len(x) and (int(x.min()) < lo or int(x.max()) >= hi):
        raise ArchspecError(f"{where}: {split_name} token ids range over [{int(x.min())}, {int(x.max())}] but spec "
                            f"{info.name!r} takes ids in [{lo}, {hi}) (its input's range)")


def _fmt(shape) -> str:
    return "x".join(str(s) for s in shape)
