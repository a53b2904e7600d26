"""`archspec eval`: a checkpoint's scores on a split, as its task reports them (a classifier's accuracy,
loss, per-class accuracy and confusion matrix; a language model's loss, perplexity and token accuracy)."""
from __future__ import annotations

from dataclasses import replace

from archspec.errors import ArchspecError
from archspec.train import checkpoint, data as datamod
from archspec.train.devices import resolve_device
from archspec.train.loop import Batcher, evaluate
from archspec.train.model import build_model, load_spec
from archspec.train.recipe import OPTIONS, Recipe, names_path
from archspec.train.resolve import Layer, validate_layer


def evaluate_checkpoint(spec_arg, ckpt_path, overrides: dict, params: dict, split: str = "val") -> dict:
    """Rebuild the spec with the run's params, load the weights, and score one data split.

    Data, transforms and the validation split default to the ones the checkpoint was trained with,
    except where data comes from: see _data_from_user. `overrides` are flags (--data, --batch-size...),
    held to the bounds `train`'s are.
    """
    validate_layer(Layer("flag", overrides))
    state = checkpoint.read(ckpt_path)
    stored = Recipe.from_dict(state["recipe"])
    r = replace(stored, **_data_from_user(stored, overrides, ckpt_path))
    info = trained_model(spec_arg, state, ckpt_path, r, params)
    device = resolve_device(r.device)
    data = datamod.load_data(r, info.input_shape, info.num_classes, log=lambda msg: None, tokens=info.input_range)
    datamod.check_against_spec(data, info, r.transforms)
    if data.vocab is not None:
        data.vocab.check_same(state.get("vocab"), f"checkpoint {ckpt_path}", data.name)
    chosen = data.val if split == "val" else data.train
    if chosen is None or len(chosen) == 0:
        raise ArchspecError(f"data {data.name!r} has no {split} samples to evaluate")
    batcher = Batcher.for_data(data, info.input_shape, r, device, info.input_range is not None)
    chosen = datamod.Split(chosen.x.to(device), chosen.y.to(device))
    net = info.module.to(device)
    amp = "off" if r.amp == "fp16" and device.type != "cuda" else r.amp
    sums = evaluate(net, info, chosen, batcher, info.task.make_loss(r), amp, r.batch_size)
    result = info.task.report(sums, data)
    result.update({"task": info.task.name, "spec": info.name, "checkpoint": str(ckpt_path), "data": data.name, "split": split,
                   "epoch": state["epoch"], "spec_changed": state["spec"]["sha256"] != info.sha256})
    return result


def trained_model(spec_arg, state: dict, ckpt_path, recipe: Recipe, params: dict):
    """SPEC built with the run's params (and `params` over them) as the run's task, its weights loaded
    from a checkpoint already read (checkpoint.read)."""
    info = build_model(load_spec(spec_arg), {**recipe.params, **params}, task=recipe.task,
                       where=f"the task of checkpoint {ckpt_path}")
    try:
        info.module.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise ArchspecError(f"checkpoint {ckpt_path} does not fit spec {info.name!r} "
                            f"({info.n_params:,} parameters now, {state['spec']['n_params']:,} in the checkpoint): "
                            f"{str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else exc}") from None
    return info


def _data_from_user(stored: Recipe, overrides: dict, ckpt_path) -> dict:
    """Checkpoints travel like specs, so eval never lets one choose the network or a path: it never
    downloads, reads --data-dir (default: data), and a file or folder source must be named with --data."""
    if "data" not in overrides and names_path(stored.data):
        raise ArchspecError(f"checkpoint {ckpt_path} was trained on {stored.data}; eval reads data only from "
                            f"where you say: add --data {stored.data} (or other data)")
    return {"download": False, "data_dir": OPTIONS["data_dir"].default, **overrides}
