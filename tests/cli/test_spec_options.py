"""What every command that reads a spec shares (--plugin, --lib-path), and `--input`: a spec
checked (or drawn) at another input shape, with every mistake in the option a usage error."""
from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from archspec.cli.main import COMMANDS, main
from archspec.lang import imports

NOT_READING = {"ops", "schema", "plot"}  # the op registry, the format, run folders: no spec is read
TWO_INPUTS = "archspec: 1\ninput: {image: [3, 32, 32], extra: [10]}\nlayers:\n  - {conv2d: {out: 4, kernel: 3}}\n" \
             "  - {adaptive_avgpool2d: 1}\n  - {id: f, flatten}\n  - {concat, from: [f, extra]}\n"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def options(name: str) -> set[str]:
    command = main.get_command(click.Context(main), name)
    return {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_that_reads_a_spec_takes_plugin_and_lib_path(name):
    if name in NOT_READING:
        assert "--lib-path" not in options(name)
    else:
        assert {"--plugin", "--lib-path"} <= options(name)


@pytest.fixture
def search_path(monkeypatch):
    monkeypatch.setattr(imports, "_search_path", [])


def test_lib_path_lets_every_command_import_a_library_by_name(tmp_path, monkeypatch, search_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "mine.yaml").write_text("archspec: 1\nblocks:\n  head:\n    layers: [flatten, {linear: 3}]\n")
    (tmp_path / "s.yaml").write_text("archspec: 1\nimports: [mine]\ninput: [2, 4, 4]\nlayers: [relu, head]\n")
    for args in (["check", "s.yaml"], ["graph", "s.yaml", "--format", "dot"], ["export", "s.yaml", "-o", "s.py"],
                 ["diff", "s.yaml", "s.yaml"]):
        without = run(*args)
        assert without.exit_code == 1 and "s.yaml:2:11: error: cannot import 'mine': no such file" in without.output
        assert run(*args, "--lib-path", "libs").exit_code == 0, args
        monkeypatch.setattr(imports, "_search_path", [])
    result = run("check", "s.yaml", "--lib-path", "nowhere")
    assert result.exit_code == 2 and "Invalid value for '--lib-path': library path 'nowhere' is not a folder" in result.output


def test_check_at_another_input_shape():
    result = run("check", "specs/resnet18.yaml", "--input", "3,160,160", "--format", "json")
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["input_shapes"] == {"input": [3, 160, 160]} and data["output_shape"] == [1000]
    assert data["nodes"][0]["shape"] == [64, 80, 80]
    table = run("check", "specs/resnet18.yaml", "--input", "input=3,64,64").output
    assert next(line for line in table.splitlines() if line.startswith("layer4.1.conv2 ")).split()[2:5] == ["[512,", "2,", "2]"]


def test_several_inputs_are_named(tmp_path):
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_INPUTS)
    data = json.loads(run("check", spec, "--input", "image=3,16,16", "--input", "extra=6", "--format", "json").output)
    assert (data["input_shapes"], data["output_shape"]) == ({"image": [3, 16, 16], "extra": [6]}, [10])


@pytest.mark.parametrize("args, message", [
    (["--input", "3,a"], "Invalid value for '--input': '3,a': expected sizes separated by commas"),
    (["--input", "3,0,4"], "Invalid value for '--input': '3,0,4': sizes must be positive integers"),
    (["--input", ""], "Invalid value for '--input': '': expected sizes separated by commas"),
    (["--input", "3,32,32"], "--input: the spec has 2 inputs (image, extra): give each shape with its name"),
    (["--input", "imag=3,8,8"], "--input imag=...: the spec has no input 'imag' (its inputs: image, extra) (did you mean 'image'?)"),
    (["--input", "image=3,8,8", "--input", "3,8,8"], "--input 3,8,8: with more than one --input, name each"),
    (["--input", "image=3,8,8", "--input", "image=3,9,9"], "--input image=...: given twice"),
])
def test_a_wrong_input_option_is_a_usage_error_naming_it(tmp_path, args, message):
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_INPUTS)
    for command in ("check", "graph"):
        result = run(command, spec, *args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output


def test_graph_draws_at_another_input_shape():
    result = run("graph", "specs/d2l/lenet.yaml", "--input", "1,32,32", "--format", "mermaid")
    assert result.exit_code == 0 and "<b>input</b><br/>1×32×32" in result.output and "6×32×32" in result.output


def test_the_library_schema_accepts_the_bundled_library_and_no_network():
    import jsonschema
    import yaml

    schema = json.loads(run("schema", "--library").output)
    jsonschema.validate(yaml.safe_load((imports.BUNDLED / "torchvision.yaml").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError, match="'layers' was unexpected"):
        jsonschema.validate({"archspec": 1, "blocks": {}, "layers": []}, schema)
