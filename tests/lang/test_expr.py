"""The expression evaluator: what it computes, and what it refuses."""
from __future__ import annotations

import pytest

from archspec.lang.expr import ExprError, InputShape, evaluate, resolve

NAMES = {"planes": 64, "stride": 2, "i": 3, "input": InputShape((32, 28, 28)), "act": "relu"}


@pytest.mark.parametrize("text, value", [
    ("planes * 4", 256), ("planes // 3", 21), ("planes / 128", 0.5), ("2 ** 10", 1024), ("-stride", -2),
    ("7 % 4", 3), ("stride != 1 or input.c != planes", True), ("not (i > 2)", False), ("1 < i <= 3", True),
    ("2 if i == 0 else 1", 1), ("[1, 2, 3][i - 1]", 3), ("[4, 5, 6][1:]", [5, 6]), ("input.shape", [32, 28, 28]),
    ("input.h * input.w", 784), ("input.rank", 3), ("max(planes, 100)", 100), ("min(1, 2, 0)", 0), ("ceil(7 / 2)", 4),
    ("floor(7 / 2)", 3), ("round(2.6)", 3), ("int(planes / 3)", 21), ("len([1, 2])", 2), ("abs(-3)", 3),
    ("act == 'relu'", True), ("true and False", False), ("'a' in act", False), ("'r' in act", True),
    ("input.shape[-1]", 28), ("input.shape[-3]", 32), ("input.dtype", "float32"), ("input.batched", True),
    ("sum([1, 2, 3][:i - 1])", 3), ("sum([0.5, 1])", 1.5), ("any([0, stride > 1])", True), ("all([1, planes > 64])", False),
    ("round(log(planes) / log(2))", 6), ("log2(planes)", 6.0), ("exp(0)", 1.0), ("sqrt(planes)", 8.0),
])
def test_values_match_python(text, value):
    assert evaluate(text, NAMES) == value


@pytest.mark.parametrize("text, message", [
    ("().__class__", "attribute '__class__' is not allowed"),
    ("input.__class__", "attribute '__class__' is not allowed"),
    ("__import__('os')", "calling '__import__' is not allowed"),
    ("__builtins__", "name '__builtins__' is not allowed"),
    ("open('x')", "calling 'open' is not allowed"),
    ("planes.bit_length()", "calling 'planes.bit_length' is not allowed"),
    ("lambda: 1", "is not allowed in an expression"),
    ("[x for x in [1]]", "is not allowed in an expression"),
    ("(y := 3)", "is not allowed in an expression"),
    ("10 ** 10 ** 10", "number too large"),
    ("9 ** 9 ** 9 ** 9", "number too large"),
    ("'a' * 10 ** 9", "result too long"),
    ("[0] * 100000", "result too long"),
    ("1 / 0", "division by zero"),
    ("plane", "unknown name 'plane' (did you mean 'planes'?)"),
    ("input + 1", "input is a value"),
    ("input.x", "input has no attribute 'x'"),
    ("min", "'min' is a function"),
    ("max(key=1)", "keyword arguments are not allowed"),
    ("1 +", "invalid expression"),
    ("x" * 2000, "expression too long"),
    ("(" * 300 + ")" * 300, "nested"),
    ("log(0)", "math domain error"),
    ("exp(1000)", "range"),
    ("sum('ab')", "sum adds numbers"),
    ("sum([[1], [2]], [])", "sum adds numbers"),
    ("input.shape[5]", "index out of range"),
])
def test_refusals_are_errors_with_reasons(text, message):
    with pytest.raises(ExprError) as info:
        evaluate(text, NAMES)
    assert message in str(info.value)


def test_input_dims_follow_the_shape_rank():
    assert evaluate("input.c", {"input": InputShape((10,))}) == 10
    with pytest.raises(ExprError, match=r"input.h is not defined for an input of shape \[10\]"):
        evaluate("input.h", {"input": InputShape((10,))})
    assert evaluate("input.d", {"input": InputShape((4, 8, 16, 16))}) == 8
    tokens = {"input": InputShape((16,), "int64")}
    assert evaluate("input.dtype == 'int64' and input.shape[-1] == 16", tokens) is True
    with pytest.raises(ExprError, match=r"input.w is not defined .* \(input.shape\[k\] reads any dim\)"):
        evaluate("input.w", tokens)


@pytest.mark.parametrize("value, result", [
    ("$planes", 64), ("${planes * 2}", 128), ("denselayer${i + 1}", "denselayer4"),
    ("${stride == 2}", True), ("plain text", "plain text"), (5, 5), ([1, "$i"], [1, 3]), ({"a": "$stride"}, {"a": 2}),
    ("b${stride == 2}", "btrue"),
])
def test_resolve_handles_names_whole_expressions_and_interpolation(value, result):
    assert resolve(value, NAMES) == result


def test_resolve_refuses_a_dollar_that_is_not_an_expression():
    with pytest.raises(ExprError, match="is not an expression"):
        resolve("$ 5", NAMES)
