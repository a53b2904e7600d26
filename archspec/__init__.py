"""archspec: a declarative architecture-spec compiler for PyTorch.

Public API: load(), check(), build(), register_op(). `check` never imports torch (unless
a spec uses a plugin op that has to be checked by a forward pass).
"""
from __future__ import annotations

from archspec.errors import ArchspecError, GraphError, ResourceError, ShapeError, SpecError
from archspec.limits import Limits

__all__ = ["load", "check", "build", "register_op", "Limits", "ArchspecError", "SpecError", "GraphError", "ShapeError",
           "ResourceError"]
__version__ = "0.1.0"


def load(spec):
    """Parse and validate a spec (a path, YAML text, or a loaded Spec) without expanding it."""
    from archspec.lang.loader import load_spec

    return load_spec(spec)


def check(spec, *, limits: Limits | None = None, input=None, **params):
    """Expand and shape-check a spec; returns a Report (report.ok tells if it is valid).
    `limits` (an archspec.Limits) raises or lowers the bounds on size; `input` checks it at
    another input shape (one shape, or {input name: shape}); the other keywords are the
    spec's params."""
    from archspec.compiler.pipeline import check_spec

    limits, params = _limits(limits, params)
    return check_spec(spec, params, limits, input)


def build(spec, *, limits: Limits | None = None, input=None, **params):
    """Compile a spec into a torch.fx.GraphModule (its `report` attribute is the check it was
    built from); raises ArchspecError when it is invalid, and ResourceError, before
    allocating, when it exceeds `limits` or the free memory; `input` as for check()."""
    from archspec.compiler.pipeline import build_module

    limits, params = _limits(limits, params)
    return build_module(spec, params, limits, input)


def _limits(limits, params: dict) -> tuple[Limits | None, dict]:
    """A value for `limits` that is not a Limits is the spec's own param named `limits`."""
    if limits is None or isinstance(limits, Limits):
        return limits, params
    return None, {**params, "limits": limits}


def register_op(target, name=None, **keywords):
    """Make your own layer an op that specs can use by name: an archspec Op subclass, or an
    nn.Module class with keywords args, inputs, shape, params, macs, doc (see archspec.plugins)."""
    from archspec.plugins import register_op as register

    return register(target, name, **keywords)
