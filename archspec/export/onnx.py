"""ONNX export with a dynamic batch dimension.

The default is torch's TorchScript-based exporter (dynamo=False): on a 2-core machine
it is several times faster than the torch.export-based one and needs no onnxscript;
`dynamo=True` selects the newer exporter. Either way the file passes onnx.checker."""
from __future__ import annotations

import contextlib
import io
import logging
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
    """Graph input and output names: the spec's input names and the ids of its outputs."""
    inputs = list(report.input_shapes)
    outputs = [ref if ref not in inputs else f"{ref}_out" for ref in report.output_shapes]
    return inputs, outputs


def to_onnx(module, report, path: Path, dynamo: bool = False, opset: int | None = None) -> None:
    onnx = require("onnx")
    import torch

    from archspec.export import example_inputs

    if dynamo:
        require("onnxscript")
    inputs, outputs = io_names(report)
    example = example_inputs(report, batch=2)
    size = sum(p.numel() * p.element_size() for p in module.state_dict().values())
    kwargs: dict = {"input_names": inputs, "output_names": outputs, "dynamo": dynamo}
    if opset is not None:
        kwargs["opset_version"] = opset
    if dynamo:
        batch = torch.export.Dim("batch")
        kwargs.update(dynamic_shapes=tuple({0: batch} for _ in inputs), verbose=False,
                      external_data=size > SINGLE_FILE_LIMIT)
    else:
        kwargs["dynamic_axes"] = {name: {0: "batch"} for name in inputs + outputs}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet("torch.onnx"):
            warnings.simplefilter("ignore")
            torch.onnx.export(module, example, str(path), **kwargs)
    except OSError as exc:
        raise ArchspecError(f"cannot write {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # the exporters raise many types; the user needs the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchspecError(f"ONNX export of {report.spec.name} failed: {first}") from None
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as exc:
        raise ArchspecError(f"the ONNX file {path} does not pass onnx.checker: {exc}") from None
