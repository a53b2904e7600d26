"""What a checkpoint must hold, field by field: a forged or edited file gets one line naming the
field, what was expected and what was found, instead of a traceback (or an odd run) later.

The recipe stored in it goes through the same validation as a spec's `train:` section.
"""
from __future__ import annotations

import math
import re

import torch

from archspec.errors import ArchspecError
from archspec.train.metrics import record_problem

_BIG = 2**62


def _is_int(v, low=0) -> bool:
    return type(v) is int and low <= v < _BIG


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _tensor(dtype=None):
    return lambda v: isinstance(v, torch.Tensor) and (dtype is None or v.dtype == dtype)


# a rule is (test, what it expects), a dict of required keys -> rules (a key ending in ? may be
# absent: a field added later), or [rule] for a list of them
NAT = (_is_int, "a whole number >= 0")
NUM = (_is_num, "a finite number")
OPT_NUM = (lambda v: v is None or _is_num(v), "a finite number or null")
TEXT = (lambda v: isinstance(v, str), "text")
MAPPING = (lambda v: isinstance(v, dict), "a mapping")
TENSORS = (lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(t, torch.Tensor)
                                                  for k, t in v.items()), "a mapping of names to tensors")
SHA256 = (lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None, "a sha256 in hex")
RULES = {
    "model": TENSORS,
    "optimizer": {"state": MAPPING, "param_groups": [MAPPING]},
    "scheduler": MAPPING,
    "scaler": MAPPING,
    "epoch": NAT, "step": NAT, "batch": NAT,
    "partial": {"loss_sum": NUM, "correct": NAT, "count": NAT, "targets?": NAT, "seconds": NUM},
    "aug_state": (lambda v: v is None or _tensor(torch.uint8)(v), "null or a uint8 tensor"),
    "history": [(lambda v: record_problem(v) is None, "an epoch record (epoch, step, train_loss, ... numbers)")],
    "best": {"val_acc": NUM, "epoch": NAT},
    "rng": {"torch": (_tensor(torch.uint8), "a uint8 tensor"), "cuda": [(_tensor(torch.uint8), "a uint8 tensor")],
            "numpy": {"keys": (lambda v: _tensor(torch.int64)(v) and tuple(v.shape) == (624,),
                               "624 int64 values"),
                      "pos": (lambda v: _is_int(v) and v <= 624, "a position from 0 to 624"),
                      "has_gauss": (lambda v: v in (0, 1) and type(v) is int, "0 or 1"), "cached": NUM},
            "python": {"version": (lambda v: v == 3, "3"),
                       "state": (lambda v: _tensor(torch.int64)(v) and tuple(v.shape) == (625,), "625 int64 values"),
                       "gauss": OPT_NUM}},
    "spec": {"name": TEXT, "path": (lambda v: v is None or isinstance(v, str), "text or null"), "text": TEXT,
             "sha256": SHA256, "n_params": NAT, "params": MAPPING},
    "recipe": MAPPING,
    "world_size": (lambda v: _is_int(v, 1), "a whole number >= 1"),
    "threads": (lambda v: _is_int(v, 1), "a whole number >= 1"),
}


def validate(state: dict, path) -> None:
    """Raise ArchspecError for the first field that is missing or not what archspec writes."""
    _check(state, RULES, "", path)
    _check_recipe(state["recipe"], path)


def _check(value, rule, where: str, path) -> None:
    if isinstance(rule, dict):
        if not isinstance(value, dict):
            _fail(path, where, "a mapping", value)
        for key, sub in rule.items():
            if key.endswith("?"):
                key = key[:-1]
                if key not in value:
                    continue
            if key not in value:
                _missing(path, f"{where}.{key}".lstrip("."))
            _check(value[key], sub, f"{where}.{key}".lstrip("."), path)
    elif isinstance(rule, list):
        if not isinstance(value, list):
            _fail(path, where, "a list", value)
        for i, item in enumerate(value):
            _check(item, rule[0], f"{where}[{i}]", path)
    elif not rule[0](value):
        _fail(path, where, rule[1], value)


def _check_recipe(recipe: dict, path) -> None:
    """The stored recipe, through the validation a spec's train: gets, and completed: an option
    added to archspec after the checkpoint was written takes its default (what the run trained with)."""
    from archspec.train.recipe import DECIDED, OPTIONS, plain
    from archspec.train.resolve import Layer, validate_layer

    absent = sorted(OPTIONS.keys() - recipe.keys())
    undecided = [name for name in absent if name in DECIDED]
    if undecided:
        _missing(path, f"recipe.{undecided[0]}")
    for name in absent:
        recipe[name] = plain(OPTIONS[name].default)
    if "for_data" in recipe:
        _fail(path, "recipe.for_data", "absent (a stored recipe is already resolved)", recipe["for_data"])
    try:
        validate_layer(Layer("config", dict(recipe), str(path)))
    except ArchspecError as exc:
        raise ArchspecError(f"checkpoint {path}: its stored recipe is invalid: "
                            f"{exc.diagnostics[0].message}") from None


def _missing(path, field: str) -> None:
    raise ArchspecError(f"checkpoint {path}: field {field} is missing; the file was edited or forged (archspec "
                        "did not write it so)")


def _fail(path, field: str, expected: str, found) -> None:
    shown = repr(found) if not isinstance(found, torch.Tensor) else f"a {found.dtype} tensor of shape {list(found.shape)}"
    if len(shown) > 60:
        shown = shown[:40] + "..."
    raise ArchspecError(f"checkpoint {path}: field {field or '(top)'} should be {expected}, found {shown}; "
                        "the file was edited or forged (archspec did not write it so)")
