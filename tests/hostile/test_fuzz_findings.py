"""What the fuzz suite (tests/fuzz) found, kept as plain regression tests."""
from __future__ import annotations

import pytest
import torch

import archspec

HEAD = "archspec: 1\ninput: [2, 4, 4]\n"


@pytest.mark.parametrize("layers, where, message", [
    # a parallel branch overwrote the input the other branch reads: backward failed
    ("  - parallel: [{conv2d: {out: 2, kernel: 1}}, [{relu: {inplace: true}}, {conv2d: {out: 2, kernel: 1}}]]\n    merge: add\n",
     (4, 48), "relu: inplace: true would overwrite 'input', which '0.0' (conv2d) also reads: drop inplace here"),
    # a residual body overwrote the identity shortcut: silently wrong values
    ("  - residual: {body: [{relu: {inplace: true}}, {conv2d: {out: 2, kernel: 1}}]}\n",
     (4, 23), "relu: inplace: true would overwrite 'input', which '0.2' (add) also reads: drop inplace here"),
    # a shortcut taken with from: after an inplace op on the same value
    ("  - {id: a, conv2d: {out: 2, kernel: 1}}\n  - {id: d, dropout: {p: 0.5, inplace: true}}\n  - {add, from: [d, a]}\n",
     (5, 5), "dropout: inplace: true would overwrite 'a', which '2' (add) also reads: drop inplace here"),
])
def test_inplace_op_on_a_value_read_elsewhere_is_an_error(layers, where, message):
    (d,) = archspec.check(HEAD + "layers:\n" + layers).diagnostics
    assert ((d.loc.line, d.loc.col), d.message) == (where, message)
    with pytest.raises(archspec.GraphError):
        archspec.build(HEAD + "layers:\n" + layers)


def test_inplace_op_that_is_the_only_reader_is_fine():
    text = HEAD + "layers:\n  - {conv2d: {out: 2, kernel: 1}}\n  - {relu: {inplace: true}}\n" \
                  "  - residual: {body: [{conv2d: {out: 2, kernel: 1}}, {relu: {inplace: true}}]}\n"
    module = archspec.build(text)
    x = torch.randn(3, 2, 4, 4, requires_grad=True)
    module(x.clone()).sum().backward()
    assert x.grad is not None


@pytest.mark.parametrize("text, where", [("name: fuzz\ni", (2, 2)), ("a: [", (1, 5)), ("x: 'abc", (1, 8))])
def test_a_yaml_error_at_the_end_of_the_text_points_inside_it(text, where):
    (d,) = archspec.check(text).diagnostics
    assert (d.loc.line, d.loc.col) == where  # libyaml marks the line after the last one


@pytest.mark.parametrize("tail, message", [
    ("", "missing required key 'layers'"),
    ("layers: null\n", "'layers': expected a list, found nothing (null)"),
    ("blocks: 1\nlayers: [relu]\n", "'blocks': expected a mapping, found int 1"),
    ("blocks: null\nlayers: [relu]\n", "'blocks': expected a mapping, found nothing (null)"),
])
def test_a_missing_or_mistyped_layers_or_blocks_is_an_error_not_a_crash(tail, message):
    # KeyError, TypeError and IndexError tracebacks before: errors at 'layers' itself were
    # taken for errors inside one of its items, and expansion went on
    assert [d.message for d in archspec.check(HEAD + tail).diagnostics] == [message]


def test_python_syntax_warnings_of_an_expression_stay_quiet(recwarn):
    text = HEAD + "layers:\n  - {conv2d: {out: '${1if 1 else 2}', kernel: 1}}\n"
    assert archspec.check(text).output_shapes == {"0": (1, 4, 4)}
    assert not [w for w in recwarn if issubclass(w.category, SyntaxWarning)]


def test_a_list_as_id_beside_another_schema_error_in_the_item_is_located():
    # the schema reported only the nested error; expansion then hashed the list: TypeError
    text = HEAD + "layers:\n- dense:\n    layers:\n    - - conv2d: {out: 1, kernel: 3, padding: 1}\n    repeat: 1\n  id: [n1]\n"
    assert [(d.loc.line, d.loc.col, d.message) for d in archspec.check(text).diagnostics][-1] == (
        8, 7, "id: expected a name or an integer, found list ['n1']")


@pytest.mark.parametrize("text", ["n", "[1, 2]", "archspec: 1\nname: [x]\nparams: [1]\ntrain: 3\nlayers: [relu]\n"])
def test_a_spec_that_is_not_a_mapping_reports_in_json(tmp_path, text):
    # report.to_dict() read spec.name with data.get on a str: AttributeError in --format json
    from click.testing import CliRunner

    from archspec.cli.main import main

    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["check", str(path), "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 1 and '"ok": false' in result.output


@pytest.mark.parametrize("block, found", [("{params: {out: required}}", "found none"),
                                          ("{layers: [relu], dense: {layers: [relu], repeat: 1}}", "found layers, dense")])
def test_a_block_without_exactly_one_body_is_located(block, found):
    # no body: StopIteration from expansion; two bodies: the second was silently ignored
    text = HEAD + f"blocks:\n  b: {block}\nlayers: [b]\n"
    assert [(d.loc.line, d.loc.col, d.message) for d in archspec.check(text).diagnostics] == [
        (4, 3, f"block 'b' needs one body: layers, parallel, residual or dense; {found}")]


@pytest.mark.parametrize("text, message", [
    ("layers:\n- maxpool2d: {kernel: 1, 0, ceil_mode: false}\n",
     "maxpool2d: unknown argument '0' (expected one of: kernel, stride, padding, dilation, ceil_mode)"),
    ("3: x\nlayers: [relu]\n", "unknown key '3' (expected one of: archspec, name, doc, imports, input, params, blocks, "
                               "layers, outputs, train)"),
])
def test_a_key_that_is_not_a_string_is_a_schema_error(text, message):
    # jsonschema-rs (the fast path) raised ValueError: Dict key must be str
    assert message in [d.message for d in archspec.check(HEAD + text).diagnostics]
