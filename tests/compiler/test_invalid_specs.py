"""Every broken spec in tests/fixtures/invalid gives exactly the located errors its
`# expect: LINE:COL: MESSAGE` header lines name (a warning as `LINE:COL: warning: MESSAGE`),
through the API and the CLI: the complete list, so a cascade or a missing error fails."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import archspec
from archspec.cli.main import main

INVALID = sorted((Path(__file__).parents[1] / "fixtures" / "invalid").glob("*.yaml"))


def expected(path: Path) -> list[str]:
    return [line[len("# expect: "):] for line in path.read_text().splitlines() if line.startswith("# expect: ")]


def test_corpus_is_large_enough():
    assert len(INVALID) >= 25
    assert all(expected(p) for p in INVALID), [p.name for p in INVALID if not expected(p)]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_errors_are_located_exactly(path):
    report = archspec.check(str(path))
    assert not report.ok
    found = [f"{d.loc.line}:{d.loc.col}: {'' if d.severity == 'error' else 'warning: '}{d.message}" for d in report.diagnostics]
    assert found == expected(path)
    assert all(d.loc.file == str(path) for d in report.diagnostics)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_cli_prints_compiler_style_errors_and_exits_1(path):
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    first = expected(path)[0]
    line, col, message = first.split(":", 2)
    severity, message = ("warning", message[len(" warning:"):]) if message.startswith(" warning: ") else ("error", message)
    assert f"{path}:{line}:{col}: {severity}:{message}" in result.output
    source_line = path.read_text().splitlines()[int(line) - 1] if path.read_text() else None
    if source_line and source_line.strip():
        assert f"{int(line):>5} | {source_line[:200]}" in result.output
        assert "^" in result.output


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_build_raises_a_typed_error(path):
    with pytest.raises(archspec.ArchspecError) as info:
        archspec.build(str(path))
    assert expected(path)[0].split(": ", 1)[1] in str(info.value)


def test_block_errors_name_the_call_chain():
    path = next(p for p in INVALID if p.stem == "add_shape_mismatch")
    (d,) = archspec.check(str(path)).diagnostics
    assert d.message == "add: input shapes do not broadcast: layer1.bn2 is [32, 16, 16], layer1.short is [16, 32, 32]: dim 1 is 32 vs 16, dim 2 is 16 vs 32, dim 3 is 16 vs 32; make each dim equal, or 1 in all inputs but one"
    assert d.notes[0] == "at node 'layer1.6': inputs layer1.bn2 is [32, 16, 16], layer1.short is [16, 32, 32]"
    assert d.notes[1] == f"in block 'basic' called at {path}:19:5 (layer1)"


def test_errors_carry_their_kind():
    cases = {"add_shape_mismatch": archspec.ShapeError, "unused_branch": archspec.GraphError,
             "block_cycle": archspec.GraphError, "unknown_op": archspec.SpecError}
    for stem, cls in cases.items():
        with pytest.raises(cls):
            archspec.build(str(next(p for p in INVALID if p.stem == stem)))


@pytest.mark.parametrize("stem", ["not_yaml", "block_cycle", "failed_item_keeps_id", "add_shape_mismatch"])
def test_a_failed_check_has_no_table_but_its_error(stem):
    path = next(p for p in INVALID if p.stem == stem)
    with pytest.raises(archspec.ArchspecError) as info:
        archspec.check(str(path)).table()
    assert expected(path)[0].split(": ", 1)[1] in str(info.value)


def test_a_mistake_in_a_block_called_three_times_is_told_once():
    path = next(p for p in INVALID if p.stem == "typo_in_references")
    first = archspec.check(str(path)).diagnostics[0]
    assert first.notes == [f"in block 'gate' called at {path}:15:5 (a)", "and 2 more times: the same mistake in other calls or copies"]
