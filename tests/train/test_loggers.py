"""--log tensorboard and --log mlflow, read back with the libraries' own readers (TensorBoard's
EventAccumulator, MLflow's MlflowClient): the same numbers as metrics.jsonl."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from archspec.train import checkpoint
from archspec.train.loggers import logged as logged_numbers

pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")


@pytest.fixture(autouse=True)
def _file_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # for the reading client (archspec sets it for its own)


def _records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_tensorboard_and_mlflow_hold_the_numbers_of_metrics_jsonl(tiny_spec, cli, tmp_path):
    from mlflow import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = cli("train", tiny_spec, "--data", "synthetic:100", "--epochs", 3, "--batch-size", 16, "--seed", 0,
                 "--schedule", "cosine", "--log", "tensorboard", "--log", "mlflow", "--log-every", 2, "--out", "run")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    records = _records(run)
    steps = records[-1]["step"]

    board = EventAccumulator(str(run / "tensorboard"))
    board.Reload()
    assert set(logged_numbers(records[0])) == {"train_loss", "train_acc", "val_loss", "val_acc", "lr", "samples_per_s"}
    for key in logged_numbers(records[0]):  # float32 in event files
        events = board.Scalars(key)
        assert [e.step for e in events] == [r["step"] for r in records]
        assert [e.value for e in events] == pytest.approx([r[key] for r in records], rel=1e-6)
    board_steps = {key: [(e.step, e.value) for e in board.Scalars(f"step/{key}")] for key in ("train_loss", "lr")}
    assert [s for s, _ in board_steps["lr"]] == list(range(2, steps + 1, 2))

    client = MlflowClient(tracking_uri=(run / "mlruns").as_uri())
    (found,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert found.info.status == "FINISHED" and found.info.run_name == "run"
    run_id = found.info.run_id
    for key in logged_numbers(records[0]):  # float64 in MLflow: exactly
        assert [(m.step, m.value) for m in client.get_metric_history(run_id, key)] == \
               [(r["step"], r[key]) for r in records]
    for key, values in board_steps.items():
        history = [(m.step, m.value) for m in client.get_metric_history(run_id, f"step/{key}")]
        assert [s for s, _ in history] == [s for s, _ in values]
        assert [v for _, v in history] == pytest.approx([v for _, v in values], rel=1e-6)
    params = found.data.params
    assert (params["lr"], params["seed"], params["schedule"], params["spec.name"]) == ("0.1", "0", "cosine", "tiny")

    artifacts = sorted(a.path for a in client.list_artifacts(run_id))
    assert artifacts == ["config.yaml", "model.safetensors", "spec.yaml"]
    folder = client.download_artifacts(run_id, "", str(tmp_path / "got"))
    assert (tmp_path / "got" / "spec.yaml").read_text() == tiny_spec.read_text()
    final = checkpoint.read(run)["model"]
    logged = load_file(f"{folder}/model.safetensors")
    assert sorted(logged) == sorted(final) and all(torch.equal(logged[k], v) for k, v in final.items())


def test_a_resumed_run_continues_its_mlflow_run_and_any_uri_can_be_given(tiny_spec, cli, tmp_path):
    from mlflow import MlflowClient

    uri = (tmp_path / "elsewhere").as_uri()
    common = ("--data", "synthetic:64", "--batch-size", 16, "--seed", 0)
    first = cli("train", tiny_spec, *common, "--epochs", 1, "--log", "mlflow", "--log", "tensorboard",
                "--mlflow-uri", uri, "--out", "run")
    assert first.exit_code == 0, first.output
    again = cli("train", "--resume", "run", "--epochs", 2)
    assert again.exit_code == 0, again.output
    assert not (tmp_path / "run" / "mlruns").exists()
    client = MlflowClient(tracking_uri=uri)
    (found,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert found.info.status == "FINISHED"
    records = _records(tmp_path / "run")
    assert [(m.step, m.value) for m in client.get_metric_history(found.info.run_id, "val_acc")] == \
           [(r["step"], r["val_acc"]) for r in records]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    board.Reload()  # both event files, the resumed run's after the first's
    assert [e.step for e in board.Scalars("val_acc")] == [r["step"] for r in records]


def test_a_logger_that_fails_mid_run_is_dropped_with_a_warning():
    from archspec.train.loggers import Loggers

    class Broken:
        def epoch(self, record):
            raise ConnectionError("server went away")

    class Kept:
        seen = []

        def epoch(self, record):
            self.seen.append(record)

    warnings = []
    logs = Loggers({"mlflow": Broken(), "tensorboard": Kept()}, 10, warnings.append)
    logs.epoch({"step": 1})
    logs.epoch({"step": 2})
    assert list(logs.loggers) == ["tensorboard"] and Kept.seen == [{"step": 1}, {"step": 2}]
    assert warnings == ["warning: --log mlflow stopped logging: server went away (metrics.jsonl and the checkpoints "
                        "are still written)"]


@pytest.mark.parametrize("flags,message", [
    (("--mlflow-uri", "file:///x"), "--mlflow-uri: says where MLflow logs, but --log mlflow is not given"),
    (("--log-every", 5), "--log-every: says how often to log, but no --log is given"),
])
def test_logging_options_without_a_logger_are_refused(flags, message, tiny_spec, cli):
    result = cli("train", tiny_spec, "--data", "synthetic:32", *flags)
    assert result.exit_code == 2 and message in result.output


def test_a_spec_cannot_send_its_runs_to_a_server(tiny_spec, cli):
    tiny_spec.write_text(tiny_spec.read_text() + "train:\n  log: [mlflow]\n  mlflow_uri: http://example.com\n")
    result = cli("check", tiny_spec)
    assert result.exit_code == 1 and "a spec cannot choose where its runs are logged" in result.output
