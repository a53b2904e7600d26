"""The typed rules that are the language's own choices, against torch: broadcasting of
elementwise merges (torch.broadcast_shapes is the oracle, the batch a size only it has),
concat of batch-free and batched values, and the learnable and constant tensor items."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

import archspec.ops as ops
from archspec.compiler.ir import Type
from archspec.ops.base import ShapeRuleError

B = 7  # a batch size no drawn dim has, so a clash with the batch shows in torch too


def full(t: Type) -> tuple:
    return ((B,) if t.batched else ()) + t.shape


@st.composite
def operands(draw):
    """Two or three values: batched ones share a sample rank; batch-free ones any rank up to two more."""
    rank = draw(st.integers(1, 3))
    ts = []
    for k in range(draw(st.integers(2, 3))):
        batched = k == 0 or draw(st.booleans())
        dims = draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=rank if batched else 0, max_size=rank if batched else rank + 2))
        ts.append(Type(tuple(dims), batched=batched))
    return ts


@settings(max_examples=200, deadline=None)
@given(ts=operands(), name=st.sampled_from(["add", "sub", "mul", "div", "max", "min", "mean"]))
def test_broadcasting_is_torchs_on_whole_shapes_with_the_batch_first(ts, name):
    op = ops.get(name)
    try:
        want = torch.broadcast_shapes(*[full(t) for t in ts])
    except RuntimeError:
        want = None
    try:
        got = op.type({}, ts)
    except ShapeRuleError as e:
        assert want is None or want[0] != B or len(want) > len(full(ts[0])), f"refused what torch broadcasts to {want}: {e}"
        assert str(e).startswith(f"{name}: input shapes do not broadcast: ")
        return
    assert want is not None and got == Type(tuple(want[1:]), "float32", True)
    xs = [torch.randn(full(t)) for t in ts]
    assert tuple(op.apply({}, *xs).shape) == tuple(want)


def test_the_squeeze_excitation_gate_and_a_class_token_broadcast():
    mul, add = ops.get("mul"), ops.get("add")
    assert mul.type({}, [Type((8, 4, 4)), Type((8, 1, 1))]) == Type((8, 4, 4))
    assert add.type({}, [Type((5, 768)), Type((1, 1, 768), batched=False)]) == Type((5, 768))
    assert add.type({}, [Type((64, 8, 8)), Type((64, 1, 1), batched=False)]) == Type((64, 8, 8))
    assert add.type({}, [Type((768,), batched=False), Type((768,), batched=False)]) == Type((768,), batched=False)


@pytest.mark.parametrize("ts, message", [
    ([Type((8, 4, 4)), Type((8, 2, 1))], "[8, 4, 4], [8, 2, 1]: dim 2 is 4 vs 2; make each dim equal, or 1 in all inputs but one"),
    ([Type((4,)), Type((3, 4))], "batched inputs differ in rank: [4], [3, 4]"),
    ([Type((5, 768)), Type((2, 1, 768), batched=False)], "the batch-free [2, 1, 768] has 3 dims, so its first lines up with the batch"),
    ([Type((5, 768)), Type((1, 1, 1, 768), batched=False)], "(at most 3 dims)"),
    ([Type((3,), "int64"), Type((3,))], "add: expects a float input, found int64 input 0 [3]"),
])
def test_what_does_not_broadcast_says_why(ts, message):
    with pytest.raises(ShapeRuleError) as info:
        ops.get("add").type({}, ts)
    assert message in str(info.value)


def test_concat_expands_a_batch_free_value_over_the_batch():
    concat = ops.get("concat")
    token, patches = Type((1, 1, 768), batched=False), Type((196, 768))
    assert concat.type({"dim": 1}, [token, patches]) == Type((197, 768))
    a = concat.bind({"dim": 1}, [token, patches])
    assert a == {"dim": 1, "expand": (True, False), "rank": 2}
    x, cls = torch.randn(3, 196, 768), torch.randn(1, 1, 768)
    torch.testing.assert_close(concat.apply(a, cls, x), torch.cat([cls.expand(3, -1, -1), x], 1))  # torchvision's ViT
    assert concat.type({"dim": 0}, [Type((2, 3), batched=False), Type((4, 3), batched=False)]) == Type((6, 3), batched=False)
    assert concat.type({"dim": -1}, [Type((4,), "int64"), Type((2,), "int64")]) == Type((6,), "int64")
    for ts, message in [([Type((2, 1, 768), batched=False), patches], "give it the batched inputs' rank (2)"),
                        ([Type((4,), "int64"), Type((2,))], "inputs differ in dtype: int64, float32"),
                        ([Type((2, 3), batched=False)] * 2 + [Type((3,))], "give it the batched inputs' rank (1)")]:
        with pytest.raises(ShapeRuleError, match=message.replace("(", r"\(").replace(")", r"\)")):
            concat.type({"dim": 1}, ts)


def tensor_item(name, **given):
    op = ops.get(name)
    a, problems = op.check_args(given)
    assert not problems
    return op, a


@pytest.mark.parametrize("name, given, message", [
    ("parameter", {"shape": [2], "init": "zeros", "std": 0.1}, "parameter: std does not apply to init zeros (it takes no arguments)"),
    ("parameter", {"shape": [2], "init": "normal", "a": 0.0, "b": 1.0}, "a, b do not apply to init normal (it takes mean, std)"),
    ("parameter", {"shape": [2], "init": "constant"}, "parameter: init constant needs a value"),
    ("parameter", {"shape": [2], "init": "uniform", "a": 1.0, "b": 0.0}, "init uniform needs a < b, found a 1.0, b 0.0"),
    ("buffer", {"shape": [2], "init": "normal", "dtype": "int64"}, "buffer: init normal makes floats, not int64"),
    ("buffer", {"shape": [2], "init": "constant", "value": 0.5, "dtype": "int64"}, "buffer: an int64 buffer holds whole numbers, found value 0.5"),
])
def test_tensor_items_refuse_arguments_their_init_does_not_take(name, given, message):
    op, a = tensor_item(name, **given)
    with pytest.raises(ShapeRuleError) as info:
        op.type(a, [])
    assert message in str(info.value)


@pytest.mark.parametrize("name, given", [
    ("parameter", {"shape": [1, 1, 4], "init": "zeros"}),
    ("parameter", {"shape": [3, 2], "init": "constant", "value": 1e-6}),
    ("parameter", {"shape": [4, 4], "init": "trunc_normal", "std": 0.02}),
    ("parameter", {"shape": [8], "init": "uniform", "a": -1.0, "b": 1.0}),
    ("buffer", {"shape": [2, 3], "init": "arange", "dtype": "int64", "persistent": False}),
    ("buffer", {"shape": [2], "init": "constant", "value": 3, "dtype": "int64"}),
    ("buffer", {"shape": [2, 2], "init": "ones", "dtype": "bool"}),
])
def test_tensor_items_python_form_makes_the_same_kind_of_tensor(name, given):
    """The export's text builds a tensor of the rule's shape and dtype, by the same init (equal
    values for the deterministic ones, the same bounds for the random ones)."""
    from torch import nn

    op, a = tensor_item(name, **given)
    t = op.type(a, [])
    made, written = op.module(a, []), eval(op.python(a, []), {"torch": torch, "nn": nn})  # noqa: S307 - the op's own text
    assert type(made) is type(written) and made.dtype == written.dtype == getattr(torch, t.dtype)
    assert tuple(made.shape) == tuple(written.shape) == t.shape and t.batched is False
    assert getattr(made, "persistent", True) == getattr(written, "persistent", True) == a.get("persistent", True)
    if a["init"] in ("zeros", "ones", "constant", "arange"):
        torch.testing.assert_close(made, written, check_dtype=False)
    if a["init"] == "trunc_normal":
        assert written.abs().max() <= 2.0
    if a["init"] == "uniform":
        assert -1 <= written.min() and written.max() <= 1
