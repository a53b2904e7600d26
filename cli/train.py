"""`archspec train`, `archspec eval` and `archspec plot`: the training front end.

Errors are printed and exit as every command's do (cli/errors.py): 1 for a spec or data
problem, 2 for contradictory options, 130 for Ctrl-C.
"""
from __future__ import annotations

import json

import click

from archspec.cli.options import limit_option, parse_pairs, recipe_flag, set_option, spec_options
from archspec.diagnostics import printable
from archspec.train.recipe import OPTIONS


# Every recipe option's flag, made from its row in the recipe's table (archspec/train/recipe.py).
TRAIN_FLAGS = [recipe_flag(option) for option in OPTIONS.values()]


def given(flags: dict) -> dict:
    """The recipe options given on the command line, KEY=VALUE pairs read (cli.options.parse_pairs)."""
    out = {}
    for name, value in flags.items():
        if isinstance(value, tuple):  # a repeatable flag: KEY=VALUE pairs, or a list (--freeze)
            if value:
                listed = "array" in OPTIONS[name].schema["type"]
                out[name] = list(value) if listed else parse_pairs(value, OPTIONS[name].flag)
        elif value is not None:
            out[name] = value
    return out


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
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default: runs/SPEC_NAME[-N]).")
@click.option("--resume", type=click.Path(file_okay=False), help="Continue the run in this folder.")
@click.option("--force", is_flag=True, default=False,
              help="Replace the run already in --out (its config, metrics, curves and checkpoints; nothing else).")
@limit_option("--max-params", "Refuse a model with more parameters")
@click.option("--nproc", type=click.IntRange(min=1), default=None,
              help="Train in N processes on this machine (torchrun; one GPU each with --device cuda). "
                   "--batch-size is per process.")
@spec_options
def train(spec, config_path, out, resume, force, max_params, nproc, **flags):
    """Train SPEC (a classifier, a language model or a segmentation net: --task) and write a run folder.

    Options come from, highest first: flags, --config, the spec's train: section, defaults.
    Under torchrun (or with --nproc) each process trains on its share of every batch.
    """
    from archspec.train.run import train as run_train

    explicit = given(flags)
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
    best = "" if summary["best_value"] is None else \
        f", best {summary['best_metric'].replace('_', ' ')} {summary['best_value']:.4f} (epoch {summary['best_epoch']})"
    val = f"val acc {final['val_acc']:.4f}" if final.get("val_acc") is not None else f"train loss {final.get('train_loss')}"
    if final.get("val_ppl") is not None:  # a language model
        val = f"val loss {final['val_loss']:.4f} (perplexity {final['val_ppl']:.2f}), token accuracy {final['val_acc']:.4f}"
    click.echo(printable(f"done: {summary['spec']}, {summary['epochs']} epochs in {summary['seconds']:.1f}s: "
                         f"{val}{best}; run folder {summary['run']}"))


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--checkpoint", "ckpt", required=True, type=click.Path(), help="A .pt file or a run folder.")
@recipe_flag(OPTIONS["data"], help="Default: the data the checkpoint was trained on.")
@recipe_flag(OPTIONS["data_dir"])
@click.option("--split", type=click.Choice(["val", "train"]), default="val", show_default=True)
@recipe_flag(OPTIONS["batch_size"], help="Default: the checkpoint's.")
@recipe_flag(OPTIONS["device"], help="Default: the checkpoint's.")
@set_option
@spec_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def evaluate(spec, ckpt, data, data_dir, split, batch_size, device, sets, fmt):
    """Evaluate a checkpoint of SPEC: a classifier's accuracy, loss, per-class accuracy and confusion matrix;
    a language model's loss, perplexity and token accuracy."""
    from archspec.train.evaluate import evaluate_checkpoint
    from archspec.train.tasks import TASKS

    overrides = {k: v for k, v in {"data": data, "data_dir": data_dir, "batch_size": batch_size,
                                   "device": device}.items() if v is not None}
    result = evaluate_checkpoint(spec, ckpt, overrides, parse_pairs(sets), split)
    click.echo(json.dumps(result, indent=2) if fmt == "json" else printable(TASKS[result["task"]].format_report(result)))


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
