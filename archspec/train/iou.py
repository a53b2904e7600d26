"""Dense prediction metrics: pixel accuracy and intersection over union, from a confusion matrix
accumulated over batches on the device (one read at the end of an evaluation).

Pixels whose target is IGNORE (255) count nowhere. A class absent from both the targets and the
predictions has no IoU (0 / 0) and is left out of the mean, as VOC's evaluation does.
"""
from __future__ import annotations

import torch

IGNORE = 255


class PixelConfusion:
    """Rows are true classes, columns predicted classes, summed over every pixel seen."""

    def __init__(self, num_classes: int, device=None):
        self.k = num_classes
        self.matrix = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)

    def update(self, target: torch.Tensor, pred: torch.Tensor) -> None:
        """Add one batch: target (N, H, W) class indices or IGNORE, pred (N, H, W) class indices."""
        keep = target != IGNORE
        idx = target[keep].long() * self.k + pred[keep].long()
        self.matrix += torch.bincount(idx, minlength=self.k * self.k)

    def add(self, other: "PixelConfusion") -> None:
        self.matrix += other.matrix.to(self.matrix.device)

    def result(self) -> torch.Tensor:
        return self.matrix.view(self.k, self.k).cpu()


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
