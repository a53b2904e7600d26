"""Plugin ops registered in Python (archspec.register_op) and with --plugin: checked by a
forward pass on the meta device, compared with the same module built for real on the CPU."""
from __future__ import annotations

import json
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import archspec
from archspec.cli.main import main
from archspec import plugins
from archspec.plugins import Arg, Int, PluginError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plugin_layers import Pair, SqueezeExcite, Stem  # noqa: E402

SPEC = """archspec: 1
name: se_net
input: [3, 32, 32]
layers:
  - {id: stem, stem: {width: 16}}
  - {id: se1, squeeze_excite: 8}
  - {id: se2, squeeze_excite: {reduction: 2}}
  - {adaptive_avgpool2d: 1}
  - flatten
  - {id: fc, linear: 10}
"""


def reference() -> torch.nn.Sequential:
    """The network of SPEC written by hand: the independent count to compare with."""
    layers = [("stem", Stem(3, 16)), ("se1", SqueezeExcite(16, 8)), ("se2", SqueezeExcite(16, 2)),
              ("3", torch.nn.AdaptiveAvgPool2d(1)), ("4", torch.nn.Flatten()), ("fc", torch.nn.Linear(16, 10))]
    return torch.nn.Sequential(OrderedDict(layers))


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture
def registered(fresh_registry):
    archspec.register_op(SqueezeExcite)
    archspec.register_op(Stem, args=[Arg("width", Int(1), doc="output channels")], inputs={"in_channels": "c"})
    return fresh_registry


def test_no_shape_rule_is_checked_by_a_meta_forward(registered):
    report = archspec.check(SPEC)
    assert report.ok, report.diagnostics
    ref = reference()
    shapes, x = {}, torch.randn(2, 3, 32, 32)
    for name, layer in zip(["stem", "se1", "se2"], ref):
        x = layer(x)
        shapes[name] = tuple(x.shape[1:])
    nodes = report.graph.nodes
    assert {k: nodes[k]["types"][0].shape for k in shapes} == shapes == {"stem": (16, 16, 16), "se1": (16, 16, 16), "se2": (16, 16, 16)}
    assert [nodes[k]["params"] for k in shapes] == [count(layer) for layer in ref[:3]]
    assert report.params == count(ref) == 16 * 27 + 32 + (16 * 2 + 2 + 2 * 16 + 16) + (16 * 8 + 8 + 8 * 16 + 16) + 170
    # MACs from torch's FLOP counter: the stem's convolution and the gates' two linears
    assert nodes["stem"]["macs"] == 16 * 16 * 16 * 3 * 9 and nodes["se1"]["macs"] == 16 * 2 * 2 and nodes["se2"]["macs"] == 16 * 8 * 2
    assert report.checked_by_forward == ["squeeze_excite", "stem"]
    assert report.to_dict()["checked_by_forward"] == ["squeeze_excite", "stem"]
    assert report.table().splitlines()[-1] == ("note: squeeze_excite, stem checked by a forward pass on the meta device "
                                               "(torch.nn classes and plugin ops without a shape rule)")


def test_plugin_op_trains_like_a_builtin(registered):
    torch.manual_seed(0)
    model = archspec.build(SPEC)
    assert count(model) == count(reference())
    assert type(model.se1) is SqueezeExcite and model.se1.fc1.out_features == 2
    reference().load_state_dict(model.state_dict(), strict=True)  # same module paths and sizes
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    optimizer.step()
    assert all(not torch.equal(before[k], v) for k, v in model.named_parameters())


def test_shape_rule_is_used_instead_of_a_forward(fresh_registry):
    calls = []

    def rule(a, xs):
        calls.append(xs)
        return xs[0]

    archspec.register_op(SqueezeExcite, name="se", shape=rule, params=lambda a, xs: 0, macs=lambda a, xs, out: 7)
    report = archspec.check(SPEC.replace("squeeze_excite", "se").replace("stem: {width: 16}", "conv2d: {out: 16, kernel: 1}"))
    assert report.ok and report.checked_by_forward == []
    assert calls == [[(16, 32, 32)], [(16, 32, 32)]]
    nodes = report.graph.nodes
    assert [nodes[n]["macs"] for n in report.graph.ops() if nodes[n]["op"].name == "se"] == [7, 7]


def test_meta_forward_failure_is_a_located_shape_error(registered):
    bad = SPEC.replace("  - {id: se1, squeeze_excite: 8}\n", "  - flatten\n  - {id: se1, squeeze_excite: 8}\n")
    report = archspec.check(bad)
    assert not report.ok
    (d,) = report.diagnostics[:1]
    assert (d.loc.line, d.code) == (7, "shape")
    assert d.message.startswith("squeeze_excite: forward pass on the meta device failed for input [4096]: ")
    assert d.notes[0] == "at node 'se1': input 1 is [4096]"


def test_plugin_arguments_are_typed_and_spelled(registered):
    report = archspec.check(SPEC.replace("{reduction: 2}", "{reductoin: 2}").replace("{width: 16}", "{width: -1}"))
    messages = sorted(d.message for d in report.diagnostics)
    assert messages == ["squeeze_excite: unknown argument 'reductoin' (did you mean 'reduction'?)",
                        "stem: argument 'width': expected a value >= 1, found -1"]  # from the JSON Schema


def test_a_module_that_returns_two_tensors_is_refused(fresh_registry):
    archspec.register_op(Pair)
    report = archspec.check("archspec: 1\ninput: [4]\nlayers: [pair]\n")
    assert [d.message for d in report.diagnostics] == ["pair: forward returned tuple; an op made from a module returns one tensor"]


@pytest.mark.parametrize("target, keywords, message", [
    (Stem, {"name": "conv2d"}, "cannot register op 'conv2d' from register_op(): the name is taken by a built-in op"),
    (Stem, {"inputs": {"in_channels": "channels"}}, "plugin op 'stem' (Stem): inputs['in_channels'] must be one of c, h, w, d, shape, rank, found 'channels'"),
    (Stem, {"args": ["width"]}, "plugin op 'stem' (Stem): args must be archspec Arg(...) declarations"),
    (Stem, {"shap": None}, "unknown keyword 'shap' for a plugin op (expected: args, inputs, shape, params, macs, doc, main_arg)"),
    (len, {}, "a plugin op is an Op subclass or an nn.Module class, found <built-in function len>"),
])
def test_bad_registrations_are_refused_with_a_reason(fresh_registry, target, keywords, message):
    with pytest.raises(PluginError) as info:
        archspec.register_op(target, **keywords)
    assert info.value.diagnostics[0].message == message


def test_register_twice_names_the_first_origin(registered):
    with pytest.raises(PluginError, match=r"the name is taken by register_op\(\)"):
        archspec.register_op(SqueezeExcite)


def test_schema_follows_the_registry(fresh_registry):
    """An op registered after the JSON Schema was built and cached still validates (scalar form) and is listed."""
    assert archspec.check("archspec: 1\ninput: [4]\nlayers: [relu]\n").ok
    archspec.register_op(SqueezeExcite)
    assert archspec.check(SPEC.replace("stem: {width: 16}", "conv2d: {out: 16, kernel: 1}")).ok
    schema = json.loads(CliRunner().invoke(main, ["schema"]).output)
    op = schema["$defs"]["item"]["anyOf"][1]["properties"]["squeeze_excite"]
    assert op["description"] == "Scale each channel by a gate computed from the channel means (Hu et al., 2018)."


def test_ops_lists_plugin_ops_with_their_origin(registered):
    listing = CliRunner().invoke(main, ["ops"])
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    plugin = lines.index("plugin:")
    assert lines[plugin + 1:plugin + 5] == [
        "  squeeze_excite(reduction=4)", "      Scale each channel by a gate computed from the channel means (Hu et al., 2018).",
        "  stem(width)", "      A strided 3x3 convolution whose output size only a forward pass tells (no shape rule)."]
    detail = CliRunner().invoke(main, ["ops", "stem"])
    assert "plugin: register_op() (checked by a forward pass on the meta device)" in detail.stdout.splitlines()


# ---- the --plugin option ------------------------------------------------------------------
def test_cli_plugin_module_colon_class(fresh_registry, tmp_path):
    spec = tmp_path / "stem.yaml"
    spec.write_text("archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - {stem: {width: 4}}\n  - flatten\n")
    result = CliRunner().invoke(main, ["check", str(spec), "--plugin", "plugin_layers:SqueezeExcite",
                                       "--plugin", str(HERE / "register_stem.py"), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["output_shape"], out["params"], out["checked_by_forward"]) == ([64], 3 * 4 * 9 + 8, ["stem"])


@pytest.mark.parametrize("value, message", [
    ("no_such_module", "cannot import no_such_module: ModuleNotFoundError: No module named 'no_such_module'"),
    ("plugin_layers:Nope", "module plugin_layers has no attribute 'Nope'"),
    ("missing.py", "no such file: missing.py"),
])
def test_cli_bad_plugin_is_a_usage_error(fresh_registry, tmp_path, value, message):
    spec = tmp_path / "s.yaml"
    spec.write_text("archspec: 1\ninput: [4]\nlayers: [relu]\n")
    result = CliRunner().invoke(main, ["check", str(spec), "--plugin", value])
    assert result.exit_code == 2
    assert f"error: Invalid value for '--plugin': {message}" in result.output
    assert "Traceback" not in result.output


STEM_NET = "archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - {stem: {width: 4}}\n  - {adaptive_avgpool2d: 1}\n  - flatten\n  - {linear: 3}\n"
READING = [["check", "s.yaml"], ["graph", "s.yaml", "--format", "mermaid"], ["export", "s.yaml", "-o", "s.pt"],
           ["train", "s.yaml", "--data", "synthetic:24", "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--out", "run"],
           ["eval", "s.yaml", "--checkpoint", "run"], ["diff", "s.yaml", "s.yaml"], ["list", "specs"],
           ["new", "n", "--from", "s.yaml", "-o", "n.yaml"]]


def test_every_command_that_reads_a_spec_takes_plugin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(STEM_NET)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "s.yaml").write_text(STEM_NET)
    for args in READING:
        with plugins.restoring():
            without = CliRunner().invoke(main, args)
        with plugins.restoring():
            result = CliRunner().invoke(main, [*args, "--plugin", str(HERE / "register_stem.py")])
        assert without.exit_code == 1 and "Traceback" not in without.output, (args, without.output)
        assert result.exit_code == 0, (args, result.output)
    assert (tmp_path / "s.pt").is_file() and (tmp_path / "n.yaml").is_file()
