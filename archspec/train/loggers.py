"""Run logs in the tools people already read (`--log tensorboard`, `--log mlflow`).

metrics.jsonl stays the record; each logger gets the same numbers: every epoch's record at its
global step, and the training loss and learning rate every --log-every steps (rank 0's batch).
TensorBoard gets event files in RUN/tensorboard; MLflow a run in RUN/mlruns (its local file
store) or at --mlflow-uri, with the recipe as params and the spec, config.yaml and the final
weights (safetensors) as artifacts. A logger that fails mid-run is dropped with a warning:
training goes on, and metrics.jsonl and the checkpoints are still written.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from archspec.errors import ArchspecError

NOT_LOGGED = ("epoch", "step", "seconds")  # every other number of a metrics.jsonl record is logged under its key


def logged(record: dict) -> dict:
    """An epoch record's numbers, named as metrics.jsonl names them (the task's: val_ppl for a language model)."""
    return {k: v for k, v in record.items() if k not in NOT_LOGGED and v is not None}
INSTALL = "pip install 'archspec[log]'"
RUN_TAG = "archspec.run_folder"  # the MLflow tag that finds a resumed run's MLflow run


class TensorBoard:
    """Scalars in TensorBoard's event files; a resumed run purges what was logged after its checkpoint
    (steps from purge_step on: the checkpoint's step + 1)."""

    def __init__(self, folder: Path, purge_step: int | None):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ArchspecError(f"--log tensorboard needs the tensorboard package: {INSTALL}") from None
        self.writer = SummaryWriter(log_dir=str(folder), purge_step=purge_step)

    def step(self, step: int, values: dict) -> None:
        for key, value in values.items():
            self.writer.add_scalar(f"step/{key}", value, step)

    def epoch(self, record: dict) -> None:
        for key, value in logged(record).items():
            self.writer.add_scalar(key, value, record["step"])
        self.writer.flush()

    def close(self, weights: dict | None, status: str) -> None:
        self.writer.close()


class MLflow:
    """One MLflow run per archspec run (a resumed one continues it), written through MlflowClient."""

    def __init__(self, uri: str | None, run, info, recipe, resumed: bool):
        try:
            from mlflow import MlflowClient
        except ImportError:
            raise ArchspecError(f"--log mlflow needs the mlflow (or mlflow-skinny) package: {INSTALL}") from None
        if uri is None:
            uri = (run.root / "mlruns").resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store on request only
        self.where = "--mlflow-uri " + uri if recipe.mlflow_uri else str(run.root / "mlruns")
        folder = str(run.root.resolve())
        try:
            self.client = MlflowClient(tracking_uri=uri)
            experiment = self.client.get_experiment_by_name(info.name)
            experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(info.name)
            earlier = self.client.search_runs([experiment_id], f"tags.`{RUN_TAG}` = '{_quoted(folder)}'",
                                              max_results=1) if resumed else []
            if earlier:
                self.run_id = earlier[0].info.run_id
                self.client.update_run(self.run_id, status="RUNNING")
                return
            self.run_id = self.client.create_run(experiment_id, run_name=run.root.name, tags={RUN_TAG: folder}).info.run_id
            self._start(run, info, recipe)
        except ArchspecError:
            raise
        except Exception as exc:  # MLflow raises its own types, requests' and OSError
            raise ArchspecError(f"--log mlflow: cannot log to {self.where}: {_first_line(exc)}") from None

    def _start(self, run, info, recipe) -> None:
        from mlflow.entities import Param

        params = {**_flat(recipe.to_dict()), "spec.name": info.name, "spec.sha256": info.sha256,
                  "spec.parameters": info.n_params}
        self.client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in sorted(params.items())])
        self.client.log_text(self.run_id, info.text, "spec.yaml")
        if run.config.exists():
            self.client.log_artifact(self.run_id, str(run.config))

    def step(self, step: int, values: dict) -> None:
        self._metrics({f"step/{k}": v for k, v in values.items()}, step)

    def epoch(self, record: dict) -> None:
        self._metrics(logged(record), record["step"])

    def _metrics(self, values: dict, step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()])

    def close(self, weights: dict | None, status: str) -> None:
        """Ends the MLflow run; a finished run's final weights (its state_dict) become an artifact."""
        if status == "FINISHED" and weights is not None:
            from archspec.train.weights import write_safetensors

            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.safetensors"
                write_safetensors(weights, path)
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, status)


class Loggers:
    """The loggers of one run (on rank 0): each call goes to all of them; one that fails is dropped."""

    def __init__(self, loggers: dict, every: int, warn):
        self.loggers, self.every, self.warn = loggers, every, warn

    def due(self, step: int) -> bool:
        return bool(self.loggers) and step % self.every == 0

    def step(self, step: int, loss: float, lr: float) -> None:
        self._each("step", step, {"train_loss": loss, "lr": lr})

    def epoch(self, record: dict) -> None:
        self._each("epoch", record)

    def close(self, weights: dict | None, status: str) -> None:
        self._each("close", weights, status)
        self.loggers = {}

    def _each(self, method: str, *args) -> None:
        for name, logger in list(self.loggers.items()):
            try:
                getattr(logger, method)(*args)
            except Exception as exc:  # a logging service down must not stop the training
                del self.loggers[name]
                self.warn(f"warning: --log {name} stopped logging: {_first_line(exc)} (metrics.jsonl and the "
                          "checkpoints are still written)")


def open_loggers(recipe, run, info, resume_step: int | None, warn) -> Loggers:
    """The loggers --log asks for; resume_step is a resumed run's first step (None for a new run)."""
    loggers = {}
    for name in recipe.log:
        if name == "tensorboard":
            loggers[name] = TensorBoard(run.root / "tensorboard", resume_step)
        else:
            loggers[name] = MLflow(recipe.mlflow_uri, run, info, recipe, resume_step is not None)
    return Loggers(loggers, recipe.log_every, warn)


def _flat(values: dict, prefix: str = "") -> dict:
    """Nested options as MLflow params (transforms.resize); a mapping with keys MLflow would refuse
    as names (lr_for's patterns: 'layer*') stays one param."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and value and all(re.fullmatch(r"[\w./ -]+", str(k)) for k in value):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _first_line(exc: BaseException) -> str:
    line = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return line[:300]
