"""The tutorial's claims, tested: its hand-written GoogLeNet (the independent reference)
has the spec's parameters and loads into the built module; the spec it shows is the
bundled file; the mistake it describes is the one in docs/examples/inception_typo.yaml."""
from __future__ import annotations

import re
from pathlib import Path

import archspec

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
SPEC = ROOT / "specs" / "d2l" / "googlenet.yaml"
GPT2 = ROOT / "specs" / "gpt2.yaml"


def fenced(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", PAGE, re.M | re.S)


def test_the_whole_spec_is_the_bundled_file():
    assert SPEC.read_text(encoding="utf-8") in fenced("yaml")
    assert GPT2.read_text(encoding="utf-8") in fenced("yaml")


def test_hand_written_code_runs_and_matches_the_spec(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "tutorial"}
    for code in fenced("python"):  # the hand-written net, then the build-and-compare block
        exec(compile(code, "docs/tutorial.md", "exec"), namespace)
    net, model = namespace["net"], namespace["model"]
    assert sum(p.numel() for p in net.parameters()) == archspec.check(str(SPEC)).params == 5_977_530
    assert list(net.state_dict()) == list(model.state_dict())
    gpt, built = namespace["gpt"], namespace["built"]  # the second walk-through: nanoGPT's GPT
    assert list(gpt.state_dict()) == list(built.state_dict())
    assert archspec.check(str(GPT2)).params == 124_439_808


def test_the_mistake_is_one_missing_padding():
    typo = (ROOT / "docs" / "examples" / "inception_typo.yaml").read_text(encoding="utf-8")
    assert "{id: p2_2, conv2d: {out: \"${c2[1]}\", kernel: 3}}" in typo
    fixed = typo.replace("kernel: 3}}", "kernel: 3, padding: 1}}")
    assert archspec.check(fixed).ok and not archspec.check(typo).ok


def test_the_first_steps_check():
    header = fenced("yaml")[0]
    report = archspec.check(header)
    assert report.ok and [report.graph.nodes[n]["types"][0].shape for n in report.graph.ops()][-2:] == [(36_864,), (10,)]
