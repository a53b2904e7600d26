"""`archspec check` and `archspec schema` as a user meets them."""
from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

import archspec
from archspec.cli.main import main

RESNET18 = "specs/resnet18.yaml"


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_table_has_one_row_per_node_and_the_totals():
    result = run("check", RESNET18)
    assert result.exit_code == 0, result.output
    assert "parameters:         11,689,512" in result.output
    assert "trainable:          11,689,512" in result.output
    assert "MACs:               1.81G per sample (1,814,073,344)" in result.output
    assert "activation memory:" in result.output
    row = next(line for line in result.output.splitlines() if line.startswith("layer4.1.conv2 "))
    assert row.split() == ["layer4.1.conv2", "conv2d", "[512,", "7,", "7]", "2,359,296", "115.61M"]
    rows = [line for line in result.output.splitlines() if line.startswith("layer")]
    assert len(rows) == 62  # 8 blocks of 7 nodes, plus 2 in each of the 3 downsamples


def test_json_form_for_a_valid_spec():
    result = run("check", RESNET18, "--format", "json")
    data = json.loads(result.output)
    assert (data["ok"], data["params"], data["trainable_params"], data["output_shape"]) == (True, 11_689_512, 11_689_512, [1000])
    assert data["macs"] == sum(n["macs"] for n in data["nodes"]) == 1_814_073_344
    assert data["nodes"][0] == {"name": "conv1", "op": "conv2d", "shape": [64, 112, 112], "params": 9408, "macs": 118_013_952}


def test_json_form_for_an_invalid_spec_lists_located_errors():
    result = run("check", "tests/fixtures/invalid/several_errors.yaml", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False
    assert [(e["line"], e["col"], e["code"]) for e in data["errors"]] == [(7, 16, "unknown-op"), (8, 22, "unknown-key"), (10, 18, "unknown-id")]
    assert all(e["file"] == "tests/fixtures/invalid/several_errors.yaml" for e in data["errors"])


def test_depth_sums_rows_below_it():
    data = json.loads(run("check", RESNET18, "--format", "json", "--depth", "1").output)
    layer2 = next(n for n in data["nodes"] if n["name"] == "layer2")
    assert layer2 == {"name": "layer2", "op": "(16 nodes)", "shape": [128, 28, 28], "params": 525_568, "macs": layer2["macs"]}
    assert sum(n["params"] for n in data["nodes"]) == 11_689_512


def test_set_overrides_params():
    data = json.loads(run("check", RESNET18, "--format", "json", "--set", "num_classes=10").output)
    assert data["output_shape"] == [10] and data["params"] == 11_689_512 - 990 * 513


def test_usage_errors_exit_2():
    assert run("check").exit_code == 2
    assert run("check", RESNET18, "--format", "xml").exit_code == 2
    result = run("check", RESNET18, "--set", "novalue")
    assert result.exit_code == 2 and "expected KEY=VALUE" in result.output


def test_a_missing_file_is_a_clear_error():
    result = run("check", "no/such/spec.yaml")
    assert result.exit_code == 1
    assert "cannot read spec 'no/such/spec.yaml'" in result.output and "Traceback" not in result.output


def test_check_does_not_import_torch():
    code = ("import sys; from archspec.cli.main import main\n"
            "try:\n    main(['check', 'specs/resnet50.yaml'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n"
            "import archspec; assert archspec.check('specs/d2l/googlenet.yaml').ok\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_schema_is_valid_json_schema_that_accepts_every_bundled_spec():
    schema = json.loads(run("schema").output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    from pathlib import Path

    for path in sorted(Path("specs").rglob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, errors[0].message)
    assert "conv2d" in schema["$defs"]["item"]["anyOf"][1]["properties"]


NAMING_LEVEL = """archspec: 1
input: [3, 8, 8]
layers:
  - {id: stem, conv2d: {out: 8, kernel: 1}}
  - parallel: [{id: a, conv2d: {out: 4, kernel: 1}}, {id: b, conv2d: {out: 4, kernel: 1}}]
  - relu
"""


def test_a_warning_is_shown_beside_the_table_and_does_not_fail_the_check(tmp_path):
    spec = tmp_path / "level.yaml"
    spec.write_text(NAMING_LEVEL)
    result = run("check", str(spec))
    assert result.exit_code == 0, result.output
    assert "1.a   conv2d" in result.stdout  # the warning's name is the table's
    assert f"{spec}:5:5: warning: this parallel is a naming level: its layers are named under its position ('1.a', not 'a')" \
        in result.stderr
    data = json.loads(run("check", str(spec), "--format", "json").stdout)
    assert data["ok"] is True
    assert [(w["line"], w["col"], w["code"]) for w in data["warnings"]] == [(5, 5, "naming-level")]
    spec.write_text(NAMING_LEVEL.replace("  - parallel:", "  - inline: true\n    parallel:"))
    result = run("check", str(spec))
    assert (result.exit_code, result.stderr) == (0, "")
    assert "a     conv2d" in result.stdout


@pytest.mark.parametrize("spec,patterns", [
    (RESNET18, ["layer*", "conv1"]),
    (RESNET18, ["fc.weight", "*.bn2"]),
    ("tests/fixtures/typed.yaml", ["proj"]),  # a tied weight, beside a `trainable: false` item
    ("tests/fixtures/typed.yaml", ["*"]),
])
def test_freeze_counts_what_training_will_freeze(spec, patterns):
    """check --freeze's trainable count is what `archspec train --freeze` leaves trainable in the built module."""
    from archspec.train import tuning

    module = archspec.build(spec)
    tuning.freeze(module, patterns)
    trainable, frozen = tuning.counts(module)
    assert frozen > 0
    result = run("check", spec, "--format", "json", *[arg for p in patterns for arg in ("--freeze", p)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["trainable_params"], data["params"] - data["trainable_params"]) == (trainable, frozen)
    table = run("check", spec, *[arg for p in patterns for arg in ("--freeze", p)]).output
    assert f"trainable:          {trainable:,} ({frozen:,} frozen)" in table


def test_freeze_that_matches_nothing_is_refused_as_training_refuses_it():
    result = run("check", RESNET18, "--freeze", "layer5")
    assert result.exit_code == 1
    assert "--freeze layer5: matches none of the model's 62 tensors (did you mean 'layer4'?)" in result.output
    assert "Traceback" not in result.output


LIBRARY = "archspec/library/torchvision.yaml"


def test_a_block_library_checks_as_a_library():
    result = run("check", LIBRARY)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("torchvision: a block library of 8 blocks (basic, bottleneck, conv_bn_act,")
    data = json.loads(run("check", LIBRARY, "--format", "json").output)
    assert (data["ok"], data["library"], data["blocks"][:2]) == (True, True, ["basic", "bottleneck"])


def test_a_block_librarys_mistake_is_located_in_it(tmp_path):
    lib = tmp_path / "lib.yaml"
    lib.write_text("archspec: 1\nblocks:\n  mlp:\n    layers: [{linear: {out: 8, bais: false}}]\n")
    result = run("check", str(lib))
    assert result.exit_code == 1
    assert f"{lib}:4:" in result.output and "bais" in result.output and "'input'" not in result.output


@pytest.mark.parametrize("command", [["check", LIBRARY, "--input", "3,32,32"], ["graph", LIBRARY],
                                     ["diff", LIBRARY, RESNET18], ["train", LIBRARY, "--epochs", "1"]])
def test_a_block_library_is_not_a_model(command):
    result = run(*command)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output
    assert "block library" in result.output
