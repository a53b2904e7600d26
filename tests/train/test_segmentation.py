"""Segmentation data against real files: a VOC-layout folder written with Pillow (JPEG images,
palette PNG masks), and the synthetic shapes; pixel accuracy and IoU against numpy by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from archspec.errors import ArchspecError
from archspec.train import iou, segmentation

RGB = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40)]


def palette_png(path, mask: np.ndarray) -> None:
    im = Image.fromarray(mask.astype(np.uint8), mode="P")
    im.putpalette([v for i in range(256) for v in ((i * 40) % 256, (i * 90) % 256, (i * 150) % 256)])
    im.save(path)


def write_voc(root, ids: dict, size=(8, 6), block=1, seed=0) -> dict:
    """ids: {"train": [...], "val": [...]}. Each image is flat colour quarters (JPEG keeps them
    nearly exact); its mask is random classes 0-2 and 255 in block x block squares. Returns
    {id: (image array HWC, mask array HW)} as written."""
    rng = np.random.default_rng(seed)
    w, h = size
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    written = {}
    for subset, names in ids.items():
        (root / "ImageSets/Segmentation" / f"{subset}.txt").write_text("".join(n + "\n" for n in names))
        for n in names:
            image = np.zeros((h, w, 3), np.uint8)
            colours = rng.permutation(len(RGB))
            image[: h // 2, : w // 2], image[: h // 2, w // 2:] = RGB[colours[0]], RGB[colours[1]]
            image[h // 2:, : w // 2], image[h // 2:, w // 2:] = RGB[colours[2]], RGB[colours[3]]
            Image.fromarray(image).save(root / "JPEGImages" / f"{n}.jpg", quality=100, subsampling=0)
            coarse = rng.choice([0, 1, 2, 255], (h // block, w // block))
            mask = np.kron(coarse, np.ones((block, block), np.int64))
            palette_png(root / "SegmentationClass" / f"{n}.png", mask)
            written[n] = (image, mask)
    return written


def test_voc_folder_reads_images_and_palette_indices(tmp_path):
    written = write_voc(tmp_path, {"train": ["2007_000032", "2007_000039", "a-b.c"], "val": ["2008_000002"]})
    data = segmentation.voc("voc:x", tmp_path, (3, 6, 8), 3)
    assert data.train.x.shape == (3, 3, 6, 8) and data.train.y.shape == (3, 6, 8) and data.val.y.shape == (1, 6, 8)
    assert data.train.x.dtype == torch.uint8 and data.train.y.dtype == torch.uint8
    for split, names in ((data.train, ["2007_000032", "2007_000039", "a-b.c"]), (data.val, ["2008_000002"])):
        for i, name in enumerate(names):
            image, mask = written[name]
            np.testing.assert_array_equal(split.y[i].numpy(), mask)  # indices, not palette colours
            assert np.abs(split.x[i].numpy().transpose(1, 2, 0).astype(int) - image).max() <= 12  # JPEG


def test_voc_resizes_images_bilinearly_and_masks_by_nearest(tmp_path):
    written = write_voc(tmp_path, {"train": ["a", "b"]}, size=(16, 12), block=2)
    data = segmentation.voc("voc:x", tmp_path, (1, 6, 8), 3)
    assert data.val is None and data.train.x.shape == (2, 1, 6, 8)
    for i, name in enumerate(["a", "b"]):
        image, mask = written[name]
        np.testing.assert_array_equal(data.train.y[i].numpy(), mask[::2, ::2])  # no value mixed with another
        gray = image @ np.array([0.299, 0.587, 0.114])  # Pillow's L conversion
        # away from the quarters' edges a bilinear resize keeps the flat colours
        assert abs(int(data.train.x[i, 0, 1, 1]) - gray[2, 2]) <= 12
        assert abs(int(data.train.x[i, 0, 4, 6]) - gray[9, 13]) <= 12


@pytest.mark.parametrize("action, message", [
    (lambda root: (root / "SegmentationClass/b.png").unlink(),
     r"train.txt:2: id b is listed but its mask .*SegmentationClass/b.png does not exist"),
    (lambda root: (root / "JPEGImages/c.jpg").unlink(),
     r"val.txt:1: id c is listed but its image .*JPEGImages/c.jpg does not exist"),
    (lambda root: palette_png(root / "SegmentationClass/a.png", np.zeros((5, 8))),
     r"mask .*a.png is 8x5 \(width x height\) but its image .*a.jpg is 8x6"),
    (lambda root: palette_png(root / "SegmentationClass/b.png", np.full((6, 8), 3)),
     r"mask .*b.png holds class 3 but the spec outputs 3 classes, so mask values must lie in \[0, 2\] or be 255"),
    (lambda root: Image.new("RGB", (8, 6), (1, 2, 3)).save(root / "SegmentationClass/a.png"),
     r"mask .*a.png is a RGB image; expected a palette \(P\) or grayscale \(L\) PNG"),
    (lambda root: (root / "ImageSets/Segmentation/train.txt").write_text("a\n../../etc/passwd\n"),
     r"train.txt:2: '../../etc/passwd' is not an image id"),
    (lambda root: (root / "ImageSets/Segmentation/train.txt").unlink(),
     r"no .*ImageSets/Segmentation/train.txt; expected a folder in the layout Pascal VOC uses"),
    (lambda root: (root / "ImageSets/Segmentation/val.txt").write_text("\n"), r"val.txt lists no image ids"),
])
def test_voc_mistakes_are_located(tmp_path, action, message):
    write_voc(tmp_path, {"train": ["a", "b"], "val": ["c"]})
    action(tmp_path)
    with pytest.raises(ArchspecError, match=message):
        segmentation.voc("voc:x", tmp_path, (3, 6, 8), 3)


def test_voc_refuses_huge_images_from_their_header(tmp_path, monkeypatch):
    write_voc(tmp_path, {"train": ["a", "b"]})
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 8x6 = 48 pixels: over the limit, yet under twice it
    with pytest.raises(ArchspecError, match=r"image .*a.jpg has more than 40 pixels .*refusing to decode it"):
        segmentation.voc("voc:x", tmp_path, (3, 6, 8), 3)


def test_voc_needs_an_image_input(tmp_path):
    write_voc(tmp_path, {"train": ["a", "b"]})
    with pytest.raises(ArchspecError, match=r"segmentation data needs a spec input of shape \(C, H, W\), got 48"):
        segmentation.voc("voc:x", tmp_path, (48,), 3)


def test_synthetic_shapes_are_deterministic_and_labelled(tmp_path):
    a = segmentation.synthetic_shapes("synthetic:40", 40, (3, 24, 20), 4)
    b = segmentation.synthetic_shapes("synthetic:40", 40, (3, 24, 20), 4)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.val.y, b.val.y)
    assert a.train.x.shape == (40, 3, 24, 20) and a.train.y.shape == (40, 24, 20) and len(a.val) == 10
    assert a.classes == ["background", "circle", "rectangle", "triangle"]
    y, x = a.train.y.long(), a.train.x.float()
    counts = torch.bincount(y.flatten(), minlength=4)
    assert len(counts) == 4 and bool((counts > 0).all()) and counts[0] > counts[1:].max()
    for k in range(1, 4):  # each class is one flat colour (+ a little noise) wherever its mask says so
        pixels = x.permute(0, 2, 3, 1)[y == k]
        assert float(pixels.std(dim=0).max()) < 0.08 * 255
    # a circle's mask is round: its pixels fill about pi/4 of their bounding box, a rectangle's all of it
    from scipy import ndimage

    one = segmentation.synthetic_shapes("s", 200, (1, 64, 64), 3)
    fills = {1: [], 2: []}
    for mask in one.train.y.numpy():
        for k in (1, 2):
            parts, n = ndimage.label(mask == k)
            if n == 1 and set(np.unique(mask)) == {0, k}:  # one shape, nothing over it
                rows, cols = (parts == 1).nonzero()
                if rows.min() > 0 and cols.min() > 0 and rows.max() < 63 and cols.max() < 63 and len(rows) > 50:
                    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
                    fills[k].append(len(rows) / float(box))
    assert len(fills[1]) > 5 and len(fills[2]) > 5
    assert abs(np.median(fills[1]) - np.pi / 4) < 0.05 and np.median(fills[2]) == 1.0


def test_pixel_metrics_by_hand():
    target = torch.tensor([[[0, 0, 1], [2, 255, 1]]])
    pred = torch.tensor([[[0, 1, 1], [2, 0, 0]]])
    m = iou.pixel_confusion(target, pred, 4)
    # 5 counted pixels (255 is left out), 3 right; class 0: 1 hit of 2 + 2 - 1; class 3 is nowhere
    assert iou.pixel_accuracy(m) == pytest.approx(3 / 5)
    assert iou.class_iou(m) == pytest.approx([1 / 3, 1 / 3, 1.0, None])
    assert iou.mean_iou(m) == pytest.approx((1 / 3 + 1 / 3 + 1) / 3)
    assert iou.majority_iou(m) == pytest.approx(2 / 5 / 3)  # class 0 (or 1) everywhere: IoU 2/5, the others 0


def test_pixel_metrics_match_numpy_over_batches():
    rng = np.random.default_rng(1)
    k = 5
    target = rng.integers(0, k - 1, (6, 7, 9))  # class 4 is in neither: no IoU, left out of the mean
    target[rng.random(target.shape) < 0.1] = 255
    pred = np.where(rng.random(target.shape) < 0.6, target % 255, rng.integers(0, k - 1, target.shape))
    m = sum(iou.pixel_confusion(torch.from_numpy(target[part:part + 4]), torch.from_numpy(pred[part:part + 4]), k)
            for part in range(0, 6, 4))  # accumulated over two batches
    keep = target != 255
    ious = []
    for c in range(k):
        inter = np.sum((target == c) & (pred == c) & keep)
        union = np.sum(((target == c) | (pred == c)) & keep)
        ious.append(inter / union if union else None)
    assert iou.pixel_accuracy(m) == pytest.approx(np.mean(target[keep] == pred[keep]))
    assert iou.class_iou(m) == pytest.approx(ious)
    present = [v for v in ious if v is not None]
    assert iou.mean_iou(m) == pytest.approx(np.mean(present))


def test_crops_and_flips_move_masks_with_their_images():
    from archspec.train.transforms import Pipeline

    g = torch.Generator().manual_seed(0)
    x, mask = torch.rand(6, 3, 8, 8, generator=g), torch.randint(0, 4, (6, 8, 8), generator=g)
    mask[:, 0] = 255
    flip = Pipeline({"hflip": 1.0, "random_resized_crop": {"scale": [1.0, 1.0], "ratio": [1.0, 1.0]}})
    out, moved = flip.pair(x, mask, train=True, gen=torch.Generator())
    torch.testing.assert_close(out, x.flip(-1), atol=1e-5, rtol=0)
    assert torch.equal(moved, mask.flip(-1)) and moved.dtype == mask.dtype
    # a half-width crop (as test_transforms' hand computation): each mask column is the input's nearest column
    crop = Pipeline({"random_resized_crop": {"scale": [0.5, 0.5], "ratio": [0.5, 0.5]}})
    out, moved = crop.pair(x[:1], mask[:1], train=True, gen=torch.Generator().manual_seed(0))
    assert torch.equal(out, crop(x[:1], train=True, gen=torch.Generator().manual_seed(0)))  # the same draws
    g = torch.Generator().manual_seed(0)
    torch.rand(1, generator=g), torch.rand(1, generator=g)
    cx = float((torch.rand(1, generator=g) * 2 - 1) * 0.5)
    for j in range(8):
        u = ((0.5 * ((2 * j + 1) / 8 - 1) + cx + 1) * 8 - 1) / 2
        assert torch.equal(moved[0, :, j], mask[0, :, min(max(round(u), 0), 7)])


def test_masks_as_a_whole_are_checked_against_the_classes():
    from archspec.train.data import Split

    y = torch.zeros(3, 4, 4, dtype=torch.uint8)
    y[1, 0, 0], y[2] = 255, 1
    segmentation.check_masks(Split(torch.zeros(3, 1, 4, 4), y), 2, "data 'x'", "train")  # 255 is no class
    y[2, 3, 3] = 7
    with pytest.raises(ArchspecError, match=r"data 'x': train mask 2 holds class 7 but the spec outputs 2 classes"):
        segmentation.check_masks(Split(torch.zeros(3, 1, 4, 4), y), 2, "data 'x'", "train")
