"""Every bundled spec exported and run: the written file's outputs equal the module's."""
from __future__ import annotations

from pathlib import Path

import pytest

from archspec.export import export
from archspec.export.verify import TOLERANCE, max_difference

from .conftest import FIXTURES, LARGE, ROOT, SMALL, TYPED, cases


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


@pytest.mark.parametrize("fmt", ["python", "torchscript", "onnx"])
def test_typed_values_tensors_sharing_and_ties(fmt, tmp_path):
    """tests/fixtures/typed.yaml: an int64 input, parameters and buffers (one not persistent),
    broadcasting merges, a batch-free class token concatenated over the batch, a two-input block,
    a shared and a frozen conv, a tied weight: every format computes what the module does."""
    done = export(TYPED, fmt, tmp_path / f"typed.{fmt}")
    assert max_difference(done, batches=(1, 3)) <= TOLERANCE
    if fmt == "python":
        from archspec.export.verify import load_python

        model = load_python(done.path)()
        assert model.again is model.frozen and model.unproj.weight is model.proj.weight
        assert not model.frozen.weight.requires_grad and model.cls.requires_grad and "scale" not in model.state_dict()
