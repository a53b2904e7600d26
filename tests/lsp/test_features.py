"""The language server's pure functions, without a client: an analysis of a text, a position,
and what the editor would show. Shapes are compared with `archspec check`'s rows."""
from __future__ import annotations

from pathlib import Path

import archspec
from archspec.lsp.analysis import analyse
from archspec.lsp.completion import completions
from archspec.lsp.hints import inlay_hints
from archspec.lsp.hover import hover
from archspec.lsp.navigation import definition
from archspec.lsp.view import View

ROOT = Path(__file__).resolve().parents[2]
RESNET18 = Path(__file__).with_name("resnet18_blocks.yaml").read_text()

BRANCHES = """\
archspec: 1
input: [8, 16, 16]
layers:
  - {id: a, conv2d: {out: 8, kernel: 1}}
  - id: split
    merge: add
    parallel:
      - [{id: p, relu}, {id: q, relu}]
      - [{id: r, relu}]
  - {id: out, add, from: [a, split]}
outputs: [out]
"""


def at(text: str, needle: str, offset: int = 0) -> tuple[int, int]:
    k = text.index(needle) + offset
    return text.count("\n", 0, k), k - (text.rfind("\n", 0, k) + 1)


def labels(text: str, needle: str, good: str | None = None) -> list[str]:
    """Completion at the end of `needle` in `text`, with names from the analysis of `good`."""
    view = View(analyse(good or text, "x.yaml"), text)
    return [c.label for c in completions(view, text.split("\n"), at(text, needle, len(needle)))]


def test_a_view_maps_unchanged_lines_and_drops_edited_ones():
    old = "a\nb\nc\nd\n"
    view = View(analyse(old, "x.yaml"), "a\nNEW\nb\nc changed\nd\n")
    assert [view.old((line, 0)) for line in range(5)] == [(0, 0), None, (1, 0), None, (3, 0)]
    assert view.new((1, 0)) == (2, 0) and view.new((2, 0)) is None and not view.current


def test_a_dropped_item_says_it_passes_its_input_on():
    a = analyse(RESNET18, "r.yaml")
    text = hover(View(a, RESNET18), at(RESNET18, "{id: downsample")).contents.value
    assert "expanded 8 times (per call" in text
    assert "- `layer1.0` (planes=64, stride=1): dropped: passes its input on, `[64, 56, 56]`" in text
    assert "- `layer2.0.downsample` (planes=128, stride=2): output `[128, 28, 28]`" in text


def test_a_block_style_item_has_its_hint_at_the_end_of_its_first_line():
    a = analyse(BRANCHES, "b.yaml")
    hints = {h.position.line: (h.position.character, h.label) for h in inlay_hints(View(a, BRANCHES), 0, 20)}
    shapes = {r.name: list(r.shape) for r in archspec.check(BRANCHES).rows()}
    assert hints[at(BRANCHES, "- id: split")[0]] == (len("  - id: split"), str(shapes["split.3"]))
    assert hints[at(BRANCHES, "{id: p")[0]][1] == str(shapes["split.q"])  # the line's last item: q
    assert hints[at(BRANCHES, "{id: out")[0]] == (len("  - {id: out, add, from: [a, split]}"), str(shapes["out"]))


def test_from_in_a_branch_sees_its_branch_and_the_enclosing_list_only():
    text = BRANCHES.replace("[{id: r, relu}]", "[{id: r, relu}, {relu, from: }]")
    assert labels(text, "{relu, from: ") == ["r", "a", "input"]


def test_completion_contexts():
    assert {"conv2d", "add", "layers", "id"} <= set(labels("archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - ", "  - "))
    text = BRANCHES.replace("  - {id: out", "  - {id: t, conv2d: {out: 8, kernel: \"${input.c + 1}\", padding: ${ }}\n  - {id: out")
    assert {"input", "i"} <= set(labels(text, "padding: ${", BRANCHES))  # in an expression
    assert labels(text, "kernel: ") == []  # a value that is not a name


def test_definition_of_an_output_and_of_an_id_in_a_branch():
    a = analyse(BRANCHES, "b.yaml")
    view = View(a, BRANCHES)
    target = definition(view, at(BRANCHES, "outputs: [out]", 10), "file:///b.yaml")
    assert (target.range.start.line, target.range.start.character) == at(BRANCHES, "id: out", 4)
    target = definition(view, at(BRANCHES, "from: [a, split]", 7), "file:///b.yaml")
    assert (target.range.start.line, target.range.start.character) == at(BRANCHES, "id: a,", 4)


def test_definition_of_a_param_that_names_the_block():
    text = (Path(__file__).resolve().parents[2] / "specs" / "resnet50.yaml").read_text()
    view = View(analyse(text, "r.yaml"), text)
    target = definition(view, at(text, "$block: {planes: 128", 3), "file:///r.yaml")
    assert (target.range.start.line, target.range.start.character) == at(text, "block: bottleneck")


def test_items_after_a_failed_item_or_a_broken_block_keep_their_hints():
    text = """\
archspec: 1
input: [3, 16, 16]
blocks:
  stage: {layers: [relu], parallel: [[relu]]}
layers:
  - {id: stem, conv2d: {out: 8, kernel: 3}}
  - stage
  - relu
  - {conv2d: {out: 4, kernel: 1, bogus: 1}, from: stem}
  - {id: side, conv2d: {out: 4, kernel: 1}, from: stem}
  - maxpool2d: 2
"""
    hints = {h.position.line: h.label for h in inlay_hints(View(analyse(text, "f.yaml"), text), 0, 20)}
    assert hints == {5: "[8, 14, 14]", 9: "[4, 14, 14]", 10: "[4, 7, 7]"}  # the failed item and what it fed: none
