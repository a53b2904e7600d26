"""Where a recipe's options come from, and how they become one Recipe.

Layers merge as command-line flags > --config file > the spec's `train:` > defaults. Each
layer is validated on its own so an error points at the file, line and column it came from.
A spec or config layer may also adapt itself to the data it is trained on: `for_data: {digits:
{batch_size: 32}}` applies inside that layer when the run's data source is digits.

Torch-free, so `archspec check` validates a spec's recipe too.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable

from archspec.diagnostics import did_you_mean
from archspec.errors import ArchspecError, Diagnostic, Loc, SpecError
from archspec.train.recipe import (DATA_KINDS, DEFAULT_LR, DOWNLOADABLE, OPTIONS, SCHEMA, OptionError,
                                   Recipe, canonical_transforms, names_path, unknown)

MAX_CONFIG_BYTES = 1_000_000


@dataclass
class Layer:
    """One source of options: its values, where they came from, and how to locate a key."""

    origin: str  # "flag", "config" or "spec"
    values: dict
    file: str | None = None
    text: str | None = None
    locate: Callable[[tuple], Loc | None] = field(default=lambda path: None)
    aliases: dict = field(default_factory=dict)  # flat key -> nested key path it was written at

    def where(self, key: str) -> str:
        if self.origin == "flag":
            return _flag(key)
        loc = self.locate(self.path_of(key))
        written = ".".join(map(str, self.aliases.get(key, (key,))))  # e.g. optimizer.sgd.lr
        return f"{written} ({loc})" if loc else f"{written} ({self.file})"

    def path_of(self, key: str) -> tuple:
        path = self.aliases.get(key, (key,)) if key else ()
        return ("train",) + path if self.origin == "spec" else path


def _flag(key: str) -> str:
    return OPTIONS[key].flag if key in OPTIONS else "--" + key.replace("_", "-")


def spec_layer(spec) -> Layer:
    """The spec's own `train:` section as the lowest recipe layer."""
    return Layer("spec", spec.train or {}, spec.path or spec.name, spec.text, spec.locate)


def config_layer(path) -> Layer:
    """A --config file as a layer, read as guardedly as a spec: a regular file of at most 1 MB of
    UTF-8, no YAML tags, alias bombs or 5,000-digit numbers; every mistake located in it."""
    from archspec.lang.loader import parse_yaml
    from archspec.train.files import read_bounded

    file = str(path)
    raw = read_bounded(path, MAX_CONFIG_BYTES, "--config")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ArchspecError(f"--config {file}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                            "a recipe is a YAML text file") from None
    data, locations = parse_yaml(text, file)
    return Layer("config", {} if data is None else data, file, text, locations.locate)


def recipe_problems(spec) -> list[Diagnostic]:
    """The located mistakes in a spec's `train:` section (for `archspec check`), or []."""
    if not spec.train:  # nothing to check: spare a fresh `archspec check` the jsonschema import
        return []
    try:
        validate_layer(spec_layer(spec))
    except SpecError as exc:
        return exc.diagnostics
    return []


def normalize(values: dict) -> tuple[dict, dict]:
    """Undo YAML 1.1 surprises (`amp: off` reads as False) and flatten `optimizer: {sgd: {lr: 0.1}}`.

    Returns the flat options and, for keys that came from the nested form, their original key path.
    """
    out, aliases = dict(values), {}
    if out.get("amp") is False:
        out["amp"] = "off"
    if out.get("schedule") is None and "schedule" in out:
        out["schedule"] = "none"
    opt = out.get("optimizer")
    if isinstance(opt, dict) and len(opt) == 1:
        (name, settings), = opt.items()
        out["optimizer"] = name
        for key, value in (settings or {}).items() if isinstance(settings, dict) else ():
            aliases[key] = ("optimizer", name, key)
            if key in out:
                raise ValueError(f"'{key}' is given twice: as {key} and inside optimizer: {{{name}: ...}}", (key,))
            out[key] = value
    return out, aliases


def validate_layer(layer: Layer) -> dict:
    """Schema-check one layer; every problem becomes a located diagnostic."""
    from jsonschema import Draft202012Validator

    if not isinstance(layer.values, dict):
        raise SpecError([_diag(layer, (), "a train recipe must be a mapping of option: value")], _sources(layer))
    try:
        values, layer.aliases = normalize(layer.values)
    except ValueError as exc:
        raise SpecError([_diag(layer, exc.args[1], exc.args[0])], _sources(layer)) from None
    diags, flagged = [], set()
    for err in sorted(Draft202012Validator(SCHEMA).iter_errors(values), key=lambda e: list(e.absolute_path)):
        path = tuple(err.absolute_path)
        flagged.update(path[:1])
        if err.validator == "additionalProperties":
            for key in sorted(set(values) - set(SCHEMA["properties"])):
                diags.append(_diag(layer, (key,), unknown(key)))
            continue
        key = path[0] if path else ""
        hint = did_you_mean(err.instance, err.validator_value) if err.validator == "enum" else ""
        diags.append(_diag(layer, path, f"{_label(layer, key)}: {_shown(err)}{hint}"))
    diags += [_diag(layer, (key,), f"{_label(layer, key)}: expected a finite number, found {values[key]}")
              for key in _non_finite(values) if key not in flagged]
    if layer.origin == "spec":
        diags += [_diag(layer, (key,), f"{_label(layer, key)}: {why}") for key, why in _not_for_specs(values)]
    if not diags and values.get("transforms"):
        try:
            canonical_transforms(values["transforms"])
        except ValueError as exc:
            diags.append(_diag(layer, ("transforms",) + exc.args[1], f"{_label(layer, 'transforms')}: {exc.args[0]}"))
    if isinstance(values.get("for_data"), dict) and values["for_data"]:  # checked even beside other mistakes
        if layer.origin == "flag":
            diags.append(_diag(layer, ("for_data",), "for_data belongs in a recipe, not on the command line"))
        else:
            values["for_data"] = _validate_for_data(layer, values["for_data"], diags)
    if diags:
        if layer.origin == "flag":  # a bad command line is a usage error, not a spec error
            raise OptionError("; ".join(d.message for d in diags))
        raise SpecError(diags, _sources(layer))
    return values


def _validate_for_data(layer: Layer, for_data: dict, diags: list) -> dict:
    """Each entry is a recipe of its own, located at its own line:col; it may not set data or for_data.

    Returns kind -> (flat options, their key paths in the layer)."""
    base, out = layer.path_of(""), {}
    for kind, sub in for_data.items():
        if kind not in DATA_KINDS:
            diags.append(_diag(layer, ("for_data", kind), f"{_label(layer, 'for_data')}: unknown data kind '{kind}'"
                                                          f"{did_you_mean(kind, DATA_KINDS)}; expected one of "
                                                          f"{', '.join(DATA_KINDS)}"))
            continue
        where = ("for_data", kind)
        inner = Layer(layer.origin, sub, layer.file, layer.text,
                      lambda path, where=where: layer.locate(base + where + path[len(base):]))
        for key in ("data", "for_data"):
            if isinstance(sub, dict) and key in sub:
                diags.append(_diag(inner, (key,), f"{_label(layer, 'for_data')}.{kind}: '{key}' cannot be set here"))
        try:
            values = validate_layer(inner)
        except SpecError as exc:
            diags.extend(exc.diagnostics)
            continue
        out[kind] = (values, {key: where + inner.aliases.get(key, (key,)) for key in values})
    return out


def _non_finite(values: dict) -> list[str]:
    """Numbers that are NaN or infinite: JSON Schema's bounds let NaN through (NaN <= 0 is false)."""
    def finite(key, value):
        if key == "lr_for" and isinstance(value, dict):  # a mapping of rates
            return all(finite(key, v) for v in value.values())
        return not isinstance(value, float) or math.isfinite(value)

    return [key for key, value in values.items() if key in OPTIONS and not finite(key, value)]


def _not_for_specs(values: dict) -> list[tuple[str, str]]:
    """What a spec (shared like code) may not decide: going to the network, or where data lives here.

    Those come from the user only: flags or a --config file."""
    out = []
    if values.get("download") is True:
        out.append(("download", "a spec cannot turn on downloading; pass --download (or set it in a --config file)"))
    if "data_dir" in values:
        out.append(("data_dir", "a spec cannot choose where data lives on this machine; pass --data-dir "
                                "(or set it in a --config file)"))
    if values.get("mlflow_uri") is not None:
        out.append(("mlflow_uri", "a spec cannot choose where its runs are logged (a server is the network); "
                                  "pass --mlflow-uri (or set it in a --config file)"))
    if values.get("weights") is not None:
        out.append(("weights", "a spec cannot name a weights file on this machine; pass --weights "
                               f"{values['weights']} (or set it in a --config file)"))
    data = values.get("data")
    if isinstance(data, str) and names_path(data):
        out.append(("data", f"a spec cannot name a data path ({data}); pass --data {data} "
                            "(or set it in a --config file)"))
    return out


def _shown(err) -> str:
    """jsonschema's message, with a huge value (an integer of hundreds of digits) cut short."""
    text = repr(err.instance)
    if len(text) <= 40:
        return err.message
    return err.message.replace(text, f"{text[:20]}... ({len(text):,} characters)")


def _label(layer: Layer, key: str) -> str:
    if layer.origin == "flag":
        return _flag(key)
    return ("train." if layer.origin == "spec" else "") + key


def _diag(layer: Layer, path: tuple, message: str) -> Diagnostic:
    loc = layer.locate(layer.path_of(path[0]) + tuple(path[1:]) if path else layer.path_of(""))
    if loc is None and layer.file:
        loc = Loc(layer.file, 1, 1)
    return Diagnostic(loc, "train-option", message)


def _sources(layer: Layer) -> dict:
    return {layer.file: layer.text} if layer.file and layer.text else {}


def resolve(layers: list[Layer]) -> Recipe:
    """Merge layers, lowest priority first (transforms and params key by key), and decide what
    the defaults leave open: lr from the optimizer, step_size from the epochs, a fresh seed."""
    values = {name: ({} if isinstance(opt.default, dict) else opt.default) for name, opt in OPTIONS.items()}
    origins: dict[str, str] = {}
    validated = [validate_layer(layer) for layer in layers]
    data = next((v["data"] for v in reversed(validated) if "data" in v), values["data"])
    kind = data.split(":")[0]
    for layer, own in zip(layers, validated):
        adapted, paths = (own.pop("for_data", None) or {}).get(kind, ({}, {}))
        layer.aliases.update(paths)
        for key, value in [*own.items(), *adapted.items()]:  # the layer's for_data entry after its own options
            if isinstance(OPTIONS[key].default, dict):  # transforms, params, lr_for: key by key
                values[key].update(value or {})
            else:
                values[key] = value
            origins[key] = layer.where(key)
    values["transforms"] = canonical_transforms(values["transforms"])
    if values["lr"] is None:
        values["lr"] = DEFAULT_LR[values["optimizer"]]
    if values["step_size"] is None and values["schedule"] == "step":
        values["step_size"] = max(1, values["epochs"] // 3)
    if values["seed"] is None:
        values["seed"] = random.SystemRandom().randrange(2**31)
    recipe = Recipe(**values, origins=origins)
    check_consistency(recipe)
    return recipe


def check_consistency(r: Recipe) -> None:
    """Refuse combinations that cannot mean what the user wants, naming both sides."""

    def clash(a: str, why: str):
        raise OptionError(f"{r.where(a)}: {why}")

    if r.label_smoothing and r.loss != "cross_entropy":
        clash("label_smoothing", f"label smoothing only applies to cross_entropy, but the loss is {r.loss} "
                                 f"(from {r.where('loss')})")
    if r.optimizer != "sgd":
        for key in ("momentum", "nesterov"):
            if getattr(r, key):
                clash(key, f"only applies to sgd, but the optimizer is {r.optimizer} (from {r.where('optimizer')})")
    if r.nesterov and not r.momentum:
        clash("nesterov", "Nesterov momentum needs --momentum > 0")
    if r.schedule == "onecycle" and r.warmup:
        clash("warmup", "onecycle has its own warm-up phase; drop --warmup or use --schedule cosine")
    if r.warmup >= r.epochs and r.warmup:
        clash("warmup", f"warm-up of {r.warmup} epochs leaves no training after it (epochs is {r.epochs})")
    if r.schedule != "step":
        for key in ("step_size", "gamma"):
            if key in r.origins:
                clash(key, f"only applies to --schedule step, but the schedule is {r.schedule}")
    if r.mlflow_uri and "mlflow" not in r.log:
        clash("mlflow_uri", "says where MLflow logs, but --log mlflow is not given")
    if "log_every" in r.origins and not r.log:
        clash("log_every", "says how often to log, but no --log is given")
    if r.weights_skip and not r.weights:
        clash("weights_skip", "says which tensors of a --weights file to leave out, but no --weights is given")
    if r.download and r.data not in DOWNLOADABLE:
        clash("download", f"only {', '.join(DOWNLOADABLE[:-1])} and {DOWNLOADABLE[-1]} can be downloaded, "
                          f"not '{r.data}'")
