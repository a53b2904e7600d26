"""The segmentation task end to end: specs/unet.yaml trains on synthetic shapes to a mean IoU well
above chance, from the CLI; eval reports per-class IoU; a run stopped mid-epoch (flips and crops
moving the masks) resumes exactly; data that does not fit the task is refused before training."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from archspec.errors import ArchspecError
from archspec.train import loop, segmentation
from archspec.train.run import train

from .test_segmentation import write_voc

UNET = Path(__file__).resolve().parents[2] / "specs" / "unet.yaml"
SMALL = ["--set", "base=8", "--set", "size=32", "--set", "num_classes=4", "--set", "depth=2"]


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_unet_learns_synthetic_shapes_well_above_chance(cli, tmp_path):
    result = cli("train", UNET, "--data", "synthetic:256", *SMALL, "--epochs", "6", "--batch-size", "16",
                 "--optimizer", "adam", "--lr", "0.01", "--seed", "1", "--out", "run")
    assert result.exit_code == 0, result.output
    history = records(tmp_path / "run")
    best = max(r["val_miou"] for r in history)
    # chance: every pixel called background, the majority class; its IoU is the background's share
    # of the pixels, the other classes' 0 (each occurs in the masks)
    masks = segmentation.synthetic_shapes("s", 256, (3, 32, 32), 4).val.y.numpy()
    assert set(np.unique(masks)) == {0, 1, 2, 3}
    chance = np.mean(masks == 0) / 4
    assert chance < 0.25 and best > 0.75, (chance, best)
    assert history[-1]["val_acc"] > np.mean(masks == 0) + 0.05  # pixel accuracy beats the majority's too
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["recipe"]["task"] == "segmentation"
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0
    report = cli("eval", UNET, "--checkpoint", "run")
    assert report.exit_code == 0, report.output
    assert "mean_iou" in report.output and "pixel_accuracy" in report.output
    (baseline,) = [line.split()[1] for line in report.output.splitlines() if line.startswith("majority_mean_iou")]
    assert float(baseline) == pytest.approx(chance, abs=1e-4)
    rows = {line.split()[0]: line.split()[1:] for line in report.output.splitlines()[-4:]}
    assert set(rows) == {"background", "circle", "rectangle", "triangle"}
    assert all(0.0 <= float(iou) <= 1.0 and int(pixels) > 0 for iou, pixels in rows.values())


FLAGS = {"data": "synthetic:48", "epochs": 2, "batch_size": 8, "seed": 3, "deterministic": True, "optimizer": "adam",
         "lr": 0.01, "params": {"base": 4, "size": 16, "num_classes": 3, "depth": 2},
         "transforms": {"hflip": 0.5, "random_resized_crop": {"scale": [0.5, 1.0], "ratio": [0.75, 1.333]}}}


def test_a_run_stopped_mid_epoch_resumes_exactly(tmp_path, monkeypatch):
    train(str(UNET), dict(FLAGS), out=str(tmp_path / "whole"), stream=io.StringIO())
    step = loop.Trainer._step

    def stop_at_step_8(self, x, y):  # as Ctrl-C would: the step in flight ends, then the position is saved
        if self.pos.step == 8:
            self._stop = True
        return step(self, x, y)

    monkeypatch.setattr(loop.Trainer, "_step", stop_at_step_8)
    with pytest.raises(loop.Interrupted):
        train(str(UNET), dict(FLAGS), out=str(tmp_path / "broken"), stream=io.StringIO())
    monkeypatch.setattr(loop.Trainer, "_step", step)
    saved = torch.load(tmp_path / "broken" / "checkpoints" / "last.pt", weights_only=True)
    assert (saved["epoch"], saved["batch"]) == (1, 3)  # 6 batches an epoch: inside epoch 2
    train(None, {}, resume=str(tmp_path / "broken"), stream=io.StringIO())
    a, b = (torch.load(tmp_path / r / "checkpoints" / "last.pt", weights_only=True) for r in ("whole", "broken"))
    assert all(torch.equal(t, b["model"][k]) for k, t in a["model"].items())
    assert records(tmp_path / "whole") == [{**r, "seconds": w["seconds"], "samples_per_s": w["samples_per_s"]}
                                           for r, w in zip(records(tmp_path / "broken"), records(tmp_path / "whole"))]


def run_error(**flags) -> str:
    with pytest.raises(ArchspecError) as exc:
        train(str(UNET), {**FLAGS, "epochs": 1, **flags}, stream=io.StringIO(), out=flags.pop("out", None))
    return str(exc.value)


def test_data_that_does_not_fit_the_task_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "gives one label per sample, but spec 'unet' trains as segmentation" in run_error(data="digits")
    resized = run_error(transforms={"resize": 16})
    assert "transform resize: segmentation data is loaded at the spec's input size" in resized
    write_voc(tmp_path / "voc", {"train": ["a", "b"], "val": ["c"]}, size=(16, 16))  # classes 0-2 and 255
    two = run_error(data=f"voc:{tmp_path / 'voc'}", params={**FLAGS["params"], "num_classes": 2})
    assert "holds class 2 but the spec outputs 2 classes" in two and "SegmentationClass" in two


def test_a_voc_folder_trains_and_masks_refuse_a_classifier(tmp_path, cli, tiny_spec):
    write_voc(tmp_path / "voc", {"train": ["a", "b", "c", "d"], "val": ["e"]}, size=(16, 16))
    result = cli("train", UNET, "--data", f"voc:{tmp_path / 'voc'}", "--set", "base=4", "--set", "size=16",
                 "--set", "num_classes=3", "--set", "depth=2", "--epochs", "1", "--batch-size", "2", "--out", "voc-run")
    assert result.exit_code == 0, result.output
    assert records(tmp_path / "voc-run")[0]["val_miou"] is not None
    refused = cli("train", tiny_spec, "--data", f"voc:{tmp_path / 'voc'}", "--epochs", "1")
    assert refused.exit_code == 1
    assert "gives a mask per image (segmentation) but spec 'tiny' trains as image_classification" in refused.output
