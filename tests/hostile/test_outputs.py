"""What archspec writes and prints: export never writes over the checkpoint it reads (nor over a
weights file the user did not name), Mermaid text cannot be steered by a spec's name or params,
and names reach the terminal with control characters escaped in every command."""
from __future__ import annotations

import os
import re

import pytest
import torch
import yaml
from click.testing import CliRunner

import archspec
from archspec.cli.main import main

SPEC = "archspec: 1\nname: tiny\ninput: [1, 8, 8]\nlayers: [flatten, {linear: 3}]\n"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(SPEC)
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def weights(tmp_path):
    """A state_dict of the tiny spec, where a run keeps its checkpoints."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save(archspec.build(SPEC).state_dict(), folder / "last.pt")
    return folder / "last.pt"


# --- export never replaces what it reads --------------------------------------------------------
@pytest.mark.parametrize("out", ["checkpoints/last.py", "checkpoints/last.pt"])
def test_export_refuses_to_write_over_the_checkpoint_it_reads(cli, weights, out):
    before = weights.read_bytes()
    result = cli("export", "tiny.yaml", "-o", out, "--checkpoint", weights)
    assert result.exit_code == 1
    assert f"checkpoints/last.pt is the checkpoint being read ({weights}); writing there would replace it" \
        in result.output, result.output
    assert weights.read_bytes() == before


def test_a_hard_link_to_the_checkpoint_is_the_same_file(cli, weights, tmp_path):
    os.link(weights, tmp_path / "w.pt")
    result = cli("export", "tiny.yaml", "-o", "w.py", "--checkpoint", weights)
    assert result.exit_code == 1 and "w.pt is the checkpoint being read" in result.output


def test_an_existing_weights_file_beside_the_py_needs_force(cli, weights, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"someone else's file")
    result = cli("export", "tiny.yaml", "-o", "model.py", "--checkpoint", weights)
    assert result.exit_code == 1 and "model.pt already exists; the python export writes its weights there" \
        in result.output
    assert (tmp_path / "model.pt").read_bytes() == b"someone else's file" and not (tmp_path / "model.py").exists()
    result = cli("export", "tiny.yaml", "-o", "model.py", "--checkpoint", weights, "--force")
    assert result.exit_code == 0, result.output
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    expected = torch.load(weights, weights_only=True)
    assert saved.keys() == expected.keys() and all(torch.equal(saved[k], expected[k]) for k in saved)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# --- Mermaid ------------------------------------------------------------------------------------
HOSTILE_NAME = 'x\\n---\\nflowchart LR\\nclick n0 call alert(1)\\n%%{init: {\\"theme\\": \\"dark\\"}}%%\\n'


def test_mermaid_front_matter_and_labels_cannot_be_ended_by_a_spec(cli, tmp_path):
    (tmp_path / "evil.yaml").write_text(
        f'archspec: 1\nname: "{HOSTILE_NAME}"\nparams: {{tag: "a\\"]\\nclick n1 href \\"javascript:x\\"\\n%%"}}\n'
        'input: [3, 8, 8]\nblocks:\n  b:\n    params: {t: required}\n    layers: [relu]\n'
        'layers:\n  - {b: {t: $tag}}\n  - {conv2d: {out: 4, kernel: 3}}\n')
    result = cli("graph", "evil.yaml", "--format", "mermaid")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "---" and lines[2] == "---" and lines[3] == "flowchart TB"
    assert [i for i, line in enumerate(lines) if line.strip() == "---"] == [0, 2]
    title = yaml.safe_load(lines[1])["title"]  # a YAML reader gets the name back, whole
    assert title.startswith("x\n---\nflowchart LR\nclick n0 call alert(1)\n%%{init:")
    assert not [line for line in lines[3:] if re.match(r"\s*(click|%%|style|classDef n)", line)]
    assert all(line.count('"') % 2 == 0 for line in lines[3:])  # every label's quotes close on its own line


# --- printed text is printable --------------------------------------------------------------------
ESCAPED = 'archspec: 1\nname: "t\\e]0;owned\\a\\u202e"\ninput: [1, 8, 8]\nlayers: [flatten, {linear: 3}]\n'


def test_names_are_escaped_in_diff_graph_and_train(cli, tmp_path):
    (tmp_path / "esc.yaml").write_text(ESCAPED)
    outputs = [cli("diff", "esc.yaml", "tiny.yaml"), cli("graph", "esc.yaml"),
               cli("graph", "esc.yaml", "--format", "mermaid"),
               cli("train", "esc.yaml", "--data", "synthetic:24", "--epochs", "1", "--device", "cpu", "--out", "run")]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert not set("\x1b\x07\u202e") & set(result.output), result.output
    assert "training t\\x1b]0;owned\\x07\\u202e (" in outputs[-1].output
    assert "done: t\\x1b]0;owned\\x07\\u202e, 1 epochs" in outputs[-1].output
