"""Classification metrics computed on tensors, and the metrics.jsonl log of a run (its keys: EPOCH_KEYS,
and the extra numbers a task adds, such as val_ppl)."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from archspec.errors import ArchspecError

EPOCH_KEYS = ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "samples_per_s")


def confusion_matrix(y: torch.Tensor, pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are true classes, columns predicted classes (sklearn's convention)."""
    idx = y.long().cpu() * num_classes + pred.long().cpu()
    return torch.bincount(idx, minlength=num_classes * num_classes).view(num_classes, num_classes)


def per_class_accuracy(cm: torch.Tensor) -> list[float | None]:
    """Recall of each class; None for a class with no samples."""
    totals = cm.sum(dim=1)
    return [float(cm[i, i]) / float(t) if t else None for i, t in enumerate(totals.tolist())]


def summarize(y: torch.Tensor, logits_or_pred: torch.Tensor, loss: float, num_classes: int,
              classes: list[str] | None = None) -> dict:
    pred = logits_or_pred.argmax(dim=1) if logits_or_pred.dim() == 2 else logits_or_pred
    return summarize_confusion(confusion_matrix(y, pred, num_classes), loss, classes)


def summarize_confusion(cm: torch.Tensor, loss: float, classes: list[str] | None = None) -> dict:
    """The classification report of `archspec eval` from a confusion matrix."""
    n = int(cm.sum())
    return {
        "samples": n,
        "accuracy": float(cm.diag().sum()) / n if n else 0.0,
        "loss": loss,
        "classes": classes or [str(i) for i in range(len(cm))],
        "per_class_accuracy": per_class_accuracy(cm),
        "confusion_matrix": cm.tolist(),
    }


def format_table(result: dict) -> str:
    """The eval report as text: totals, then per-class accuracy and the confusion matrix as the
    check report's tables (archspec/table.py)."""
    from archspec.table import table

    names, matrix = result["classes"], result["confusion_matrix"]
    per_class = [(name, "-" if acc is None else f"{acc:.4f}", sum(row))
                 for name, acc, row in zip(names, result["per_class_accuracy"], matrix)]
    lines = [f"samples   {result['samples']}", f"accuracy  {result['accuracy']:.4f}", f"loss      {result['loss']:.4f}",
             "", *table(("class", "accuracy", "support"), per_class, right=(False, True, True)),
             "", "confusion matrix (rows: true class, columns: predicted)",
             *table(("", *map(str, range(len(names)))), [(name, *row) for name, row in zip(names, matrix)],
                    right=(False, *[True] * len(names)))]
    return "\n".join(lines)


def write_log(path: Path, records: list[dict]) -> None:
    """Rewrite metrics.jsonl from the records (used on resume, to drop epochs past the checkpoint)."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def append_log(path: Path, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


MAX_LOG_BYTES = 64 << 20


def record_problem(record) -> str | None:
    """What is wrong with one epoch record (as metrics.jsonl and checkpoints hold it), or None."""
    if not isinstance(record, dict):
        return f"expected an epoch record (a JSON object), found {type(record).__name__}"
    for key in EPOCH_KEYS:
        value = record.get(key)
        if key in ("val_loss", "val_acc") and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected {key} to be a number, found {json.dumps(value)[:40]}"
        if key == "epoch" and (not isinstance(value, int) or value < 1):
            return f"expected epoch to be a whole number >= 1, found {value}"
    return None


def read_log(path: Path) -> list[dict]:
    """The epoch records of a metrics.jsonl (a regular file of at most 64 MiB), each checked."""
    from archspec.train.files import read_bounded

    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    try:
        lines = read_bounded(path, MAX_LOG_BYTES, "metrics log").decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise ArchspecError(f"{path}: not UTF-8 text; is it a metrics.jsonl written by archspec train?") from None
    records = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                raise ArchspecError(f"{path}:{i}: not a JSON line") from None
            problem = record_problem(record)
            if problem:
                raise ArchspecError(f"{path}:{i}: {problem}")
            records.append(record)
    return records
