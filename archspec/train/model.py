"""The one seam between training and the compiler: a spec plus params -> a module and its facts."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from archspec.errors import ArchspecError


@dataclass
class ModelInfo:
    module: nn.Module
    name: str
    input_shape: tuple
    num_classes: int
    output_name: str
    text: str
    sha256: str
    path: str | None
    n_params: int
    params: dict = field(default_factory=dict)  # spec parameters with overrides applied
    input_range: tuple | None = None  # [low, high) of an int64 token input; None for a float input


def load_spec(spec):
    """Parse a spec (path, text or Spec); its `train:` recipe is needed before building."""
    import archspec

    return archspec.load(spec)


def build_model(spec, params: dict, limits=None) -> ModelInfo:
    """Build the spec with params and check it is a single-input classifier we can train."""
    import archspec

    module = archspec.build(spec, limits=limits, **params)
    report = module.report
    if len(report.input_shapes) != 1 or len(report.output_shapes) != 1:
        raise ArchspecError(f"spec {spec.name!r} has inputs {', '.join(report.input_shapes)} and outputs "
                            f"{', '.join(report.output_shapes)}; archspec train needs one input and one output")
    (in_name, in_shape), = report.input_shapes.items()
    tokens = report.input_types[in_name].dtype == "int64"
    (out_name, out_shape), = report.output_shapes.items()
    if len(out_shape) != 1 or out_shape[0] < 2:
        raise ArchspecError(f"spec {spec.name!r} outputs {out_name} of shape {tuple(out_shape)}; archspec train "
                            "trains classifiers, whose output is (num_classes,) with at least 2 classes")
    merged = {**dict(spec.params or {}), **params}
    return ModelInfo(module=module, name=spec.name, input_shape=tuple(in_shape), num_classes=int(out_shape[0]),
                     output_name=out_name, text=spec.text, sha256=spec.sha256, path=spec.path,
                     n_params=sum(p.numel() for p in module.parameters()), params=merged,
                     input_range=tuple(report.graph.nodes[in_name]["range"]) if tokens else None)
