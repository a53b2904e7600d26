"""Huge sizes and values from a spec: refused at their place, never an overflow or a
hang in the report, and never a message that floods the terminal."""
from __future__ import annotations

import time

from click.testing import CliRunner

import archspec
from archspec.cli.main import main


def messages(text):
    return [(d.loc.line, d.loc.col, d.message) for d in archspec.check(text).diagnostics]


def test_input_with_more_elements_than_torch_can_hold():
    dims = ", ".join(["9" * 4000] * 1000)  # 4 MB of digits: the product alone would take minutes
    start = time.perf_counter()
    found = messages(f"archspec: 1\ninput: [{dims}]\nlayers: [relu, relu]\n")
    assert time.perf_counter() - start < 10
    assert found == [(2, 8, "input shape has more than 2^63 - 1 elements, more than a torch tensor can hold")]


def test_layer_output_with_more_elements_than_torch_can_hold_stops_the_chain():
    text = "archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - flatten\n  - {linear: 100000000000000000000000000}\n  - {linear: 10}\n"
    assert messages(text) == [(5, 5, "linear: output shape has more than 2^63 - 1 elements, more than a torch tensor can hold")]


def test_big_but_holdable_sizes_are_reported_in_the_table(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("archspec: 1\ninput: [3, 1000000000, 1000000000]\nlayers: [relu]\n")
    result = CliRunner().invoke(main, ["check", str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "activation memory:  11175870895.39 GiB per sample" in result.output


def test_a_huge_value_is_quoted_shortly():
    text = "archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - {conv2d: {out: '" + "x" * 100_000 + "', kernel: 3}}\n"
    ((line, col, message),) = messages(text)
    assert (line, col) == (4, 20)
    assert message.endswith("... (100,095 characters)") and len(message) < 1100
