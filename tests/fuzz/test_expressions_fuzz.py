"""Random expressions, well-formed or not, with or without escapes: the evaluator returns
a bounded value or raises ExprError, and never anything else, quickly."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from hypothesis import given, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archspec.lang.expr import MAX_SEQUENCE, ExprError, InputShape, evaluate  # noqa: E402
from fuzz_budget import fuzz_settings  # noqa: E402

NAMES = {"input": InputShape((3, 8, 8)), "i": 2, "planes": 64, "act": "relu", "sizes": [1, 2, 3]}
ATOMS = st.sampled_from(["1", "0", "-1", "2", "10", "1e308", "0.5", "'a'", "''", "[1, 2]", "[]", "()", "True", "None",
                         "i", "planes", "act", "sizes", "input", "input.c", "input.shape", "input.h", "x", "__class__",
                         "10000", "2**62", "9**9", "'%s'", "'a' * 9999", "[[1] * 100] * 99"])
BINARY = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "==", "<", ">=", "!=", " in ", " and ", " or ", " is ", "<<",
                          "@", "&", "|", "^", ""])
CALLS = st.sampled_from(["min", "max", "int", "float", "round", "ceil", "floor", "len", "abs", "str", "getattr",
                         "__import__", "eval", "range", "lambda: ", "type"])


def wrap(inner):
    return st.one_of(
        st.tuples(inner, BINARY, inner).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
        st.tuples(CALLS, st.lists(inner, max_size=3)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        inner.map(lambda e: f"({e})"), inner.map(lambda e: f"-{e}"), inner.map(lambda e: f"not {e}"),
        inner.map(lambda e: f"[{e}]"), st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        st.tuples(inner, st.sampled_from(["__class__", "c", "shape", "bit_length", "__mro__", "real"])).map(
            lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"[x for x in {t[0]}] + {t[1]}"),
        st.tuples(inner, st.sampled_from(["1:", ":2", "::-1", "1:10**18:10**17"])).map(lambda t: f"{t[0]}[{t[1]}]"),
    )


EXPRESSIONS = st.recursive(ATOMS, wrap, max_leaves=12)
SOUP = st.lists(st.sampled_from(list("()[]{}+-*/%<>=!.,:'\"_ aix0129e") + ["**", "__", "lambda", " if ", " else "]),
                max_size=40).map("".join)


def size(value, budget=MAX_SEQUENCE + 1) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return len(value) + sum(size(v) for v in value if isinstance(v, (list, tuple, str)))
    return 1


def assert_bounded(text):
    start = time.perf_counter()
    try:
        value = evaluate(text, NAMES)
    except ExprError as e:
        assert str(e)
    else:
        assert size(value) <= MAX_SEQUENCE
        if isinstance(value, int) and not isinstance(value, bool):
            assert value.bit_length() <= 64
        str(value)  # printable quickly
    assert time.perf_counter() - start < 10, text  # no hang (each takes well under a millisecond)


@fuzz_settings(short=300, long=20000)
@given(EXPRESSIONS)
def test_expressions_evaluate_or_raise_expr_error(text):
    assert_bounded(text)


@fuzz_settings(short=200, long=10000)
@given(SOUP)
def test_character_soup_evaluates_or_raises_expr_error(text):
    assert_bounded(text)
