"""archspec diff: nodes matched by module path; what changed in op, args, inputs, shape, params."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import archspec
from archspec.cli.main import main
from archspec.diff import diff

ROOT = Path(__file__).resolve().parents[2]

A = """archspec: 1
name: small
input: [3, 8, 8]
layers:
  - {id: conv, conv2d: {out: 8, kernel: 3, padding: 1}}
  - {id: act, relu}
  - {id: pool, adaptive_avgpool2d: 1}
  - {id: flat, flatten}
  - {id: fc, linear: 10}
"""
# conv gets wider, act becomes gelu, a dropout is added before fc; pool is removed (flatten reads act)
B = """archspec: 1
name: wider
input: [3, 8, 8]
layers:
  - {id: conv, conv2d: {out: 16, kernel: 3, padding: 1}}
  - {id: act, gelu}
  - {id: flat, flatten}
  - {id: drop, dropout: 0.1}
  - {id: fc, linear: 10}
"""


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_changes_by_module_path():
    result = diff(archspec.check(A), archspec.check(B))
    got = [(c.kind, c.name, c.fields) for c in result.changes]
    assert got == [
        ("~", "conv", {"args": ({"out": 8}, {"out": 16}), "shape": ([8, 8, 8], [16, 8, 8]), "params": (224, 448)}),
        ("~", "act", {"op": ("relu", "gelu"), "args": ({"inplace": False}, {"approximate": "none"}),
                      "shape": ([8, 8, 8], [16, 8, 8])}),
        ("-", "pool", {}),
        ("~", "flat", {"inputs": (["pool"], ["act"]), "shape": ([8], [1024])}),
        ("+", "drop", {}),
        ("~", "fc", {"inputs": (["flat"], ["drop"]), "params": (90, 10250)}),
    ]
    assert result.totals()["params"] == (224 + 90, 448 + 10250)
    assert (result.count("+"), result.count("-"), result.count("~")) == (1, 1, 4)


def test_text_output(tmp_path):
    (tmp_path / "a.yaml").write_text(A)
    (tmp_path / "b.yaml").write_text(B)
    result = run("diff", tmp_path / "a.yaml", tmp_path / "b.yaml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"A: {tmp_path / 'a.yaml'} (small)", f"B: {tmp_path / 'b.yaml'} (wider)"]
    rows = {line.split()[1]: line for line in lines if line[:2] in ("+ ", "- ", "~ ")}
    assert rows["conv"].split(None, 3)[3] == "args out 8 -> 16; shape [8, 8, 8] -> [16, 8, 8]; params 224 -> 448"
    assert rows["act"].split(None, 2)[2] == ("relu -> gelu        args {inplace: false} -> {approximate: none}; "
                                             "shape [8, 8, 8] -> [16, 8, 8]")
    assert rows["pool"].split(None, 3)[3] == "shape [8, 1, 1], 0 params"
    assert rows["drop"].split(None, 3)[3] == "shape [1024], 0 params"
    assert lines[-4:] == ["nodes:       5 -> 5 (1 added, 1 removed, 4 changed)",
                          "parameters:  314 -> 10,698 (+10,384)",
                          "MACs:        13,904 -> 37,888 (+23,984)",
                          "output:      [10] -> [10]"]


def test_identical_specs_and_param_overrides():
    same = run("diff", "d2l/vgg11", ROOT / "specs" / "d2l" / "vgg11.yaml")
    assert same.exit_code == 0 and "no differences in nodes, shapes or parameters" in same.stdout
    small = run("diff", "d2l/vgg11", "d2l/vgg11", "--set-b", "ratio=4", "--format", "json")
    assert small.exit_code == 0
    out = json.loads(small.stdout)
    assert out["params"] == {"a": archspec.check(str(ROOT / "specs/d2l/vgg11.yaml")).params,
                             "b": archspec.check(str(ROOT / "specs/d2l/vgg11.yaml"), ratio=4).params}
    assert (out["added"], out["removed"]) == (0, 0)
    first = out["nodes_changed"][0]
    assert first["name"] == "0.0" and first["changed"]["args"] == {"a": {"out": 64}, "b": {"out": 16}}


def test_resnet18_against_resnet50_json():
    result = run("diff", "resnet18", "resnet50", "--format", "json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    r18, r50 = (set(archspec.check(str(ROOT / "specs" / f"{s}.yaml")).graph.ops()) for s in ("resnet18", "resnet50"))
    kinds = {k: {c["name"] for c in out["nodes_changed"] if c["kind"] == k} for k in ("added", "removed", "changed")}
    assert kinds["added"] == r50 - r18 and kinds["removed"] == r18 - r50 and "layer1.0.conv3" in kinds["added"]
    assert kinds["changed"] <= r18 & r50 and "fc" in kinds["changed"]
    assert out["params"] == {"a": 11_689_512, "b": 25_557_032}


@pytest.mark.parametrize("which", [0, 1])
def test_an_invalid_spec_exits_1_with_its_error(tmp_path, which):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(A)
    bad.write_text(A.replace("kernel: 3, padding: 1", "kernel: 30"))
    result = run("diff", *([good, bad] if which else [bad, good]))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{bad}:5:")
    assert "kernel" in result.stderr.splitlines()[0] and f"1 error in {bad}" in result.stderr


def test_unknown_spec_is_a_usage_error():
    result = run("diff", "resnet18", "resnet51")
    assert result.exit_code == 2
    assert "Invalid value for B: no spec 'resnet51'" in result.output
