"""Which training setting is fastest on a GPU? samples/s of `archspec train` for the
course notes' ResNet-18 at 96x96 with fp32, bf16 autocast, channels_last and
torch.compile, each a separate run of the CLI on the same synthetic data, in one table
with the ratio to plain fp32. Needs CUDA; run it on a GPU machine."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, print_table

SETTINGS = {
    "fp32": [],
    "bf16": ["--amp", "bf16"],
    "fp32 + channels_last": ["--channels-last"],
    "bf16 + channels_last": ["--amp", "bf16", "--channels-last"],
    "fp32 + compile": ["--compile"],
    "bf16 + channels_last + compile": ["--amp", "bf16", "--channels-last", "--compile"],
}


def samples_per_s(extra: list[str], args) -> float:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "archspec", "train", str(ROOT / "specs" / "d2l" / "resnet18.yaml"),
                   "--data", f"synthetic:{args.samples}", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
                   "--device", "cuda", "--seed", "0", "--out", str(Path(out) / "run"), *extra]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        rows = [json.loads(line) for line in (Path(out) / "run" / "metrics.jsonl").read_text().splitlines()]
        return rows[-1]["samples_per_s"]  # the last epoch: warm-up and compilation are over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=25_600)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    import torch

    speeds = {name: samples_per_s(extra, args) for name, extra in SETTINGS.items()}
    base = speeds["fp32"]
    print(f"d2l resnet18 at 96x96, batch {args.batch_size}, {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print_table(["setting", "samples/s", "vs fp32"], [[k, f"{v:,.0f}", f"{v / base:.2f}x"] for k, v in speeds.items()])
    best = max(speeds, key=speeds.get)
    print(f"fastest: {best}")


if __name__ == "__main__":
    main()
