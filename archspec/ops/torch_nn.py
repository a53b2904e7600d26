"""The long tail: every layer class of torch.nn as an op named `nn.<Class>` (`nn.PixelShuffle:
{upscale_factor: 2}`), built with its own keyword arguments and checked, as plugin ops are, by
one forward pass on torch's meta device (archspec.ops.module_op).

The names, keyword arguments and forward inputs come from a table generated from torch
(archspec/ops/_torch_nn_table.py, by `python -m archspec.ops.torch_nn`), so the registry, the
JSON Schema, did-you-mean on a misspelt class and the check of unknown keywords need no torch;
torch is imported when a spec names such a class. Only attributes of torch.nn that are layers
are listed: not containers (their arguments are modules), losses, lazy or abstract classes,
nor wrappers of a module; a spec never names code outside torch.nn."""
from __future__ import annotations

import math

from archspec.ops import add
from archspec.ops.base import DTYPE_WORDS, Arg, ArgType, InputError, ShapeRuleError, is_int
from archspec.ops.module_op import ModuleOp

TABLE_MODULE = "archspec.ops._torch_nn_table"
PREFIX = "nn."


class Value(ArgType):
    """What a spec may give a torch.nn constructor: a number, string, true/false, null, or a list of them."""

    name = "a value"

    def check(self, value):
        if isinstance(value, (list, tuple)) and all(self._scalar(v) for v in value):
            return tuple(value)
        if self._scalar(value):
            return value
        self.fail(value)

    @staticmethod
    def _scalar(value) -> bool:
        return value is None or isinstance(value, (bool, str)) or is_int(value) or (
            isinstance(value, float) and math.isfinite(value))

    def schema(self):
        scalar = {"type": ["number", "string", "boolean", "null"]}
        return {"anyOf": [scalar, {"type": "array", "items": scalar}]}


class TorchNN(ModuleOp):
    """torch.nn.<class_name> as an op: the spec's arguments are its keyword arguments, its
    forward's required parameters are the op's inputs (`dtypes` per input: indices are int64)."""

    family = "nn"
    probe_hint = ""

    def __init__(self, class_name: str, doc: str, inputs: tuple, required: tuple, optional: dict):
        # ModuleOp.__init__ takes the class itself; this op finds it in torch.nn when first built
        self.class_name, self.name = class_name, PREFIX + class_name
        self.doc = f"{doc.rstrip('.')} (torch.nn.{class_name})."
        self.roles = tuple(role for role, _ in inputs)
        self.input_dtypes = tuple(dtype for _, dtype in inputs)
        self.dtypes = tuple(dict.fromkeys(self.input_dtypes))
        see = f"see torch.nn.{class_name}"
        self.args = tuple(Arg(n, Value(), doc=see) for n in required) + tuple(
            Arg(n, Value(), default, see) for n, default in optional.items())
        self.main_arg = required[0] if len(required) == 1 else None
        self.inputs, self.rules, self._probes = {}, {"shape": None, "params": None, "macs": None}, {}

    @property
    def module_class(self):
        from torch import nn

        found = getattr(nn, self.class_name, None)
        if found is None:
            import torch

            raise ShapeRuleError(f"{self.name}: this torch ({torch.__version__}) has no torch.nn.{self.class_name}")
        return found

    def check_args(self, given):
        """Only the keywords the spec gives reach the constructor; torch fills in the rest."""
        a, problems = super().check_args(given)
        return {k: v for k, v in a.items() if k in given}, problems

    def check_inputs(self, ts):
        for k, t in enumerate(ts):
            want = self.input_dtypes[min(k, len(self.input_dtypes) - 1)]
            if t.dtype != want:
                raise InputError(self.name, k, DTYPE_WORDS[want], t.dtype, t.shape)
            if not t.batched:
                raise InputError(self.name, k, "a batched", "batch-free", t.shape)


def load() -> None:
    """Register an op for every class of the table (a pure-data module: no torch)."""
    import importlib

    for class_name, (doc, inputs, required, optional) in importlib.import_module(TABLE_MODULE).CLASSES.items():
        add(TorchNN(class_name, doc, inputs, required, optional))


# ---- the table, generated from torch ----------------------------------------------------------
EXCLUDED_MODULES = {  # torch.nn.modules.<file>: why none of its classes is a layer a spec names
    "container": "containers take modules, which a spec writes as items",
    "loss": "losses compare outputs with targets; `archspec train` picks the loss",
    "module": "nn.Module is the base class",
    "data_parallel": "wraps a module for several devices",
}
EXCLUDED = {  # class: why it is not listed
    "RNNBase": "an abstract base", "RNNCellBase": "an abstract base",
    "RNN": "the op `rnn` (archspec.ops.recurrent): its output and h_n are addressable",
    "LSTM": "the op `lstm` (archspec.ops.recurrent): its output, h_n and c_n are addressable",
    "GRU": "the op `gru` (archspec.ops.recurrent): its output and h_n are addressable",
    "TransformerEncoder": "takes a layer module (encoder_layer)", "TransformerDecoder": "takes a layer module (decoder_layer)",
    "SyncBatchNorm": "needs a distributed process group; batchnorm2d is the layer",
    "AdaptiveLogSoftmaxWithLoss": "a loss: takes targets and returns (output, loss)",
}
INDEX_INPUTS = {("Embedding", "input"), ("EmbeddingBag", "input")}  # int64 inputs besides any named `indices`
SKIPPED_ARGS = {"self", "device", "dtype"}


def survey() -> dict:
    """class name -> (doc line, ((input, dtype), ...), required keywords, {keyword: default}) for
    every layer class of the installed torch.nn."""
    import inspect

    from torch import nn

    table = {}
    for name in sorted(dir(nn)):
        cls = getattr(nn, name)
        if name.startswith("_") or not isinstance(cls, type) or not issubclass(cls, nn.Module):
            continue
        if name in EXCLUDED or name.startswith("Lazy") or cls.__module__.rsplit(".", 1)[-1] in EXCLUDED_MODULES:
            continue
        params = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name not in SKIPPED_ARGS and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        required = tuple(p.name for p in params if p.default is p.empty)
        optional = {p.name: spec_value(p.default) for p in params if p.default is not p.empty}
        inputs = tuple((p.name, "int64" if p.name == "indices" or (name, p.name) in INDEX_INPUTS else "float32")
                       for p in list(inspect.signature(cls.forward).parameters.values())[1:]
                       if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        table[name] = (doc_line(cls), inputs or (("input", "float32"),), required, optional)
    return table


def spec_value(default):
    """A default as a spec would write it; one a spec cannot write (a function, inf) as its name."""
    if Value._scalar(default):
        return default
    if isinstance(default, (tuple, list)) and all(Value._scalar(v) for v in default):
        return tuple(default)
    return f"<{getattr(default, '__name__', None) or repr(default)}>"


def doc_line(cls) -> str:
    """The first sentence of a class's docstring, without reST markup."""
    import re

    text = " ".join((cls.__doc__ or cls.__name__).strip().split("\n\n")[0].split())
    text = re.sub(r":\w+:`~?([^`]*)`", r"\1", text).replace("``", "")
    return text.split(". ")[0].rstrip(".")


def write_table(path) -> None:
    import torch

    lines = [f'"""Generated by `python -m archspec.ops.torch_nn` from torch {torch.__version__}: the layer classes of',
             'torch.nn, their forward inputs (dtype each), required keywords and optional keywords with defaults."""',
             "", "CLASSES = {"]
    for name, entry in survey().items():
        lines.append(f"    {name!r}: {entry!r},")
    path.write_text("\n".join(lines + ["}", ""]), encoding="utf-8")


if __name__ == "__main__":
    from pathlib import Path

    write_table(Path(__file__).with_name("_torch_nn_table.py"))
else:
    load()
