"""Generated valid specs check OK, build, and their module's real forward pass gives the
checked output shape and the checked parameter count; every parameter gets a gradient."""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from hypothesis import given

sys.path.insert(0, str(Path(__file__).resolve().parent))
import archspec  # noqa: E402
from archspec.diagnostics import render  # noqa: E402
from fuzz_budget import fuzz_settings  # noqa: E402
from fuzz_specs import to_yaml, valid_specs  # noqa: E402


@fuzz_settings(short=200, long=3000)
@given(valid_specs())
def test_valid_spec_runs_to_its_checked_shape(drawn):
    spec, _ = drawn
    text = to_yaml(spec)
    report = archspec.check(text)
    assert report.ok, render(report.diagnostics, report.sources) + "\n" + text
    module = archspec.build(text)
    x = torch.randn(2, *spec["input"], requires_grad=True)
    y = module(x.clone())  # not the leaf itself: an inplace first layer is legal, as in torch
    assert tuple(y.shape[1:]) == next(iter(report.output_shapes.values())), text
    assert sum(p.numel() for p in module.parameters()) == report.params, text
    y.float().square().mean().backward()
    assert x.grad is not None and all(p.grad is not None for p in module.parameters()), text
