"""Dense prediction metrics: pixel accuracy and intersection over union, from a confusion matrix
accumulated over batches on the device (one read at the end of an evaluation).

Pixels whose target is IGNORE (255) count nowhere. A class absent from both the targets and the
predictions has no IoU (0 / 0) and is left out of the mean (a mean over the classes that have
one, numpy's nanmean of the per-class IoU), so a class that never occurs neither pulls the mean
down nor lifts it up.
"""
from __future__ import annotations

import torch

IGNORE = 255


def pixel_confusion(target: torch.Tensor, pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The (num_classes, num_classes) pixel counts of one batch, where the tensors are: rows are
    true classes, columns predicted ones; target (N, H, W) class indices or IGNORE, pred (N, H, W)."""
    keep = target != IGNORE
    idx = target[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Correct pixels over counted pixels (0.0 when none were counted)."""
    total = int(cm.sum())
    return float(cm.diag().sum()) / total if total else 0.0


def class_iou(cm: torch.Tensor) -> list[float | None]:
    """Each class's IoU, true positives / (true + predicted - true positives); None for a class
    that neither the targets nor the predictions hold."""
    tp, union = cm.diag(), cm.sum(dim=0) + cm.sum(dim=1) - cm.diag()
    return [float(t) / float(u) if u else None for t, u in zip(tp.tolist(), union.tolist())]


def mean_iou(cm: torch.Tensor) -> float:
    """The mean of the classes' IoU, over the classes that have one (0.0 when none has)."""
    present = [v for v in class_iou(cm) if v is not None]
    return sum(present) / len(present) if present else 0.0


def majority_iou(cm: torch.Tensor) -> float:
    """The mean IoU of calling every pixel the most frequent true class: a chance level to read
    mean_iou against (that class's share of the pixels, over the classes the targets hold)."""
    pixels = cm.sum(dim=1)
    total, present = int(pixels.sum()), int((pixels > 0).sum())
    return float(pixels.max()) / total / present if total else 0.0
