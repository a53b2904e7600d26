"""What a run learns and how it is scored: one Task per kind of model.

A task plugs in by subclassing Task and adding one line to TASKS (and its name to
recipe.TASK_NAMES, which the torch-free recipe needs). It says:

- `fits(info)`: whether a spec's input and output are this task's (`task: auto` picks the one
  task that fits; `expects` says what it wants when none does);
- `target_shape(info)`: one sample's target: () for a class index, (T,) for a language model's
  next tokens, (H, W) for a dense mask. Target batches are int64 (N, *target_shape);
- `num_classes(info)`: what a target indexes (the output's class dimension); `predict(output)`:
  the predicted class of every target (argmax over dim 1 unless overridden);
- `make_loss(recipe)`: a callable(output, target) -> the mean loss over the batch's scored targets
  (train_loss averages it over samples);
- `hits(output, target)`: (correct predictions, scored targets) of a training batch, device
  tensors: the running accuracy of the progress bar and of train_acc;
- `sums(output, target, loss)`: device tensors summed over evaluation batches and over processes
  (a confusion matrix, counts), and `metrics(sums)`: the numbers they give, {"loss", "acc", ...}.
  Epoch records hold them as val_<name> (and train_loss, train_acc, plus `train_extras`);
- `best`: the record key that picks the best epoch and whether higher is better;
- `report(sums, data)` and `format_report(result)`: what `archspec eval` returns and prints.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from archspec.errors import ArchspecError
from archspec.train.iou import IGNORE, class_iou, majority_iou, mean_iou, pixel_accuracy, pixel_confusion
from archspec.train.recipe import TASK_NAMES, OptionError


class Task:
    name = ""
    best = ("val_acc", True)  # (epoch-record key, higher is better); without validation: lowest train_loss
    accuracy = "accuracy"  # what train_acc / val_acc measure here, for curves and reports
    expects = ""  # the spec shape this task trains, for messages

    def fits(self, info) -> bool:
        raise NotImplementedError

    def target_shape(self, info) -> tuple:
        raise NotImplementedError

    def num_classes(self, info) -> int:
        """What a target indexes (the class dimension of the output)."""
        return info.output_shape[0]

    def make_loss(self, recipe):
        raise NotImplementedError

    def predict(self, out: torch.Tensor) -> torch.Tensor:
        """The predicted class of every target: argmax over the class dimension (dim 1)."""
        return out.argmax(dim=1)

    def hits(self, out: torch.Tensor, y: torch.Tensor):
        return (self.predict(out) == y).sum(), y.numel()

    def sums(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> dict:
        correct, scored = self.hits(out, y)
        return {"loss": loss.double() * len(y), "samples": len(y), "correct": correct, "scored": scored}

    def metrics(self, sums: dict) -> dict:
        n, scored = max(int(sums["samples"]), 1), max(int(sums["scored"]), 1)
        return {"loss": float(sums["loss"]) / n, "acc": float(sums["correct"]) / scored}

    def train_extras(self, train_loss: float) -> dict:
        """Numbers the epoch record adds for training beyond train_loss and train_acc."""
        return {}

    def score(self, record: dict) -> float:
        """The best-epoch score of an epoch record, higher is better."""
        key, higher = self.best
        if record.get(key) is None:
            return -record["train_loss"]
        return record[key] if higher else -record[key]

    def report(self, sums: dict, data) -> dict:
        m = self.metrics(sums)
        return {"samples": int(sums["samples"]), "loss": m["loss"], self.accuracy.replace(" ", "_"): m["acc"]}

    def format_report(self, result: dict) -> str:
        return "\n".join(f"{key:<20}{value:.4f}" if isinstance(value, float) else f"{key:<20}{value}"
                         for key, value in result.items() if not isinstance(value, (list, dict)))

    def check_model(self, info, where: str) -> None:
        if not self.fits(info):
            raise ArchspecError(f"{where}: {self.name} trains {self.expects}; spec {info.name!r} takes "
                                f"{describe_input(info)} and outputs {info.output_name} of shape "
                                f"{tuple(info.output_shape)}")


class Classification(Task):
    """One class per sample: a (num_classes,) output, an int64 (N,) target batch."""

    name = "image_classification"
    expects = "float input and a (num_classes,) output with at least 2 classes"

    def fits(self, info) -> bool:
        return info.input_range is None and _classifier(info)

    def target_shape(self, info) -> tuple:
        return ()

    def make_loss(self, recipe):
        from archspec.train.optim import build_loss

        return build_loss(recipe)

    def sums(self, out, y, loss) -> dict:
        k = out.shape[1]
        confusion = torch.bincount(y * k + self.predict(out), minlength=k * k).view(k, k)
        return {"loss": loss.double() * len(y), "samples": len(y), "confusion": confusion}

    def metrics(self, sums: dict) -> dict:
        cm = sums["confusion"]
        n = max(int(sums["samples"]), 1)
        return {"loss": float(sums["loss"]) / n, "acc": float(cm.diag().sum()) / n}

    def report(self, sums: dict, data) -> dict:
        from archspec.train.metrics import summarize_confusion

        return summarize_confusion(sums["confusion"].cpu(), self.metrics(sums)["loss"], data.classes)

    def format_report(self, result: dict) -> str:
        from archspec.train.metrics import format_table

        return format_table(result)


class SequenceClassification(Classification):
    """Classification of int64 token sequences (a text classifier)."""

    name = "sequence_classification"
    expects = "int64 token input and a (num_classes,) output with at least 2 classes"

    def fits(self, info) -> bool:
        return info.input_range is not None and _classifier(info)


class LanguageModel(Task):
    """Next-token prediction: a (T,) token input, a (T, vocab) output; the target batch is the
    input shifted by one, int64 (N, T). Cross-entropy over every position; perplexity is exp(loss)."""

    name = "language_model"
    best = ("val_loss", False)
    accuracy = "token accuracy"
    expects = "a (T,) int64 token input and a (T, vocab) output: logits at every position"

    def fits(self, info) -> bool:
        shape = tuple(info.output_shape)
        return (info.input_range is not None and len(info.input_shape) == 1 and len(shape) == 2
                and shape[0] == info.input_shape[0] and shape[1] >= 2)

    def target_shape(self, info) -> tuple:
        return tuple(info.input_shape)

    def num_classes(self, info) -> int:
        return info.output_shape[-1]

    def make_loss(self, recipe):
        if recipe.loss != "cross_entropy":
            raise OptionError(f"{recipe.where('loss')}: a language model trains with cross_entropy over its "
                              f"next-token logits, not {recipe.loss}")
        smoothing = recipe.label_smoothing

        def loss(out, y):
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), label_smoothing=smoothing)

        return loss

    def predict(self, out):
        return out.argmax(dim=-1)

    def metrics(self, sums: dict) -> dict:
        m = super().metrics(sums)
        return {**m, "ppl": perplexity(m["loss"])}

    def train_extras(self, train_loss: float) -> dict:
        return {"train_ppl": perplexity(train_loss)}

    def report(self, sums: dict, data) -> dict:
        m = self.metrics(sums)
        out = {"samples": int(sums["samples"]), "tokens": int(sums["scored"]), "loss": m["loss"],
               "perplexity": m["ppl"], "token_accuracy": m["acc"]}
        baseline = getattr(data, "unigram_loss", None)
        if baseline is not None:
            out.update(unigram_loss=baseline, unigram_perplexity=perplexity(baseline))
        return out


class Segmentation(Task):
    """A class for every pixel: a (C, H, W) float input, a (num_classes, H, W) output at the input's
    H and W, an int64 (N, H, W) target batch in which 255 marks pixels to ignore. Per-pixel
    cross-entropy; pixel accuracy and mean IoU (archspec/train/iou.py), the best epoch by mean IoU."""

    name = "segmentation"
    best = ("val_miou", True)
    accuracy = "pixel accuracy"
    expects = "a (C, H, W) float input and a (num_classes, H, W) output at the input's H and W"

    def fits(self, info) -> bool:
        shape, inp = tuple(info.output_shape), tuple(info.input_shape)
        return (info.input_range is None and len(inp) == 3 and len(shape) == 3 and shape[1:] == inp[1:]
                and shape[0] >= 2)

    def target_shape(self, info) -> tuple:
        return tuple(info.input_shape[1:])

    def make_loss(self, recipe):
        if recipe.loss != "cross_entropy":
            raise OptionError(f"{recipe.where('loss')}: segmentation trains with cross_entropy over each pixel's "
                              f"class scores, not {recipe.loss}")
        smoothing = recipe.label_smoothing

        def loss(out, y):  # the mean over scored pixels; 0 (not NaN) for a batch whose pixels are all ignored
            total = F.cross_entropy(out, y, ignore_index=IGNORE, reduction="sum", label_smoothing=smoothing)
            return total / (y != IGNORE).sum().clamp(min=1)

        return loss

    def hits(self, out, y):
        scored = y != IGNORE
        return ((self.predict(out) == y) & scored).sum(), scored.sum()

    def sums(self, out, y, loss) -> dict:
        scored = (y != IGNORE).sum()
        return {"loss": loss.double() * scored, "samples": len(y), "scored": scored,
                "confusion": pixel_confusion(y, self.predict(out), out.shape[1])}

    def metrics(self, sums: dict) -> dict:
        cm = sums["confusion"].cpu()
        return {"loss": float(sums["loss"]) / max(int(sums["scored"]), 1), "acc": pixel_accuracy(cm),
                "miou": mean_iou(cm)}

    def report(self, sums: dict, data) -> dict:
        cm, m = sums["confusion"].cpu(), self.metrics(sums)
        return {"samples": int(sums["samples"]), "pixels": int(sums["scored"]), "loss": m["loss"],
                "pixel_accuracy": m["acc"], "mean_iou": m["miou"], "majority_mean_iou": majority_iou(cm),
                "classes": data.classes or [str(i) for i in range(len(cm))], "class_iou": class_iou(cm),
                "class_pixels": cm.sum(dim=1).tolist()}

    def format_report(self, result: dict) -> str:
        from archspec.table import table

        rows = [(name, "-" if v is None else f"{v:.4f}", pixels)
                for name, v, pixels in zip(result["classes"], result["class_iou"], result["class_pixels"])]
        return "\n".join([super().format_report(result), "", "mean IoU is over the classes that have an IoU "
                          "(- : in neither the masks nor the predictions)",
                          *table(("class", "IoU", "pixels"), rows, right=(False, True, True))])


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats); inf rather than an overflow for a diverged loss."""
    return math.exp(loss) if loss < 700 else math.inf


def _classifier(info) -> bool:
    return len(info.output_shape) == 1 and info.output_shape[0] >= 2


def describe_input(info) -> str:
    kind = "int64 tokens" if info.input_range is not None else "float input"
    return f"{kind} of shape {tuple(info.input_shape)}"


TASKS: dict[str, Task] = {t.name: t for t in (Classification(), SequenceClassification(), LanguageModel(),
                                               Segmentation())}
assert tuple(TASKS) == TASK_NAMES[:len(TASKS)]


def choose(name: str, info, where: str = "--task") -> Task:
    """The task `name` names, checked against the spec; for 'auto' the one task the spec fits."""
    if name != "auto":
        task = TASKS[name]
        task.check_model(info, where)
        return task
    fitting = [t for t in TASKS.values() if t.fits(info)]
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        wanted = "; ".join(f"{t.name}: {t.expects}" for t in TASKS.values())
        raise ArchspecError(f"spec {info.name!r} takes {describe_input(info)} and outputs {info.output_name} of "
                            f"shape {tuple(info.output_shape)}; archspec train trains {wanted}")
    raise ArchspecError(f"spec {info.name!r} fits tasks {', '.join(t.name for t in fitting)}; choose one with "
                        "--task")
