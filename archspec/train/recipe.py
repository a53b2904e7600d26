"""The training recipe: one table of options, and the typed, frozen value a run trains with.

Each field of `Recipe` is one option: its JSON Schema (type and bounds), default, help and
command-line flag. The spec's `train:` schema, `archspec check`, the `train`/`eval` flags
and a checkpoint's validation are all made from it, so a new option is one line here.
Where the values come from and how they merge: archspec/train/resolve.py.

Torch-free, so `archspec check` reads it; jsonschema is only imported where a layer is checked.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType

from archspec.diagnostics import did_you_mean
from archspec.errors import UsageError

DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3}  # when a recipe names no lr
DECIDED = ("lr", "step_size", "seed")  # defaults resolve() decides when a run starts: never absent from a stored recipe
MAX_COUNT = 1_000_000  # epochs, batch size, warm-up and step size
MAX_WORKERS = 64  # decoding processes: more only forks the machine to a halt
MAX_SEED = 2**63 - 1  # what torch's generators and the per-epoch seeds take
DATA_KINDS = ("digits", "mnist", "fashion-mnist", "cifar10", "npz", "folder", "synthetic",
              "text",
              "voc")
SOURCES = tuple({"npz": "npz:PATH", "folder": "folder:PATH", "synthetic": "synthetic[:N]",
                 "text": "text:PATH|stdlib",
                 "voc": "voc:PATH"}.get(k, k) for k in DATA_KINDS)
PATH_KINDS = ("npz", "folder", "text",
              "voc")  # data sources that name a file or folder
BUNDLED = ("text:stdlib",)  # sources of a path kind that name no path (archspec/train/text.py)
TASK_NAMES = ("image_classification", "sequence_classification", "language_model",
              "segmentation")  # archspec/train/tasks.py
DOWNLOADABLE = ("mnist", "fashion-mnist", "cifar10")
LOGGERS = ("tensorboard", "mlflow")  # --log: archspec/train/loggers.py
# Flags of `archspec train` that belong to one run, not to a recipe.
RUN_ONLY = ("out", "resume", "config", "nproc", "force", "max_params")

_STR = {"type": "string"}
_BOOL = {"type": "boolean"}
_MAPPING = {"type": ["object", "null"]}
_PATTERNS = {"type": ["array", "null"], "items": {"type": "string", "minLength": 1}, "maxItems": 1000}


def _int(low, high=MAX_COUNT, null=False):
    return {"type": ["integer", "null"] if null else "integer", "minimum": low, "maximum": high}


def _num(low=0, high=None, low_open=False, high_open=False, null=False):
    """A number between bounds; NaN and infinities are refused separately (resolve.validate_layer)."""
    schema = {"type": ["number", "null"] if null else "number", "exclusiveMinimum" if low_open else "minimum": low}
    if high is not None:
        schema["exclusiveMaximum" if high_open else "maximum"] = high
    return schema


def _choice(*values):
    return {"enum": list(values)}


class OptionError(UsageError):
    """Options that contradict each other; the CLI reports it as a usage error (exit 2)."""


@dataclass(frozen=True)
class Option:
    """One recipe option: what it accepts (JSON Schema), its default, and its command-line flag."""

    name: str
    schema: dict
    default: object
    help: str  # "{default}" in it stands for the default
    flag: str  # "--data-dir"; a mapping option's repeatable KEY=VALUE flag may be named otherwise
    metavar: str | None = None
    resumable: bool = False  # may differ when a run is resumed (it does not change what is trained)

    @property
    def help_text(self) -> str:
        return self.help.replace("{default}", str(self.default))


def option(schema: dict, default, help: str = "", flag: str | None = None, metavar: str | None = None,
           resumable: bool = False):
    """A Recipe field that is an option (see Option)."""
    meta = {"schema": schema, "help": help, "flag": flag, "metavar": metavar, "resumable": resumable}
    if isinstance(default, dict):
        return field(default_factory=lambda: MappingProxyType({}), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Recipe:
    """What a run trains with, every option decided (resolve.resolve makes it, once).

    Frozen: a value decided later (channels_last 'auto', normalize 'auto') makes a new recipe
    with dataclasses.replace. `origins` says where each option was set (config.yaml's recipe_from).
    """

    data: str = option(_STR, "digits", ", ".join(s + " (default)" * (s == "digits") for s in SOURCES) + ".",
                       metavar="SOURCE")
    data_dir: str = option(_STR, "data", "Where mnist/fashion-mnist/cifar10 files live (default: {default}).",
                           metavar="DIR", resumable=True)
    download: bool = option(_BOOL, False, f"Fetch {', '.join(DOWNLOADABLE[:-1])} or {DOWNLOADABLE[-1]} into "
                                          "--data-dir (checksummed).", resumable=True)
    task: str = option(_choice("auto", *TASK_NAMES), "auto", "What the run learns (default auto: from the spec's "
                                                             "input and output): " + ", ".join(TASK_NAMES) + ".")
    vocab: str = option(_choice("bytes", "chars"), "bytes", "How text: data becomes token ids: bytes (ids 0-255) or "
                                                            "chars (one id per character of the corpus).")
    epochs: int = option(_int(1), 10, "Passes over the training data (default {default}).", resumable=True)
    batch_size: int = option(_int(1), 128, "Samples per step (default {default}).")
    lr: float = option(_num(0, 100, low_open=True), None, "Learning rate (default 0.1 for sgd, 0.001 for "
                                                          "adam/adamw).")
    optimizer: str = option(_choice("sgd", "adam", "adamw"), "sgd", "Optimizer (default {default}).")
    momentum: float = option(_num(0, 1, high_open=True), 0.0, "SGD momentum.")
    weight_decay: float = option(_num(0, 10), 0.0, "Weight decay (default {default}).")
    nesterov: bool = option(_BOOL, False, "Nesterov momentum (sgd).")
    schedule: str = option(_choice("none", "step", "cosine", "onecycle"), "none", "Learning-rate schedule.")
    warmup: int = option(_int(0), 0, "Linear warm-up epochs (step/cosine/none).")
    step_size: int | None = option(_int(1, null=True), None, "Epochs between decays (--schedule step).")
    gamma: float = option(_num(0, 1, low_open=True), 0.1, "Decay factor (--schedule step, default {default}).")
    loss: str = option(_choice("cross_entropy", "mse"), "cross_entropy", "Loss on the outputs (default {default}).")
    label_smoothing: float = option(_num(0, 1, high_open=True), 0.0, "Cross-entropy label smoothing.")
    init: str = option(_choice("default", "xavier_uniform", "kaiming_normal"), "default",
                       "Conv and linear weights (default: torch's own).")
    weights: str | None = option({"type": ["string", "null"], "minLength": 1}, None,
                                 "Start from these weights: a state_dict (.pt/.pth), an archspec checkpoint or "
                                 ".safetensors, loaded strictly.", metavar="FILE")
    weights_skip: tuple = option(_PATTERNS, (), "Leave what this glob over module paths matches as initialized, "
                                                "e.g. a new head: fc (repeatable).", metavar="PATTERN")
    freeze: tuple = option(_PATTERNS, (), "Do not train what this glob over module paths matches: layer1, 'layer*' "
                                          "(repeatable).", metavar="PATTERN")
    lr_for: Mapping = option({"type": ["object", "null"], "additionalProperties": _num(0, 100, low_open=True)}, {},
                             "A learning rate for what a pattern matches (repeatable): fc=0.01.", flag="--lr-for",
                             metavar="PATTERN=LR")
    device: str = option({"type": "string", "pattern": "^(auto|cpu|mps|cuda(:[0-9]+)?)$"}, "auto",
                         "auto (cuda, else mps, else cpu), cpu, cuda, cuda:N, mps.", metavar="DEVICE", resumable=True)
    amp: str = option(_choice("off", "bf16", "fp16"), "off", "Mixed precision (fp16 needs CUDA).")
    channels_last: bool | str = option(_choice(True, False, "auto"), "auto", "NHWC memory layout (default auto: timed "
                                       "against NCHW on this machine, the faster kept and remembered).")
    compile: bool = option(_BOOL, False, "torch.compile the model.", resumable=True)
    grad_clip: float | None = option(_num(0, 1e9, low_open=True, null=True), None,
                                     "Clip the gradient norm to this value.")
    log: tuple = option({"type": ["array", "null"], "items": {"enum": list(LOGGERS)}, "uniqueItems": True}, (),
                        "Also log to tensorboard (RUN/tensorboard) or mlflow (RUN/mlruns, or --mlflow-uri); "
                        "repeatable.", metavar="NAME", resumable=True)
    log_every: int = option(_int(1), 50, "Log the training loss and lr every N steps (default {default}).",
                            metavar="N", resumable=True)
    mlflow_uri: str | None = option({"type": ["string", "null"], "minLength": 1}, None,
                                    "MLflow tracking URI (default: a file store in the run folder).", metavar="URI",
                                    resumable=True)
    seed: int = option(_int(0, MAX_SEED, null=True), None, "Random seed (default: a fresh one, saved in config.yaml).")
    deterministic: bool = option(_BOOL, False, "Deterministic kernels (exact reruns and resumes).")
    workers: int = option(_int(0, MAX_WORKERS), 0, "Processes decoding folder: images.", resumable=True)
    sync_bn: bool = option(_BOOL, False, "Batch norm statistics over all processes (SyncBatchNorm; CUDA).")
    strategy: str = option(_choice("ddp", "fsdp"), "ddp", "How several processes (--nproc) share the model: ddp "
                           "(default) copies it whole to each, fsdp shards its weights, gradients and optimizer state "
                           "over them. One process trains the plain model either way.", resumable=True)
    val_split: float | None = option(_num(0, 1, low_open=True, high_open=True, null=True), None,
                                     "Hold out this fraction of train for validation (default: the test split when "
                                     "the data has one, else 0.2).")
    transforms: Mapping = option(_MAPPING, {}, "resize=96, normalize=true, hflip=0.5, random_resized_crop=true, "
                                               "color_jitter=0.4 (repeatable).", flag="--transform", metavar="NAME=VALUE")
    params: Mapping = option(_MAPPING, {}, "Override a spec param (repeatable); the value is read as YAML: "
                                           "--set num_classes=10.", flag="--set", metavar="KEY=VALUE")
    origins: Mapping = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    def __post_init__(self):
        for name in ("transforms", "params", "lr_for", "origins"):  # read-only views: nothing changes a recipe in place
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        for name in ("weights_skip", "freeze", "log"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))

    def __reduce__(self):  # torchrun sends the recipe to every process; mapping views do not pickle
        return _rebuild, (self.to_dict(), dict(self.origins))

    def where(self, key: str) -> str:
        """Where an option was set: '--lr', 'lr (run.yaml:3:5)', or 'lr (default)'."""
        return self.origins.get(key, f"{key} (default)")

    def to_dict(self) -> dict:
        """Plain data (config.yaml, the checkpoint): every option, mappings as dicts."""
        return {name: plain(getattr(self, name)) for name in OPTIONS}

    @classmethod
    def from_dict(cls, values: dict, origins: Mapping | None = None) -> "Recipe":
        """A recipe from to_dict()'s output (validated by the caller: a stored recipe is untrusted)."""
        return cls(**{name: values[name] for name in OPTIONS}, origins=origins or {})


def _rebuild(values: dict, origins: dict) -> Recipe:
    return Recipe.from_dict(values, origins)


def plain(value):
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _table() -> dict[str, Option]:
    out = {}
    for f in fields(Recipe):
        if "schema" in f.metadata:
            default = {} if f.default is MISSING else f.default
            flag = f.metadata["flag"] or "--" + f.name.replace("_", "-")
            out[f.name] = Option(f.name, f.metadata["schema"], default, f.metadata["help"], flag, f.metadata["metavar"],
                                 f.metadata["resumable"])
    return out


OPTIONS: dict[str, Option] = _table()  # name -> Option, in the order of the fields (and of --help)
RESUMABLE = tuple(name for name, opt in OPTIONS.items() if opt.resumable)
# A layer (the spec's train:, a --config file) may also adapt itself to the data: for_data: {digits: {...}}.
FOR_DATA_SCHEMA = {"type": "object"}
SCHEMA = {"type": "object", "additionalProperties": False,
          "properties": {**{k: opt.schema for k, opt in OPTIONS.items()}, "for_data": FOR_DATA_SCHEMA}}


def names_path(data: str) -> bool:
    """Whether a data source names a file or folder on this machine (text:stdlib names none)."""
    return data.partition(":")[0] in PATH_KINDS and data not in BUNDLED


def unknown(key: str) -> str:
    """The message for a key that is not an option."""
    if key in RUN_ONLY:
        return f"'{key}' is a command-line option of one run, not part of a recipe"
    named = next((name for name, opt in OPTIONS.items() if opt.flag == "--" + key and name != key), None)
    if named:  # --set, --transform: a recipe names the mapping they fill
        return f"unknown train option '{key}': --{key} on the command line is '{named}' in a recipe"
    return f"unknown train option '{key}'{did_you_mean(key, [*OPTIONS, 'for_data'])}"


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


def canonical_transforms(raw: Mapping) -> dict:
    """Validate and spell out a transforms mapping; raises ValueError(message, key_path)."""
    if not isinstance(raw, Mapping):
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
            raise ValueError(f"{name}: {short(value)} is not valid; expected {HELP[name]}", (name,)) from None
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
        if isinstance(value, Mapping):
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


def short(value) -> str:
    """repr(value), cut short when it is long (a 5,000-digit number, say)."""
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
