"""How fast is `archspec check` beside building the model and running a summary forward pass?

Prints, in one run, for specs/resnet50.yaml, specs/convnext_tiny.yaml and specs/gpt2.yaml:
check time (in process and as a fresh CLI process) beside the same spec built as a module and
summarised torchinfo-style (forward hooks on every leaf, one sample of the spec's declared
inputs: 224x224, or GPT-2's 1,024 tokens), in process and in a fresh interpreter; and check
time for a generated 2,000-node spec.

    python benchmarks/check.py [--specs resnet50 convnext_tiny gpt2] [--repeat 3]

The checkout's modules are compiled to bytecode first, as `pip install` compiles an installed
package: otherwise a machine with PYTHONDONTWRITEBYTECODE set (this one) recompiles archspec's
source in every fresh process, about 0.08 CPU seconds a user never pays.
"""
from __future__ import annotations

import argparse
import compileall
import subprocess
import sys

from common import ROOT, interleaved_medians, median_seconds, print_table

import archspec

SPECS = ("resnet50", "convnext_tiny", "gpt2")


def generated_spec(nodes: int = 2000) -> str:
    """A chain of conv + relu pairs: `nodes` primitive nodes."""
    items = "\n".join("  - {conv2d: {out: 8, kernel: 3, padding: 1}}\n  - relu" for _ in range(nodes // 2))
    return f"archspec: 1\nname: chain{nodes}\ninput: [8, 16, 16]\nlayers:\n{items}\n"


def summary_by_forward(path: str) -> None:
    """What torchinfo does: build, hook every leaf, run one sample forward."""
    import torch

    from archspec.compiler.emit import example_inputs

    model = archspec.build(path)
    rows = []
    hooks = [m.register_forward_hook(lambda mod, i, o, rows=rows: rows.append((type(mod).__name__, tuple(o.shape),
                                                                               sum(p.numel() for p in mod.parameters()))))
             for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(*example_inputs(model.report, batch=1))
    for h in hooks:
        h.remove()


def cold_summary(path: str) -> str:
    """The same, as a fresh interpreter runs it: import torch, build, one forward."""
    return ("import torch, archspec\n"
            "from archspec.compiler.emit import example_inputs\n"
            f"m = archspec.build({path!r})\n"
            "with torch.no_grad(): m(*example_inputs(m.report, batch=1))\n")


def cold_seconds(args, repeat: int) -> float:
    """A fresh interpreter each time, as a user's command pays it."""
    return median_seconds(lambda: subprocess.run([sys.executable, *args], check=True, capture_output=True),
                          repeat=repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", nargs="+", default=list(SPECS), help="spec names in specs/")
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (median)")
    opts = parser.parse_args()
    for package in ("archspec", "cli"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    rows = []
    for name in opts.specs:
        path = str(ROOT / "specs" / f"{name}.yaml")
        t = interleaved_medians({"check": lambda: archspec.check(path), "build+forward": lambda: summary_by_forward(path)},
                                repeat=5, warmup=1)
        cli = cold_seconds(["-m", "archspec", "check", path], opts.repeat)
        cold_build = cold_seconds(["-c", cold_summary(path)], opts.repeat)
        rows += [
            [f"check {name} (in process)", f"{t['check']:.3f}", "1.00"],
            [f"build + summary forward {name} (in process)", f"{t['build+forward']:.3f}",
             f"{t['build+forward'] / t['check']:.1f}x slower"],
            [f"archspec check {name} (fresh process)", f"{cli:.3f}", "1.00"],
            [f"build + forward {name} (fresh process)", f"{cold_build:.3f}", f"{cold_build / cli:.1f}x slower (target 10x)"],
        ]
    spec2000 = generated_spec()
    report = archspec.check(spec2000)
    assert report.ok and len(report.graph.ops()) == 2000
    t2000 = median_seconds(lambda: archspec.check(spec2000), repeat=5)
    rows.append(["check generated 2,000-node spec", f"{t2000:.3f}", "target < 1 s"])
    print_table(["what", "seconds", "ratio"], rows)


if __name__ == "__main__":
    main()
