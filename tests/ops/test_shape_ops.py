"""The shape ops' rules by hand: shapes and MACs worked out on paper, the refusals the
strategies leave out (where torch accepts and does something else than the op means: the
batch moved or mixed, a circular pad past what a crop keeps, whose result torch leaves partly
unwritten) and the dims of batched and batch-free values."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import archspec
import archspec.ops as ops
from archspec.compiler.ir import Type
from archspec.lang.schema import ITEM_KEYS
from archspec.ops.base import ShapeRuleError
from archspec.ops.reshape import value_dim


def T(shape, batched=True, dtype="float32") -> Type:
    return Type(tuple(shape), dtype, batched)


def rule(name, ts, **given):
    op = ops.get(name)
    a, problems = op.check_args(given)
    assert not problems
    return op, a, op.type(a, ts)


def test_op_names_are_not_item_keys():
    """`repeat:` on an item makes copies: einops.repeat is the op `tile`."""
    assert not set(ops.registry()) & set(ITEM_KEYS)


@pytest.mark.parametrize("dim, t, index", [
    (1, T((3, 4)), 0), (-1, T((3, 4)), 1), (0, T((3, 4), False), 0), (-1, T((3, 4), False), 1), (3, T((3, 4)), 2),
])
def test_value_dim_counts_the_batch_of_batched_values_only(dim, t, index):
    assert value_dim("op", dim, t, extra=dim == 3) == index


@pytest.mark.parametrize("dim, t, message", [
    (0, T((3, 4)), "op: dim 0 means the batch dim (0); sample dims are 1..2"),
    (-3, T((3, 4)), "op: dim -3 means the batch dim"),
    (2, T((3, 4), False), "op: dim 2 is out of range for batch-free input [3, 4] (valid: -2..1)"),
    (0, T((), False), "op: dim 0 is out of range for batch-free input [] (it has no dims)"),
])
def test_value_dim_refusals(dim, t, message):
    with pytest.raises(ShapeRuleError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        value_dim("op", dim, t)


@pytest.mark.parametrize("name, args, ts, outs, macs", [
    ("select", {"index": 0}, [T((197, 768))], [(768,)], 0),                      # ViT's class token x[:, 0]
    ("select", {"index": -1, "dim": 0}, [T((4, 5), False)], [(5,)], 0),
    ("slice", {"start": -3, "step": 2}, [T((7, 2))], [(2, 2)], 0),
    ("slice", {"dim": -1, "stop": 4}, [T((3, 6))], [(3, 4)], 0),
    ("split", {"sizes": [768, 768, 768], "dim": 2}, [T((16, 2304))], [(16, 768)] * 3, 0),  # GPT's q, k, v
    ("chunk", {"n": 2}, [T((116, 28, 28))], [(58, 28, 28)] * 2, 0),                  # ShuffleNet's halves
    ("chunk", {"n": 3, "dim": -1}, [T((2, 5))], [(2, 2), (2, 2), (2, 1)], 0),         # torch.chunk: ceil(5/3) = 2
    ("transpose", {"dim0": -2, "dim1": -1}, [T((12, 49, 32))], [(12, 32, 49)], 0),
    ("roll", {"shifts": [-3, -3], "dims": [1, 2]}, [T((56, 56, 96))], [(56, 56, 96)], 0),  # Swin's shift
    ("pad", {"pad": [0, 0, 0, 3, 0, 3]}, [T((53, 53, 96))], [(56, 56, 96)], 0),     # Swin's pad to whole windows
    ("pad", {"pad": [1, 2, 3, 4], "mode": "reflect"}, [T((3, 8, 8))], [(3, 15, 11)], 0),
    ("pad", {"pad": [2, 2], "mode": "circular"}, [T((4, 5), False)], [(4, 9)], 0),
    ("matmul", {}, [T((12, 49, 32)), T((12, 32, 49))], [(12, 49, 49)], 12 * 49 * 49 * 32),  # attention scores
    ("matmul", {}, [T((50, 64)), T((64, 10), False)], [(50, 10)], 50 * 10 * 64),        # times a weight
    ("matmul", {}, [T((64,)), T((64, 10), False)], [(10,)], 640),                      # a batched vector
    ("matmul", {}, [T((3, 64)), T((64,), False)], [(3,)], 192),                        # matrix-vector
    ("matmul", {}, [T((64,), False), T((3, 64, 5))], [(3, 5)], 3 * 5 * 64),
    ("matmul", {}, [T((4, 3), False), T((3, 2), False)], [(4, 2)], 24),                  # two learnable tensors
    ("matmul", {}, [T((8, 1, 4, 6)), T((1, 5, 6, 2))], [(8, 5, 4, 2)], 8 * 5 * 4 * 2 * 6),
    ("rearrange", {"pattern": "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", "sizes": {"p1": 16, "p2": 16}},
     [T((3, 224, 224))], [(196, 768)], 0),                                         # ViT-B/16's patches
    ("reduce", {"pattern": "b c (h 2) (w 2) -> b c h w", "reduction": "max"}, [T((8, 6, 4))], [(8, 3, 2)], 0),
    ("tile", {"pattern": "b d -> b n d", "sizes": {"n": 4}}, [T((16,))], [(4, 16)], 0),
])
def test_hand_computed(name, args, ts, outs, macs):
    op, a, out = rule(name, ts, **args)
    assert [t.shape for t in (out if isinstance(out, tuple) else (out,))] == outs
    assert op.macs(op.bind(a, ts), [t.shape for t in ts], outs[0]) == macs


@pytest.mark.parametrize("name, args, ts, message", [
    ("select", {"index": 0, "dim": 0}, [T((3, 4))], "select: dim 0 means the batch dim (0)"),
    ("select", {"index": 3}, [T((3, 4))], "select: index 3 is out of range for dim 1 of size 3 (valid: -3..2)"),
    ("slice", {"start": 3}, [T((3, 4))], "slice: 3: takes nothing from dim 1 of size 3"),
    ("split", {"sizes": [1, 1]}, [T((3, 4))], "split: sizes [1, 1] add up to 2, not to the size 3 of dim 1"),
    ("chunk", {"n": 4}, [T((5, 4))], "chunk: dim 1 of size 5 makes 3 parts of at most 2 (2, 2, 1) as torch.chunk "
                                     "cuts it, not 4: use split with sizes that add up to 5"),
    ("chunk", {"n": 4}, [T((3,))], "chunk: dim 1 of size 3 makes 3 parts"),
    ("transpose", {"dim0": 0, "dim1": 1}, [T((3, 4))], "transpose: dim0 0 means the batch dim (0)"),
    ("roll", {"shifts": [1, 2], "dims": 1}, [T((3, 4))], "roll: 2 shifts [1, 2] for 1 dims [1]: give one shift per dim"),
    ("roll", {"shifts": 1, "dims": -3}, [T((3, 4))], "roll: dims entry -3 means the batch dim"),
    ("pad", {"pad": [1, 1, 1]}, [T((3, 4))], "pad: pad [1, 1, 1] has 3 entries; it takes pairs (left, right)"),
    ("pad", {"pad": [1, 1, 1, 1, 1, 1]}, [T((3, 4))],
     "pad: pad [1, 1, 1, 1, 1, 1] pads the last 3 dims, but a sample [3, 4] has 2 (the batch is never padded)"),
    ("pad", {"pad": [1, 1], "mode": "reflect"}, [T((3, 4, 4))],
     "pad: mode 'reflect' pads the last 1, 2 or 3 dims of a tensor with 1 or 2 dims more (torch's limit): "
     "[B, 3, 4, 4] takes 2 or 3 pairs, found 1"),
    ("pad", {"pad": [4, 1], "mode": "reflect"}, [T((3, 4))],
     "pad: (4, 1) on dim 2 of size 4 in mode 'reflect': each amount must be smaller than the size 4"),
    ("pad", {"pad": [5, 0], "mode": "circular"}, [T((3, 4))],
     "pad: (5, 0) on dim 2 of size 4 in mode 'circular': an amount may wrap around the 4 elements kept at most once"),
    ("pad", {"pad": [-2, 3], "mode": "circular"}, [T((3, 4))],
     "an amount may wrap around the 2 elements kept (of 4, the crop's) at most once"),
    ("pad", {"pad": [-2, -2, 0, 0], "mode": "circular"}, [T((3, 4))], "leaves 0 elements"),
    ("pad", {"pad": [1, 0], "mode": "replicate", "value": 1.0}, [T((3, 4))],
     "pad: value 1.0 applies to mode 'constant' only, not 'replicate'"),
    ("pad", {"pad": [-3, -1]}, [T((3, 4))], "pad: (-3, -1) on dim 2 of size 4 leaves 0 elements"),
    ("matmul", {}, [T((3, 4)), T((5,), False)], "matmul: [B, 3, 4] @ [5]: the left's last dim 4 differs from the right's only dim 5"),
    ("matmul", {}, [T((8, 6), False), T((8,))], "matmul: [8, 6] @ [B, 8] would sum over the batch B"),
    ("matmul", {}, [T((3, 5, 8)), T((8, 6))], "matmul: the batched operands [B, 3, 5, 8] and [B, 8, 6] differ in rank"),
    ("matmul", {}, [T((5, 8)), T((2, 8, 6), False)], "matmul: [B, 5, 8] @ [2, 8, 6]: the batch B lines up with a dim of size 2"),
    ("matmul", {}, [T((8,)), T((3, 8, 6), False)], "matmul: [B, 8] @ [3, 8, 6] gives [3, B, 6] to torch: the batch B would "
                                                   "not stay the result's first dim"),
    ("matmul", {}, [T((8,)), T((8, 6))], "differ in rank"),
    ("rearrange", {"pattern": "b c h -> (b h) c"}, [T((3, 4))],
     "rearrange: pattern 'b c h -> (b h) c': the batch 'b' must stay the first axis, alone: begin the right with 'b'"),
    ("rearrange", {"pattern": "... c -> c ..."}, [T((3, 4))], "the first axis of a batched value is its batch"),
    ("rearrange", {"pattern": "b c -> b c", "sizes": {"b": 2}}, [T((3,))], "the batch 'b' takes no size"),
    ("rearrange", {"pattern": "b c h w -> b (c h w)"}, [T((3, 4))], "the left names 4 dims, the input has 3"),
    ("rearrange", {"pattern": "b (c d) -> b c d"}, [T((6,))], "cannot tell the sizes of c, d in (c d) apart"),
    ("rearrange", {"pattern": "b (c d) -> b c d", "sizes": {"d": 4}}, [T((6,))], "(c d) is a dim of size 6, which is "
                                                                               "not divisible by 4"),
    ("rearrange", {"pattern": "b c -> b c", "sizes": {"z": 4}}, [T((6,))], "axis 'z' in sizes is not in the pattern"),
    ("rearrange", {"pattern": "b c -> b"}, [T((6,))], "c appear on one side only: every axis of rearrange is on both"),
    ("rearrange", {"pattern": "b c"}, [T((6,))], "rearrange: pattern 'b c': expected 'left -> right'"),
    ("reduce", {"pattern": "b c -> c", "reduction": "sum"}, [T((6,))], "the batch 'b' must stay the first axis"),
    ("reduce", {"pattern": "b c -> b c d", "reduction": "sum", "sizes": {"d": 2}}, [T((6,))],
     "d on the right only: reduce cannot make axes (tile does)"),
    ("reduce", {"pattern": "b c -> b", "reduction": "mean"}, [T((6,), dtype="int64")],
     "reduce: reduction 'mean' needs float values, found int64"),
    ("tile", {"pattern": "b c -> b c r"}, [T((3,))], "tile: pattern 'b c -> b c r': new axes r need a size: give it in sizes"),
    ("tile", {"pattern": "b h -> (b r) h", "sizes": {"r": 2}}, [T((4,))], "the batch 'b' must stay the first axis"),
])
def test_refusals(name, args, ts, message):
    with pytest.raises(ShapeRuleError) as err:
        rule(name, ts, **args)
    assert message in str(err.value)


def test_chunk_matches_torch_chunk_when_n_does_not_divide():
    x = torch.randn(2, 7, 3)
    op, a, out = rule("chunk", [T((7, 3))], n=3)
    assert [t.shape for t in out] == [tuple(p.shape[1:]) for p in x.chunk(3, 1)] == [(3, 3), (3, 3), (1, 3)]
    with pytest.raises(ShapeRuleError):
        rule("chunk", [T((6, 3))], n=4)  # torch.chunk makes 3 parts of 2
    assert len(x[:, :6].chunk(4, 1)) == 3


FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "shapes.yaml"


def test_the_fixture_checks_without_torch():
    """einops' parser and the rules are pure Python: `archspec check` of every shape op imports no torch."""
    code = ("import sys, archspec\n"
            f"report = archspec.check({str(FIXTURE)!r})\n"
            "assert report.ok and 'torch' not in sys.modules, sys.modules.get('torch')\n"
            "assert {report.graph.nodes[n]['op'].name for n in report.graph.ops()} >= set(sys.argv[1:])\n")
    mine = ["rearrange", "reduce", "tile", "select", "slice", "split", "chunk", "transpose", "roll", "pad", "matmul"]
    result = subprocess.run([sys.executable, "-c", code, *mine], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_fixture_is_drawn_in_its_families_colours():
    from archspec.draw import draw
    from archspec.draw.style import COLOURS

    dot = draw(archspec.check(FIXTURE), "dot")
    for node, family in [("token", "index"), ("patches", "reshape"), ("scores", "linear")]:
        fill, border = COLOURS[family]
        assert re.search(rf'"{node}" \[label=<.*fillcolor="{fill}", color="{border}"', dot), node
    assert "sizes=p1: 2, p2: 2" in dot
