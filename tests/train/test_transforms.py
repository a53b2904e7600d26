"""Batch transforms against direct references (slicing, flipping, numpy statistics)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from archspec.train import transforms as T
from archspec.train.recipe import canonical_transforms


def test_canonical_forms():
    got = canonical_transforms({"resize": 96, "normalize": True, "hflip": True,
                                  "random_resized_crop": {"scale": [0.5, 1]}, "color_jitter": 0.2})
    assert got == {"resize": [96, 96], "normalize": "auto", "hflip": 0.5,
                   "random_resized_crop": {"scale": [0.5, 1.0], "ratio": [0.75, 4 / 3]},
                   "color_jitter": {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2}}
    assert canonical_transforms(got) == got  # idempotent: a resolved config reloads unchanged
    assert canonical_transforms({"hflip": 0, "resize": None}) == {}


@pytest.mark.parametrize("raw, needle", [
    ({"resize": [1, 2, 3]}, "resize"), ({"normalize": {"mean": [0.5], "std": [0]}}, "normalize"),
    ({"hflip": 2}, "hflip"), ({"flip": 0.5}, "did you mean 'hflip'"),
])
def test_invalid_transforms_explain(raw, needle):
    with pytest.raises(ValueError) as exc:
        canonical_transforms(raw)
    assert needle in exc.value.args[0]


def test_flip_with_probability_one_and_zero():
    x = torch.rand(5, 3, 4, 6)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(T.random_hflip(x, 1.0, g), x.flip(-1))
    assert torch.equal(T.random_hflip(x, 0.0, g), x)


def test_full_crop_is_identity():
    x = torch.rand(4, 3, 10, 10)
    out = T.random_resized_crop(x, (10, 10), scale=[1.0, 1.0], ratio=[1.0, 1.0], gen=torch.Generator())
    torch.testing.assert_close(out, x, atol=1e-5, rtol=0)


def test_crop_matches_hand_computed_bilinear_sampling():
    """Half-width, full-height crop: each output column samples the input at a hand-computed position."""
    x = torch.rand(1, 1, 8, 8)
    out = T.random_resized_crop(x, (8, 8), scale=[0.5, 0.5], ratio=[0.5, 0.5], gen=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    torch.rand(1, generator=g), torch.rand(1, generator=g)  # the area and aspect draws (fixed here)
    cx = float((torch.rand(1, generator=g) * 2 - 1) * 0.5)  # width fraction sqrt(0.5 * 0.5) = 0.5
    row = x[0, 0].numpy().astype(np.float64)
    ref = np.empty((8, 8))
    for j in range(8):
        u = ((0.5 * ((2 * j + 1) / 8 - 1) + cx + 1) * 8 - 1) / 2  # input pixel coordinate (align_corners=False)
        u = min(max(u, 0.0), 7.0)
        lo = int(np.floor(u))
        hi = min(lo + 1, 7)
        ref[:, j] = row[:, lo] * (1 - (u - lo)) + row[:, hi] * (u - lo)
    np.testing.assert_allclose(out[0, 0].numpy(), ref, atol=1e-5)


def test_brightness_is_a_clamped_scale_and_saturation_zero_is_gray():
    x = torch.rand(6, 3, 5, 5)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    out = T.color_jitter(x, brightness=0.5, contrast=0, saturation=0, gen=g1)
    f = (torch.rand(6, generator=g2) * 1.0 + 0.5).view(-1, 1, 1, 1)
    torch.testing.assert_close(out, (x * f).clamp(0, 1))
    gray = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    torch.testing.assert_close(T.grayscale(x)[:, 0], gray)


def test_channel_stats_match_numpy():
    x = torch.randint(0, 256, (50, 3, 6, 7), dtype=torch.uint8)
    stats = T.channel_stats(x, chunk=7)
    a = x.numpy().astype(np.float64) / 255
    np.testing.assert_allclose(stats["mean"], a.mean(axis=(0, 2, 3)), atol=1e-6)
    np.testing.assert_allclose(stats["std"], a.std(axis=(0, 2, 3)), atol=1e-6)


def test_pipeline_eval_is_deterministic_resize_then_normalize():
    p = T.Pipeline(canonical_transforms({"resize": 4, "hflip": 1.0, "normalize": {"mean": [0.5], "std": [0.25]}}))
    x = torch.rand(2, 1, 8, 8)
    ref = (F.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False, antialias=True) - 0.5) / 0.25
    torch.testing.assert_close(p(x, train=False), ref)
    torch.testing.assert_close(p(x, train=True, gen=torch.Generator()), ref.flip(-1))


def test_training_pipeline_is_replayable_from_the_generator_state():
    p = T.Pipeline(canonical_transforms({"resize": 6, "random_resized_crop": True, "hflip": True,
                                           "color_jitter": 0.4}))
    x = torch.rand(3, 3, 8, 8)
    g = torch.Generator().manual_seed(7)
    state = g.get_state()
    a = p(x, train=True, gen=g)
    g.set_state(state)
    assert a.shape == (3, 3, 6, 6) and torch.equal(a, p(x, train=True, gen=g))
    assert 0 <= float(a.min()) and float(a.max()) <= 1
