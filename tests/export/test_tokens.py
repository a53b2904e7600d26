"""Token models in every format: a GPT exported at its declared length runs on a shorter
sequence (ONNX's `sequence` axis, TorchScript's scripted shapes, the Python file), with the
spec module's outputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from archspec.export import export
from archspec.export.verify import TOLERANCE, RUNNERS

from .conftest import ROOT, SMALL

GPT = "specs/gpt2.yaml"


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "python"])
def test_a_gpt_exported_at_block_size_runs_shorter_sequences(fmt, tmp_path):
    exported = export(str(ROOT / GPT), fmt, tmp_path / f"gpt.{fmt}", params=SMALL[GPT])
    module = exported.module.eval()
    run = RUNNERS[fmt](exported)
    for batch, length in ((1, 16), (3, 5)):
        idx = torch.randint(0, 97, (batch, length), generator=torch.Generator().manual_seed(length))
        with torch.no_grad():
            want = module(idx)
            got = torch.as_tensor(np.asarray(run(idx)[0]) if fmt == "onnx" else run(idx))
        assert tuple(got.shape) == (batch, length, 97)
        assert float((got - want).abs().max()) < TOLERANCE
    if fmt == "onnx":
        import onnx

        dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in onnx.load(exported.path).graph.input]
        assert dims == [["batch", "sequence"]]
