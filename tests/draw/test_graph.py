"""`archspec graph`: the pictures hold every layer, edge, cluster and shape, in all formats."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import archspec
from archspec.cli.main import main
from archspec.draw import draw
from archspec.draw.picture import picture

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("specs/**/*.yaml"))
GOOGLENET = ROOT / "specs/d2l/googlenet.yaml"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (apt-get install -y graphviz)")

NODE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" \[label=<(.*)>, fillcolor', re.M)
EDGE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"(?: \[label=<\d+>, fontsize=\d+\])?;$', re.M)  # a label: the output index of an op with several
CLUSTER = re.compile(r'^\s*subgraph "cluster_([^"]*)" \{', re.M)


def parse_dot(text: str):
    nodes = dict(NODE.findall(text))
    edges = set(EDGE.findall(text))
    return nodes, edges, CLUSTER.findall(text)


@pytest.fixture(scope="module")
def googlenet():
    return archspec.check(GOOGLENET)


@pytest.mark.parametrize("spec", SPECS)
def test_dot_holds_every_node_and_edge(spec):
    report = archspec.check(ROOT / spec)
    nodes, edges, clusters = parse_dot(draw(report, "dot"))
    g = report.graph
    assert set(nodes) == set(g.ops()) | set(report.input_shapes) | {"output"}
    assert set(g.edges()) | {(ref.node, "output") for ref in g.outputs} == edges
    assert set(g.blocks) <= set(clusters)
    for name in g.ops():
        assert "×".join(map(str, g.nodes[name]["types"][0].shape)) in nodes[name]


def test_inception_branches_meet_in_their_concat(googlenet):
    nodes, edges, clusters = parse_dot(draw(googlenet, "dot"))
    concat = "2.0.13"
    assert "concat" in nodes[concat] and "256×12×12" in nodes[concat]
    into = sorted(a for a, b in edges if b == concat)
    assert [nodes[a].split("<br/>")[0] for a in into] == ["relu"] * 4  # the four paths' last relus
    starts = sorted(b for a, b in edges if a == "1.4")
    assert starts == ["2.0.p1_1", "2.0.p2_1", "2.0.p3_1", "2.0.p4_1"]
    assert "2.0" in clusters and "2" in clusters
    assert "2.0 · inception(c1=64, c2=96×128, c3=16×32, c4=32)" in draw(googlenet, "dot")


def test_depth_collapses_blocks_into_one_box():
    report = archspec.check(ROOT / "specs/resnet18.yaml")
    nodes, edges, clusters = parse_dot(draw(report, "dot", depth=2))
    assert "layer1.0.conv1" not in nodes and clusters == ["layer1", "layer2", "layer3", "layer4"]
    label = nodes["layer2.0"]
    assert "<b>0</b>: basic" in label and "planes=128 stride=2" in label and "128×28×28" in label
    params = report.graph.nodes(data="params")
    assert f"{sum(p for name, p in params if name.startswith('layer2.0.')):,} params" in label
    assert ("layer1.1", "layer2.0") in edges and ("layer2.0", "layer2.1") in edges
    nodes, edges, clusters = parse_dot(draw(report, "dot", depth=1))
    assert "2 × basic" in nodes["layer3"] and clusters == []
    chain = ["input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "9", "fc",
             "output"]
    assert edges == set(zip(chain, chain[1:]))


def test_collapsed_boxes_add_up_to_the_total():
    report = archspec.check(ROOT / "specs/d2l/densenet.yaml")
    pic = picture(report, depth=1)
    blocks = [b for b in pic.boxes.values() if b.kind == "block"]
    total = sum(int(b.details[-1].split()[0].replace(",", "")) for b in blocks)
    total += sum(report.graph.nodes[n]["params"] for n in report.graph.ops() if "." not in n)
    assert total == report.params


@pytest.mark.parametrize("spec", ["specs/d2l/googlenet.yaml", "specs/resnet18.yaml", "specs/d2l/mnist_inception.yaml"])
def test_mermaid_is_well_formed(spec):
    report = archspec.check(ROOT / spec)
    text = draw(report, "mermaid")
    lines = text.splitlines()
    assert lines[:4] == ["---", f"title: {picture(report).title}", "---", "flowchart TB"]
    declared = set(re.findall(r"^\s*(n\d+)(?:\[|\(\[|\(\()\"[^\"]*\"(?:\]|\]\)|\)\)):::\w+$", text, re.M))
    arrows = re.findall(r"^\s*(n\d+) --> (n\d+)$", text, re.M)
    assert len(declared) == len(report.graph.ops()) + len(report.input_shapes) + 1
    assert {x for edge in arrows for x in edge} <= declared
    assert len(arrows) == report.graph.number_of_edges() + len(report.graph.outputs)
    assert sum(line.strip().startswith("subgraph ") for line in lines) == sum(line.strip() == "end" for line in lines)
    assert not [line for line in lines[4:] if line.strip() and not re.match(
        r"^\s*(classDef \w+ |subgraph c\d+\[\"[^\"]*\"\]$|end$|n\d+[\[(])|^\s*n\d+ --> n\d+$", line)]


@needs_dot
def test_svg_is_xml_with_a_title_per_box(googlenet):
    root = ET.fromstring(draw(googlenet, "svg"))
    ns = {"svg": "http://www.w3.org/2000/svg"}
    titles = [t.text for t in root.iterfind(".//svg:g[@class='node']/svg:title", ns)]
    assert sorted(titles) == sorted(set(googlenet.graph.ops()) | {"input", "output"})
    clusters = [t.text for t in root.iterfind(".//svg:g[@class='cluster']/svg:title", ns)]
    assert "cluster_2.0" in clusters


@needs_dot
def test_png(googlenet):
    assert draw(googlenet, "png", depth=2)[:8] == b"\x89PNG\r\n\x1a\n"


def test_drawing_never_imports_torch():
    code = ("import sys, archspec; from archspec.draw import draw; "
            f"draw(archspec.check({str(GOOGLENET)!r}), 'mermaid'); draw(archspec.check({str(GOOGLENET)!r}), 'dot', 2); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# ---- the command ---------------------------------------------------------------------------
def run(*args):
    return CliRunner().invoke(main, ["graph", *map(str, args)])


def test_cli_prints_dot_by_default_and_mermaid_from_a_suffix(tmp_path):
    result = run(GOOGLENET, "--depth", "1", "--set", "num_classes=7")
    assert result.exit_code == 0 and result.output.startswith('digraph "googlenet(num_classes=7)')
    assert run(GOOGLENET, "-o", tmp_path / "g.mmd").exit_code == 0
    assert (tmp_path / "g.mmd").read_text().splitlines()[3] == "flowchart TB"


@needs_dot
def test_cli_writes_svg_and_png(tmp_path):
    for name in ("g.svg", "g.png"):
        result = run(GOOGLENET, "-o", tmp_path / name)
        assert result.exit_code == 0 and f"wrote {tmp_path / name}" in result.output
    ET.parse(tmp_path / "g.svg")


@pytest.mark.parametrize("args,message", [
    (["--format", "png"], "png is binary"),
    (["-o", "g.txt"], "cannot tell the format"),
    (["-o", "g.svg", "--format", "png"], "looks like svg, not png"),
    (["--depth", "0"], "0 is not in the range"),
])
def test_cli_usage_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(GOOGLENET, *args)
    assert result.exit_code == 2 and message in result.output


def test_cli_without_graphviz_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = run(GOOGLENET, "-o", tmp_path / "g.svg")
    assert result.exit_code == 1 and "apt-get install graphviz" in result.output
    assert not (tmp_path / "g.svg").exists()
    assert run(GOOGLENET, "--format", "mermaid").exit_code == 0  # text formats need nothing


def test_cli_broken_spec(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("archspec: 1\ninput: [1, 8, 8]\nlayers:\n  - {conv2d: {out: 4, kernel: 9}}\n")
    result = run(bad)
    assert result.exit_code == 1 and f"{bad}:4:5: error: conv2d: kernel 9x9" in result.output


def test_tensors_are_boxes_of_their_own_and_edges_name_the_output_they_carry():
    """Parameters and buffers get their own shapes in dot and mermaid; an edge from an op with
    several outputs says which; types show their dtype and `no batch`."""
    from tests.compiler.test_contract import doc_op

    from archspec import plugins

    report = archspec.check(ROOT / "tests/fixtures/typed.yaml")
    dot = draw(report, "dot")
    assert re.search(r'^\s*"cls" \[label=<.*1×1×6 no batch.*shape=cylinder', dot, re.M)
    assert re.search(r'^\s*"pos" \[label=<.*5×6 no batch.*shape=note', dot, re.M)
    assert re.search(r'^\s*"ids" \[label=<.*5 int64', dot, re.M) and "shares frozen" in dot and "frozen" in dot
    mermaid = draw(report, "mermaid")
    assert re.search(r'\[\("<b>cls</b>: parameter', mermaid) and re.search(r'\[/"<b>pos</b>: buffer', mermaid)
    spec = "archspec: 1\ninput: [6]\nlayers:\n  - {id: parts, halves: 2}\n  - {add, from: [parts.1, parts.0]}\n"
    with plugins.restoring():
        doc_op("halves")
        report = archspec.check(spec)
    assert report.ok
    dot, mermaid = draw(report, "dot"), draw(report, "mermaid")
    assert '"parts" -> "1" [label=<1>, fontsize=9];' in dot and '"parts" -> "1" [label=<0>, fontsize=9];' in dot
    assert len(re.findall(r"^\s*n\d+ -->\|[01]\| n\d+$", mermaid, re.M)) == 2
