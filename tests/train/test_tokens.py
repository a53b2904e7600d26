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
