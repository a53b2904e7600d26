"""Does the emitted module add overhead? Forward+backward time of archspec's resnet18, lenet,
vit_b_16 and a 6-layer gpt2 beside hand-written references with the same weights, in one run
(batch 64; the transformers at the batch and params in SIZES). `--only NAME` runs some."""
from __future__ import annotations

import argparse

import torch
from common import ROOT, interleaved_medians, print_table

import archspec
from archspec.compiler.emit import example_inputs
from tests.reference import d2l, torchvision_layout, transformers

CASES = [
    ("resnet18", ROOT / "specs" / "resnet18.yaml", torchvision_layout.resnet18, (3, 224, 224), 10),
    ("lenet", ROOT / "specs" / "d2l" / "lenet.yaml", d2l.lenet, (1, 28, 28), 60),
    ("vit_b_16", ROOT / "specs" / "vit_b_16.yaml", transformers.vit_b_16, (3, 224, 224), 3),
    ("gpt2 (6 layers, 128 tokens)", ROOT / "specs" / "gpt2.yaml",
     lambda: transformers.gpt2(transformers.GPTConfig(n_layer=6, block_size=128)), (128,), 3),
]
BATCH = 64
SIZES = {  # name -> (spec params, batch) where batch 64 at full size is too slow for a CPU
    "vit_b_16": ({}, 2),
    "gpt2 (6 layers, 128 tokens)": ({"n_layer": 6, "block_size": 128}, 2),
}


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
    parser.add_argument("--only", action="append", help="run only the named model (repeatable)")
    options = parser.parse_args()
    device = torch.device(options.device)
    torch.manual_seed(0)
    rows = []
    for name, path, reference_fn, _, repeat in CASES:
        if options.only and name.split()[0] not in options.only:
            continue
        params, batch = SIZES.get(name, ({}, BATCH))
        built, reference = archspec.build(str(path), **params).to(device), reference_fn().to(device)
        reference.load_state_dict(built.state_dict(), strict=True)
        (x,) = example_inputs(built.report, batch=batch, device=device)
        repeat *= 5 if device.type == "cuda" else 1
        t = interleaved_medians({"archspec": step(built, x), "hand-written": step(reference, x)}, repeat=repeat)
        rows.append([name, batch, f"{t['hand-written'] * 1000:.2f}", f"{t['archspec'] * 1000:.2f}", f"{t['archspec'] / t['hand-written']:.3f}"])
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"forward+backward, {where}")
    print_table(["model", "batch", "hand-written ms", "archspec ms", "ratio (target <= 1.03)"], rows)


if __name__ == "__main__":
    main()
