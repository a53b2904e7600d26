"""Training throughput: `archspec train` beside the course notes' hand-written loop, same model and data.

The hand-written loop is the notes' train_ch6: a DataLoader over a TensorDataset, SGD,
cross-entropy, per-batch loss/accuracy bookkeeping and a test-accuracy pass each epoch.
Both loops train the same spec (same init seed), batch size, learning rate and data; the
table shows training samples/s, the evaluation pass excluded as the notes do, but the time
spent fetching batches included (the notes' timer leaves it out; a user waits for it).

    python benchmarks/train.py [--specs lenet mnist_residual] [--epochs 3] [--write]
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist-t10k"


def load_images():
    """The real MNIST test split (10,000 images) when present, else sklearn's digits at 28x28."""
    if (MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        from archspec.train.formats import read_idx

        x = read_idx(MNIST / "t10k-images-idx3-ubyte.gz")[:, None].copy()
        y = read_idx(MNIST / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
        return "MNIST t10k", x, y
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.nn.functional.interpolate(torch.tensor(d.images[:, None] / 16.0, dtype=torch.float32), size=(28, 28),
                                        mode="bilinear")
    return "digits (28x28)", (x * 255).round().to(torch.uint8).numpy(), d.target.astype(np.int64)


def hand_written(spec, recipe, x_train, y_train, x_val, y_val, epochs):
    """The notes' loop; returns training samples/s per epoch."""
    import archspec

    torch.manual_seed(0)
    net = archspec.build(spec)
    if recipe.get("init") == "xavier_uniform":  # the notes' train_ch6 initialization
        net.apply(lambda m: nn.init.xavier_uniform_(m.weight) if type(m) in (nn.Linear, nn.Conv2d) else None)
    mean, std = _normalization(recipe)
    to_float = lambda a: (torch.from_numpy(a).float() / 255 - mean) / std  # noqa: E731 (prepared once, up front)
    train_iter = DataLoader(TensorDataset(to_float(x_train), torch.from_numpy(y_train)), recipe["batch_size"],
                            shuffle=True)
    test_iter = DataLoader(TensorDataset(to_float(x_val), torch.from_numpy(y_val)), recipe["batch_size"])
    opt = torch.optim.SGD(net.parameters(), lr=recipe["lr"], momentum=recipe.get("momentum", 0.0))
    loss = nn.CrossEntropyLoss()
    rates = []
    for _ in range(epochs):
        net.train()
        metric, seconds = [0.0, 0.0, 0], 0.0
        for X, y in _timed(train_iter):
            start = time.perf_counter()
            opt.zero_grad()
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            opt.step()
            with torch.no_grad():
                metric[0] += float(l) * X.shape[0]
                metric[1] += float((y_hat.argmax(axis=1) == y).sum())
                metric[2] += X.shape[0]
            seconds += time.perf_counter() - start + _timed.last
        rates.append(metric[2] / seconds)
        net.eval()
        with torch.no_grad():
            correct = sum(float((net(X).argmax(axis=1) == y).sum()) for X, y in test_iter)
        _ = correct / len(y_val)
    return rates


def _timed(iterable):
    """Yield items, recording in _timed.last how long fetching each one took (the DataLoader's cost)."""
    it = iter(iterable)
    while True:
        start = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            return
        _timed.last = time.perf_counter() - start
        yield item


_timed.last = 0.0


def _normalization(recipe):
    norm = (recipe.get("transforms") or {}).get("normalize")
    if isinstance(norm, dict):
        return norm["mean"][0], norm["std"][0]
    return 0.0, 1.0


def archspec_loop(spec, npz, epochs, extra):
    """`archspec train` on the same arrays (npz:), returning training samples/s per epoch."""
    from archspec.train.metrics import read_log
    from archspec.train.run import train

    with tempfile.TemporaryDirectory() as out:
        train(spec, {"data": f"npz:{npz}", "epochs": epochs, "seed": 0, **extra}, out=str(Path(out) / "run"),
              stream=io.StringIO())
        return [r["samples_per_s"] for r in read_log(Path(out) / "run")]


# archspec's flag sets measured against the hand-written loop (label -> options). The defaults use
# the NHWC layout for conv nets on the CPU; --no-channels-last runs the very step the notes' loop runs.
VARIANTS = {"(defaults)": {}, "--no-channels-last": {"channels_last": False}, "--amp bf16": {"amp": "bf16"},
            "--compile": {"compile": True}, "--compile --amp bf16": {"compile": True, "amp": "bf16"}}


GPU_VARIANTS = {"fp32": {"channels_last": False}, "bf16": {"amp": "bf16", "channels_last": False},
                "fp32 channels_last": {"channels_last": True},
                "bf16 channels_last": {"amp": "bf16", "channels_last": True},
                "bf16 channels_last compile": {"amp": "bf16", "channels_last": True, "compile": True}}


def gpu_table(epochs: int, samples: int, batches=(256, 512)) -> str:
    """resnet18 (the notes' version, at its recipe's 96x96) on synthetic data already on the GPU."""
    spec = str(ROOT / "specs" / "d2l" / "resnet18.yaml")
    rows, results = [], {}
    for label, extra in GPU_VARIANTS.items():
        for batch in batches:
            rates = archspec_loop(spec, None, epochs, {"data": f"synthetic:{samples}", "batch_size": batch,
                                                      "device": "cuda", **extra})
            results[label, batch] = statistics.median(rates[1:] or rates)
        rows.append(f"| {label} | " + " | ".join(f"{results[label, b]:,.0f}" for b in batches) + " |")
        print(rows[-1], flush=True)
    return _gpu_text(results, batches, samples, epochs, rows, torch.cuda.get_device_name())


def _gpu_text(results: dict, batches, samples: int, epochs: int, rows: list, name: str) -> str:
    (label, batch), best = max(results.items(), key=lambda kv: kv[1])
    winner = (f"Fastest: {label} at batch {batch}, {best:,.0f} samples/s, {best / results['fp32', batch]:.2f}x fp32 "
              f"at that batch.")
    return "\n".join([f"GPU: {name}, torch {torch.__version__}; specs/d2l/resnet18.yaml at 96x96 (its recipe's "
                      f"size), synthetic data ({samples:,} images) on the device; training samples/s, median of "
                      f"epochs 2-{epochs}.", "",
                      "| precision and layout | " + " | ".join(f"batch {b}" for b in batches) + " |",
                      "|---|" + "---:|" * len(batches), *rows, "", winner])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", nargs="+", default=["lenet", "mnist_residual"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2, help="alternate the loops this many times; best kept")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--write", action="store_true", help="update the Training section of docs/benchmarks.md")
    parser.add_argument("--gpu", action="store_true", help="measure resnet18 at 96x96 on CUDA instead")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu:
        table = gpu_table(max(args.epochs, 3), samples=10240)
        print(table)
        if args.write:
            _write_section(table, "### GPU")
        return

    import archspec

    source, x, y = load_images()
    n_val = len(x) // 5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "data.npz"
        np.savez(npz, x=x[n_val:], y=y[n_val:], x_test=x[:n_val], y_test=y[:n_val])
        for name in args.specs:
            spec = str(ROOT / "specs" / "d2l" / f"{name}.yaml")
            recipe = _flat_recipe(archspec.load(spec).train)
            best = {"hand": 0.0, **{label: 0.0 for label in VARIANTS}}
            for _ in range(args.repeats):  # alternate, so a busy machine slows all alike; keep the best
                rates = hand_written(spec, recipe, x[n_val:], y[n_val:], x[:n_val], y[:n_val], args.epochs)
                best["hand"] = max(best["hand"], statistics.median(rates[1:] or rates))
                for label, extra in VARIANTS.items():
                    rates = archspec_loop(spec, npz, args.epochs, extra)
                    best[label] = max(best[label], statistics.median(rates[1:] or rates))
            rows.append((name, recipe["batch_size"], best))
    table = _table(rows, source, len(x) - n_val, args.epochs)
    print(table)
    if args.write:
        _write_section(table + "\n\n" + CPU_NOTES, "### CPU")


def _flat_recipe(train: dict) -> dict:
    from archspec.train.resolve import normalize

    return normalize(train)[0]


def _table(rows, source, n, epochs) -> str:
    labels = list(VARIANTS)
    lines = [f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; data: {source}, {n:,} training "
             f"images; training samples/s, median of epochs 2-{epochs}, best of alternating repeats.", "",
             "| spec | batch | hand-written loop | " + " | ".join(f"archspec train {label}" for label in labels) + " |",
             "|---|---:|---:|" + "---:|" * len(labels)]
    for name, batch, best in rows:
        cells = [f"{best[label]:,.0f} ({best[label] / best['hand']:.2f}x)" for label in labels]
        lines.append(f"| {name} | {batch} | {best['hand']:,.0f} | " + " | ".join(cells) + " |")
    lines.append("")
    for name, _, best in rows:
        top = max(labels, key=lambda label: best[label])
        lines.append(f"Fastest for {name}: `archspec train {top}`, {best[top] / best['hand']:.2f}x the hand-written "
                     f"loop.")
    return "\n".join(lines)


CPU_NOTES = """\
How to read it: `--no-channels-last` runs the very forward/backward/SGD step of the notes' loop, so
its ratio is only what the loop saves (the DataLoader's per-sample indexing and collation; the
batches here are tensor slices). The defaults add the NHWC layout, where oneDNN's convolution and
pooling kernels are faster than in NCHW (PyTorch's NCHW max and average pooling on the CPU are
slow for 2x2 windows). `--amp bf16` needs a CPU with bf16 instructions (this one has AVX512-BF16)
and changes the arithmetic: it is not a default. `--compile` (inductor, one static graph per batch
shape) fuses LeNet's sigmoid and pooling layers but pays a one-off compile in epoch 1 (27 s
cold, 2.4 s from inductor's cache for lenet here), and inductor's generated max-pooling kernels
are slower than oneDNN's, so it loses on mnist_residual. No single flag set is fastest for both
nets; the fastest one for each is named under the table."""


INTRO = ("Generated by `python benchmarks/train.py --write` (CPU) and `--gpu --write` (GPU). On the CPU: training "
         "throughput of `archspec train` beside the course notes' hand-written loop (DataLoader over a TensorDataset, "
         "SGD, cross-entropy), same spec, init, batch size, learning rate and data.")


def _write_section(table: str, heading: str = "### CPU") -> None:
    """Update one subsection of '## Training' in docs/benchmarks.md; other sections belong to others."""
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == "## Training"), None)
    if start is None:
        before, body, after = text.rstrip("\n") + "\n\n", "", ""
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before, body, after = "".join(lines[:start]), "".join(lines[start + 1:end]), "".join(lines[end:])
    parts, current = {}, None
    for line in body.splitlines():
        if line.startswith("### "):
            current = line.strip()
            parts[current] = []
        elif current:
            parts[current].append(line)
    parts[heading] = ["", table, ""]
    section = "## Training\n\n" + INTRO + "\n\n" + "\n".join(
        h + "\n\n" + "\n".join(parts[h]).strip("\n") + "\n" for h in sorted(parts)) + ("\n" if after else "")
    path.write_text(before + section + after)


if __name__ == "__main__":
    sys.exit(main())
