"""Ops as Python source: a module node as a `torch.nn` constructor call (or a call of one of
archspec's own layers, whose source the file then holds), a functional node as an
expression. Constructor arguments are read back from the built module through its
signature, then checked by rebuilding the module on the meta device, so what is written
is what archspec builds."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import nn

from archspec.errors import ArchspecError

SKIP = {"self", "device", "dtype"}
LAYERS = "archspec.layers."  # archspec's own modules: self-contained, copied into the exported file


@dataclass(frozen=True)
class Ctor:
    """One `nn.<cls>(...)` call: every constructor argument with its value, in signature order."""

    cls: str
    args: tuple  # ((name, value), ...)
    defaults: tuple  # ((name, default or EMPTY), ...)
    stateful: bool  # has parameters or buffers (so its name is in the state_dict)
    source: str = ""  # the class's source for one of archspec's own layers; "" for a torch.nn class
    by_keyword: bool = False  # every argument written `name=value`, as the spec gave them (`nn.PixelShuffle: {...}`)

    @property
    def callee(self) -> str:
        """How the file names the class: `nn.Conv2d`, or an archspec layer's own name."""
        return self.cls if self.source else f"nn.{self.cls}"


EMPTY = inspect.Parameter.empty


_built: dict[int, tuple] = {}


def module_of(graph, name: str):
    """Op node `name`'s module built on the meta device (no memory, no init), or None if functional."""
    hit = _built.get((id(graph), name))
    if hit is None or hit[0] is not graph:
        data = graph.nodes[name]
        with torch.device("meta"):
            module = data["op"].module(data["args"], [graph.shape_of(r) for r in graph.inputs_of(name)])
        hit = _built[(id(graph), name)] = (graph, module)
    return hit[1]


def forget() -> None:
    """Drop the modules built for one export."""
    _built.clear()


def ctor(module: nn.Module, where: str, keywords: dict | None = None) -> Ctor:
    """The constructor call that builds `module`: its arguments read back from its attributes,
    or, for an op that knows them (a torch.nn class named in the spec), the `keywords` it was
    built with, written by keyword. Either way the call is checked by rebuilding."""
    cls = type(module)
    own = cls.__module__.startswith(LAYERS)
    if getattr(nn, cls.__name__, None) is not cls and not own:
        raise ArchspecError(f"{where}: {cls.__module__}.{cls.__name__} is not a torch.nn class, so it has no "
                            "standalone Python form; export to onnx or torchscript instead")
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name not in SKIP and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    defaults = tuple((p.name, p.default) for p in params)
    if keywords is not None:
        if _same(module, cls, keywords):
            return Ctor(cls.__name__, tuple(keywords.items()), defaults, _stateful(module), by_keyword=True)
        raise ArchspecError(f"{where}: nn.{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in keywords.items())}) "
                            "does not rebuild the module")
    args = []
    for p in params:
        if not hasattr(module, p.name):
            if p.default is EMPTY:
                raise ArchspecError(f"{where}: cannot read argument '{p.name}' of nn.{cls.__name__} back")
            continue
        args.append((p.name, _plain(p.name, getattr(module, p.name))))
    for candidate in (tuple((k, collapse(v)) for k, v in args), tuple(args)):
        if _same(module, cls, dict(candidate)):
            return Ctor(cls.__name__, candidate, defaults, _stateful(module), inspect.getsource(cls) if own else "")
    raise ArchspecError(f"{where}: nn.{cls.__name__} cannot be written back as a constructor call")


def _stateful(module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _plain(name: str, value):
    """A module attribute as a constructor argument: `bias` is a tensor or None, sizes are tuples."""
    if name == "bias" and (value is None or isinstance(value, torch.Tensor)):
        return value is not None
    if isinstance(value, (list, torch.Size)):
        return tuple(value)
    return value


def collapse(value):
    """(3, 3) -> 3: torch layers expand a single size to every dim."""
    if isinstance(value, tuple) and value and len(set(value)) == 1 and isinstance(value[0], int):
        return value[0]
    return value


def _same(module, cls, kwargs) -> bool:
    try:
        params = inspect.signature(cls.__init__).parameters
        extra = {"device": "meta"} if "device" in params else {}
        rebuilt = cls(**kwargs, **extra)
    except (TypeError, ValueError, RuntimeError):
        return False
    return fingerprint(rebuilt) == fingerprint(module)


def fingerprint(module) -> tuple:
    attrs = sorted((k, collapse(_plain(k, v))) for k, v in vars(module).items()
                   if not k.startswith("_") and k != "training" and not isinstance(v, (torch.Tensor, nn.Module)))
    state = [(k, tuple(t.shape), t.dtype) for k, t in module.state_dict().items()]
    return type(module), repr(attrs), state


def expression(op, args: dict, xs: list[str], where: str) -> str:
    """A functional node as a Python expression over its inputs' expressions: the op's own form."""
    text = op.python(args, xs)
    if text is None:
        raise ArchspecError(f"{where}: op '{op.name}' has no Python form yet; export to onnx or torchscript instead")
    return text
