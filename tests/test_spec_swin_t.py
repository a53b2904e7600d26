"""specs/swin_t.yaml at a size that is not a whole number of windows: 200x200 images make
token maps of 50, 25, 13 and 7 a side, so the attention pads to whole windows in the first
three stages, the patch merging pads the odd sides, and the last stage (one window) drops its
shift, as torchvision's Swin does. The shapes are fixed when the module is built (the padding
and the shift mask are computed then), so the spec is built for this size; the weights are
the same as at 224. (tests/test_specs.py compares the 224 build.)"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import archspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import REFERENCES, TEST_PARAMS  # noqa: E402

SPEC = ROOT / "specs" / "swin_t.yaml"


def test_swin_t_pads_and_matches_at_200(one_thread):
    params, reference = TEST_PARAMS["specs/swin_t.yaml"], REFERENCES["specs/swin_t.yaml"]
    report = archspec.check(str(SPEC), **params, size=200)
    assert report.ok and report.params == archspec.check(str(SPEC), **params).params
    g = report.graph
    pads = {name for name in g.ops() if g.nodes[name]["op"].name == "pad"}
    to_windows = {f"features.{stage}.{k}.attn.0" for stage in (1, 3, 5) for k in (0, 1)}  # 50, 25, 13 a side
    assert pads == to_windows | {"features.4.0", "features.6.0"}  # and the odd sides 25 and 13 before merging
    assert "features.5.1.attn.shift_mask" in g and "features.7.1.attn.shift_mask" not in g  # 7: one window
    torch.manual_seed(1)
    ref = reference().eval()
    model = archspec.build(str(SPEC), **params, size=200).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 200, 200, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), atol=1e-5, rtol=1e-5)


def test_swin_t_stochastic_depth_grows_as_torchvisions():
    """Both drop paths of block j (of 12, over all stages) drop with 0.2 * j / 11, as the reference."""
    from reference import transformers

    g = archspec.check(str(SPEC)).graph
    ref = transformers.SwinTransformer(embed_dim=8, depths=(2, 2, 6, 2), num_heads=(1, 1, 1, 1))
    expected = [block.stochastic_depth.p for stage in ref.features[1::2] for block in stage]
    for item in ("stochastic_depth", "dropped"):
        found = [g.nodes[f"features.{2 * s + 1}.{k}.{item}"]["args"]["p"] for s, depth in enumerate((2, 2, 6, 2))
                 for k in range(depth)]
        assert found == pytest.approx(expected) and len(found) == 12 and found[-1] == pytest.approx(0.2)
