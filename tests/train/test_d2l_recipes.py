"""Every course-notes spec with a train: recipe validates and trains one epoch on synthetic data."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import archspec
from archspec.train.run import train

SPECS = sorted(p for p in (Path(__file__).parents[2] / "specs" / "d2l").glob("*.yaml")
               if archspec.load(str(p)).train)


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_recipe_trains_one_epoch_on_synthetic(spec, tmp_path):
    recipe = archspec.load(str(spec)).train
    summary = train(str(spec), {"data": "synthetic:4", "epochs": 1, "seed": 0, "device": "cpu"}, out=str(tmp_path / "run"),
                    stream=io.StringIO())
    assert summary["epochs"] == 1
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    assert record["train_loss"] == record["train_loss"] and record["step"] == 1  # finite, one batch
    if "batch_size" in recipe:
        from archspec.train.checkpoint import load

        assert load(tmp_path / "run")["recipe"]["batch_size"] == recipe["batch_size"]


def test_there_are_d2l_recipes():
    assert len(SPECS) >= 5
