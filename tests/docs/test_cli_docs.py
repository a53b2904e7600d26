"""docs/cli.md and the command outputs shown in the docs are what the commands print now
(regenerate with `python docs/gen_cli.py`)."""
from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_cli", ROOT / "docs" / "gen_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = load_generator()
PATHS = [ROOT / "docs" / "cli.md"] + [p for p in sorted((ROOT / "docs").glob("*.md"))
                                     if p.name != "cli.md" and GEN.OUTPUT.search(p.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def pages():
    return GEN.pages()


def test_the_generator_makes_these_pages(pages):
    assert list(pages) == PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_page_is_current(path, pages):
    have = path.read_text(encoding="utf-8") if path.exists() else ""
    want = pages[path]
    diff = "".join(difflib.unified_diff(have.splitlines(True), want.splitlines(True), "in the file", "generated now", n=1))
    assert have == want, f"{path.relative_to(ROOT)} is out of date: run `python docs/gen_cli.py`\n{diff[:3000]}"


def test_cli_page_has_every_command(pages):
    from archspec.cli.main import COMMANDS

    page = pages[ROOT / "docs" / "cli.md"]
    for name in GEN.available_commands():
        assert f"\n## archspec {name}\n\n```text\nUsage: archspec {name} [OPTIONS]" in page, name
    assert set(GEN.available_commands()) >= {"check", "schema", "ops", "list", "new", "diff"}
    assert set(GEN.available_commands()) <= set(COMMANDS)


def test_marked_outputs_are_run_from_the_repository_root(pages):
    tutorial = pages[ROOT / "docs" / "tutorial.md"]
    assert "$ archspec check specs/d2l/googlenet.yaml --depth 2\ngooglenet: GoogLeNet" in tutorial
    assert "parameters:         5,977,530" in tutorial
    assert "docs/examples/inception_typo.yaml:9:7: error: concat: input shapes differ" in tutorial
