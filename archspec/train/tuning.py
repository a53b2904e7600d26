"""Which weights train, and how fast: --freeze and --lr-for patterns over module paths.

A pattern is a glob (fnmatch, case-sensitive) over the dotted paths of the model's modules, the
names in a state_dict: `layer1` matches everything inside layer1, `layer*` every stage,
`fc.weight` one tensor, `*.bn*` every batch norm below the top. The same rule picks the
tensors `--weights-skip` leaves out (archspec/train/weights.py).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase

from torch import nn

from archspec.diagnostics import did_you_mean
from archspec.errors import ArchspecError


def matches(name: str, pattern: str) -> bool:
    """Whether `pattern` matches the tensor or module `name` or a module it sits in."""
    parts = name.split(".")
    return any(fnmatchcase(".".join(parts[:n]), pattern) for n in range(1, len(parts) + 1))


def chosen(names: Iterable[str], patterns: Iterable[str]) -> list[str]:
    """The names any pattern matches, in their order."""
    patterns = list(patterns)
    return [n for n in names if any(matches(n, p) for p in patterns)]


def require_matches(option: str, patterns: Iterable[str], names: list[str]) -> None:
    """Refuse a pattern that matches nothing: a misspelt --freeze would otherwise train everything."""
    names = list(dict.fromkeys(names))
    for pattern in patterns:
        if not any(matches(n, pattern) for n in names):
            paths = sorted({".".join(n.split(".")[:k]) for n in names for k in range(1, n.count(".") + 2)})
            top = list(dict.fromkeys(n.split(".")[0] for n in names))
            raise ArchspecError(f"{option} {pattern}: matches none of the model's {len(names):,} tensors"
                                f"{did_you_mean(pattern, paths)}; patterns are globs over module paths, whose "
                                f"first parts here are {', '.join(top[:8])}{', ...' if len(top) > 8 else ''}")


def freeze(module: nn.Module, patterns: Iterable[str]) -> None:
    """Turn off the gradients of the parameters the patterns match (adding to the spec's `trainable: false`)."""
    patterns = list(patterns)
    names = [n for n, _ in module.named_parameters()]
    require_matches("--freeze", patterns, names)
    for name, p in module.named_parameters():
        if any(matches(name, pat) for pat in patterns):
            p.requires_grad_(False)


def counts(module: nn.Module) -> tuple[int, int]:
    """(trainable, frozen) parameter counts; a tied parameter counts once."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in module.parameters()) - trainable


def frozen_norms(module: nn.Module) -> list[nn.Module]:
    """Norm layers with running statistics whose own parameters are all frozen: they run in eval
    mode while the rest trains, so a frozen layer keeps its statistics as well as its weights."""
    out = []
    for m in module.modules():
        params = list(m.parameters(recurse=False))
        if getattr(m, "running_mean", None) is not None and params and not any(p.requires_grad for p in params):
            out.append(m)
    return out


def param_groups(module: nn.Module, base_lr: float, lr_for: Mapping[str, float]) -> list[dict]:
    """The optimizer's groups: the trainable parameters at the base lr, and those --lr-for's patterns
    match at their own lr (LambdaLR's schedule scales every group alike). Frozen ones are left out."""
    names = [n for n, _ in module.named_parameters()]
    require_matches("--lr-for", lr_for, names)
    groups: dict[str, list] = {"": []}
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        hits = [pat for pat in lr_for if matches(name, pat)]
        if len({lr_for[h] for h in hits}) > 1:
            raise ArchspecError(f"--lr-for: {name} is matched by {hits[0]}={lr_for[hits[0]]} and "
                                f"{hits[1]}={lr_for[hits[1]]}; make the patterns disjoint")
        groups.setdefault(hits[0] if hits else "", []).append(p)
    if not any(groups.values()):
        raise ArchspecError("nothing to train: every parameter is frozen (--freeze, or the spec's trainable: false)")
    return [{"params": ps, "lr": lr_for[pat] if pat else base_lr, "pattern": pat} for pat, ps in groups.items()]
