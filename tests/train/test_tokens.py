"""A token model trains end to end: synthetic int64 ids in the spec's declared range, kept
int64 on their way in; npz token data out of the range is refused before training."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from archspec.errors import ArchspecError
from archspec.train.data import load_data
from archspec.train.recipe import Recipe
from archspec.train.run import train

SPEC = str(Path(__file__).parents[2] / "specs" / "text_transformer.yaml")
SMALL = {"vocab_size": 50, "max_len": 8, "d_model": 16, "nhead": 2, "num_layers": 1, "dim_feedforward": 16}


def test_synthetic_tokens_are_ids_in_the_declared_range():
    data = load_data(Recipe(data="synthetic:40"), (8,), 3, tokens=(5, 50))
    x = data.train.x
    assert x.dtype == torch.int64 and x.shape == (40, 8) and 5 <= int(x.min()) and int(x.max()) < 50


def test_a_text_transformer_trains_on_synthetic_tokens(tmp_path):
    summary = train(SPEC, {"data": "synthetic:64", "epochs": 2, "batch_size": 16, "optimizer": "adam", "lr": 0.01,
                           "seed": 0, "device": "cpu", "params": SMALL}, out=str(tmp_path / "run"), stream=io.StringIO())
    assert summary["epochs"] == 2
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["train_loss"] < records[0]["train_loss"]


def test_token_data_outside_the_range_is_refused(tmp_path):
    path = tmp_path / "tokens.npz"
    np.savez(path, x=np.full((4, 8), 60, dtype=np.int64), y=np.array([0, 1, 0, 1]))
    with pytest.raises(ArchspecError, match=r"token ids range over \[60, 60\] but spec 'text_transformer' takes ids in \[0, 50\)"):
        train(SPEC, {"data": f"npz:{path}", "epochs": 1, "device": "cpu", "params": SMALL}, out=str(tmp_path / "run"),
              stream=io.StringIO())


LSTM = str(Path(__file__).parents[2] / "specs" / "text_lstm.yaml")
NO_DROPOUT = {"text_transformer": {**SMALL, "dropout": 0.0, "max_len": 12},
              "text_lstm": {"vocab_size": 50, "embed_dim": 8, "hidden_size": 8, "num_layers": 1, "seq_len": 12}}


def token_npz(path, n: int = 48, length: int = 12):
    """Two classes told apart by which half of the vocabulary their ids come from."""
    g = np.random.default_rng(0)
    y = g.integers(0, 2, n + 16)
    x = g.integers(0, 25, (n + 16, length)) + 25 * y[:, None]
    np.savez(path, x=x[:n], y=y[:n], x_test=x[n:], y_test=y[n:])
    return x[:n], y[:n]


@pytest.mark.parametrize("spec", [SPEC, LSTM])
def test_text_classifiers_train_on_a_token_npz_as_a_hand_written_loop_does(spec, tmp_path):
    """Same seed, same batches (the loop's own shuffling), Adam: the same weights and losses."""
    from torch.nn import functional as F

    import archspec
    from archspec.train.loop import epoch_batches

    name = Path(spec).stem
    x, y = token_npz(tmp_path / "tokens.npz")
    args = {"data": f"npz:{tmp_path / 'tokens.npz'}", "epochs": 3, "batch_size": 16, "optimizer": "adam",
            "lr": 0.01, "seed": 7, "device": "cpu", "params": NO_DROPOUT[name]}
    train(spec, args, out=str(tmp_path / "run"), stream=io.StringIO())
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["train_loss"] < records[0]["train_loss"]

    torch.manual_seed(7)
    model = archspec.build(spec, **NO_DROPOUT[name])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xs, ys = torch.from_numpy(x).long(), torch.from_numpy(y).long()
    for epoch in range(3):
        total = 0.0
        for idx in epoch_batches(len(xs), 16, 7, epoch):
            loss = F.cross_entropy(model(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        assert records[epoch]["train_loss"] == pytest.approx(total / len(xs), rel=1e-5)
    saved = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["model"]
    for key, value in model.state_dict().items():
        torch.testing.assert_close(saved[key], value, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 10), np.int64)}, r"samples of shape 10 but spec 'text_transformer' takes input 8; "
                                         r"set the length with --set max_len=10"),
    ({"x": np.zeros((4, 8), np.float32)}, r"train samples are float32, but spec 'text_transformer' takes int64 "
                                          r"token ids in \[0, 50\)"),
    ({"y": np.array([0, 1, 2, 1])}, r"train labels range over \[\d, 2\] but spec 'text_transformer' outputs 2 classes"),
])
def test_bad_token_npz_is_refused_saying_what_and_where(tmp_path, arrays, message):
    path = tmp_path / "tokens.npz"
    np.savez(path, **{"x": np.zeros((4, 8), np.int64), "y": np.array([0, 1, 0, 1]), **arrays})
    with pytest.raises(ArchspecError, match=message):
        train(SPEC, {"data": f"npz:{path}", "epochs": 1, "device": "cpu", "params": SMALL}, out=str(tmp_path / "run"),
              stream=io.StringIO())


def test_a_token_npz_cannot_train_a_language_model(tmp_path):
    path = tmp_path / "tokens.npz"
    np.savez(path, x=np.zeros((4, 8), np.int64), y=np.array([0, 1, 0, 1]))
    gpt = str(Path(__file__).parents[2] / "specs" / "gpt_small.yaml")
    with pytest.raises(ArchspecError, match=r"targets of shape \(\) per sample, but spec 'gpt_small' trains as "
                                            r"language_model .* a language model trains on text:PATH"):
        train(gpt, {"data": f"npz:{path}", "epochs": 1, "device": "cpu",
                    "params": {"layers": 1, "heads": 2, "width": 16, "context": 8}},
              out=str(tmp_path / "run"), stream=io.StringIO())
