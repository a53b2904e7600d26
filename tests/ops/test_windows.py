"""Swin's pieces by hand: `relative_position_index` and `shift_mask` against the hand-written
Swin reference (tests/reference/transformers.py) and against a brute-force reading of their
definitions; `take`'s refusals that the strategy leaves out; the Python forms the export
writes; and a spec using them checks without torch."""
from __future__ import annotations

import subprocess
import sys
from itertools import product
from pathlib import Path

import pytest
import torch
from torch import nn

import archspec.ops as ops
from archspec.compiler.ir import Type
from archspec.layers.windows import relative_position_index, shift_mask
from archspec.ops.base import ShapeRuleError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference import transformers  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "windows.yaml"


def made(name, **given):
    op = ops.get(name)
    a, problems = op.check_args(given)
    assert not problems
    return op, a


@pytest.mark.parametrize("w", [1, 2, 7])
def test_relative_position_index_is_torchvisions(w):
    op, a = made("relative_position_index", window=w, flatten=True)
    index = op.module(a, [])
    assert torch.equal(index, transformers.relative_position_index(w)) and index.dtype == torch.int64
    assert op.type(a, []) == Type((w ** 4,), "int64", batched=False)


def test_relative_position_index_of_a_non_square_window_reads_the_offsets_row():
    """timm's square (n, n) layout, a 3 x 2 window: the row of (dy, dx) in a 5 x 3 table."""
    index = relative_position_index((3, 2))
    tokens = list(product(range(3), range(2)))
    for (p, (py, px)), (q, (qy, qx)) in product(enumerate(tokens), repeat=2):
        assert index[p, q] == (py - qy + 2) * 3 + (px - qx + 1)
    assert index.max() == 5 * 3 - 1 and torch.equal(index.flatten(), relative_position_index((3, 2), flatten=True))


@pytest.mark.parametrize("size, window, shift", [
    ((56, 56), 7, (3, 3)),   # Swin-T's first stage
    ((14, 14), 7, (3, 3)),
    ((6, 9), 3, (1, 1)),     # not square
    ((14, 7), 7, (3, 0)),    # no shift along a side of one window
])
def test_shift_mask_is_torchvisions(size, window, shift):
    op, a = made("shift_mask", size=list(size), window=window, shift=list(shift))
    mask = op.module(a, [])
    expected = transformers.shift_mask(torch.zeros(1), *size, window, list(shift))
    assert torch.equal(mask, expected) and op.type(a, []) == Type(tuple(expected.shape), batched=False)


def test_shift_mask_separates_tokens_the_roll_brought_together():
    """A 4x4 map, 2x2 windows, shift 1: in the last window (rows and columns 2-3 of the rolled
    map) the four tokens came from four different corners, so each sees only itself."""
    mask = shift_mask((4, 4), (2, 2), (1, 1))
    assert torch.equal(mask[0], torch.zeros(4, 4))  # the first window holds one region
    assert torch.equal(mask[3], torch.full((4, 4), -100.0).fill_diagonal_(0.0))


@pytest.mark.parametrize("given, message", [
    ({"size": [8, 7], "window": 3, "shift": 1}, "size [8, 7] is not a whole number of 3 x 3 windows"),
    ({"size": [6, 6], "window": 3, "shift": [1, 3]}, "shift [1, 3] must be smaller than the window [3, 3]"),
])
def test_shift_mask_refusals(given, message):
    op, a = made("shift_mask", **given)
    with pytest.raises(ShapeRuleError, match=message.replace("[", r"\[")):
        op.type(a, [])


@pytest.mark.parametrize("name, given", [
    ("relative_position_index", {"window": [3, 2]}),
    ("relative_position_index", {"window": 7, "flatten": True}),
    ("shift_mask", {"size": [6, 4], "window": 2, "shift": [1, 0], "value": -1e4}),
])
def test_window_constants_python_form_makes_the_same_buffer(name, given):
    """What the Python export writes (with the function's source copied beside it) rebuilds the buffer."""
    import inspect

    op, a = made(name, **given)
    namespace = {"torch": torch, "nn": nn}
    for function in op.sources():
        exec(compile(inspect.getsource(function), function.__name__, "exec"), namespace)  # noqa: S102 - our own source
    written, built = eval(op.python(a, []), namespace), op.module(a, [])  # noqa: S307 - the op's own text
    assert torch.equal(written, built) and written.dtype == built.dtype
    assert getattr(written, "persistent", True) == getattr(built, "persistent", True) == a["persistent"]


def test_take_reads_rows_and_refuses_to_mix_samples():
    op, a = made("take")
    table, index = Type((169, 3), batched=False), Type((2401,), "int64", batched=False)
    assert op.type(a, [table, index]) == Type((2401, 3), batched=False)  # Swin's bias table[index]
    assert op.type(a, [table, Type((16,), "int64")]) == Type((16, 3))  # a lookup at batched tokens
    t = torch.randn(169, 3)
    i = torch.randint(0, 169, (2401,))
    torch.testing.assert_close(op.apply(op.bind(a, [table, index]), t, i), t[i], rtol=0, atol=0)
    with pytest.raises(ShapeRuleError, match="reads the rows \\(dim 0\\) of a batch-free table only, found a batched table"):
        op.type({"dim": 1}, [Type((5, 3)), Type((4,), "int64")])  # torch would read other samples' rows
    with pytest.raises(ShapeRuleError, match="expects an int64 input, found float32"):
        op.type(a, [table, Type((4,), batched=False)])


def test_the_fixture_checks_without_torch():
    code = ("import sys, archspec\n"
            f"report = archspec.check({str(FIXTURE)!r})\n"
            "assert report.ok and 'torch' not in sys.modules, sys.modules.get('torch')\n"
            "assert {report.graph.nodes[n]['op'].name for n in report.graph.ops()} >= set(sys.argv[1:])\n")
    result = subprocess.run([sys.executable, "-c", code, "take", "relative_position_index", "shift_mask"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
