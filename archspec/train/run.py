"""One training run end to end, in named steps: open (or resume) the run, resolve the recipe,
set up the device, build the model, load the data, open the run folder, train, summarize."""
from __future__ import annotations

import math
import platform
import random
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from archspec import errors
from archspec.errors import ArchspecError
from archspec.resources import require_memory, training_copies
from archspec.train import checkpoint, data as datamod, distributed as dist, tuning, weights
from archspec.train.autotune import choose_layout
from archspec.train.devices import check_amp, set_deterministic
from archspec.train.folder import RunFolder, claim_default, claim_existing, claim_new
from archspec.train.loggers import open_loggers
from archspec.train.loop import Batcher, Trainer
from archspec.train.metrics import read_log, write_log
from archspec.train.model import ModelInfo, build_model, load_spec
from archspec.train.optim import init_weights
from archspec.train.plots import plot_runs
from archspec.train.progress import Progress
from archspec.train.recipe import RESUMABLE, OptionError, Recipe
from archspec.train.resolve import Layer, config_layer, resolve, spec_layer, validate_layer
from archspec.train.transforms import channel_stats


@dataclass(frozen=True)
class Resumed:
    """What --resume continues: the run folder (claimed) and its checkpoint (read and validated)."""

    folder: Path
    state: dict


def train(spec_arg, flags: dict, config_path: str | None = None, out: str | None = None,
          resume: str | None = None, stream=None, tty: bool | None = None, limits=None,
          force: bool = False) -> dict | None:
    """Run `archspec train`; returns the summary (None on ranks other than 0 under torchrun).

    Raises ArchspecError/OptionError/Interrupted. Under torchrun, rank 0 reads and writes the run
    folder (holding its lock) and resolves the options; the other ranks receive them, so only rank
    0's machine needs it.
    """
    with dist.session(), ExitStack() as owner:
        resumed = open_resumed(resume, out, force, owner)
        spec, notes = choose_spec(spec_arg, resumed)
        recipe = dist.from_main(lambda: resume_options(resumed.state, flags, config_path) if resumed
                                else resolve_options(spec, flags, config_path))
        device = set_up(recipe, resumed)
        info, recipe = build(spec, recipe, device, limits, resumed)
        loaded = start_from(info, recipe, resumed)
        progress = Progress(recipe.epochs, stream=stream, tty=tty, quiet=not dist.is_main())
        for note in notes:
            progress.write(note)
        data, recipe = load_data(recipe, info, device, progress)
        if resumed is not None and data.vocab is not None:
            data.vocab.check_same(resumed.state.get("vocab"), f"--resume {resumed.folder}", data.name)
        run = RunFolder(dist.from_main(lambda: open_folder(resumed, out, info.name, force, owner)))
        recipe, layout = decide_layout(recipe, info, data, device, progress)
        write_config(run, recipe, info, data, device)
        trainer = make_trainer(info, data, recipe, device, run, progress, resumed)
        if recipe.log and dist.is_main():
            trainer.log = open_loggers(recipe, run, info, trainer.pos.step + 1 if resumed else None, progress.write)
        announce(progress, trainer, run, resumed, loaded, layout)
        return fit(trainer, run, progress)


def open_resumed(resume: str | None, out: str | None, force: bool, owner) -> Resumed | None:
    """With --resume: its folder claimed (locked) and its checkpoint read, on rank 0."""
    if resume and out and Path(out) != Path(resume):
        raise OptionError("--out cannot differ from --resume: a resumed run continues in its own folder")
    if resume and force:
        raise OptionError("--force replaces a run; it cannot be combined with --resume, which continues one")
    if not resume:
        return None
    folder = dist.from_main(lambda: claim_existing(resume, owner).root)
    return Resumed(folder, dist.from_main(lambda: checkpoint.read(folder)))


def choose_spec(spec_arg, resumed: Resumed | None):
    """The spec to train and the notes to show about it: SPEC, else the resumed run's."""
    if spec_arg is not None:
        return dist.main_first(lambda: load_spec(spec_arg)), []
    if resumed is None:
        raise OptionError("missing SPEC (or --resume RUN)")
    spec, note = dist.main_first(lambda: stored_spec(resumed.state["spec"]))
    return spec, [note] if note else []


def resolve_options(spec, flags: dict, config_path: str | None) -> Recipe:
    """flags > --config file > the spec's train: > defaults."""
    layers = [spec_layer(spec)]
    if config_path:
        layers.append(config_layer(config_path))
    layers.append(Layer("flag", flags))
    return resolve(layers)


def resume_options(state: dict, flags: dict, config_path: str | None) -> Recipe:
    """A resumed run keeps the recipe stored in its checkpoint; only options that do not change the
    training may differ. It downloads only when --download is given again: a run folder's file
    never sends archspec to the network by itself.

    It also keeps its global batch: a run of 2 processes x 64 resumes in 1 process with batch 128.
    """
    if config_path:
        raise OptionError("--config cannot be combined with --resume: the run keeps the recipe it started with")
    flag_layer = Layer("flag", flags)
    validate_layer(flag_layer)  # the bounds a new run's flags have
    stored = Recipe.from_dict(state["recipe"])
    stored = replace(stored, download=False,
                     batch_size=dist.per_process_batch(stored.batch_size * state["world_size"]))
    stored_values = stored.to_dict()
    changed = sorted(k for k, v in flags.items() if k not in RESUMABLE and stored_values.get(k) != v)
    if changed:
        raise OptionError("--resume keeps the run's recipe; these options differ from it: "
                          + ", ".join(flag_layer.where(k) for k in changed)
                          + f" (may change on resume: {', '.join(sorted(RESUMABLE))})")
    return replace(stored, **{k: v for k, v in flags.items() if k in RESUMABLE},
                   origins={k: flag_layer.where(k) for k in flags})


def set_up(recipe: Recipe, resumed: Resumed | None) -> torch.device:
    """This process's device, precision check, determinism and seeds."""
    if resumed is not None and recipe.deterministic:
        torch.set_num_threads(resumed.state["threads"])  # CPU kernels split reductions by thread count
    device = dist.main_first(lambda: dist.device(recipe.device, recipe.sync_bn), per_machine=True)
    check_amp(recipe.amp, device)
    set_deterministic(recipe.deterministic)
    seed_everything(recipe.seed)
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build(spec, recipe: Recipe, device: torch.device, limits, resumed: Resumed | None) -> tuple[ModelInfo, Recipe]:
    """The model, initialized, with room for training on the device; the recipe with its task decided."""
    info = dist.main_first(lambda: build_model(spec, dict(recipe.params), limits, recipe.task, recipe.where("task")))
    if recipe.task == "auto":  # decided once, and written to the run's recipe
        recipe = replace(recipe, task=info.task.name, origins={**recipe.origins, "task": "task (auto: from the spec)"})
    if resumed is not None and spec.path is None:
        info.path = resumed.state["spec"]["path"]  # rebuilt from the stored text: keep naming the file it came from
    copies = training_copies(recipe.optimizer, recipe.momentum) - (device.type == "cpu")  # weights: built on cpu
    dist.main_first(lambda: require_memory(info.module.report, device, recipe.batch_size, copies), per_machine=True)
    init_weights(info.module, recipe.init)
    dist.seed_rank(recipe.seed)
    if resumed is not None:
        dist.main_first(lambda: checkpoint.check_same_spec(resumed.state["spec"], info, str(resumed.folder)))
    return info, recipe


def load_data(recipe: Recipe, info: ModelInfo, device: torch.device, progress) -> tuple[datamod.Data, Recipe]:
    """The data, checked against the spec and moved to the device; and the recipe with normalize decided."""
    def load():
        data = datamod.load_data(recipe, info.input_shape, info.num_classes, log=progress.write, tokens=info.input_range)
        datamod.check_against_spec(data, info, recipe.transforms)
        return data

    data = dist.main_first(load, per_machine=True)
    if recipe.transforms.get("normalize") == "auto":
        recipe = replace(recipe, transforms={**recipe.transforms, "normalize": channel_stats(data.train.x)})
    return data.to(device), recipe


def start_from(info: ModelInfo, recipe: Recipe, resumed: Resumed | None) -> str | None:
    """--weights loaded (not on resume: the checkpoint holds the weights), then --freeze applied;
    a line saying what was loaded. Only rank 0 reads the file: DDP hands its weights to the others."""
    note = None
    if recipe.weights and resumed is None:
        note = dist.from_main(lambda: weights.load(info.module, recipe.weights, recipe.weights_skip).note(recipe.weights))
    tuning.freeze(info.module, recipe.freeze)
    return note


def decide_layout(recipe: Recipe, info: ModelInfo, data: datamod.Data, device: torch.device, progress):
    """The recipe with `channels_last: auto` decided by timing the candidates (archspec.train.autotune),
    on rank 0, which sends the choice to every process; and the choice (None when forced)."""
    if recipe.channels_last != "auto":
        return recipe, None
    steps = recipe.epochs * -(-len(data.train) // dist.global_batch(recipe.batch_size))
    choice = dist.from_main(lambda: choose_layout(info, recipe, device, steps, say=progress.write))
    how = choice.unmeasured or ("remembered" if choice.remembered else "measured")
    return replace(recipe, channels_last=choice.channels_last,
                   origins={**recipe.origins, "channels_last": f"channels_last ({how})"}), choice


def open_folder(resumed: Resumed | None, out: str | None, name: str, force: bool, owner) -> Path:
    """The run folder, claimed (locked), created and proven writable (on rank 0, whose machine holds it)."""
    if resumed is not None:
        RunFolder(resumed.folder).create()
        return resumed.folder
    return (claim_new(Path(out), force, owner) if out else claim_default(name, owner)).root


def write_config(run: RunFolder, recipe: Recipe, info: ModelInfo, data: datamod.Data, device: torch.device) -> None:
    """config.yaml: what this run trains, with what, on what, and where each option came from."""
    if not dist.is_main():
        return
    config = {"spec": {k: v for k, v in checkpoint.spec_record(info).items() if k != "text"},
              "recipe": recipe.to_dict(), "recipe_from": dict(sorted(recipe.origins.items())), "device": str(device),
              "threads": torch.get_num_threads(), "world_size": dist.world().size,
              "data": {"source": data.name, "train": len(data.train), "val": len(data.val) if data.val else 0,
                       "val_from": data.val_from, "input_shape": list(info.input_shape),
                       **({"vocab": data.vocab.kind, "vocab_size": data.vocab.size,
                           "unigram_val_loss": data.unigram_loss} if data.vocab is not None else {})},
              "versions": {"torch": str(torch.__version__), "python": platform.python_version()}}
    run.write(run.config, yaml.safe_dump(config, sort_keys=False))


def make_trainer(info: ModelInfo, data: datamod.Data, recipe: Recipe, device: torch.device, run: RunFolder,
                 progress, resumed: Resumed | None) -> Trainer:
    """The trainer, at the resumed run's exact position when there is one; metrics.jsonl to match."""
    writer = run if dist.is_main() else None
    trainer = Trainer(info, data, recipe, device, Batcher.for_data(data, info.input_shape, recipe, device, info.input_range is not None), writer,
                      progress, extra={"recipe": recipe.to_dict(), "world_size": dist.world().size,
                                       "threads": torch.get_num_threads(),
                                       **({"vocab": data.vocab.chars or "bytes"} if data.vocab is not None else {})})
    if resumed is not None:
        trainer.restore(resumed.state, run.last)
    if writer is not None:
        write_log(run.metrics, trainer.pos.history)
    return trainer


def announce(progress, trainer: Trainer, run: RunFolder, resumed: Resumed | None, loaded: str | None, layout=None) -> None:
    """What is about to train, on what, where, the weights it starts from, the layout chosen, and
    what the recipe adapted to the data."""
    info, data, r = trainer.info, trainer.data, trainer.recipe
    if resumed is not None and resumed.state["world_size"] != dist.world().size:
        progress.write(f"the run trained in {resumed.state['world_size']} process(es), now {dist.world().size}: "
                       f"batch {r.batch_size} each keeps its global batch of {dist.global_batch(r.batch_size)}")
    trainable, frozen = tuning.counts(trainer.model)
    params = f"{info.n_params:,} parameters" + (f": {trainable:,} trainable, {frozen:,} frozen" if frozen else "")
    progress.write(f"training {info.name} ({params}) on {data.name}: {len(data.train):,} train / "
                   f"{len(data.val) if data.val else 0:,} val ({data.val_from}), {_where(trainer.device, r)}, "
                   f"{r.epochs} epochs -> {run.root}")
    if data.unigram_loss is not None:
        progress.write(f"{trainer.task.name}, {data.vocab.size} {data.vocab.kind} vocabulary; the unigram baseline "
                       f"(training-split token frequencies) has val loss {data.unigram_loss:.4f} (perplexity "
                       f"{math.exp(data.unigram_loss):.2f}): the model's val loss should fall well below it")
    if loaded:
        progress.write(loaded)
    if layout is not None and layout.step_s:
        progress.write(layout.describe())
    adapted = sorted(k for k, where in r.origins.items() if "for_data" in where)
    if adapted:
        progress.write(f"adapted to {r.data.split(':')[0]} by the recipe's for_data: "
                       + ", ".join(f"{key} {getattr(r, key)}" for key in adapted))


def fit(trainer: Trainer, run: RunFolder, progress) -> dict | None:
    """Train to the last epoch; curves.png at the end (or on the way out of a failure); the summary."""
    name, writer = trainer.info.name, trainer.run
    try:
        pos = trainer.fit()
    except BaseException as exc:
        if trainer.log is not None:
            trainer.log.close(None, "KILLED" if isinstance(exc, (errors.Interrupted, KeyboardInterrupt)) else "FAILED")
        if writer is not None:
            _plot_after_failure(name, trainer.pos.history, run, progress, trainer.task.accuracy)
        raise  # the first error is the one the user needs, whatever happens to the plot
    final = trainer.weights() if trainer.recipe.log else None  # every process: under fsdp they gather it together
    if trainer.log is not None:
        trainer.log.close(final, "FINISHED")
    if writer is None:
        return None
    if pos.history:
        plot_runs([(name, pos.history)], run.curves, trainer.task.accuracy)
    return summarize(run, pos, name, trainer.task)


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


def _plot_after_failure(name: str, history: list, run: RunFolder, progress, accuracy: str) -> None:
    """curves.png of the epochs done, on the way out of a failed or interrupted run: best effort only."""
    if not history:
        return
    try:
        plot_runs([(name, history)], run.curves, accuracy)
    except (ArchspecError, OSError, ValueError, RuntimeError) as exc:
        progress.write(f"(curves.png not written either: {exc})")


def _where(device, r: Recipe) -> str:
    """'cpu', or 'cpu x 2 processes, batch 64 each (global 128)' under torchrun; then how the step runs
    (fsdp, channels_last, bf16, compiled) when it differs from the plain fp32 step (DDP under torchrun)."""
    n = dist.world().size
    where = str(device) if n == 1 else (f"{device.type} x {n} processes, batch {r.batch_size} each "
                                        f"(global {dist.global_batch(r.batch_size)})")
    how = [name for name, on in (("fsdp", dist.sharded(r)), ("channels_last", r.channels_last),
                                 (r.amp, r.amp != "off"), ("compiled", r.compile)) if on]
    return ", ".join([where, *how])


def summarize(run: RunFolder, pos, name: str, task) -> dict:
    """What `archspec train` prints at the end: the last epoch, and the best one by the task's measure."""
    history = pos.history or read_log(run.metrics)
    last = history[-1] if history else {}
    key, higher = task.best
    values = [h[key] for h in history if h.get(key) is not None]
    best = (max(values) if higher else min(values)) if values else None
    return {"run": str(run.root), "spec": name, "task": task.name, "epochs": len(history), "best_epoch": pos.best["epoch"],
            "best_metric": key, "best_value": best, "final": last, "seconds": round(sum(h["seconds"] for h in history), 2)}
