"""The YAML stage refuses, at a place in the file, what would crash or exhaust it:
deep nesting (libyaml's composer segfaults on it), alias bombs, self-containing aliases,
control characters, numbers Python cannot read, and files without end."""
from __future__ import annotations

import pytest

import archspec

HEAD = "archspec: 1\ninput: [3, 8, 8]\n"


def errors(text):
    report = archspec.check(text)
    assert not report.ok
    return [(d.loc.line, d.loc.col, d.message) for d in report.diagnostics]


@pytest.mark.parametrize("before, opening, closing", [("layers: ", "[", "]"), ("layers: ", "{a: ", "}"), ("layers:\n  ", "- ", "")])
def test_deep_nesting_is_refused_where_it_gets_too_deep(before, opening, closing):
    n = 100_000
    text = HEAD + before + opening * n + "x" + closing * n + "\n"
    ((line, col, message),) = errors(text)
    assert message == "spec is nested more than 64 levels deep"
    # the top-level mapping is the first level, so the 64th opening is one too many
    last_line = before.split("\n")[-1]
    assert (line, col) == (3 + before.count("\n"), len(last_line) + 63 * len(opening) + 1)


def test_nesting_up_to_the_limit_is_read():
    text = HEAD + "layers: [relu]\nparams: {x: " + "[" * 60 + "1" + "]" * 60 + "}\n"  # an unused param: free-form
    assert archspec.check(text).ok


def test_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit():
    lines = ["params:", "  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"  {chr(97 + k)}: &{chr(97 + k)} [{', '.join(['*' + chr(96 + k)] * 10)}]" for k in range(1, 10)]
    ((line, col, message),) = errors(HEAD + "layers: [relu]\n" + "\n".join(lines) + "\n")
    assert message.startswith("spec has more than 100,000 YAML nodes once aliases are expanded")
    assert (line, col) == (9, 38)  # the 8th alias in 'e': a..d hold 12,344 nodes, each *d adds 11,111


def test_an_alias_inside_its_own_anchor_is_refused():
    ((line, col, message),) = errors(HEAD + "layers: &x [relu, *x]\n")
    assert (line, col) == (3, 19)
    assert message == "alias *x is inside its own anchor &x (a structure without end)"


def test_aliases_that_stay_small_still_work():
    text = HEAD + "params: {k: &k 3}\nlayers:\n  - {conv2d: {out: 4, kernel: *k}}\n"
    assert archspec.check(text).ok


def test_control_character_is_located():
    assert errors(HEAD + "layers: [relu]\x01\n") == [(3, 15, "invalid YAML: control characters are not allowed (found #x0001)")]


def test_control_character_after_non_ascii_text_is_located_in_characters():
    assert errors(HEAD + "doc: 'é'\nlayers: [relu]\x07\n")[0][:2] == (4, 15)


def test_integer_too_long_for_python_is_a_located_error():
    ((line, col, message),) = errors(HEAD + "layers: [{linear: " + "9" * 5000 + "}]\n")
    assert (line, col) == (3, 19)
    assert message.startswith("cannot read 9999999999999999999999999999999999999999... (5,000 characters)")


def test_a_device_without_end_is_read_only_up_to_the_limit():
    with pytest.raises(archspec.SpecError, match="over the limit of 5,000,000 bytes"):
        archspec.load(__import__("pathlib").Path("/dev/zero"))
