"""archspec ops, list and new through the CLI (CliRunner): exit code and message together."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import archspec
from archspec.cli.main import main
from archspec.ops import registry

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
# The published parameter counts of the torchvision architectures (torchvision's docs).
PUBLISHED = {"resnet18": 11_689_512, "resnet50": 25_557_032, "vgg16": 138_357_544, "densenet121": 7_978_856,
             "mobilenet_v2": 3_504_872, "convnext_tiny": 28_589_128, "efficientnet_b0": 5_288_548,
             "mobilenet_v3_large": 5_483_032, "shufflenet_v2_x1_0": 2_278_604}


def run(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


# ---- archspec ops ----------------------------------------------------------------------------
def test_ops_lists_every_registered_op_with_its_signature():
    result = run("ops")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    for name, op in registry().items():
        if op.family == "nn":  # a hundred torch.nn classes are listed by name: `archspec ops nn.X` has the signature
            assert sum(f" {name}," in f" {line}," for line in lines) == 1, name
        else:
            assert sum(line.startswith(f"  {name}(") for line in lines) == 1, name
    assert "  linear(out, bias=true)" in lines
    assert "  conv2d(out, kernel, stride=1, padding=0, dilation=1, groups=1, bias=true, padding_mode=zeros)" in lines
    assert "  maxpool2d(kernel, stride=null, padding=0, dilation=1, ceil_mode=false)" in lines


def test_ops_json_describes_one_op():
    result = run("ops", "linear", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "name": "linear", "doc": registry()["linear"].doc, "category": "linear", "inputs": 1, "roles": ["input"],
        "outputs": ["output"], "dtypes": ["float32"], "batch_free": True, "main_arg": "out",
        "args": [{"name": "out", "type": "a positive integer", "required": True, "doc": "output features"},
                 {"name": "bias", "type": "true or false", "required": False, "default": True, "doc": "add a learnable bias"}],
        "plugin": None, "checked_by_forward": False}


def test_ops_json_covers_the_registry_and_merges():
    ops = {o["name"]: o for o in json.loads(run("ops", "--format", "json").stdout)}
    assert set(ops) == set(registry())
    assert ops["concat"]["inputs"] == "2+" and ops["conv2d"]["args"][1] == {
        "name": "kernel", "type": "a positive integer or a list of 2", "required": True, "doc": "kernel size"}


def test_ops_detail_is_a_table_of_arguments():
    result = run("ops", "dropout")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:3] == [f"dropout: {registry()['dropout'].doc}", "inputs: one",
                                              "scalar form: `dropout: VALUE` sets p"]
    assert any(line.split()[:1] == ["p"] and " 0.5 " in line for line in result.stdout.splitlines())


def test_ops_unknown_name_is_a_usage_error():
    result = run("ops", "conv2")
    assert result.exit_code == 2
    assert "error: Invalid value for NAME: unknown op 'conv2' (did you mean 'conv2d'?)" in result.output


# ---- archspec list ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def listed():
    result = run("list", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_finds_every_bundled_spec_with_its_doc(listed):
    assert Path(listed["folder"]).resolve() == SPECS.resolve()
    expected = sorted(p.relative_to(SPECS).with_suffix("").as_posix() for p in SPECS.rglob("*.yaml"))
    assert [s["spec"] for s in listed["specs"]] == expected
    for s in listed["specs"]:
        data = yaml.safe_load((SPECS / f"{s['spec']}.yaml").read_text())
        assert s["ok"] and s["doc"] == data["doc"] and s["name"] == data.get("name", Path(s["spec"]).name)


def test_list_counts_parameters_as_published(listed):
    counts = {s["spec"]: s["params"] for s in listed["specs"]}
    assert {k: counts[k] for k in PUBLISHED} == PUBLISHED


def test_list_table_has_one_row_per_spec():
    result = run("list")
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
    assert "11,689,512" in rows["resnet18"] and "[3, 224, 224]" in rows["resnet18"]
    assert len(rows) == len(list(SPECS.rglob("*.yaml")))


def test_list_a_folder_with_an_invalid_spec_exits_1(tmp_path):
    (tmp_path / "good.yaml").write_text("archspec: 1\ndoc: Two layers.\ninput: [4]\nlayers: [{linear: 3}, relu]\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.yaml").write_text("archspec: 1\ninput: [4]\nlayers: [{linear: 0}]\n")
    result = run("list", tmp_path)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[2].split() == ["good", "[4]", "15", "Two", "layers."]
    assert result.stdout.splitlines()[3].split()[:4] == ["sub/bad", "?", "invalid", "(1"]
    assert f"{tmp_path / 'sub' / 'bad.yaml'}: invalid: run `archspec check" in result.stderr


def test_list_missing_folder_is_a_usage_error(tmp_path):
    result = run("list", tmp_path / "nope")
    assert result.exit_code == 2 and "does not exist" in result.output


# ---- archspec new ----------------------------------------------------------------------------
def test_new_writes_a_spec_that_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("new", "tiny")
    assert result.exit_code == 0, result.output
    report = archspec.check("tiny.yaml")
    assert report.ok and report.spec.name == "tiny" and report.output_shapes == {"fc": (10,)}
    assert result.stdout == f"wrote tiny.yaml: tiny, {report.params:,} parameters. Check it with: archspec check tiny.yaml\n"
    assert run("check", "tiny.yaml").exit_code == 0
    assert archspec.check("tiny.yaml", width=8).params < report.params  # its params are live


def test_new_refuses_to_overwrite(tmp_path):
    target = tmp_path / "mine.yaml"
    target.write_text("keep me")
    result = run("new", "mine", "-o", target)
    assert result.exit_code == 1
    assert f"error: {target} exists; not overwriting it" in result.output
    assert target.read_text() == "keep me"


def test_new_from_a_bundled_spec_changes_only_the_name(tmp_path):
    out = tmp_path / "my_googlenet.yaml"
    result = run("new", "my_googlenet", "--from", "d2l/googlenet", "-o", out)
    assert result.exit_code == 0, result.output
    old, new = (SPECS / "d2l" / "googlenet.yaml").read_text().splitlines(), out.read_text().splitlines()
    assert [(a, b) for a, b in zip(old, new) if a != b] == [("name: googlenet", "name: my_googlenet")]
    assert len(old) == len(new)
    assert archspec.check(str(out)).params == archspec.check(str(SPECS / "d2l" / "googlenet.yaml")).params


@pytest.mark.parametrize("text, name, line", [
    ("archspec: 1\ninput: [4]\nlayers: [relu]\n", "net2", "name: net2"),  # no name: one is added
    ("archspec: 1  # v1\nname: 'old'   # keep\ninput: [4]\nlayers: [relu]\n", "true", "name: \"true\"   # keep"),
])
def test_new_from_a_file_sets_the_name(tmp_path, text, name, line):
    source = tmp_path / "src.yaml"
    source.write_text(text)
    result = run("new", name, "--from", source, "-o", "-")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == line
    assert archspec.check(result.stdout).spec.name == name


def test_new_from_an_invalid_spec_shows_its_errors(tmp_path):
    source = tmp_path / "bad.yaml"
    source.write_text("archspec: 1\ninput: [4]\nlayers: [{linaer: {out: 3}}]\n")
    result = run("new", "x", "--from", source, "-o", tmp_path / "x.yaml")
    assert result.exit_code == 1
    assert f"{source}:3:11: error: unknown op or block 'linaer' (did you mean 'linear'?)" in result.stderr
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("args, message", [
    (["new", "a b"], "Invalid value for NAME: use letters, digits"),
    (["new", "x", "--from", "resnet19"], "Invalid value for --from: no spec 'resnet19': not a file, nor a bundled spec "
                                         "(did you mean 'resnet18'?)"),
])
def test_new_usage_errors(args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_list_shows_a_block_library_as_one(tmp_path):
    """A library (blocks, no layers or input) is listed with its blocks, not as an invalid spec."""
    (tmp_path / "blocks.yaml").write_text("archspec: 1\ndoc: Shared blocks.\nblocks:\n"
                                          "  mlp: {params: {width: required}, layers: [{linear: $width}, relu]}\n"
                                          "  head: {layers: [{linear: 10}]}\n")
    (tmp_path / "net.yaml").write_text("archspec: 1\ninput: [4]\nimports: [blocks.yaml]\nlayers: [{mlp: {width: 8}}, head]\n")
    result = run("list", tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["blocks", "library", "2", "blocks", "Shared", "blocks."]
    assert lines[3].split()[:3] == ["net", "[4]", f"{(4 * 8 + 8) + (8 * 10 + 10):,}"]
