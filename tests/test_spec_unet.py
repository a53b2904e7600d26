"""specs/unet.yaml at each depth its `if:` ladder allows, against the reference at that depth;
tests/test_specs.py compares the default depth (4) at a tiny width."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import archspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference.unet import UNet  # noqa: E402

SPEC = str(ROOT / "specs" / "unet.yaml")


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_unet_depths_match_the_reference(depth):
    torch.manual_seed(0)
    ref = UNet(in_channels=1, num_classes=2, base=4, depth=depth).eval()
    model = archspec.build(SPEC, in_channels=1, num_classes=2, base=4, depth=depth, size=16).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, ref(x), atol=1e-5, rtol=1e-5)
    assert out.shape == (2, 2, 16, 16)


def test_a_size_that_does_not_halve_evenly_is_located():
    report = archspec.check(SPEC, base=4, depth=2, size=30)
    assert not report.ok
    (d,) = report.diagnostics
    assert str(d.loc).endswith("unet.yaml:32:9")  # the skip's concat
    assert "[8, 15, 15]" in d.message and "[8, 14, 14]" in d.message
