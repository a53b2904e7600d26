"""Optimizer, learning-rate schedule, loss and weight init, built from a resolved recipe (a Recipe).

Every schedule is one pure function of the global step wrapped in a LambdaLR, so the
scheduler's state is a single integer: checkpoints stay tiny and resume is exact.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def build_optimizer(params, recipe) -> torch.optim.Optimizer:
    name, lr, wd = recipe.optimizer, recipe.lr, recipe.weight_decay
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.momentum, weight_decay=wd,
                               nesterov=recipe.nesterov)
    cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return cls(params, lr=lr, weight_decay=wd)


def lr_factor(step: int, recipe, steps_per_epoch: int) -> float:
    """Multiplier of the base lr after `step` optimizer steps (LambdaLR semantics)."""
    total = recipe.epochs * steps_per_epoch
    schedule = recipe.schedule
    if schedule == "onecycle":
        return _onecycle(step, total)
    warmup = recipe.warmup * steps_per_epoch
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "step":
        return recipe.gamma ** ((step - warmup) // (recipe.step_size * steps_per_epoch))
    if schedule == "cosine":
        span = max(total - warmup, 1)
        return 0.5 * (1 + math.cos(math.pi * min(step - warmup, span) / span))
    return 1.0


def _onecycle(step: int, total: int, pct_start: float = 0.3, div: float = 25.0, final_div: float = 1e4) -> float:
    """torch's OneCycleLR (cosine, two phases) as a factor of max_lr."""
    start, floor = 1 / div, 1 / (div * final_div)
    peak_step = float(pct_start * total) - 1
    if step <= peak_step:
        return _cos(start, 1.0, step / peak_step)
    return _cos(1.0, floor, (step - peak_step) / (total - 1 - peak_step))


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def build_scheduler(optimizer, recipe, steps_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, recipe, steps_per_epoch))


class MSEOnLogits(nn.Module):
    """Mean squared error between the outputs and one-hot targets (the notes' regression view)."""

    def forward(self, logits, target):
        onehot = nn.functional.one_hot(target, logits.shape[-1]).to(logits.dtype)
        return nn.functional.mse_loss(logits, onehot)


def build_loss(recipe) -> nn.Module:
    if recipe.loss == "mse":
        return MSEOnLogits()
    return nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)


def init_weights(module: nn.Module, scheme: str, generator: torch.Generator | None = None) -> None:
    """Re-initialize conv and linear weights; 'default' keeps torch's init. Biases keep torch's
    default, as the course notes' xavier and torchvision's kaiming initializations do."""
    if scheme == "default":
        return
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
            if scheme == "xavier_uniform":
                nn.init.xavier_uniform_(m.weight, generator=generator)
            else:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=generator)
