"""Training curves as PNG (matplotlib, Agg backend so it works without a display)."""
from __future__ import annotations

from pathlib import Path

from archspec.diagnostics import printable
from archspec.errors import ArchspecError


def plot_runs(runs: list[tuple[str, list[dict]]], path, accuracy: str = "accuracy") -> Path:
    """Loss (left) and accuracy (right: what the task's train_acc and val_acc measure, e.g. token
    accuracy) against epoch; one colour per run, dashed = validation.

    With a single run the notes' three curves (train loss, train acc, val acc) are all shown.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    known = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in known:
        raise ArchspecError(f"cannot tell the image format of {path} from its suffix {path.suffix or '(none)'}: "
                            "name it .png, .svg or .pdf")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, records) in enumerate(runs):
        label = printable(label)  # a spec's name: no control characters in the picture either
        color = colors[i % len(colors)]
        epochs = [r["epoch"] for r in records]
        prefix = f"{label}: " if len(runs) > 1 else ""
        ax_loss.plot(epochs, [r["train_loss"] for r in records], "-", color=color, label=f"{prefix}train loss")
        ax_acc.plot(epochs, [r["train_acc"] for r in records], "-", color=color, label=f"{prefix}train acc")
        if any(r.get("val_loss") is not None for r in records):
            ax_loss.plot(epochs, [r.get("val_loss") for r in records], "--", color=color, label=f"{prefix}val loss")
            ax_acc.plot(epochs, [r.get("val_acc") for r in records], "--", color=color, label=f"{prefix}val acc")
        if any(r.get("val_miou") is not None for r in records):  # segmentation's best-epoch measure
            ax_acc.plot(epochs, [r.get("val_miou") for r in records], ":", color=color, label=f"{prefix}val mIoU")
    for ax, name in ((ax_loss, "loss"), (ax_acc, accuracy)):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    ax_acc.set_ylim(0, 1.02)
    title = printable(runs[0][0]) if len(runs) == 1 else f"{len(runs)} runs"
    fig.suptitle(title)
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise ArchspecError(f"cannot write plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path
