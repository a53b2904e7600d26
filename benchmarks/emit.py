"""Does the emitted module add overhead? Forward+backward time of archspec's resnet18 and
lenet beside hand-written references with the same weights, batch 64, in one run."""
from __future__ import annotations

import torch
from common import ROOT, interleaved_medians, print_table

import archspec
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

    return run


def main() -> None:
    torch.manual_seed(0)
    rows = []
    for name, path, reference_fn, shape, repeat in CASES:
        built, reference = archspec.build(str(path)), reference_fn()
        reference.load_state_dict(built.state_dict(), strict=True)
        x = torch.randn(BATCH, *shape)
        t = interleaved_medians({"archspec": step(built, x), "hand-written": step(reference, x)}, repeat=repeat)
        rows.append([name, f"{t['hand-written'] * 1000:.1f}", f"{t['archspec'] * 1000:.1f}", f"{t['archspec'] / t['hand-written']:.3f}"])
    print(f"forward+backward, batch {BATCH}, CPU threads {torch.get_num_threads()}")
    print_table(["model", "hand-written ms", "archspec ms", "ratio (target <= 1.03)"], rows)


if __name__ == "__main__":
    main()
