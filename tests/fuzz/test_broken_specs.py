"""Broken specs (valid ones after random edits and YAML junk): archspec checks each
without raising, every problem it reports is located inside the text, build raises only
ArchspecError, and what still checks OK runs to its checked shape."""
from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given

sys.path.insert(0, str(Path(__file__).resolve().parent))
import archspec  # noqa: E402
from archspec.compiler.emit import example_inputs  # noqa: E402
from fuzz_budget import fuzz_settings  # noqa: E402
from fuzz_mutations import broken_specs  # noqa: E402

SMALL = archspec.Limits(max_nodes=2_000, max_params=2_000_000)


def assert_located(report, text):
    lines = len(text.splitlines()) + 1  # as the renderer counts them (YAML breaks lines at U+0085 too)
    for d in report.diagnostics:
        assert d.message and d.code, d
        assert d.loc is not None, f"unlocated: {d.message}\n{text}"
        assert 1 <= d.loc.line <= lines and d.loc.col >= 1, f"{d.loc} outside the text: {d.message}\n{text}"


@fuzz_settings(short=400, long=5000)
@given(broken_specs())
def test_broken_spec_is_checked_or_located(text):
    report = archspec.check(text, limits=SMALL)
    assert_located(report, text)
    try:
        module = archspec.build(text, limits=SMALL)
    except archspec.ArchspecError as e:
        assert not report.ok and e.diagnostics, text
        return
    assert report.ok, text
    if report.activation_bytes < 50_000_000:
        spec = archspec.load(text)
        y = module(*example_inputs(report, batch=2))
        outputs = list(report.output_shapes.values())
        got = [tuple(t.shape[1:]) for t in (y if isinstance(y, tuple) else (y,))]
        assert got == [tuple(o) for o in outputs], f"{spec.name}\n{text}"
