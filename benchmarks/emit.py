"""Does the emitted module add overhead? Forward+backward time of archspec's modules beside
hand-written references with the same weights, in training mode, run in turns.

For each model: the median time of each, and the ratio archspec / hand-written of each
round's pair (the two ran back to back), as the median and the range over rounds.

    python benchmarks/emit.py [--models convnext_tiny vit_b_16 gpt2_6_layers] [--repeat N] [--device cuda]
                              [--threads 1 --cpu-time]

On a CPU shared with other jobs, wall times swing with the load; `--threads 1 --cpu-time`
times each step by this process's CPU seconds on one thread: the work done, which the
load barely moves.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import ROOT, interleaved_times, print_table

import archspec
from archspec.compiler.emit import example_inputs
from tests.reference import d2l, modern_cnn, torchvision_layout, transformers

CASES = {  # name: (spec, spec params, hand-written reference, batch, rounds on the CPU)
    "resnet18": (ROOT / "specs" / "resnet18.yaml", {}, torchvision_layout.resnet18, 64, 10),
    "lenet": (ROOT / "specs" / "d2l" / "lenet.yaml", {}, d2l.lenet, 64, 60),
    "convnext_tiny": (ROOT / "specs" / "convnext_tiny.yaml", {}, modern_cnn.convnext_tiny, 32, 6),
    "efficientnet_b0": (ROOT / "specs" / "efficientnet_b0.yaml", {}, modern_cnn.efficientnet_b0, 32, 10),
    "vit_b_16": (ROOT / "specs" / "vit_b_16.yaml", {}, transformers.vit_b_16, 2, 3),
    "gpt2_6_layers": (ROOT / "specs" / "gpt2.yaml", {"n_layer": 6, "block_size": 128},  # 128 tokens
                      lambda: transformers.gpt2(transformers.GPTConfig(n_layer=6, block_size=128)), 2, 3),
}


def step(model, x):
    def run():
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--models", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--repeat", type=int, help="rounds per model (default: the model's own, 5x on cuda)")
    parser.add_argument("--threads", type=int, help="torch's intra-op threads (default: torch's own)")
    parser.add_argument("--cpu-time", action="store_true", help="time by this process's CPU seconds, not wall time")
    opts = parser.parse_args()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    clock = time.process_time if opts.cpu_time else time.perf_counter
    device = torch.device(opts.device)
    torch.manual_seed(0)
    rows = []
    for name in opts.models:
        path, params, reference_fn, batch, repeat = CASES[name]
        built, reference = archspec.build(str(path), **params).to(device), reference_fn().to(device)
        reference.load_state_dict(built.state_dict(), strict=True)
        (x,) = example_inputs(built.report, batch=batch, device=device)
        repeat = opts.repeat or repeat * (5 if device.type == "cuda" else 1)
        t = interleaved_times({"archspec": step(built, x), "hand-written": step(reference, x)}, repeat=repeat, warmup=1,
                              clock=clock)
        ratios = [a / h for a, h in zip(t["archspec"], t["hand-written"])]
        rows.append([name, str(batch), f"{statistics.median(t['hand-written']) * 1000:,.1f}",
                     f"{statistics.median(t['archspec']) * 1000:,.1f}", f"{statistics.median(ratios):.3f}",
                     f"{min(ratios):.3f}-{max(ratios):.3f}", str(repeat)])
        del built, reference, x
        print(f"{name}: ratio {rows[-1][4]} (range {rows[-1][5]})", flush=True)  # progress, on a slow machine
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"forward+backward, training mode, {where}, {'CPU' if opts.cpu_time else 'wall'} time")
    print_table(["model", "batch", "hand-written ms", "archspec ms", "ratio (target <= 1.03)", "ratio range", "rounds"], rows)


if __name__ == "__main__":
    main()
