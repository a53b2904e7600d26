"""Text from a spec reaches the terminal only as printable characters: escape sequences
and bidirectional overrides in values, names, docs and source lines are shown escaped."""
from __future__ import annotations

from click.testing import CliRunner

from archspec.cli.main import main
from archspec.diagnostics import printable

ESC = "\x1b"


def run(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return CliRunner().invoke(main, ["check", str(path)], catch_exceptions=False)


def test_printable_escapes_controls_and_bidi_but_keeps_layout():
    assert printable("a\x1b[2Jb\u202ec\td\ne") == "a\\x1b[2Jb\\u202ec\td\ne"
    assert printable("a\x07b", "?") == "a?b"


def test_escape_sequences_in_an_error_message_are_shown_escaped(tmp_path):
    result = run(tmp_path, 'archspec: 1\ninput: [3, 8, 8]\nlayers: [{"\\e]0;pwned\\a\\e[2Jrelu": null}]\n')
    assert result.exit_code == 1
    assert ESC not in result.output and "\x07" not in result.output
    assert "\\x1b]0;pwned\\x07\\x1b[2Jrelu" in result.output


def test_raw_control_characters_in_the_source_line_become_question_marks(tmp_path):
    result = run(tmp_path, "archspec: 1\ninput: [3, 8, 8]\nlayers: [relu]\n\x1b[2Jname: x\n")
    assert result.exit_code == 1
    assert ESC not in result.output
    assert "    4 | ?[2Jname: x" in result.output


def test_name_doc_and_node_names_of_a_valid_spec_are_shown_escaped(tmp_path):
    text = ('archspec: 1\nname: "x\\e[31mRED"\ndoc: "\\e]0;title\\a"\ninput: [3, 8, 8]\n'
            "layers: [{relu, repeat: {times: 1, id: \"${'\\\\x1b[2J'}\"}}]\n")
    result = run(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert ESC not in result.output
    assert result.output.startswith("x\\x1b[31mRED: \\x1b]0;title\\x07\n")
