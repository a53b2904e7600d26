"""Training options: one table gives the defaults and the JSON Schema of a `train:` recipe.

Torch-free, so `archspec check` validates a spec's recipe too.

Layers merge as command-line flags > --config file > the spec's `train:` > defaults. Each
layer is validated on its own so an error points at the file, line and column it came from.
A spec or config layer may also adapt itself to the data it is trained on: `for_data: {digits:
{batch_size: 32}}` applies inside that layer when the run's data source is digits.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable

from jsonschema import Draft202012Validator

from archspec.diagnostics import did_you_mean
from archspec.errors import ArchspecError, Diagnostic, Loc, SpecError, UsageError

DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3}  # when a recipe names no lr
_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
MAX_COUNT = 1_000_000  # epochs, batch size, warm-up and step size
MAX_WORKERS = 64  # decoding processes: more only forks the machine to a halt
MAX_SEED = 2**63 - 1  # what torch's generators and the per-epoch seeds take


def _int(low, high=MAX_COUNT, null=False):
    return {"type": ["integer", "null"] if null else "integer", "minimum": low, "maximum": high}


def _num(low=0, high=None, low_open=False, high_open=False, null=False):
    """A number between bounds; NaN and infinities are refused separately (see _non_finite)."""
    schema = {"type": ["number", "null"] if null else "number", "exclusiveMinimum" if low_open else "minimum": low}
    if high is not None:
        schema["exclusiveMaximum" if high_open else "maximum"] = high
    return schema


# name -> (JSON Schema, default). None defaults are filled in by resolve(). Every number is bounded,
# so `archspec check` refuses what training would crash on (or fork the machine with).
OPTIONS: dict[str, tuple[dict, object]] = {
    "data": (_STR, "digits"),
    "data_dir": (_STR, "data"),
    "download": (_BOOL, False),
    "epochs": (_int(1), 10),
    "batch_size": (_int(1), 128),
    "optimizer": ({"enum": ["sgd", "adam", "adamw"]}, "sgd"),
    "lr": (_num(0, 100, low_open=True), None),
    "momentum": (_num(0, 1, high_open=True), 0.0),
    "weight_decay": (_num(0, 10), 0.0),
    "nesterov": (_BOOL, False),
    "schedule": ({"enum": ["none", "step", "cosine", "onecycle"]}, "none"),
    "warmup": (_int(0), 0),
    "step_size": (_int(1, null=True), None),
    "gamma": (_num(0, 1, low_open=True), 0.1),
    "loss": ({"enum": ["cross_entropy", "mse"]}, "cross_entropy"),
    "label_smoothing": (_num(0, 1, high_open=True), 0.0),
    "init": ({"enum": ["default", "xavier_uniform", "kaiming_normal"]}, "default"),
    "device": ({"type": "string", "pattern": "^(auto|cpu|mps|cuda(:[0-9]+)?)$"}, "auto"),
    "amp": ({"enum": ["off", "bf16", "fp16"]}, "off"),
    "channels_last": ({"enum": [True, False, "auto"]}, "auto"),
    "compile": (_BOOL, False),
    "grad_clip": (_num(0, 1e9, low_open=True, null=True), None),
    "seed": (_int(0, MAX_SEED, null=True), None),
    "deterministic": (_BOOL, False),
    "workers": (_int(0, MAX_WORKERS), 0),
    "sync_bn": (_BOOL, False),
    "val_split": (_num(0, 1, low_open=True, high_open=True, null=True), None),
    "transforms": ({"type": ["object", "null"]}, None),
    "params": ({"type": ["object", "null"]}, None),
    "for_data": ({"type": "object"}, None),  # data kind -> options; checked by _validate_for_data
}
DATA_KINDS = ("digits", "mnist", "fashion-mnist", "cifar10", "npz", "folder", "synthetic")
SCHEMA = {"type": "object", "additionalProperties": False, "properties": {k: s for k, (s, _) in OPTIONS.items()}}
# Options that may differ when a run is resumed (they do not change what is being trained).
RESUMABLE = {"epochs", "device", "workers", "compile", "download", "data_dir"}
RUN_ONLY = {"out", "resume", "config", "set", "nproc", "force"}


class OptionError(UsageError):
    """Options that contradict each other; the CLI reports it as a usage error (exit 2)."""


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
            return "--" + key.replace("_", "-")
        loc = self.locate(self.path_of(key))
        written = ".".join(map(str, self.aliases.get(key, (key,))))  # e.g. optimizer.sgd.lr
        return f"{written} ({loc})" if loc else f"{written} ({self.file})"

    def path_of(self, key: str) -> tuple:
        path = self.aliases.get(key, (key,)) if key else ()
        return ("train",) + path if self.origin == "spec" else path


@dataclass
class Resolved:
    """The merged recipe plus, for each option, a human description of where it was set."""

    values: dict
    origins: dict

    def __getitem__(self, key):
        return self.values[key]

    def where(self, key: str) -> str:
        return self.origins.get(key, f"{key} (default)")


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


def spec_layer(spec) -> Layer:
    """The spec's own `train:` section as the lowest recipe layer."""
    return Layer("spec", spec.train or {}, spec.path or spec.name, spec.text, spec.locate)


MAX_CONFIG_BYTES = 1_000_000


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
    try:
        validate_layer(spec_layer(spec))
    except SpecError as exc:
        return exc.diagnostics
    return []


def validate_layer(layer: Layer) -> dict:
    """Schema-check one layer; every problem becomes a located diagnostic."""
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
            for key in sorted(set(values) - set(OPTIONS)):
                diags.append(_diag(layer, (key,), _unknown(key)))
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


PATH_KINDS = ("npz", "folder")  # data sources that name a file or folder


def _non_finite(values: dict) -> list[str]:
    """Numbers that are NaN or infinite: JSON Schema's bounds let NaN through (NaN <= 0 is false)."""
    return [key for key, value in values.items() if key in OPTIONS and isinstance(value, float)
            and not math.isfinite(value)]


def _not_for_specs(values: dict) -> list[tuple[str, str]]:
    """What a spec (shared like code) may not decide: going to the network, or where data lives here.

    Those come from the user only: flags or a --config file."""
    out = []
    if values.get("download") is True:
        out.append(("download", "a spec cannot turn on downloading; pass --download (or set it in a --config file)"))
    if "data_dir" in values:
        out.append(("data_dir", "a spec cannot choose where data lives on this machine; pass --data-dir "
                                "(or set it in a --config file)"))
    data = values.get("data")
    if isinstance(data, str) and data.partition(":")[0] in PATH_KINDS:
        out.append(("data", f"a spec cannot name a data path ({data}); pass --data {data} "
                            "(or set it in a --config file)"))
    return out


def _shown(err) -> str:
    """jsonschema's message, with a huge value (an integer of hundreds of digits) cut short."""
    text = repr(err.instance)
    if len(text) <= 40:
        return err.message
    return err.message.replace(text, f"{text[:20]}... ({len(text):,} characters)")


def _unknown(key: str) -> str:
    if key in RUN_ONLY:
        return f"'{key}' is a command-line option of one run, not part of a recipe"
    return f"unknown train option '{key}'{did_you_mean(key, OPTIONS)}"


def _label(layer: Layer, key: str) -> str:
    if layer.origin == "flag":
        return {"transforms": "--transform", "params": "--set"}.get(key, "--" + key.replace("_", "-"))
    return ("train." if layer.origin == "spec" else "") + key


def _diag(layer: Layer, path: tuple, message: str) -> Diagnostic:
    loc = layer.locate(layer.path_of(path[0]) + tuple(path[1:]) if path else layer.path_of(""))
    if loc is None and layer.file:
        loc = Loc(layer.file, 1, 1)
    return Diagnostic(loc, "train-option", message)


def _sources(layer: Layer) -> dict:
    return {layer.file: layer.text} if layer.file and layer.text else {}


def resolve(layers: list[Layer]) -> Resolved:
    """Merge layers, lowest priority first; transforms and params merge key by key."""
    values = {k: default for k, (_, default) in OPTIONS.items()}
    values["transforms"], values["params"] = {}, {}
    origins: dict[str, str] = {}
    validated = [validate_layer(layer) for layer in layers]
    data = next((v["data"] for v in reversed(validated) if "data" in v), values["data"])
    kind = data.split(":")[0]
    for layer, own in zip(layers, validated):
        adapted, paths = (own.pop("for_data", None) or {}).get(kind, ({}, {}))
        layer.aliases.update(paths)
        for key, value in [*own.items(), *adapted.items()]:  # the layer's for_data entry after its own options
            if key in ("transforms", "params"):
                values[key].update(value or {})
            else:
                values[key] = value
            origins[key] = layer.where(key)
    values.pop("for_data")
    values["transforms"] = canonical_transforms(values["transforms"])
    if values["lr"] is None:
        values["lr"] = DEFAULT_LR[values["optimizer"]]
    if values["step_size"] is None and values["schedule"] == "step":
        values["step_size"] = max(1, values["epochs"] // 3)
    if values["seed"] is None:
        values["seed"] = random.SystemRandom().randrange(2**31)
    resolved = Resolved(values, origins)
    check_consistency(resolved)
    return resolved


def check_consistency(r: Resolved) -> None:
    """Refuse combinations that cannot mean what the user wants, naming both sides."""
    v, set_ = r.values, r.origins

    def clash(a: str, why: str):
        raise OptionError(f"{r.where(a)}: {why}")

    if v["label_smoothing"] and v["loss"] != "cross_entropy":
        clash("label_smoothing", f"label smoothing only applies to cross_entropy, but the loss is {v['loss']} "
                                 f"(from {r.where('loss')})")
    if v["optimizer"] != "sgd":
        for key in ("momentum", "nesterov"):
            if v[key]:
                clash(key, f"only applies to sgd, but the optimizer is {v['optimizer']} (from {r.where('optimizer')})")
    if v["nesterov"] and not v["momentum"]:
        clash("nesterov", "Nesterov momentum needs --momentum > 0")
    if v["schedule"] == "onecycle" and v["warmup"]:
        clash("warmup", "onecycle has its own warm-up phase; drop --warmup or use --schedule cosine")
    if v["warmup"] >= v["epochs"] and v["warmup"]:
        clash("warmup", f"warm-up of {v['warmup']} epochs leaves no training after it (epochs is {v['epochs']})")
    if v["schedule"] != "step":
        for key in ("step_size", "gamma"):
            if key in set_:
                clash(key, f"only applies to --schedule step, but the schedule is {v['schedule']}")
    if v["download"] and v["data"] not in ("mnist", "fashion-mnist", "cifar10"):
        clash("download", f"only mnist, fashion-mnist and cifar10 can be downloaded, not '{v['data']}'")


def parse_assignments(items, option: str) -> dict:
    """`k=v` pairs from the command line; values are YAML scalars (`4` is an int, `[1, 2]` a list)."""
    import yaml

    out = {}
    for item in items or ():
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise OptionError(f"{option} {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise OptionError(f"{option} {_short(item)}: the value is not valid YAML") from None
        except ValueError:  # an integer over Python's 4,300-digit limit
            raise OptionError(f"{option} {_short(item)}: the value is too long a number to read") from None
    return out


def yaml_locator(text: str, file: str) -> Callable[[tuple], Loc | None]:
    """Map a key path in a YAML mapping to its line and column (for --config files)."""
    import yaml

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        root = None

    def locate(path: tuple) -> Loc | None:
        node, mark = root, (root.start_mark if root is not None else None)
        for part in path:
            if not isinstance(node, yaml.MappingNode):
                break
            for k, val in node.value:
                if k.value == str(part):
                    node, mark = val, val.start_mark  # values, as spec.locate does
                    break
            else:
                break
        return Loc(file, mark.line + 1, mark.column + 1) if mark else None

    return locate


# --- the transforms mapping ------------------------------------------------------------------
HELP = {
    "resize": "an integer size or [height, width], at most 8192",
    "normalize": "true (mean/std computed from the training data) or {mean: [...], std: [...]}",
    "hflip": "a probability between 0 and 1 (true means 0.5)",
    "random_resized_crop": "true or {scale: [min, max], ratio: [min, max]}",
    "color_jitter": "a strength (e.g. 0.4) or {brightness: b, contrast: c, saturation: s}",
}
MAX_SIDE = 8192  # pixels: a resize beyond this allocates gigabytes per batch
CROP_DEFAULT = {"scale": [0.08, 1.0], "ratio": [3 / 4, 4 / 3]}
JITTER_KEYS = ("brightness", "contrast", "saturation")


def canonical_transforms(raw: dict) -> dict:
    """Validate and spell out a transforms mapping; raises ValueError(message, key_path)."""
    if not isinstance(raw, dict):
        raise ValueError("transforms must be a mapping, e.g. {resize: 96, hflip: 0.5}", ())
    out = {}
    for name, value in raw.items():
        if name not in HELP:
            raise ValueError(f"unknown transform '{name}'{did_you_mean(name, HELP)}; known: {', '.join(HELP)}", (name,))
        if value is None or value is False:
            continue
        try:
            out[name] = _canonical(name, value)
        except (TypeError, ValueError, KeyError, OverflowError):
            raise ValueError(f"{name}: {_short(value)} is not valid; expected {HELP[name]}", (name,)) from None
    return {k: v for k, v in out.items() if v is not None}


def _canonical(name, value):
    if name == "resize":
        size = [value, value] if isinstance(value, int) and not isinstance(value, bool) else list(value)
        if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_SIDE
                                     for s in size):
            raise ValueError
        return size
    if name == "normalize":
        if value is True or value == "auto":
            return "auto"
        mean, std = _floats(value["mean"]), _floats(value["std"])
        if set(value) - {"mean", "std"} or len(mean) != len(std) or min(std) <= 0:
            raise ValueError
        return {"mean": mean, "std": std}
    if name == "hflip":
        p = 0.5 if value is True else float(value)
        if not 0 <= p <= 1:
            raise ValueError
        return p or None
    if name == "random_resized_crop":
        spec = dict(CROP_DEFAULT) if value is True else {**CROP_DEFAULT, **value}
        scale, ratio = _floats(spec["scale"]), _floats(spec["ratio"])
        if set(spec) - set(CROP_DEFAULT) or len(scale) != 2 or len(ratio) != 2:
            raise ValueError
        if not (0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1]):
            raise ValueError
        return {"scale": scale, "ratio": ratio}
    if name == "color_jitter":
        if isinstance(value, dict):
            if set(value) - set(JITTER_KEYS):
                raise ValueError
            jitter = {k: float(value.get(k, 0.0)) for k in JITTER_KEYS}
        else:
            jitter = {k: float(0.4 if value is True else value) for k in JITTER_KEYS}
        if min(jitter.values()) < 0:
            raise ValueError
        if not all(math.isfinite(v) for v in jitter.values()):
            raise ValueError
        return jitter if any(jitter.values()) else None
    raise KeyError(name)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text):,} characters)"


def _floats(value) -> list[float]:
    values = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else list(value)
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise ValueError
    floats = [float(v) for v in values]  # OverflowError for a huge integer: a ValueError to callers
    if not all(math.isfinite(v) for v in floats):
        raise ValueError
    return floats
