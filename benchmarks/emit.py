"""Does the emitted module add overhead? Forward+backward time of archspec's resnet18 and
lenet beside hand-written references with the same weights, batch 64, in one run."""
from __future__ import annotations

import argparse

import torch
from common import ROOT, interleaved_medians, print_table

import archspec
from archspec.compiler.emit import example_inputs
from tests.reference import d2l, torchvision_layout

CASES = [
    ("resnet18", ROOT / "specs" / "resnet18.yaml", torchvision_layout.resnet18, (3, 224, 224), 10),
    ("lenet", ROOT / "specs" / "d2l" / "lenet.yaml", d2l.lenet, (1, 28, 28), 60),
]
BATCH = 64


def step(model, x):
    def run():
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    device = torch.device(parser.parse_args().device)
    torch.manual_seed(0)
    rows = []
    for name, path, reference_fn, _, repeat in CASES:
        built, reference = archspec.build(str(path)).to(device), reference_fn().to(device)
        reference.load_state_dict(built.state_dict(), strict=True)
        (x,) = example_inputs(built.report, batch=BATCH, device=device)
        repeat *= 5 if device.type == "cuda" else 1
        t = interleaved_medians({"archspec": step(built, x), "hand-written": step(reference, x)}, repeat=repeat)
        rows.append([name, f"{t['hand-written'] * 1000:.2f}", f"{t['archspec'] * 1000:.2f}", f"{t['archspec'] / t['hand-written']:.3f}"])
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"forward+backward, batch {BATCH}, {where}")
    print_table(["model", "hand-written ms", "archspec ms", "ratio (target <= 1.03)"], rows)


if __name__ == "__main__":
    main()
