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
import json
import os
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
# the project's shared data folder, beside the checkout (or beside the folder of worktrees)
MNIST = next((d for d in (ROOT.parent / "shared" / "data" / "mnist-t10k", ROOT.parents[1] / "shared" / "data" /
                          "mnist-t10k") if d.is_dir()), ROOT.parent / "shared" / "data" / "mnist-t10k")


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


def at_size(x: np.ndarray, shape: tuple) -> np.ndarray:
    """uint8 images resized once, up front, to the spec's input (both loops then read the same pixels)."""
    from archspec.train.transforms import resize

    if tuple(x.shape[1:]) == tuple(shape):
        return x
    out = resize(torch.from_numpy(x).float(), shape[1:]).clamp_(0, 255).round_().to(torch.uint8)
    return out.expand(-1, shape[0], -1, -1).contiguous().numpy()


def hand_written(spec, recipe, x_train, y_train, x_val, y_val, epochs):
    """The notes' loop; returns training samples/s per epoch."""
    import archspec

    torch.manual_seed(0)
    net = archspec.build(spec, **recipe.get("params", {}))
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


# archspec's flag sets measured against the hand-written loop (label -> options). The defaults time
# both layouts and keep the faster (archspec.train.autotune); the others force one choice.
VARIANTS = {"(defaults)": {}, "--no-channels-last": {"channels_last": False},
            "--channels-last": {"channels_last": True}, "--amp bf16": {"amp": "bf16"}}
COMPILED = {"--compile --amp bf16": {"compile": True, "amp": "bf16"}}  # with --compile: a one-off cost per run
# Training images per network: enough for a few seconds an epoch on 2 cores, at the spec's recipe
# input size (224x224 for alexnet, nin and vgg11; 96x96 for googlenet, resnet18 and densenet).
IMAGES = {"lenet": 8000, "lenet_bn": 8000, "mnist_residual": 4000, "mnist_inception": 2000, "alexnet": 384,
          "nin": 384, "vgg11": 384, "googlenet": 768, "resnet18": 768, "densenet": 512}


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
    parser.add_argument("--specs", nargs="+", default=list(IMAGES), help="specs/d2l names (default: all ten)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="alternate the loops this many times; medians kept")
    parser.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads(), 1],
                        help="torch thread counts, one table each (default: torch's choice here, then 1)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the images per network")
    parser.add_argument("--compile", action="store_true", help="also try --compile --amp bf16 for the best flags")
    parser.add_argument("--only", nargs="+", metavar="FLAGS", help="run only these flag sets, without their leading dashes: "
                                                                  "no-channels-last 'amp bf16'")
    parser.add_argument("--write", action="store_true", help="update the Training section of docs/benchmarks.md")
    parser.add_argument("--results", type=Path, help="append each network's raw rates to this JSON-lines file as "
                                                     "it finishes; with --tables-only, make the tables from it")
    parser.add_argument("--tables-only", action="store_true", help="print (and --write) the tables of --results")
    parser.add_argument("--gpu", action="store_true", help="measure resnet18 at 96x96 on CUDA instead")
    args = parser.parse_args(argv)
    if args.gpu:
        table = gpu_table(max(args.epochs, 3), samples=10240)
        print(table)
        if args.write:
            _write_section(table, "### GPU")
        return
    variants = {**VARIANTS, **(COMPILED if args.compile else {})}
    variants = {k: v for k, v in variants.items()
                if not args.only or k.lstrip("-") in args.only or k == "(defaults)"}
    source, x, y = load_images()
    if args.tables_only:
        rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
        tables = [_table([r for r in rows if r["threads"] == t], source, args, t)
                  for t in dict.fromkeys(r["threads"] for r in rows)]
    else:
        tables = []
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["XDG_CACHE_HOME"] = tmp  # the defaults measure afresh in the first repeat, then remember
            for threads in args.threads:
                torch.set_num_threads(threads)
                rows = []
                for name in args.specs:
                    rows.append(measure_spec(name, x, y, Path(tmp), args, variants))
                    if args.results:
                        with args.results.open("a") as f:
                            f.write(json.dumps(rows[-1]) + "\n")
                tables.append(_table(rows, source, args, threads))
    print("\n\n".join(tables), flush=True)
    if args.write:
        _write_section("\n\n".join(tables) + "\n\n" + CPU_NOTES, "### CPU")


def measure_spec(name: str, x, y, tmp: Path, args, variants: dict) -> dict:
    """Samples/s of the hand-written loop and of each flag set, alternating, `repeats` times."""
    import archspec

    spec = str(ROOT / "specs" / "d2l" / f"{name}.yaml")
    recipe = _flat_recipe(archspec.load(spec).train)
    shape = tuple(archspec.build(spec, **recipe.get("params", {})).report.input_shapes.values())[0]
    n = min(max(int(IMAGES.get(name, 1000) * args.scale), recipe["batch_size"]), len(x) - 1000)
    n_val = max(n // 8, 64)
    x_train, x_val = at_size(x[:n], shape), at_size(x[n:n + n_val], shape)
    y_train, y_val = y[:n], y[n:n + n_val]
    npz = tmp / f"{name}.npz"
    np.savez(npz, x=x_train, y=y_train, x_test=x_val, y_test=y_val)
    runs = {label: [] for label in ["hand", *variants]}
    known = set(_choices())
    if "(defaults)" in variants:
        choose_as_the_recipes_run(spec, npz)
    for _ in range(args.repeats):  # alternate, so a busy machine slows all alike
        rates = hand_written(spec, recipe, x_train, y_train, x_val, y_val, args.epochs)
        runs["hand"].append(statistics.median(rates[1:] or rates))
        for label, extra in variants.items():
            rates = archspec_loop(spec, npz, args.epochs, extra)
            runs[label].append(statistics.median(rates[1:] or rates))
    print(f"  {name} ({torch.get_num_threads()} threads): " + ", ".join(
        f"{label} {statistics.median(r):,.0f}" for label, r in runs.items()), flush=True)
    return {"name": name, "threads": torch.get_num_threads(), "batch": recipe["batch_size"], "images": n, "runs": runs,
            "layout": next((_describe(entry) for key, entry in _choices().items() if key not in known), "-")}


def choose_as_the_recipes_run(spec: str, npz: Path) -> None:
    """Decide `channels_last: auto` as the recipe's own run would, and remember it: the notes train
    10 epochs over 60,000 images, long enough to pay a measurement back, while these shortened runs
    are not and would train NCHW unmeasured. The defaults' runs then reuse the choice, as a rerun
    of the recipe does; what measuring cost is in the table."""
    from archspec.train.autotune import choose_layout
    from archspec.train.model import build_model, load_spec
    from archspec.train.run import resolve_options

    loaded = load_spec(spec)
    recipe = resolve_options(loaded, {"data": f"npz:{npz}", "seed": 0}, None)
    info = build_model(loaded, dict(recipe.params))
    choose_layout(info, recipe, torch.device("cpu"), run_steps=recipe.epochs * -(-60_000 // recipe.batch_size))


def _choices() -> dict:
    from archspec.train import autotune

    return autotune._read_cache()


def _describe(entry: dict) -> str:
    """What the defaults chose (the entry their first run added to the choice cache) and what measuring cost."""
    from archspec.train.autotune import LAYOUTS

    return f"{LAYOUTS[entry['channels_last']]} ({entry['cost_s']:.1f}s)"


def _flat_recipe(train: dict) -> dict:
    from archspec.train.resolve import normalize

    return normalize(train)[0]


def _ratios(row: dict, label: str) -> list[float]:
    """Per repeat: the flag set's samples/s over the hand-written loop's in the same repeat."""
    return [v / h for v, h in zip(row["runs"][label], row["runs"]["hand"])]


def _cell(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def _table(rows: list, source: str, args, threads: int) -> str:
    repeats = sorted({len(row["runs"]["hand"]) for row in rows})
    lines = [f"CPU, {threads} thread{'s' * (threads != 1)}, torch {torch.__version__}; data: {source} at each "
             f"recipe's input size; training samples/s, median of epochs 2-{args.epochs}; ratios to the "
             f"hand-written loop: median of {' or '.join(map(str, repeats))} alternating repeat(s) (lowest-highest).",
             "",
             "| spec | batch | images | hand-written loop | defaults | layout chosen (cost) | best flag set | "
             "best flags |", "|---|---:|---:|---:|---:|---|---|---:|"]
    defaults = []
    for row in rows:
        flags = [label for label in row["runs"] if label not in ("hand", "(defaults)")]
        best = max(flags, key=lambda label: statistics.median(_ratios(row, label)))
        defaults.append(statistics.median(_ratios(row, "(defaults)")))
        lines.append(f"| {row['name']} | {row['batch']} | {row['images']:,} | "
                     f"{statistics.median(row['runs']['hand']):,.0f} | {_cell(_ratios(row, '(defaults)'))} | "
                     f"{row['layout']} | `{best}` | {_cell(_ratios(row, best))} |")
    lines += ["", f"Defaults against the hand-written loop: median network {statistics.median(defaults):.2f}x, "
                  f"lowest {min(defaults):.2f}x ({rows[defaults.index(min(defaults))]['name']})."]
    return "\n".join(lines)


CPU_NOTES = """\
How to read it: the hand-written loop is the notes' train_ch6 (a DataLoader over a TensorDataset of
floats prepared up front). `--no-channels-last` runs its very forward/backward/SGD step, so its
ratio is what archspec's loop saves (the DataLoader's per-sample indexing and collation).
`--channels-last` is the NHWC layout, where oneDNN's convolution and pooling kernels are faster or
slower than NCHW depending on the net. The defaults time both layouts before training (a few steps,
decided as for the recipe's own 10 epochs of 60,000 images, a run long enough to pay the
measurement back; what measuring cost is in the table; the runs here reuse the remembered choice,
as a rerun does) and keep the faster, so on a quiet machine they should match the better of the
two forced layouts.
`--amp bf16` needs a CPU with bf16 instructions and changes the arithmetic: it is never a default.
The best flag set is the fastest forced one per net. Every run's images are those of MNIST's test
split resized once to the recipe's input size, so the big nets see only a few batches an epoch."""


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
