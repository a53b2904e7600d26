"""How fast is `archspec check` beside building the model and running a summary forward pass?

Prints, in one run: check time for specs/resnet50.yaml (in-process and as a fresh CLI
process), the same resnet50 built as a module and summarised torchinfo-style (forward
hooks on every leaf, one 224x224 sample), check time for a generated 2,000-node spec, and
`archspec check specs/gpt2.yaml` in a fresh process beside building GPT-2 small and running
one forward of 1,024 tokens there.
"""
from __future__ import annotations

import subprocess
import sys

from common import ROOT, interleaved_medians, median_seconds, print_table

import archspec

RESNET50 = str(ROOT / "specs" / "resnet50.yaml")
GPT2 = str(ROOT / "specs" / "gpt2.yaml")


def generated_spec(nodes: int = 2000) -> str:
    """A chain of conv + relu pairs: `nodes` primitive nodes."""
    items = "\n".join("  - {conv2d: {out: 8, kernel: 3, padding: 1}}\n  - relu" for _ in range(nodes // 2))
    return f"archspec: 1\nname: chain{nodes}\ninput: [8, 16, 16]\nlayers:\n{items}\n"


def summary_by_forward() -> None:
    """What torchinfo does: build, hook every leaf module, run one sample forward."""
    import torch

    model = archspec.build(RESNET50)
    rows = []
    hooks = [m.register_forward_hook(lambda mod, i, o, rows=rows: rows.append((type(mod).__name__, tuple(o.shape),
                                                                               sum(p.numel() for p in mod.parameters()))))
             for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()


COLD_SUMMARY = (
    "import torch, archspec\n"
    "m = archspec.build(%r)\n"
    "with torch.no_grad(): m(torch.zeros(1, 3, 224, 224))\n" % RESNET50
)
COLD_GPT2 = (
    "import torch, archspec\n"
    "m = archspec.build(%r)\n"
    "with torch.no_grad(): m(torch.zeros(1, 1024, dtype=torch.long))\n" % GPT2
)


def cold_seconds(args) -> float:
    """A fresh interpreter each time, as a user's command pays it."""
    return median_seconds(lambda: subprocess.run([sys.executable, *args], check=True, capture_output=True), repeat=3)


def main() -> None:
    spec2000 = generated_spec()
    report = archspec.check(spec2000)
    assert report.ok and len(report.graph.ops()) == 2000
    t = interleaved_medians({
        "check": lambda: archspec.check(RESNET50),
        "build+forward": summary_by_forward,
    }, repeat=5, warmup=1)
    t2000 = median_seconds(lambda: archspec.check(spec2000), repeat=5)
    cli = cold_seconds(["-m", "archspec", "check", RESNET50])
    cold_build = cold_seconds(["-c", COLD_SUMMARY])
    gpt2_cli = cold_seconds(["-m", "archspec", "check", GPT2])
    gpt2_build = cold_seconds(["-c", COLD_GPT2])
    print_table(["what", "seconds", "ratio"], [
        ["check resnet50 (in process)", f"{t['check']:.3f}", "1.00"],
        ["build + summary forward resnet50 (in process)", f"{t['build+forward']:.3f}", f"{t['build+forward'] / t['check']:.1f}x slower"],
        ["archspec check resnet50 (fresh process)", f"{cli:.3f}", "1.00"],
        ["build + forward resnet50 (fresh process)", f"{cold_build:.3f}", f"{cold_build / cli:.1f}x slower"],
        ["check generated 2,000-node spec", f"{t2000:.3f}", "target < 1 s"],
        ["archspec check gpt2 (fresh process)", f"{gpt2_cli:.3f}", "1.00"],
        ["build + forward gpt2, 1,024 tokens (fresh process)", f"{gpt2_build:.3f}",
         f"{gpt2_build / gpt2_cli:.1f}x slower (target 10x)"],
    ])


if __name__ == "__main__":
    main()
