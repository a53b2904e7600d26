"""Proof that an exported file computes what the archspec module computes: both run on the
same random inputs (several batch sizes, so a batch dimension fixed by mistake shows)."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
import uuid
from pathlib import Path

from archspec.errors import ArchspecError

TOLERANCE = 1e-4


def max_difference(exported, batches=(1, 3)) -> float:
    """The largest absolute difference between the file's outputs and the module's."""
    import torch

    from archspec.compiler.emit import example_inputs

    run = RUNNERS[exported.format](exported)
    worst = 0.0
    for batch in batches:
        xs = example_inputs(exported.report, batch=batch, seed=batch)
        with torch.no_grad():
            want = _as_list(exported.module(*xs))
            got = [torch.as_tensor(y) for y in _as_list(run(*xs))]
        if [tuple(y.shape) for y in got] != [tuple(y.shape) for y in want]:
            raise ArchspecError(f"{exported.path}: output shapes {[list(y.shape) for y in got]} differ from the "
                                f"spec's {[list(y.shape) for y in want]} at batch size {batch}")
        worst = max([worst] + [float((a - b).abs().max()) for a, b in zip(got, want)])
    return worst


def _as_list(y) -> list:
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _onnx(exported):
    from archspec.export.onnx import io_names, require

    ort = require("onnxruntime")
    try:
        session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's errors are its own pybind types
        raise ArchspecError(f"onnxruntime cannot load {exported.path}: {exc}") from None
    names, _ = io_names(exported.report)

    def run(*xs):
        try:
            return session.run(None, {n: x.numpy() for n, x in zip(names, xs)})
        except Exception as exc:
            raise ArchspecError(f"onnxruntime cannot run {exported.path}: {exc}") from None

    return run


def _torchscript(exported):
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of torch.export
        return torch.jit.load(str(exported.path)).eval()


def _python(exported):
    model = load_python(exported.path)()
    model.load_state_dict(exported.module.state_dict(), strict=True)
    return model.eval()


def _safetensors(exported):
    """The spec's module with the file's weights loaded strictly (read as any weights file is)."""
    import copy

    from archspec.export.weights import load_weights

    model = copy.deepcopy(exported.module)
    for t in model.state_dict().values():
        t.zero_()  # nothing of the original may survive a load that missed a tensor
    load_weights(model, exported.path)
    return model.eval()


def load_python(path):
    """The model class of a python export (the one its `__main__` block builds)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    found = re.search(r"^    model = (\w+)\(\)", text, re.M)
    if found is None:
        raise ArchspecError(f"{path} is not a python export of archspec (no model line in its __main__ block)")
    name = f"archspec_export_{uuid.uuid4().hex}"
    loader = importlib.machinery.SourceFileLoader(name, str(path))  # whatever the file's suffix
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return getattr(module, found.group(1))


RUNNERS = {"onnx": _onnx, "torchscript": _torchscript, "python": _python, "safetensors": _safetensors}
