"""One error path: every command prints its errors the same way (`error:`, located when the
problem is in a file, then how many there are in which file) and exits with the code of the
error's class: 1 for a spec or data problem, 2 for usage, 130 for an interrupt."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from archspec.cli.main import main
from archspec.errors import ArchspecError, Code, Diagnostic, GraphError, ResourceError, ShapeError, SpecError, \
    UsageError, error_for

BROKEN = """\
archspec: 1
name: broken
input: [3, 8, 8]
layers:
  - {conv2d: {out: 4, kernel: 9}}
"""
LOCATED = "broken.yaml:5:5: error: conv2d: kernel 9x9 (with dilation 1) is larger than the padded input 8x8"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "ok.yaml").write_text(BROKEN.replace("kernel: 9", "kernel: 3"))
    (tmp_path / "run").mkdir()

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.mark.parametrize("args", [
    ["check", "broken.yaml"],
    ["graph", "broken.yaml"],
    ["export", "broken.yaml", "-o", "x.onnx"],
    ["train", "broken.yaml", "--out", "out", "--device", "cpu"],
    ["new", "copy", "--from", "broken.yaml"],
    ["diff", "broken.yaml", "broken.yaml"],
], ids=lambda args: args[0])
def test_a_spec_error_reads_the_same_from_every_command(run, args):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert LOCATED in result.output
    assert result.output.rstrip().splitlines()[-1] == "1 error in broken.yaml"
    assert "Error:" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args, code, message", [
    (["ops", "conv2"], 2, "error: Invalid value for NAME: unknown op 'conv2' (did you mean 'conv2d'?)"),
    (["check", "broken.yaml", "--depth", "0"], 2, "error: Invalid value for '--depth'"),
    (["train", "broken.yaml", "--loss", "mse", "--label-smoothing", "0.1"], 2,
     "error: --label-smoothing: label smoothing only applies to cross_entropy"),
    (["chek", "broken.yaml"], 2, "error: No such command 'chek'."),
    (["--bogus"], 2, "error: No such option '--bogus'"),
    (["eval", "broken.yaml", "--checkpoint", "run"], 1, "error: no checkpoint at run"),
    (["plot", "run", "-o", "curves.png"], 1, "error: cannot read run/metrics.jsonl: "),
    (["graph", "ok.yaml", "-o", "no/such/dir/g.dot"], 1, "error: cannot write no/such/dir/g.dot: "),
])
def test_usage_and_other_errors_use_the_same_prefix(run, args, code, message):
    result = run(*args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not re.search(r"^Error:", result.output, re.M) and "Traceback" not in result.output
    if code == 2:  # as click shows a usage error: the usage line and where the help is
        assert result.output.startswith("Usage: ") and "--help' for help." in result.output


def test_every_code_raises_as_its_class():
    expected = {Code.SHAPE: ShapeError, Code.CYCLE: GraphError, Code.UNUSED: GraphError, Code.TOO_MANY_PARAMS: ResourceError,
                Code.YAML: SpecError, Code.USAGE: UsageError, Code.ERROR: ArchspecError}
    for code, cls in expected.items():
        assert type(error_for([Diagnostic(None, code, "x")])) is cls
    for code in Code:
        assert issubclass(code.error, ArchspecError) and code.error.exit_code in (1, 2)
        assert Diagnostic(None, code.value, "x").code is code  # the stable text names the member
    assert {UsageError.exit_code, ShapeError.exit_code} == {2, 1}


def test_an_unknown_code_is_refused():
    with pytest.raises(ValueError):
        Diagnostic(None, "no-such-code", "x")
