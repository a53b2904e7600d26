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
    num_classes: int  # what a target indexes: classes, or the vocabulary of a language model
    output_name: str
    text: str
    sha256: str
    path: str | None
    n_params: int
    params: dict = field(default_factory=dict)  # spec parameters with overrides applied
    input_range: tuple | None = None  # [low, high) of an int64 token input; None for a float input
    output_shape: tuple = ()  # default: (num_classes,)
    task: object = None  # the archspec.train.tasks.Task it trains as; default: image classification
    task_from: str = "task (default)"  # the option that chose it, for messages

    def __post_init__(self):
        from archspec.train.tasks import TASKS

        self.output_shape = tuple(self.output_shape) or (self.num_classes,)
        self.task = self.task or TASKS["image_classification"]


def load_spec(spec):
    """Parse a spec (path, text or Spec); its `train:` recipe is needed before building."""
    import archspec

    return archspec.load(spec)


def build_model(spec, params: dict, limits=None, task: str = "auto", where: str = "--task") -> ModelInfo:
    """Build the spec with params and check it is a single-input, single-output model that `task`
    (a name from recipe.TASK_NAMES, or auto) trains; `where` names the option that chose it."""
    import archspec
    from archspec.train.tasks import choose

    module = archspec.build(spec, limits=limits, **params)
    report = module.report
    if len(report.input_shapes) != 1 or len(report.output_shapes) != 1:
        raise ArchspecError(f"spec {spec.name!r} has inputs {', '.join(report.input_shapes)} and outputs "
                            f"{', '.join(report.output_shapes)}; archspec train needs one input and one output")
    (in_name, in_shape), = report.input_shapes.items()
    tokens = report.input_types[in_name].dtype == "int64"
    (out_name, out_shape), = report.output_shapes.items()
    merged = {**dict(spec.params or {}), **params}
    info = ModelInfo(module=module, name=spec.name, input_shape=tuple(in_shape), num_classes=0,
                     output_name=out_name, text=spec.text, sha256=spec.sha256, path=spec.path,
                     n_params=sum(p.numel() for p in module.parameters()), params=merged,
                     input_range=tuple(report.graph.nodes[in_name]["range"]) if tokens else None,
                     output_shape=tuple(int(s) for s in out_shape))
    info.task = choose(task, info, where)
    info.task_from = f"{where}: auto" if task == "auto" else where
    info.num_classes = info.task.num_classes(info)
    return info
