"""Expressions from a hostile spec: every escape, operator outside the language and
oversized result is an ExprError with a message, quickly, and never another exception."""
from __future__ import annotations

import time

import pytest

import archspec
from archspec.lang.expr import ExprError, InputShape, evaluate

NAMES = {"input": InputShape((3, 8, 8)), "planes": 4, "big": [1] * 10_000}


@pytest.mark.parametrize("text, message", [
    ("().__class__", "attribute '__class__' is not allowed"),
    ("[].__class__.__mro__", "attribute '__mro__' is not allowed"),
    ("input.__class__.__init__.__globals__", "attribute '__globals__' is not allowed"),
    ("(lambda: 1)()", "calling 'lambda: 1' is not allowed"),
    ("[x for x in [1]]", "is not allowed in an expression"),
    ("{x: 1 for x in [1]}", "is not allowed in an expression"),
    ("(y := 3)", "is not allowed in an expression"),
    ("f'{planes}'", "is not allowed in an expression"),
    ("getattr(input, 'c')", "calling 'getattr' is not allowed"),
    ("max.__self__", "attribute '__self__' is not allowed"),
    ("~planes", "operator '~' is not allowed"),
    ("planes is 4", "operator 'is' is not allowed"),
    ("planes is not 4", "operator 'is not' is not allowed"),
    ("planes << 3", "operator '<<' is not allowed"),
    ("planes @ 3", "operator '@' is not allowed"),
    ("(-8) ** 0.5", "result is not a real number"),
    ("1j", "constant 1j is not allowed"),
    ("10 ** 10 ** 10", "number too large"),
    ("9 ** 9 ** 9 ** 9", "number too large"),
    ("'a' * 10 ** 9", "result too long"),
    ("'%999999999d' % 1", "'%' formatting of text is not allowed"),
    ("'%s' % planes", "'%' formatting of text is not allowed"),
    ("round(10, -10 ** 18)", "round: digits must be an integer from -64 to 64"),
    ("[[1] * 10000] * 10000", "result too long"),
    ("[[[1] * 100] * 100] * 100", "result too long"),
    ("[big, big]", "result too long"),
    ("big + big", "result too long"),
    ("big * 2", "result too long"),
    ("int('9' * 4000) * int('9' * 4000)", "number too large"),
    ("float('inf')", "not a finite number"),
    ("-" * 990 + "1", "too deeply nested"),
    ("1" + "+1" * 600, "expression too long"),
])
def test_refused_quickly_with_a_message(text, message):
    """Bounded work, not a speed claim: CPU seconds (what the expression costs), which a busy
    machine does not inflate as it does wall time; an unbounded evaluation takes minutes."""
    start = time.process_time()
    with pytest.raises(ExprError, match=None) as info:
        evaluate(text, NAMES)
    assert message in str(info.value)
    assert time.process_time() - start < 1.0


@pytest.mark.parametrize("text, value", [
    ("[1] * 10000", [1] * 10_000), ("round(1234, -2)", 1200), ("round(2.567, 2)", 2.57), ("7 % 4", 3),
    ("len(big)", 10_000), ("[[1] * 100] * 99", [[1] * 100] * 99), ("'ab' * 3", "ababab"),
])
def test_what_stays_inside_the_bounds_still_works(text, value):
    assert evaluate(text, NAMES) == value


def test_a_refused_expression_is_a_located_error_in_a_spec():
    spec = "archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - {conv2d: {out: '${[[1] * 10000] * 10000}', kernel: 1}}\n"
    (d,) = archspec.check(spec).diagnostics
    assert (d.loc.line, d.loc.col) == (4, 20)
    assert d.message == "bad expression: result too long (more than 10000 items)"
