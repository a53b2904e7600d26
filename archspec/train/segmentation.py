"""Segmentation data: images with a class index per pixel, loaded into memory like the other sources.

Masks stay uint8 (N, H, W), 255 marking pixels to ignore (VOC's object boundaries), until a batch
is taken. Two sources: a folder in the layout Pascal VOC uses (`voc:PATH`) and `synthetic`
shapes for smoke runs.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from archspec.errors import ArchspecError
from archspec.train import formats
from archspec.train.files import read_bounded, require_room
from archspec.train.iou import IGNORE  # a mask value that is no class: left out of the loss and the metrics

MAX_LIST_BYTES = 16 << 20  # an ImageSets list of ids (VOC 2012's trainval.txt: 2,913 ids, about 35 KB)
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # a file name in the folder, never a path out of it
SHAPES = ("circle", "rectangle", "triangle")


def voc(source: str, root: Path, input_shape: tuple, num_classes: int, workers: int = 0):
    """A VOC-layout folder: JPEGImages/ID.jpg, SegmentationClass/ID.png (palette PNGs of class
    indices) and the ids of ImageSets/Segmentation/train.txt and val.txt (val.txt is optional).
    Images are resized bilinearly and masks by nearest neighbour to the spec's input size."""
    from archspec.train.data import Data, Split

    c, h, w = _image_input(source, input_shape)
    lists = root / "ImageSets" / "Segmentation"
    if not (lists / "train.txt").is_file():
        raise ArchspecError(f"{source}: no {lists / 'train.txt'}; expected a folder in the layout Pascal VOC uses "
                            "(JPEGImages/, SegmentationClass/, ImageSets/Segmentation/train.txt and val.txt)")

    def split(name):
        pairs = _pairs(root, lists / f"{name}.txt")
        x, y = decode_pairs(pairs, c, (h, w), num_classes, workers)
        return Split(torch.from_numpy(x), torch.from_numpy(y))

    val = split("val") if (lists / "val.txt").is_file() else None
    return Data(source, split("train"), val, num_classes=num_classes)


def _image_input(source: str, input_shape: tuple) -> tuple:
    if len(input_shape) != 3:
        raise ArchspecError(f"{source}: segmentation data needs a spec input of shape (C, H, W), got "
                            f"{'x'.join(map(str, input_shape))}")
    return input_shape


def _pairs(root: Path, listing: Path) -> list[tuple[Path, Path]]:
    """The (image, mask) files of the ids a list names, each checked to exist, located at its line."""
    try:
        text = read_bounded(listing, MAX_LIST_BYTES, "id list").decode("utf-8")
    except UnicodeDecodeError:
        raise ArchspecError(f"{listing}: not UTF-8 text; expected one image id per line") from None
    pairs = []
    for line_no, line in enumerate(text.splitlines(), 1):
        image_id = line.strip()
        if not image_id:
            continue
        if not ID.fullmatch(image_id):
            raise ArchspecError(f"{listing}:{line_no}: {image_id[:60]!r} is not an image id (letters, digits, "
                                "'_', '-' and '.', naming files in JPEGImages/ and SegmentationClass/)")
        image, mask = root / "JPEGImages" / f"{image_id}.jpg", root / "SegmentationClass" / f"{image_id}.png"
        for path, what in ((image, "image"), (mask, "mask")):
            if not path.is_file():
                raise ArchspecError(f"{listing}:{line_no}: id {image_id} is listed but its {what} {path} "
                                    f"{'is not a regular file' if path.exists() else 'does not exist'}")
        pairs.append((image, mask))
    if not pairs:
        raise ArchspecError(f"{listing} lists no image ids")
    return pairs


class DecodePairs:
    """A map-style dataset decoding an image and its mask, each to the spec's size; an error is
    returned as a string, which the parent raises (see formats.load_image)."""

    def __init__(self, pairs, channels: int, size: tuple[int, int], num_classes: int):
        self.pairs, self.mode, self.size = pairs, ("L" if channels == 1 else "RGB"), size
        self.num_classes = num_classes

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        image_path, mask_path = self.pairs[i]
        image = formats.load_image(image_path, self.mode, self.size)
        if isinstance(image, str):
            return image
        mask = formats.load_image(mask_path, None, self.size, nearest=True)
        if isinstance(mask, str):
            return mask
        (x, image_size, _), (y, mask_size, mode) = image, mask
        if mode not in ("P", "L"):
            return (f"mask {mask_path} is a {mode} image; expected a palette (P) or grayscale (L) PNG whose values "
                    "are class indices (VOC's SegmentationClass PNGs are palette images)")
        if mask_size != image_size:
            return (f"mask {mask_path} is {mask_size[0]}x{mask_size[1]} (width x height) but its image "
                    f"{image_path} is {image_size[0]}x{image_size[1]}; a mask labels its image's pixels")
        problem = _out_of_range(y, self.num_classes)
        return f"mask {mask_path} {problem}" if problem else (x, y[0])


def _keep(batch):
    return batch


def decode_pairs(pairs, channels: int, size, num_classes: int, workers: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All pairs decoded once into memory, in `workers` processes (0 = in this process); the memory
    it takes is checked first."""
    from torch.utils.data import DataLoader

    h, w = size
    require_room(len(pairs) * (channels + 1) * h * w, f"{len(pairs):,} images and masks at {channels}x{h}x{w}")
    x, y = np.zeros((len(pairs), channels, h, w), np.uint8), np.zeros((len(pairs), h, w), np.uint8)
    loader = DataLoader(DecodePairs(pairs, channels, size, num_classes), batch_size=32, num_workers=workers,
                        collate_fn=_keep)
    i = 0
    for batch in loader:
        for item in batch:
            if isinstance(item, str):
                raise ArchspecError(item)
            x[i], y[i] = item
            i += 1
    return x, y


def synthetic_shapes(source: str, n: int, input_shape: tuple, num_classes: int, seed: int = 0):
    """`n` training and n/4 validation images of filled circles, rectangles and triangles on a noisy
    background, each mask labelling a pixel's shape class (0: background). Class k >= 1 is shape
    SHAPES[(k - 1) % 3] in a colour of its own, so any class count from 2 up can be learned."""
    from archspec.train.data import Data, Split

    c, h, w = _image_input(source, input_shape)
    total = n + max(n // 4, 1)
    require_room(total * (c + 1) * h * w, f"--data {source}")
    rng = np.random.default_rng(seed)
    # each channel of a class's colour dark or bright, away from the mid-grey backgrounds
    colours = np.where(rng.random((num_classes, c)) < 0.5, rng.uniform(0.0, 0.2, (num_classes, c)),
                       rng.uniform(0.8, 1.0, (num_classes, c)))
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    x = np.empty((total, c, h, w), np.uint8)
    y = np.zeros((total, h, w), np.uint8)
    for i in range(total):
        image = rng.uniform(0.35, 0.65, (c, 1, 1)) + 0.08 * rng.standard_normal((c, h, w))
        for _ in range(rng.integers(1, 4)):
            k = int(rng.integers(1, num_classes))
            inside = _shape(SHAPES[(k - 1) % len(SHAPES)], rows, cols, rng, h, w)
            image[:, inside] = colours[k][:, None] + 0.04 * rng.standard_normal((c, int(inside.sum())))
            y[i][inside] = k
        x[i] = np.round(np.clip(image, 0.0, 1.0) * 255)
    kinds = len(SHAPES)
    names = ["background", *(SHAPES[(k - 1) % kinds] + (f"{(k - 1) // kinds + 1}" if k > kinds else "")
                             for k in range(1, num_classes))]
    return Data(source, Split(torch.from_numpy(x[:n]), torch.from_numpy(y[:n])),
                Split(torch.from_numpy(x[n:]), torch.from_numpy(y[n:])), num_classes=num_classes, classes=names)


def _shape(kind: str, rows, cols, rng, h: int, w: int) -> np.ndarray:
    """The pixels of one shape of a random size (an eighth to a quarter of the image) and place."""
    r = rng.uniform(max(min(h, w) / 8, 1.5), max(min(h, w) / 4, 2.0))
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    dy, dx = rows - cy, cols - cx
    if kind == "circle":
        return dy * dy + dx * dx <= r * r
    if kind == "rectangle":
        return (np.abs(dy) <= r * rng.uniform(0.5, 1.0)) & (np.abs(dx) <= r * rng.uniform(0.5, 1.0))
    return (np.abs(dy) <= r) & (np.abs(dx) <= (dy + r) * 0.6)  # a triangle standing on its base


def check_masks(split, num_classes: int, where: str, split_name: str) -> None:
    """Refuse mask values that are neither a class of the spec's nor IGNORE (the VOC reader checks
    each file as it decodes; this covers the data as a whole, e.g. after --set classes=...)."""
    problem = _out_of_range(split.y, num_classes)
    if problem:
        bad = (split.y >= num_classes) & (split.y != IGNORE)
        first = int(bad.reshape(len(split.y), -1).any(dim=1).nonzero()[0])
        raise ArchspecError(f"{where}: {split_name} mask {first} {problem}")


def _out_of_range(y, num_classes: int) -> str | None:
    """What is wrong with mask values (a numpy or torch array) outside the classes and IGNORE, or None."""
    bad = (y >= num_classes) & (y != IGNORE)
    if not bool(bad.any()):
        return None
    return (f"holds class {int(y[bad].max())} but the spec outputs {num_classes} classes, so mask values must lie "
            f"in [0, {num_classes - 1}] or be {IGNORE} (ignored)")


def check_against_spec(data, info, transforms: dict) -> None:
    """Refuse data that cannot train the spec's segmentation: images of the spec's input, a mask of
    the same H x W for each, mask values within the spec's classes; and masks for another task."""
    where, k = f"data {data.name!r}", info.num_classes
    masks = data.train.y.dim() == 3
    if info.task.name != "segmentation":
        raise ArchspecError(f"{where} gives a mask per image (segmentation) but spec {info.name!r} trains as "
                            f"{info.task.name} (its output {info.output_name} is {tuple(info.output_shape)}); "
                            "segmentation needs an output of (num_classes, H, W) at the input's H and W")
    if not masks:
        raise ArchspecError(f"{where} gives one label per sample, but spec {info.name!r} trains as segmentation "
                            "and needs a mask per image: use --data voc:PATH (a folder in the layout Pascal VOC "
                            "uses) or --data synthetic")
    if "resize" in transforms:
        raise ArchspecError("transform resize: segmentation data is loaded at the spec's input size already (images "
                            "bilinear, masks nearest); set the size with the spec's params instead")
    spec_in = tuple(info.input_shape)
    for split_name, split in (("train", data.train), ("validation", data.val)):
        if split is None or len(split) == 0:
            continue
        got, mask = tuple(split.x.shape[1:]), tuple(split.y.shape[1:])
        if got != spec_in or mask != spec_in[1:]:
            raise ArchspecError(f"{where}: {split_name} images are {'x'.join(map(str, got))} with masks "
                                f"{'x'.join(map(str, mask))}, but spec {info.name!r} takes input "
                                f"{'x'.join(map(str, spec_in))} and outputs {k}x{spec_in[1]}x{spec_in[2]}")
        check_masks(split, k, where, split_name)
