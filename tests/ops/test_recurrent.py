"""lstm, gru and rnn against torch's own nn.LSTM, nn.GRU and nn.RNN: a spec's module loads the
torch module's state_dict strictly and gives the same output sequence and final states (h_n
and c_n moved batch first), at the checked sequence length and at another, in eval and in
training (dropout between layers, gradients); outputs named in `from:`; the refusals, located."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import archspec

CASES = [  # op, spec arguments, torch class, its keywords
    ("lstm", {"hidden": 5, "layers": 2, "bidirectional": True, "dropout": 0.5}, nn.LSTM,
     {"hidden_size": 5, "num_layers": 2, "bidirectional": True, "dropout": 0.5}),
    ("lstm", {"hidden": 3, "bias": False}, nn.LSTM, {"hidden_size": 3, "bias": False}),
    ("gru", {"hidden": 4, "layers": 2, "bidirectional": True}, nn.GRU,
     {"hidden_size": 4, "num_layers": 2, "bidirectional": True}),
    ("gru", {"hidden": 2, "bias": False}, nn.GRU, {"hidden_size": 2, "bias": False}),
    ("rnn", {"hidden": 3, "layers": 3, "nonlinearity": "relu", "dropout": 0.2}, nn.RNN,
     {"hidden_size": 3, "num_layers": 3, "nonlinearity": "relu", "dropout": 0.2}),
    ("rnn", {"hidden": 4, "bidirectional": True}, nn.RNN, {"hidden_size": 4, "bidirectional": True}),
]
FEATURES, LENGTH = 4, 6


def one_layer(op: str, args: dict, outputs: list[str]) -> str:
    return (f"archspec: 1\nname: one\ninput: [{LENGTH}, {FEATURES}]\n"
            f"layers:\n  - {{id: layer, {op}: {json.dumps(args)}}}\noutputs: {json.dumps(outputs)}\n")


def states(op: str) -> list[str]:
    return ["h_n", "c_n"] if op == "lstm" else ["h_n"]


def torch_outputs(op: str, y) -> list[torch.Tensor]:
    """torch's (output, h_n) or (output, (h_n, c_n)), the states batch first as archspec gives them."""
    out, hidden = y
    finals = hidden if op == "lstm" else (hidden,)
    return [out, *(h.transpose(0, 1) for h in finals)]


@pytest.mark.parametrize("op, args, cls, keywords", CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_matches_torch_module(op, args, cls, keywords):
    model = archspec.build(one_layer(op, args, ["layer", *(f"layer.{s}" for s in states(op))]))
    torch.manual_seed(0)
    reference = cls(FEATURES, batch_first=True, **keywords)
    model.load_state_dict({f"layer.{k}": v for k, v in reference.state_dict().items()}, strict=True)
    assert isinstance(model.layer, cls) and model.layer.batch_first
    checked = [tuple(t.shape) for t in model.report.output_types.values()]
    for length in (LENGTH, 9):  # built at LENGTH, run at another
        x = torch.randn(3, length, FEATURES)
        model.eval(), reference.eval()
        with torch.no_grad():
            got, want = list(model(x)), torch_outputs(op, reference(x))
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        if length == LENGTH:
            assert [tuple(y.shape[1:]) for y in got] == checked
    model.train(), reference.train()  # dropout between layers draws the same masks from the same seed
    x = torch.randn(2, LENGTH, FEATURES)
    torch.manual_seed(1)
    got = list(model(x))
    torch.manual_seed(1)
    want = torch_outputs(op, reference(x))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    sum(y.sum() for y in got).backward()
    sum(y.sum() for y in want).backward()
    theirs = dict(reference.named_parameters())
    for name, p in model.layer.named_parameters():
        torch.testing.assert_close(p.grad, theirs[name].grad)


def test_counts_and_names_of_outputs():
    report = archspec.check(one_layer("lstm", {"hidden": 5, "layers": 2, "bidirectional": True},
                                      ["layer", "layer.h_n", "layer.2"]))
    assert report.ok, report.diagnostics
    assert report.output_shapes == {"layer.output": (LENGTH, 10), "layer.h_n": (4, 5), "layer.c_n": (4, 5)}
    reference = nn.LSTM(FEATURES, 5, 2, bidirectional=True)
    assert report.params == sum(p.numel() for p in reference.parameters())
    # per step and direction: (input + state) times 4 gates of 5 rows; layer 1 reads both directions (10)
    assert report.macs == LENGTH * 2 * (4 * 5 * (FEATURES + 5) + 4 * 5 * (10 + 5))
    row = next(r for r in report.to_dict()["nodes"] if r["name"] == "layer")
    assert row["outputs"] == [{"name": "layer.output", "shape": [LENGTH, 10]},
                              {"name": "layer.h_n", "shape": [4, 5]}, {"name": "layer.c_n", "shape": [4, 5]}]
    lines = report.table().splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith("layer "))
    assert lines[at + 1].split() == ["layer.h_n", "[4,", "5]"] and lines[at + 2].split() == ["layer.c_n", "[4,", "5]"]


def test_h_n_rows_are_torchs_layers_and_directions():
    """`select: -1` of h_n is torch's h_n[-1]: the last layer's backward state, which is the
    backward half of the output sequence at its first step."""
    text = one_layer("gru", {"hidden": 3, "layers": 2, "bidirectional": True}, ["last"]).replace(
        "outputs:", "  - {id: last, select: -1, from: layer.h_n}\noutputs:")
    model = archspec.build(text).eval()
    x = torch.randn(2, LENGTH, FEATURES)
    with torch.no_grad():
        out, h = model.layer(x)
        torch.testing.assert_close(model(x), h[-1])
        torch.testing.assert_close(model(x), out[:, 0, 3:])


def messages(text: str) -> list[tuple[int, str]]:
    report = archspec.check(text)
    assert not report.ok
    return [(d.loc.line, d.message) for d in report.diagnostics]


@pytest.mark.parametrize("item, line, message", [
    ("{lstm: {hidden: 4, dropout: 0.2}}", 6, "lstm: argument 'dropout': 0.2 acts only between stacked layers, so with "
     "layers 1 it does nothing (torch warns); give layers >= 2 or dropout 0"),
    ("{gru: 4, from: tokens}", 6, "gru: expects a float input, found int64 tokens [6]"),
    ("{rnn: 4, from: table}", 6, "rnn: expects a batched input, found batch-free table [6, 4]"),
    ("{lstm: 4, from: image}", 6, "lstm: expects input (T, features) (rank 2): a sequence of feature vectors, "
     "found [3, 6, 4] (rank 3)"),
    ("{id: l, lstm: 4, from: seq}\n  - {linear: 2, from: l.h}", 7, "from: 'l' is an op (lstm) with 3 outputs: name "
     "one as l.0 ... l.2 or l.output, l.h_n, l.c_n, found 'l.h'"),
])
def test_refusals_are_located(item, line, message):
    text = ("archspec: 1\nname: bad\ninput: {seq: [6, 4], tokens: {shape: [6], dtype: int64}, image: [3, 6, 4]}\n"
            f"layers:\n  - {{id: table, parameter: {{shape: [6, 4]}}}}\n  - {item}\n")
    found = messages(text)
    assert any(at == line and m.startswith(message) for at, m in found), found


def test_text_lstm_runs_at_any_sequence_length():
    """specs/text_lstm.yaml is checked at seq_len 32; built once, it equals the reference
    TextLSTM (state_dict loaded strictly) at 32 tokens and at 5."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "tests"))
    from reference.transformers import TextLSTM

    torch.manual_seed(0)
    reference = TextLSTM().eval()
    model = archspec.build(str(root / "specs" / "text_lstm.yaml")).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    for length in (32, 5):
        tokens = torch.randint(0, 1000, (2, length))
        with torch.no_grad():
            torch.testing.assert_close(model(tokens), reference(tokens))
