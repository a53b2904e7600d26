"""`archspec train / eval / plot` end to end on a tiny spec and synthetic data (CliRunner)."""
from __future__ import annotations

import json

import pytest
import torch
import yaml
from PIL import Image

import archspec

FAST = ["--data", "synthetic:48", "--epochs", "2", "--batch-size", "16", "--seed", "0", "--device", "cpu"]


def test_train_writes_the_run_folder(cli, tiny_spec, tmp_path):
    result = cli("train", tiny_spec, *FAST, "--out", "run")
    assert result.exit_code == 0, result.output
    assert "epoch 2/2  train loss" in result.output and "done: tiny, 2 epochs" in result.output
    run = tmp_path / "run"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["spec"]["sha256"] == archspec.load(str(tiny_spec)).sha256
    assert config["recipe"]["seed"] == 0 and config["recipe"]["batch_size"] == 16 and config["device"] == "cpu"
    # 'auto' on a run of a few steps: NCHW, since a measurement could not pay itself back
    assert config["recipe"]["channels_last"] is False and "unmeasured" in config["recipe_from"]["channels_last"]
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2] and records[-1]["step"] == 6
    assert set(records[0]) == {"epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds",
                               "samples_per_s"}
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "checkpoints" / "best.pt").is_file()
    assert Image.open(run / "curves.png").size[0] > 500

    # eval on the same validation split reproduces the last epoch's numbers
    result = cli("eval", tiny_spec, "--checkpoint", run / "checkpoints" / "last.pt", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["accuracy"] == pytest.approx(records[-1]["val_acc"])
    assert report["loss"] == pytest.approx(records[-1]["val_loss"], rel=1e-5)
    assert report["samples"] == 12 and sum(map(sum, report["confusion_matrix"])) == 12
    table = cli("eval", tiny_spec, "--checkpoint", run).output
    assert "accuracy  " in table and "confusion matrix (rows: true class" in table

    assert cli("train", tiny_spec, *FAST, "--out", "run2", "--lr", "0.01").exit_code == 0
    result = cli("plot", "run", "run2", "-o", "both.png")
    assert result.exit_code == 0 and Image.open(tmp_path / "both.png").format == "PNG"


def test_config_file_and_spec_recipe_layers(cli, tiny_spec, tmp_path):
    tiny_spec.write_text(tiny_spec.read_text() + "train:\n  epochs: 1\n  batch_size: 8\n  optimizer: {adam: {lr: 0.01}}\n")
    (tmp_path / "r.yaml").write_text("batch_size: 12\n")
    result = cli("train", tiny_spec, "--data", "synthetic:24", "--config", "r.yaml", "--out", "run", "--device", "cpu")
    assert result.exit_code == 0, result.output
    recipe = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["recipe"]
    assert (recipe["epochs"], recipe["batch_size"], recipe["optimizer"], recipe["lr"]) == (1, 12, "adam", 0.01)


@pytest.mark.parametrize("args, code, needle", [
    (["--loss", "mse", "--label-smoothing", "0.1"], 2, "label smoothing only applies to cross_entropy"),
    pytest.param(["--device", "cuda"], 1, "error: --device cuda: CUDA is not available",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    (["--amp", "fp16", "--device", "cpu"], 1, "--amp fp16 needs a CUDA device"),
    (["--data", "mnist", "--data-dir", "nowhere"], 1, "no train-images-idx3-ubyte[.gz] in nowhere/mnist"),
    (["--set", "num_classes=5", "--data", "digits"], 1, "has 10 classes but spec 'tiny' outputs 5 features"),
    (["--transform", "resize=32"], 1, "gives samples of shape 1x32x32 but spec 'tiny' takes input 1x8x8"),
    (["--transform", "flip=0.5"], 2, "did you mean 'hflip'"),
    (["--epochs", "0"], 2, "Invalid value for '--epochs'"),
])
def test_bad_options_are_refused_before_training(cli, tiny_spec, tmp_path, args, code, needle):
    device = [] if "--device" in args else ["--device", "cpu"]
    result = cli("train", tiny_spec, "--out", "run", *device, *args)
    assert result.exit_code == code and needle in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run" / "metrics.jsonl").exists()


def test_recipe_error_is_located_in_the_spec(cli, tiny_spec):
    tiny_spec.write_text(tiny_spec.read_text() + "train:\n  epoch: 3\n")
    result = cli("train", tiny_spec)
    assert result.exit_code == 1
    assert "tiny.yaml:14:10: error: unknown train option 'epoch' (did you mean 'epochs'?)" in result.output


def test_unwritable_out_is_a_clear_error(cli, tiny_spec, tmp_path):
    (tmp_path / "afile").write_text("")
    result = cli("train", tiny_spec, *FAST, "--out", "afile/run")
    assert result.exit_code == 1 and "--out afile/run: cannot write the run folder: Not a directory" in result.output


def test_full_disk_while_checkpointing_is_a_clear_error(cli, tiny_spec, monkeypatch):
    from archspec.train import checkpoint

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    result = cli("train", tiny_spec, *FAST, "--out", "run")
    assert result.exit_code == 1 and "cannot write checkpoint run/checkpoints/last.pt: No space left" in result.output
    assert "Traceback" not in result.output


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(cli, tiny_spec, tmp_path, monkeypatch):
    from archspec.train.tasks import Classification

    real = Classification.make_loss

    def poisoned(self, recipe):
        base, calls = real(self, recipe), []

        def loss(out, y):
            if torch.is_grad_enabled():
                calls.append(1)
                if len(calls) == 5:  # epoch 2, step 2 (3 steps per epoch)
                    return base(out, y) * float("nan")
            return base(out, y)

        return loss

    monkeypatch.setattr(Classification, "make_loss", poisoned)
    result = cli("train", tiny_spec, *FAST, "--out", "run")
    assert result.exit_code == 1
    assert "loss became nan in epoch 2, step 2 (global step 5)" in result.output
    assert "the last good checkpoint is run/checkpoints/last.pt (epoch 1)" in result.output
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_existing_run_is_not_overwritten_and_resume_refuses_changes(cli, tiny_spec):
    assert cli("train", tiny_spec, *FAST, "--out", "run").exit_code == 0
    result = cli("train", tiny_spec, *FAST, "--out", "run")
    assert result.exit_code == 2 and "--out run already holds a run; continue it with --resume run" in result.output
    result = cli("train", tiny_spec, "--resume", "run", "--lr", "0.5")
    assert result.exit_code == 2 and "these options differ from it: --lr" in result.output
    tiny_spec.write_text(tiny_spec.read_text().replace("width: 4", "width: 6"))
    result = cli("train", tiny_spec, "--resume", "run", "--epochs", "3")
    assert result.exit_code == 1 and "the spec changed since the run started" in result.output
    assert "param width: 4 -> 6" in result.output and "parameter count" in result.output


def test_compile_flag_is_wired_to_torch_compile(cli, tiny_spec, monkeypatch):
    seen = []
    monkeypatch.setattr(torch, "compile", lambda m, **options: seen.append(options) or m)
    result = cli("train", tiny_spec, *FAST, "--epochs", "1", "--compile", "--channels-last", "--out", "run")
    assert result.exit_code == 0, result.output
    assert seen == [{"dynamic": False}]  # one static graph per batch shape: a short last batch stays cheap


def test_config_file_errors_are_located_in_it(cli, tiny_spec, tmp_path):
    (tmp_path / "r.yaml").write_text("epochs: 2\nshedule: cosine\n")
    result = cli("train", tiny_spec, "--config", "r.yaml", "--device", "cpu")
    assert result.exit_code == 1
    assert "r.yaml:2:10: error: unknown train option 'shedule' (did you mean 'schedule'?)" in result.output
