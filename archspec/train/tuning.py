"""Which weights train, and how fast: --freeze and --lr-for patterns over module paths
(archspec/globs.py says how a pattern matches; --weights-skip uses the same rule)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from torch import nn

from archspec.errors import ArchspecError
from archspec.globs import matches, require_matches


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
