"""`archspec train`, `archspec eval` and `archspec plot`: the training front end.

Errors are printed and exit as every command's do (cli/errors.py): 1 for a spec or data
problem, 2 for contradictory options, 130 for Ctrl-C.
"""
from __future__ import annotations

import json

import click

from archspec.cli.options import parse_sets, set_option
from archspec.diagnostics import printable


def _flag(name, **kw):
    return click.option(name, default=None, **kw)


TRAIN_FLAGS = [
    _flag("--data", metavar="SOURCE", help="digits (default), mnist, fashion-mnist, cifar10, npz:PATH, folder:PATH, "
                                           "synthetic[:N]."),
    _flag("--data-dir", metavar="DIR", help="Where mnist/fashion-mnist/cifar10 files live (default: data)."),
    _flag("--download/--no-download", help="Fetch mnist, fashion-mnist or cifar10 into --data-dir (checksummed)."),
    _flag("--epochs", type=click.IntRange(min=1)),
    _flag("--batch-size", type=click.IntRange(min=1)),
    _flag("--lr", type=float, help="Learning rate (default 0.1 for sgd, 0.001 for adam/adamw)."),
    _flag("--optimizer", type=click.Choice(["sgd", "adam", "adamw"])),
    _flag("--momentum", type=float, help="SGD momentum."),
    _flag("--weight-decay", type=float),
    _flag("--nesterov/--no-nesterov", help="Nesterov momentum (sgd)."),
    _flag("--schedule", type=click.Choice(["none", "step", "cosine", "onecycle"]), help="Learning-rate schedule."),
    _flag("--warmup", type=click.IntRange(min=0), help="Linear warm-up epochs (step/cosine/none)."),
    _flag("--step-size", type=click.IntRange(min=1), help="Epochs between decays (--schedule step)."),
    _flag("--gamma", type=float, help="Decay factor (--schedule step, default 0.1)."),
    _flag("--loss", type=click.Choice(["cross_entropy", "mse"])),
    _flag("--label-smoothing", type=float, help="Cross-entropy label smoothing."),
    _flag("--init", type=click.Choice(["default", "xavier_uniform", "kaiming_normal"])),
    _flag("--device", metavar="DEVICE", help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:N, mps."),
    _flag("--amp", type=click.Choice(["off", "bf16", "fp16"]), help="Mixed precision (fp16 needs CUDA)."),
    _flag("--channels-last/--no-channels-last", help="NHWC memory layout (default: on for 2-D conv nets on cpu "
                                                     "and cuda, where it is faster)."),
    _flag("--compile/--no-compile", help="torch.compile the model."),
    _flag("--grad-clip", type=float, help="Clip the gradient norm to this value."),
    _flag("--seed", type=click.IntRange(min=0), help="Random seed (default: a fresh one, saved in config.yaml)."),
    _flag("--deterministic/--no-deterministic", help="Deterministic kernels (exact reruns and resumes)."),
    _flag("--workers", type=click.IntRange(min=0), help="Processes decoding folder: images."),
    _flag("--sync-bn/--no-sync-bn", help="Batch norm statistics over all processes (SyncBatchNorm; CUDA)."),
    _flag("--val-split", type=float, help="Hold out this fraction of train for validation (default: the test "
                                          "split when the data has one, else 0.2)."),
]


def _apply(options):
    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


class _KeepArgs(click.Command):
    """Keeps the raw arguments, so --nproc can re-run the same command in each process."""

    def parse_args(self, ctx, args):
        ctx.meta["raw_args"] = list(args)
        return super().parse_args(ctx, args)


@click.command(cls=_KeepArgs)
@click.argument("spec", required=False, type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="A YAML recipe (same keys as train:).")
@_apply(TRAIN_FLAGS)
@click.option("--transform", "transforms", multiple=True, metavar="NAME=VALUE",
              help="resize=96, normalize=true, hflip=0.5, random_resized_crop=true, color_jitter=0.4 (repeatable).")
@set_option
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default: runs/SPEC_NAME[-N]).")
@click.option("--resume", type=click.Path(file_okay=False), help="Continue the run in this folder.")
@click.option("--force", is_flag=True, default=False,
              help="Replace the run already in --out (its config, metrics, curves and checkpoints; nothing else).")
@click.option("--max-params", type=click.IntRange(min=1), default=None, metavar="N",
              help="Refuse a model with more parameters (default 100,000,000,000).")
@click.option("--nproc", type=click.IntRange(min=1), default=None,
              help="Train in N processes on this machine (torchrun; one GPU each with --device cuda). "
                   "--batch-size is per process.")
def train(spec, config_path, transforms, sets, out, resume, force, max_params, nproc, **flags):
    """Train SPEC as a classifier and write a run folder.

    Options come from, highest first: flags, --config, the spec's train: section, defaults.
    Under torchrun (or with --nproc) each process trains on its share of every batch.
    """
    from archspec.train.recipe import parse_assignments
    from archspec.train.run import train as run_train

    explicit = {k: v for k, v in flags.items() if v is not None}
    if transforms:
        explicit["transforms"] = parse_assignments(transforms, "--transform")
    if sets:
        explicit["params"] = parse_sets(sets)
    if nproc is not None:
        from archspec.train import launch

        launch.check(nproc, launch.planned_device(spec, explicit, config_path, resume))
        launch.launch(nproc, launch.strip_nproc(click.get_current_context().meta["raw_args"]))
        return
    from archspec.cli.options import limits_from

    summary = run_train(spec, explicit, config_path=config_path, out=out, resume=resume, force=force,
                        limits=limits_from(max_params=max_params))
    if summary is None:  # a process other than rank 0 under torchrun
        return
    final = summary["final"]
    best = "" if summary["best_val_acc"] is None else f", best val acc {summary['best_val_acc']:.4f} " \
                                                       f"(epoch {summary['best_epoch']})"
    val = f"val acc {final['val_acc']:.4f}" if final.get("val_acc") is not None else f"train loss {final.get('train_loss')}"
    click.echo(printable(f"done: {summary['spec']}, {summary['epochs']} epochs in {summary['seconds']:.1f}s: "
                         f"{val}{best}; run folder {summary['run']}"))


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--checkpoint", "ckpt", required=True, type=click.Path(), help="A .pt file or a run folder.")
@click.option("--data", default=None, metavar="SOURCE", help="Default: the data the checkpoint was trained on.")
@click.option("--data-dir", default=None, metavar="DIR")
@click.option("--split", type=click.Choice(["val", "train"]), default="val", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--device", default=None, metavar="DEVICE")
@set_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def evaluate(spec, ckpt, data, data_dir, split, batch_size, device, sets, fmt):
    """Evaluate a checkpoint of SPEC: accuracy, loss, per-class accuracy, confusion matrix."""
    from archspec.train.evaluate import evaluate_checkpoint
    from archspec.train.metrics import format_table

    overrides = {k: v for k, v in {"data": data, "data_dir": data_dir, "batch_size": batch_size,
                                   "device": device}.items() if v is not None}
    result = evaluate_checkpoint(spec, ckpt, overrides, parse_sets(sets), split)
    click.echo(json.dumps(result, indent=2) if fmt == "json" else printable(format_table(result)))


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The PNG to write.")
def plot(runs, output):
    """Plot the curves of one or more run folders into one PNG."""
    from pathlib import Path

    from archspec.train.metrics import read_log
    from archspec.train.plots import plot_runs

    plot_runs([(str(r).rstrip("/"), read_log(Path(r) / "metrics.jsonl")) for r in runs], output)
    click.echo(printable(f"wrote {output}"))
