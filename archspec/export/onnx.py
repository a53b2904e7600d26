"""ONNX export with a dynamic batch dimension, and a dynamic length for int64 token inputs.

The default is torch's TorchScript-based exporter (dynamo=False): on a 2-core machine
it is several times faster than the torch.export-based one and needs no onnxscript;
`dynamo=True` selects the newer exporter. Either way the file passes onnx.checker."""
from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from pathlib import Path

from archspec.errors import ArchspecError

INSTALL = "pip install 'archspec[export]'"
SINGLE_FILE_LIMIT = 1_800_000_000  # protobuf's 2 GB limit, with room for the graph


def require(module: str):
    """Import an optional dependency of the export extra, or fail with the install line."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ArchspecError(f"{module} is not installed; install the export extra: {INSTALL}") from None


def reason(exc: Exception, limit: int = 300) -> str:
    """The line of an exporter's long message that says what failed (an unsupported op, mostly)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line] or [type(exc).__name__]
    causes = [line.split("'>: ", 1)[1] for line in lines if re.match(r"<class '[\w.]*Error'>: ", line)]
    text = causes[0] if causes else lines[0]
    return text if len(text) <= limit else text[:limit] + "..."


@contextlib.contextmanager
def _quiet(logger: str):
    """The exporters log progress and skipped torchvision ops; a CLI prints its own summary."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def io_names(report) -> tuple[list[str], list[str]]:
    """Graph input and output names: the spec's input names; `output`, or with several outputs
    their ids (`output1`, `output2`, ... for unnamed ones)."""
    inputs = list(report.input_shapes)
    refs = list(report.output_shapes)
    if len(refs) == 1:
        return inputs, ["output" if "output" not in inputs else "output_"]
    return inputs, [r if r.isidentifier() and r not in inputs else f"output{k + 1}" for k, r in enumerate(refs)]


def to_onnx(module, report, path: Path, dynamo: bool = False, opset: int | None = None) -> None:
    onnx = require("onnx")
    import torch

    from archspec.compiler.emit import example_inputs

    if dynamo:
        require("onnxscript")
    inputs, outputs = io_names(report)
    example = example_inputs(report, batch=2)
    size = sum(p.numel() * p.element_size() for p in module.state_dict().values())
    kwargs: dict = {"input_names": inputs, "output_names": outputs, "dynamo": dynamo}
    if opset is not None:
        kwargs["opset_version"] = opset
    tokens = [t.dtype == "int64" and t.batched and len(t.shape) >= 1 for t in report.input_types.values()]
    if dynamo:
        batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
        kwargs.update(dynamic_shapes=tuple({0: batch, 1: sequence} if token else {0: batch} for token in tokens),
                      verbose=False, external_data=size > SINGLE_FILE_LIMIT)
    else:
        types = list(report.input_types.values()) + list(report.output_types.values())
        kwargs["dynamic_axes"] = {name: {0: "batch"} for name, t in zip(inputs + outputs, types) if t.batched}
        for name, token in zip(inputs, tokens):
            if token:  # a token sequence may be shorter than declared; the outputs' dims follow where they do
                kwargs["dynamic_axes"][name][1] = "sequence"
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet("torch.onnx"):
            warnings.simplefilter("ignore")
            torch.onnx.export(module, example, str(path), **kwargs)
    except OSError as exc:
        raise ArchspecError(f"cannot write {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # the exporters raise many types; the user needs the reason
        raise ArchspecError(f"ONNX export of {report.spec.name} failed: {reason(exc)}") from None
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        raise ArchspecError(f"the ONNX file {path} does not pass onnx.checker: {exc}") from None
