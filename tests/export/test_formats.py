"""Every bundled spec exported and run: the written file's outputs equal the module's."""
from __future__ import annotations

from pathlib import Path

import pytest

from archspec.export import export
from archspec.export.verify import TOLERANCE, max_difference

from .conftest import FIXTURES, LARGE, ROOT, SMALL, cases


def test_every_bundled_spec_is_covered():
    bundled = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("specs/**/*.yaml")}
    assert bundled and bundled <= set(SMALL) | set(LARGE)


def _id(value) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, tuple):
        return "batch" + "+".join(map(str, value))
    return Path(value).stem if value.endswith(".yaml") else value


@pytest.mark.parametrize("spec,params,fmt,batches", cases(), ids=_id)
def test_export_matches_module(spec, params, fmt, batches, tmp_path):
    out = tmp_path / f"model.{ {'onnx': 'onnx', 'torchscript': 'pt', 'python': 'py'}[fmt] }"
    done = export(ROOT / spec, fmt, out, params)
    assert out.is_file() and out.stat().st_size > 0
    assert max_difference(done, batches=batches) <= TOLERANCE


@pytest.mark.parametrize("fmt", ["python", "torchscript", "onnx"])
@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_fixtures_with_named_inputs_and_several_outputs(fixture, fmt, tmp_path):
    done = export(fixture, fmt, tmp_path / f"{fixture.stem}.{fmt}")
    assert max_difference(done, batches=(1, 3)) <= TOLERANCE
