"""One training run end to end: resolve options, build, load data, train, write the run folder."""
from __future__ import annotations

import platform
import random
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import torch
import yaml

from archspec.errors import ArchspecError
from archspec.resources import require_memory, training_copies
from archspec.train import checkpoint, data as datamod, distributed as dist, recipe as rec
from archspec.train.devices import check_amp, set_deterministic, use_channels_last
from archspec.train.folder import RunFolder, claim_default, claim_existing, claim_new
from archspec.train.loop import Batcher, Trainer
from archspec.train.metrics import read_log, write_log
from archspec.train.model import build_model, load_spec
from archspec.train.optim import init_weights
from archspec.train.plots import plot_runs
from archspec.train.progress import Progress
from archspec.train.transforms import channel_stats


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_options(spec, flags: dict, config_path: str | None) -> rec.Resolved:
    """flags > --config file > the spec's train: > defaults."""
    layers = [rec.spec_layer(spec)]
    if config_path:
        layers.append(rec.config_layer(config_path))
    layers.append(rec.Layer("flag", flags))
    return rec.resolve(layers)


def resume_options(state: dict, flags: dict, config_path: str | None) -> rec.Resolved:
    """A resumed run keeps the recipe stored in its checkpoint; only options that do not change the
    training may differ. It downloads only when --download is given again: a run folder's file
    never sends archspec to the network by itself.

    It also keeps its global batch: a run of 2 processes x 64 resumes in 1 process with batch 128.
    """
    if config_path:
        raise rec.OptionError("--config cannot be combined with --resume: the run keeps the recipe it started with")
    stored = dict(state["recipe"], download=False)
    stored["batch_size"] = dist.per_process_batch(stored["batch_size"] * state["world_size"])
    changed = sorted(k for k, v in flags.items() if k not in rec.RESUMABLE and stored.get(k) != v)
    if changed:
        raise rec.OptionError("--resume keeps the run's recipe; these options differ from it: "
                              + ", ".join(f"--{k.replace('_', '-')}" for k in changed)
                              + f" (may change on resume: {', '.join(sorted(rec.RESUMABLE))})")
    stored.update({k: v for k, v in flags.items() if k in rec.RESUMABLE})
    return rec.Resolved(stored, {k: f"--{k.replace('_', '-')}" for k in flags})


def train(spec_arg, flags: dict, config_path: str | None = None, out: str | None = None,
          resume: str | None = None, stream=None, tty: bool | None = None, limits=None,
          force: bool = False) -> dict | None:
    """Run `archspec train`; returns the summary (None on ranks other than 0 under torchrun).

    Raises ArchspecError/OptionError/Interrupted. Under torchrun, rank 0 reads and writes the run
    folder (holding its lock) and resolves the options; the other ranks receive them, so only rank
    0's machine needs it.
    """
    with dist.session(), ExitStack() as owner:
        return _train(spec_arg, flags, config_path, out, resume, stream, tty, limits, force, owner)


def _train(spec_arg, flags, config_path, out, resume, stream, tty, limits, force, owner):
    if resume and out and Path(out) != Path(resume):
        raise rec.OptionError("--out cannot differ from --resume: a resumed run continues in its own folder")
    if resume and force:
        raise rec.OptionError("--force replaces a run; it cannot be combined with --resume, which continues one")
    run = dist.from_main(lambda: claim_existing(resume, owner).root) if resume else None
    state = dist.from_main(lambda: checkpoint.load_run(run)) if run else None
    notes = []
    if spec_arg is None and state is not None:
        spec, note = dist.main_first(lambda: stored_spec(state["spec"]))
        notes += [note] if note else []
    elif spec_arg is None:
        raise rec.OptionError("missing SPEC (or --resume RUN)")
    else:
        spec = dist.main_first(lambda: load_spec(spec_arg))
    resolved = dist.from_main(lambda: resume_options(state, flags, config_path) if run
                              else resolve_options(spec, flags, config_path))
    r = resolved.values
    if run is not None and r["deterministic"]:
        torch.set_num_threads(state["threads"])  # CPU kernels split reductions by thread count
    device = dist.main_first(lambda: dist.device(r["device"], r.get("sync_bn", False)), per_machine=True)
    check_amp(r["amp"], device)
    set_deterministic(r["deterministic"])
    seed_everything(r["seed"])
    info = dist.main_first(lambda: build_model(spec, r["params"], limits))
    if state is not None and spec.path is None:
        info.path = state["spec"]["path"]  # rebuilt from the stored text: keep naming the file it came from
    copies = training_copies(r["optimizer"], r.get("momentum") or 0) - (device.type == "cpu")  # weights: built on cpu
    dist.main_first(lambda: require_memory(info.module.report, device, r["batch_size"], copies), per_machine=True)
    init_weights(info.module, r["init"])
    r["channels_last"] = use_channels_last(r["channels_last"], info.module, info.input_shape, device)
    dist.seed_rank(r["seed"])
    if state is not None:
        dist.main_first(lambda: checkpoint.check_same_spec(state["spec"], info, str(run)))
    progress = Progress(r["epochs"], stream=stream, tty=tty, quiet=not dist.is_main())
    for note in notes:
        progress.write(note)
    data = dist.main_first(lambda: _load_data(r, info, progress), per_machine=True)
    if r["transforms"].get("normalize") == "auto":
        r["transforms"]["normalize"] = channel_stats(data.train.x)
    run = RunFolder(dist.from_main(lambda: _open_run(run, out, info.name, force, owner)))
    if state is not None and state["world_size"] != dist.world().size:
        progress.write(f"the run trained in {state['world_size']} process(es), now {dist.world().size}: "
                       f"batch {r['batch_size']} each keeps its global batch of {dist.global_batch(r['batch_size'])}")
    config = {"spec": {k: v for k, v in checkpoint.spec_record(info).items() if k != "text"},
              "recipe": r, "recipe_from": dict(sorted(resolved.origins.items())), "device": str(device),
              "threads": torch.get_num_threads(), "world_size": dist.world().size,
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
    trainer = Trainer(info, data, r, device, batcher, writer, progress,
                      extra={"recipe": r, "world_size": dist.world().size, "threads": torch.get_num_threads()})
    if state is not None:
        trainer.restore(state, run.last)
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
    except BaseException:
        if writer is not None:
            _plot_after_failure(info.name, trainer.pos.history, run, progress)
        raise  # the first error is the one the user needs, whatever happens to the plot
    if writer is not None and pos.history:
        plot_runs([(info.name, pos.history)], run.curves)
    return summarize(run, pos, info.name) if writer is not None else None


def stored_spec(saved: dict):
    """The spec a resumed run trains when no SPEC is given: the file the checkpoint names when it still
    holds the same text, else the text stored in the checkpoint; and a note saying which, when not the file."""
    path = saved["path"]
    if path and Path(path).is_file():
        try:
            spec = load_spec(Path(path))
            if spec.sha256 == saved["sha256"]:
                return spec, None
            why = f"{path} changed since the run started"
        except ArchspecError:
            why = f"{path} cannot be read as a spec any more"
    else:
        why = f"the spec file {path} is gone" if path else "the checkpoint names no spec file"
    return load_spec(saved["text"]), f"{why}: resuming with the spec text stored in the checkpoint"


def _plot_after_failure(name: str, history: list, run: RunFolder, progress) -> None:
    """curves.png of the epochs done, on the way out of a failed or interrupted run: best effort only."""
    if not history:
        return
    try:
        plot_runs([(name, history)], run.curves)
    except (ArchspecError, OSError, ValueError, RuntimeError) as exc:
        progress.write(f"(curves.png not written either: {exc})")


def _load_data(r: dict, info, progress) -> datamod.Data:
    data = datamod.load_data(r, info.input_shape, info.num_classes, log=progress.write)
    datamod.check_against_spec(data, info, r["transforms"])
    return data


def _open_run(run: Path | None, out: str | None, name: str, force: bool, owner) -> Path:
    """The run folder, claimed (locked), created and proven writable (on rank 0, whose machine holds it)."""
    if run is not None:
        RunFolder(run).create()
        return run
    return (claim_new(Path(out), force, owner) if out else claim_default(name, owner)).root


def _where(device, r: dict) -> str:
    """'cpu', or 'cpu x 2 processes, batch 64 each (global 128)' under torchrun; then how the step runs
    (channels_last, bf16, compiled) when it differs from plain fp32."""
    n = dist.world().size
    where = str(device) if n == 1 else (f"{device.type} x {n} processes, batch {r['batch_size']} each "
                                        f"(global {dist.global_batch(r['batch_size'])})")
    how = [name for name, on in (("channels_last", r["channels_last"]), (r["amp"], r["amp"] != "off"),
                                 ("compiled", r["compile"])) if on]
    return ", ".join([where, *how])


def summarize(run: RunFolder, pos, name: str) -> dict:
    history = pos.history or read_log(run.metrics)
    last = history[-1] if history else {}
    return {"run": str(run.root), "spec": name, "epochs": len(history), "best_epoch": pos.best["epoch"],
            "best_val_acc": max((h["val_acc"] for h in history if h.get("val_acc") is not None), default=None),
            "final": last, "seconds": round(sum(h["seconds"] for h in history), 2)}
