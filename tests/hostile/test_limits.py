"""Size limits: each refuses at a place in the spec, names the flag that raises it, and
can be raised from the API (limits=archspec.Limits(...)) and the CLI (--max-*)."""
from __future__ import annotations


import pytest
from click.testing import CliRunner

import archspec
from archspec.cli.main import main

HEAD = "archspec: 1\ninput: [3, 8, 8]\n"
NESTED = HEAD + "blocks:\n  b: {layers: [{relu, repeat: 200}]}\nlayers:\n  - {b, repeat: 200}\n"  # 40,000 nodes
REPEAT = HEAD + "layers:\n  - {relu, repeat: 20000}\n"
HUGE = "archspec: 1\ninput: [1000000]\nlayers:\n  - {linear: 1000000}\n"  # 10^12 parameters


def only(report):
    (d,) = report.diagnostics
    return d.loc.line, d.loc.col, d.code, d.message


def test_expanded_node_count_is_limited_and_can_be_raised():
    line, col, code, message = only(archspec.check(NESTED))
    assert (line, col, code) == (4, 16, "too-many-nodes")  # the inner relu item
    assert message == "spec expands to more than 20,000 nodes (raise the limit with --max-nodes)"
    assert archspec.check(NESTED, limits=archspec.Limits(max_nodes=50_000)).ok


def test_repeat_count_is_limited_and_can_be_raised():
    assert only(archspec.check(REPEAT)) == (
        4, 20, "too-many", "repeat: 20,000 copies is over the limit of 10,000 (raise it with --max-repeat)")
    limits = archspec.Limits(max_repeat=20_000, max_nodes=20_000)
    assert archspec.check(REPEAT, limits=limits).ok


def test_parameter_count_is_limited_without_allocating():
    line, col, code, message = only(archspec.check(HUGE))
    assert (line, col, code) == (4, 5, "too-many-params")
    assert message == ("the model has 1,000,001,000,000 parameters, over the limit of 100,000,000,000 "
                       "(raise it with --max-params)")
    assert archspec.check(HUGE, limits=archspec.Limits(max_params=None)).ok
    with pytest.raises(archspec.ResourceError, match="over the limit of 100,000,000,000"):
        archspec.build(HUGE)


def test_block_depth_is_limited_with_the_chain_named():
    blocks = "".join(f"  b{k}: {{layers: [b{k + 1}]}}\n" for k in range(40)) + "  b40: {layers: [relu]}\n"
    (d,) = archspec.check(HEAD + "blocks:\n" + blocks + "layers: [b0]\n").diagnostics
    assert d.message.startswith("blocks call blocks more than 32 deep: b0 -> b1 -> ")
    assert archspec.check(HEAD + "blocks:\n" + blocks + "layers: [b0]\n", limits=archspec.Limits(max_block_depth=64)).ok


def test_deep_nesting_within_every_limit_is_an_error_not_a_recursion_error():
    def nested(depth, leaf):
        return leaf if depth == 0 else "{layers: [" + nested(depth - 1, leaf) + "]}"

    blocks = "".join(f"  b{k}: {{layers: [{nested(28, f'b{k + 1}' if k < 30 else 'relu')}]}}\n" for k in range(31))
    report = archspec.check(HEAD + "blocks:\n" + blocks + "layers: [b0]\n")
    assert [d.message for d in report.diagnostics] == [
        "blocks and sub-lists are nested too deeply to expand: flatten some of them"]


def test_a_spec_param_named_limits_is_still_a_param():
    spec = HEAD + "params: {limits: 4}\nlayers:\n  - {conv2d: {out: $limits, kernel: 1}}\n"
    assert archspec.check(spec, limits=6).output_shapes == {"0": (6, 8, 8)}
    assert archspec.check(spec, limits=archspec.Limits()).output_shapes == {"0": (4, 8, 8)}


@pytest.mark.parametrize("text, flags", [
    (NESTED, ["--max-nodes", "50000"]), (REPEAT, ["--max-repeat", "20000"]), (HUGE, ["--max-params", "2000000000000"]),
])
def test_cli_flags_raise_the_limits(tmp_path, text, flags):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    refused = CliRunner().invoke(main, ["check", str(path)], catch_exceptions=False)
    assert refused.exit_code == 1 and f"raise it with {flags[0]}" in refused.output.replace("the limit with", "it with")
    allowed = CliRunner().invoke(main, ["check", str(path), *flags], catch_exceptions=False)
    assert allowed.exit_code == 0, allowed.output


def test_cli_can_lower_the_parameter_limit(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + "layers:\n  - flatten\n  - {linear: 10}\n")
    result = CliRunner().invoke(main, ["check", str(path), "--max-params", "100"], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"{path}:5:5: error: the model has 1,930 parameters, over the limit of 100" in result.output
