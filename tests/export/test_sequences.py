"""The recurrent ops' graph in ONNX with a dynamic sequence length as well as a dynamic batch:
exported once from tests/fixtures/recurrent.yaml (checked at 7 steps), onnxruntime's outputs
equal the module's at other lengths and batch sizes. (`archspec export --format onnx` marks
the batch dynamic; which input dims are sequence axes is issue 12's item 6, so this test names
them itself, to prove nothing in lstm, gru or rnn, nor in their unpacking, fixes the length.)"""
from __future__ import annotations

import warnings

import pytest
import torch

import archspec

from .conftest import HERE

ort = pytest.importorskip("onnxruntime")
RECURRENT = HERE.parent / "fixtures" / "recurrent.yaml"


def test_onnx_with_dynamic_batch_and_sequence_length(tmp_path):
    model = archspec.build(str(RECURRENT)).eval()
    names = ["rnn", "rnn_h_n", "gru", "gru_h_n", "last", "cell"]  # the fixture's outputs: two sequences
    steps = {0: "batch", 1: "steps"}
    axes = {"tokens": steps, "signal": steps, "rnn": steps, "gru": steps} | {n: {0: "batch"} for n in ("rnn_h_n", "gru_h_n", "last", "cell")}
    path = tmp_path / "recurrent.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randint(0, 20, (2, 7)), torch.randn(2, 7, 3)), str(path), dynamo=False,
                          input_names=["tokens", "signal"], output_names=names, dynamic_axes=axes)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, steps in ((1, 3), (3, 11)):
        tokens, signal = torch.randint(0, 20, (batch, steps)), torch.randn(batch, steps, 3)
        got = session.run(None, {"tokens": tokens.numpy(), "signal": signal.numpy()})
        with torch.no_grad():
            want = model(tokens, signal)
        assert [g.shape for g in got] == [tuple(w.shape) for w in want]
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(torch.as_tensor(g), w, atol=1e-5, rtol=1e-5)
