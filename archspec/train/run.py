"""One training run end to end: resolve options, build, load data, train, write the run folder."""
from __future__ import annotations

import platform
import random
from pathlib import Path

import numpy as np
import torch
import yaml

from archspec.errors import ArchspecError
from archspec.resources import require_memory, training_copies
from archspec.train import checkpoint, data as datamod, distributed as dist, recipe as rec
from archspec.train.devices import check_amp, set_deterministic, use_channels_last
from archspec.train.loop import Batcher, Trainer
from archspec.train.metrics import append_log, read_log, write_log
from archspec.train.model import build_model, load_spec
from archspec.train.optim import init_weights
from archspec.train.plots import plot_runs
from archspec.train.progress import Progress
from archspec.train.transforms import channel_stats


class RunFolder:
    """The files of one run: config.yaml, metrics.jsonl, checkpoints/{last,best}.pt, curves.png."""

    def __init__(self, root):
        self.root = Path(root)
        self.config, self.metrics, self.curves = (self.root / n for n in ("config.yaml", "metrics.jsonl", "curves.png"))
        self.last, self.best = self.root / "checkpoints" / "last.pt", self.root / "checkpoints" / "best.pt"

    def create(self) -> None:
        """Make the folders and prove they are writable before any training work."""
        try:
            (self.root / "checkpoints").mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise ArchspecError(f"--out {self.root}: cannot write the run folder: {exc.strerror or exc}") from None

    def write(self, path: Path, text: str) -> None:
        try:
            path.write_text(text)
        except OSError as exc:
            raise ArchspecError(f"cannot write {path}: {exc.strerror or exc}") from None

    def save_last(self, state: dict) -> Path:
        checkpoint.save(self.last, state)
        return self.last

    def epoch_done(self, record: dict, state: dict, is_best: bool) -> None:
        self.save_last(state)
        if is_best:
            checkpoint.copy(self.last, self.best)
        try:
            append_log(self.metrics, record)
        except OSError as exc:
            raise ArchspecError(f"cannot write {self.metrics}: {exc.strerror or exc}") from None


def default_out(name: str, base: Path = Path("runs")) -> Path:
    """runs/NAME, or runs/NAME-2, -3, ... so earlier runs are never overwritten."""
    candidate, n = base / name, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = base / f"{name}-{n}"
    return candidate


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_options(spec, flags: dict, config_path: str | None) -> rec.Resolved:
    """flags > --config file > the spec's train: > defaults."""
    layers = [rec.spec_layer(spec)]
    if config_path:
        try:
            text = Path(config_path).read_text()
            values = yaml.safe_load(text) or {}
        except OSError as exc:
            raise ArchspecError(f"--config {config_path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ArchspecError(f"--config {config_path}: not valid YAML: {exc}") from None
        layers.append(rec.Layer("config", values, str(config_path), text, rec.yaml_locator(text, str(config_path))))
    layers.append(rec.Layer("flag", flags))
    return rec.resolve(layers)


def read_run(run: RunFolder) -> tuple[dict, dict]:
    """The checkpoint and config.yaml of a run folder being resumed."""
    state = checkpoint.load(run.root)
    try:
        config = yaml.safe_load(run.config.read_text())
        config["recipe"]["batch_size"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        raise ArchspecError(f"--resume {run.root}: no readable config.yaml in the run folder") from None
    return state, config


def resume_options(config: dict, flags: dict, config_path: str | None) -> rec.Resolved:
    """A resumed run keeps its stored recipe; only options that do not change the training may differ.

    It also keeps its global batch: a run of 2 processes x 64 resumes in 1 process with batch 128.
    """
    if config_path:
        raise rec.OptionError("--config cannot be combined with --resume: the run keeps the recipe it started with")
    stored = dict(config["recipe"])
    stored["batch_size"] = dist.per_process_batch(stored["batch_size"] * config.get("world_size", 1))
    changed = sorted(k for k, v in flags.items() if k not in rec.RESUMABLE and stored.get(k) != v)
    if changed:
        raise rec.OptionError("--resume keeps the run's recipe; these options differ from it: "
                              + ", ".join(f"--{k.replace('_', '-')}" for k in changed)
                              + f" (may change on resume: {', '.join(sorted(rec.RESUMABLE))})")
    stored.update({k: v for k, v in flags.items() if k in rec.RESUMABLE})
    return rec.Resolved(stored, {k: f"--{k.replace('_', '-')}" for k in flags})


def train(spec_arg, flags: dict, config_path: str | None = None, out: str | None = None,
          resume: str | None = None, stream=None, tty: bool | None = None, limits=None) -> dict | None:
    """Run `archspec train`; returns the summary (None on ranks other than 0 under torchrun).

    Raises ArchspecError/OptionError/Interrupted. Under torchrun, rank 0 reads and writes the run
    folder and resolves the options; the other ranks receive them, so only rank 0's machine needs it.
    """
    with dist.session():
        return _train(spec_arg, flags, config_path, out, resume, stream, tty, limits)


def _train(spec_arg, flags, config_path, out, resume, stream, tty, limits=None):
    run = RunFolder(resume) if resume else None
    state, stored = dist.from_main(lambda: read_run(run)) if run else (None, None)
    if resume and out and Path(out) != run.root:
        raise rec.OptionError("--out cannot differ from --resume: a resumed run continues in its own folder")
    if spec_arg is None and state is not None:
        spec_arg = state["spec"]["path"]
    if spec_arg is None:
        raise rec.OptionError("missing SPEC (or --resume RUN)")
    spec = dist.main_first(lambda: load_spec(spec_arg))
    resolved = dist.from_main(lambda: resume_options(stored, flags, config_path) if run
                              else resolve_options(spec, flags, config_path))
    r = resolved.values
    if run is not None and r["deterministic"]:
        _same_threads(stored)
    device = dist.main_first(lambda: dist.device(r["device"], r.get("sync_bn", False)), per_machine=True)
    check_amp(r["amp"], device)
    set_deterministic(r["deterministic"])
    seed_everything(r["seed"])
    info = dist.main_first(lambda: build_model(spec, r["params"], limits))
    copies = training_copies(r["optimizer"], r.get("momentum") or 0) - (device.type == "cpu")  # weights: built on cpu
    dist.main_first(lambda: require_memory(info.module.report, device, r["batch_size"], copies), per_machine=True)
    init_weights(info.module, r["init"])
    r["channels_last"] = use_channels_last(r["channels_last"], info.module, info.input_shape, device)
    dist.seed_rank(r["seed"])
    if state is not None:
        dist.main_first(lambda: checkpoint.check_same_spec(state["spec"], info, str(run.root)))
    progress = Progress(r["epochs"], stream=stream, tty=tty, quiet=not dist.is_main())
    data = dist.main_first(lambda: _load_data(r, info, progress), per_machine=True)
    if r["transforms"].get("normalize") == "auto":
        r["transforms"]["normalize"] = channel_stats(data.train.x)
    run = RunFolder(dist.from_main(lambda: _open_run(run, out, info.name)))
    if stored is not None and stored.get("world_size", 1) != dist.world().size:
        progress.write(f"the run trained in {stored.get('world_size', 1)} process(es), now {dist.world().size}: "
                       f"batch {r['batch_size']} each keeps its global batch of {dist.global_batch(r['batch_size'])}")
    config = {"spec": {k: v for k, v in checkpoint.spec_record(info).items() if k != "text"},
              "recipe": r, "recipe_from": dict(sorted(resolved.origins.items())), "device": str(device), "threads": torch.get_num_threads(),
              "world_size": dist.world().size,
              "data": {"source": data.name, "train": len(data.train), "val": len(data.val) if data.val else 0,
                       "val_from": data.val_from, "input_shape": list(info.input_shape)},
              "versions": {"torch": str(torch.__version__), "python": platform.python_version()}}
    if dist.is_main():
        run.write(run.config, yaml.safe_dump(config, sort_keys=False))
    if data.val is not None:
        data.val = datamod.Split(data.val.x.to(device), data.val.y.to(device))
    data.train = datamod.Split(data.train.x.to(device), data.train.y.to(device))
    batcher = Batcher.for_data(data, info.input_shape, r, device)
    writer = run if dist.is_main() else None
    trainer = Trainer(info, data, r, device, batcher, writer, progress, extra={"recipe": r})
    if state is not None:
        trainer.restore(state)
    if writer is not None:
        write_log(run.metrics, trainer.pos.history)
    progress.write(f"training {info.name} ({info.n_params:,} parameters) on {data.name}: {len(data.train):,} train / "
                   f"{len(data.val) if data.val else 0:,} val ({data.val_from}), {_where(device, r)}, "
                   f"{r['epochs']} epochs -> {run.root}")
    adapted = sorted(k for k, where in resolved.origins.items() if "for_data" in where)
    if adapted:
        progress.write(f"adapted to {r['data'].split(':')[0]} by the recipe's for_data: "
                       + ", ".join(f"{key} {r[key]}" for key in adapted))
    try:
        pos = trainer.fit()
    finally:
        if writer is not None and trainer.pos.history:
            plot_runs([(info.name, trainer.pos.history)], run.curves)
    return summarize(run, pos, info.name) if writer is not None else None


def _load_data(r: dict, info, progress) -> datamod.Data:
    data = datamod.load_data(r, info.input_shape, info.num_classes, log=progress.write)
    datamod.check_against_spec(data, info, r["transforms"])
    return data


def _open_run(run: RunFolder | None, out: str | None, name: str) -> Path:
    """The run folder, created and proven writable (on rank 0, whose machine holds it)."""
    if run is None:
        run = RunFolder(out or default_out(name))
        if run.last.exists():
            raise rec.OptionError(f"--out {run.root} already holds a run; continue it with --resume {run.root} "
                                  "or choose another --out")
    run.create()
    return run.root


def _where(device, r: dict) -> str:
    """'cpu', or 'cpu x 2 processes, batch 64 each (global 128)' under torchrun; then how the step runs
    (channels_last, bf16, compiled) when it differs from plain fp32."""
    n = dist.world().size
    where = str(device) if n == 1 else (f"{device.type} x {n} processes, batch {r['batch_size']} each "
                                        f"(global {dist.global_batch(r['batch_size'])})")
    how = [name for name, on in (("channels_last", r["channels_last"]), (r["amp"], r["amp"] != "off"),
                                 ("compiled", r["compile"])) if on]
    return ", ".join([where, *how])


def _same_threads(config: dict) -> None:
    """CPU kernels split reductions by thread count, so an exact resume needs the run's count."""
    threads = config.get("threads")
    if isinstance(threads, int) and threads > 0:
        torch.set_num_threads(threads)


def summarize(run: RunFolder, pos, name: str) -> dict:
    history = pos.history or read_log(run.metrics)
    last = history[-1] if history else {}
    return {"run": str(run.root), "spec": name, "epochs": len(history), "best_epoch": pos.best["epoch"],
            "best_val_acc": max((h["val_acc"] for h in history if h.get("val_acc") is not None), default=None),
            "final": last, "seconds": round(sum(h["seconds"] for h in history), 2)}
