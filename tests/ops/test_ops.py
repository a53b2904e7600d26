"""Every op's rules against torch itself: shape, parameter count, MACs, and refusals.

Strategies (tests/ops/strategies/, one module per family) draw arguments and input shapes;
torch is the oracle. An op without a strategy fails here, so a newly registered op cannot go
untested."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import warnings

import pytest
import torch
from hypothesis import assume, given, settings, strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import archspec.ops as ops
from archspec.compiler.ir import Type
from archspec.ops.base import InputError, Op, ShapeRuleError

OPS = sorted(ops.registry())


DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}


def typed(xs) -> list[Type]:
    """A strategy's inputs as Types: a plain shape is a batched float32 value."""
    return [x if isinstance(x, Type) else Type(tuple(x)) for x in xs]


def tensor(t: Type, batch: int, grad: bool, gen=None):
    """A random input of type t: floats from a normal, ints in [0, 2) (valid indices of any table)."""
    size = ((batch,) if t.batched else ()) + tuple(t.shape)
    if t.dtype == "float32":
        return torch.randn(size, generator=gen).requires_grad_(grad).clone()  # non-leaf: inplace ops may run
    return torch.randint(0, 2, size, generator=gen).to(DTYPES[t.dtype])


def traced(op, a, n):
    """Functional ops run through torch.fx, as the compiler will trace them."""
    ns = {"call": lambda *xs: op.apply(a, *xs)}
    names = ", ".join(f"x{i}" for i in range(n))
    exec(f"def merged({names}):\n    return call({names})", ns)
    return torch.fx.symbolic_trace(ns["merged"])


def build(op, a, ts):
    """(the module, parameter or buffer op.module made, or None; a function of the inputs)."""
    made = op.module(a, [t.shape for t in ts])
    if isinstance(made, torch.Tensor):
        return made, lambda: made
    return made, (made if made is not None else traced(op, a, len(ts)))


def forward(op, a, fn, ts, batch, grad, n_out):
    """The node's outputs as a list, from inputs of types ts at `batch`."""
    with torch.set_grad_enabled(grad):
        return list(op.unpack(a, fn(*[tensor(t, batch, grad) for t in ts]), n_out))


def flops(op, a, fn, ts, n_out):
    """FlopCounterMode's per-sample total; batch 1 unless torch needs two samples (batch norm).
    oneDNN is off: its fused LSTM kernel hides the matmuls from the counter."""
    for batch in (1, 2):
        try:  # attention on torch's math kernel: the counter does not see the CPU flash kernel
            with FlopCounterMode(display=False) as counter, torch.no_grad(), mkldnn_off(), sdpa_kernel(SDPBackend.MATH):
                forward(op, a, fn, ts, batch, False, n_out)
            return counter.get_total_flops() // batch
        except ValueError:
            if batch == 2:
                raise


@contextlib.contextmanager
def mkldnn_off():
    """torch.backends.mkldnn.flags(enabled=False), without its warning about oneDNN's TF32 on Intel GPUs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.backends.mkldnn.flags(enabled=False):
            yield


def run_torch(op, a, ts, n_out):
    """(torch's output Types, module, fn) or the exception torch raised. Run at batch 2 and 3:
    an output whose leading dim follows the batch is batched, one that stays put is batch-free;
    one where the batch lands elsewhere mixes samples, which no model can use (a refusal)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module, fn = build(op, a, ts)
            two = forward(op, a, fn, ts, 2, True, n_out)
            three = forward(op, a, fn, ts, 3, False, n_out)  # some kernels check differently without autograd
        found = []
        for y2, y3 in zip(two, three):
            if y2.numel() == 0:  # torch may allow it (conv_transpose); a model cannot use it
                return ValueError(f"empty output {tuple(y2.shape)}")
            batched = y2.shape != y3.shape
            if batched and (y2.shape[0], y3.shape[0], y2.shape[1:]) != (2, 3, y3.shape[1:]):
                return ValueError(f"the batch is not the output's first dim: {tuple(y2.shape)} at batch 2")
            dtype = next(k for k, v in DTYPES.items() if v == y2.dtype)
            found.append(Type(tuple(y2.shape[1:]) if batched else tuple(y2.shape), dtype, batched))
        return found, module, fn
    except Exception as e:  # noqa: BLE001 - any torch failure counts as a refusal
        return e


def outputs_of(result) -> list[Type]:
    return list(result) if isinstance(result, tuple) and all(isinstance(t, Type) for t in result) else [result]


@pytest.mark.parametrize("name", OPS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_op_agrees_with_torch(name, op_strategies, data):
    """The type rule against torch: every output's shape, dtype and batch; the refusals (an
    InputError is the language's own choice, a float op refusing ints even where torch would
    not, so torch is not asked); parameters; MACs."""
    assert name in op_strategies, f"op '{name}' has no hypothesis strategy in tests/ops/strategies/"
    op = ops.get(name)
    given_args, xs = data.draw(op_strategies[name](op), label="args, inputs")
    ts = typed(xs)
    a, problems = op.check_args(given_args)
    assert not problems
    try:
        out, refusal = outputs_of(op.type(a, ts)), None
    except ShapeRuleError as e:
        out, refusal = None, e
    if isinstance(refusal, InputError):
        assert str(refusal).startswith(f"{name}: expects ")
        return
    bound = op.bind(a, ts) if refusal is None else a
    result = run_torch(op, bound, ts, len(out) if out else op.n_outputs(a))
    if isinstance(result, Exception):
        assert refusal is not None, f"torch refused {ts} but the rule gave {out}: {result}"
        assert str(refusal).startswith(f"{name}: ")
        return
    assert refusal is None, f"the rule refused what torch accepts (output {result[0]}): {refusal}"
    torch_out, module, fn = result
    assert out == torch_out
    assert len(out) == op.n_outputs(a) and all(isinstance(v, int) for t in out for v in t.shape)
    if isinstance(module, torch.Tensor):
        n_params = module.numel() if isinstance(module, torch.nn.Parameter) else 0
    else:
        n_params = sum(p.numel() for p in module.parameters()) if module is not None else 0
    shapes = [t.shape for t in ts]
    assert op.params(bound, shapes) == n_params
    if isinstance(module, torch.nn.Module):
        weights = op.weights(bound, shapes)
        assert weights is None or weights == {k: tuple(p.shape) for k, p in module.named_parameters()}
        if not getattr(op, "checked_by_forward", False):
            module.eval()  # a forward-checked op counts in training mode, as its probe runs (attention differs in eval)
    assert op.macs(bound, shapes, out[0].shape) * 2 == flops(op, bound, fn, ts, len(out))


def test_every_op_has_a_strategy_and_every_strategy_an_op(op_strategies):
    assert set(OPS) == set(op_strategies)
    assert len(OPS) >= 50


@pytest.mark.parametrize("name", OPS)
def test_op_declaration(name):
    op = ops.get(name)
    assert op.name == name and op.doc and all(arg.doc for arg in op.args)
    assert op.family.isidentifier() and op.family not in ("other", "plugin")
    assert all(role.isidentifier() for role in op.roles) and (not op.roles or op.role(5) == op.roles[-1])
    assert op.roles or not op.variadic, "an op without inputs cannot take two or more"
    assert op.outputs and all(out.isidentifier() for out in op.outputs) and op.output_name(5) == op.outputs[-1]
    assert set(op.dtypes) <= {"float32", "int64", "bool"}
    assert op.main_arg is None or op.main_arg in op.arg_map
    assert len({arg.name for arg in op.args}) == len(op.args)


def test_the_merges_come_from_the_registry():
    """The ops `merge:` may name are the variadic ones, in the order docs/spec-language.md gives them."""
    from archspec.lang.schema import spec_schema

    assert ops.merges() == ("concat", "add", "sub", "mul", "div", "max", "min", "mean", "stack")
    assert all(ops.get(name).variadic and ops.get(name).family == "merge" for name in ops.merges())
    assert spec_schema()["$defs"]["item"]["anyOf"][1]["properties"]["merge"]["anyOf"][0]["enum"] == list(ops.merges())


FUNCTIONAL = [name for name in OPS if type(ops.get(name)).apply is not Op.apply]


@pytest.mark.parametrize("name", FUNCTIONAL)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_functional_ops_have_a_python_form_that_computes_the_same(name, op_strategies, data):
    """The Python form of a functional op (what the standalone export writes) computes what `apply` does."""
    op = ops.get(name)
    given_args, xs = data.draw(op_strategies[name](op), label="args, inputs")
    ts = typed(xs)
    a, _ = op.check_args(given_args)
    try:
        n = len(outputs_of(op.type(a, ts)))
    except ShapeRuleError:
        assume(False)
    a = op.bind(a, ts)
    tensors = [tensor(t, 2, False) for t in ts]
    text = op.python(a, [f"xs[{k}]" for k in range(len(xs))])
    got = eval(text, {"torch": torch, "xs": tensors})  # noqa: S307 - the op's own text, as the exported file runs it
    want = op.apply(a, *tensors)
    torch.testing.assert_close(list(op.unpack(a, got, n)), list(op.unpack(a, want, n)), equal_nan=True)  # log, sqrt of x < 0


def test_main_args():
    expected = {"linear": "out", "dropout": "p", "groupnorm": "groups", "maxpool2d": "kernel",
                "adaptive_avgpool2d": "size", "concat": "dim", "softmax": "dim", "conv2d": None}
    assert {name: ops.get(name).main_arg for name in expected} == expected


def rule(name, xs, **given):
    op = ops.get(name)
    a, problems = op.check_args(given)
    assert not problems
    return op, a, outputs_of(op.type(a, typed(xs)))[0].shape


@pytest.mark.parametrize("name, args, xs, out, params, macs", [
    ("conv2d", {"out": 6, "kernel": 5, "padding": 2}, [(1, 28, 28)], (6, 28, 28), 156, 6 * 25 * 28 * 28),
    ("conv2d", {"out": 16, "kernel": 3, "padding": "same", "bias": False}, [(8, 5, 7)], (16, 5, 7), 1152, 1152 * 35),
    ("conv1d", {"out": 4, "kernel": 3, "stride": 2, "groups": 2}, [(6, 9)], (4, 4), 4 * 3 * 3 + 4, 36 * 4),
    ("conv_transpose2d", {"out": 3, "kernel": 4, "stride": 2, "padding": 1}, [(8, 7, 7)], (3, 14, 14), 387, 8 * 3 * 16 * 49),
    ("linear", {"out": 10}, [(1408,)], (10,), 14090, 14080),
    ("linear", {"out": 4, "bias": False}, [(5, 3)], (5, 4), 12, 60),
    ("maxpool2d", {"kernel": 2}, [(6, 28, 28)], (6, 14, 14), 0, 0),
    ("maxpool1d", {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}, [(1, 5)], (1, 3), 0, 0),
    ("avgpool2d", {"kernel": 3, "stride": 2, "ceil_mode": True}, [(1, 6, 6)], (1, 3, 3), 0, 0),
    ("flatten", {}, [(64, 7, 7)], (3136,), 0, 0),
    ("batchnorm2d", {}, [(32, 8, 8)], (32, 8, 8), 64, 0),
    ("layernorm", {"dims": 2}, [(4, 5, 6)], (4, 5, 6), 60, 0),
    ("concat", {}, [(3, 4, 4), (5, 4, 4)], (8, 4, 4), 0, 0),
    ("stack", {"dim": -1}, [(3, 4), (3, 4), (3, 4)], (3, 4, 3), 0, 0),
    ("reshape", {"shape": [-1, 4]}, [(2, 3, 4)], (6, 4), 0, 0),
    ("permute", {"dims": [1, 2, 0]}, [(3, 4, 5)], (4, 5, 3), 0, 0),
    ("upsample", {"scale": 2}, [(3, 4, 5)], (3, 8, 10), 0, 0),
    ("adaptive_avgpool2d", {"size": 1}, [(512, 7, 7)], (512, 1, 1), 0, 0),
])
def test_hand_computed(name, args, xs, out, params, macs):
    op, a, got = rule(name, xs, **args)
    assert got == out
    assert op.params(a, xs) == params
    assert op.macs(a, xs, got) == macs


@pytest.mark.parametrize("name, args, xs, message", [
    ("conv2d", {"out": 6, "kernel": 5}, [(1, 3, 3)],
     "conv2d: kernel 5x5 (with dilation 1) is larger than the padded input 3x3"),
    ("conv2d", {"out": 6, "kernel": 3}, [(3, 28)], "conv2d: expects input (C, H, W) (rank 3), found [3, 28] (rank 2)"),
    ("conv2d", {"out": 6, "kernel": 3, "groups": 2}, [(3, 8, 8)], "input channels 3 not divisible by groups 2"),
    ("conv2d", {"out": 6, "kernel": 3, "stride": 2, "padding": "same"}, [(3, 8, 8)], "padding 'same' needs stride 1"),
    ("maxpool2d", {"kernel": 2, "padding": 2}, [(3, 8, 8)], "padding 2x2 is more than half the kernel 2x2"),
    ("add", {}, [(128, 28, 28), (64, 56, 56)], "add: input shapes do not broadcast: [128, 28, 28], [64, 56, 56]: "
     "dim 1 is 128 vs 64, dim 2 is 28 vs 56, dim 3 is 28 vs 56; make each dim equal, or 1 in all inputs but one"),
    ("mul", {}, [(8, 4, 4), (8, 2, 1)], "mul: input shapes do not broadcast: [8, 4, 4], [8, 2, 1]: dim 2 is 4 vs 2;"),
    ("mean", {}, [(3,)], "mean: needs at least 2 inputs, found 1"),
    ("concat", {"dim": 0}, [(3, 4), (3, 4)], "concat: dim 0 means the batch dim (0); sample dims are 1..2"),
    ("concat", {}, [(3, 4), (3, 5)], "concat: input shapes differ outside dim 1: [3, 4], [3, 5]"),
    ("stack", {"dim": -4}, [(3,), (3,)], "stack: dim -4 is out of range for input [3] (batch included, valid: -3..2)"),
    ("stack", {"dim": -3}, [(3,), (3,)], "stack: dim -3 means the batch dim"),
    ("softmax", {"dim": 0}, [(10,)], "softmax: dim 0 means the batch dim"),
    ("flatten", {"start": 0}, [(3, 4)], "flatten: start 0 means the batch dim"),
    ("layernorm", {"dims": 3}, [(4, 5)], "layernorm: dims 3 is more than the input's rank"),
    ("instancenorm2d", {}, [(3, 1, 1)], "more than one spatial element"),
    ("reshape", {"shape": [5, -1]}, [(2, 3)], "cannot reshape [2, 3] (6 elements) to [5, -1]"),
    ("permute", {"dims": [0, 0]}, [(2, 3)], "permute: dims [0, 0] is not a permutation of 0..1"),
    ("upsample", {"size": 4, "scale": 2.0}, [(3, 4, 4)], "give exactly one of size and scale"),
    ("upsample", {"scale": 2, "mode": "bilinear"}, [(3, 4)], "mode 'bilinear' needs (C, H, W) input"),
    ("adaptive_avgpool2d", {"size": 1}, [(3, 4)], "expects input (C, H, W) (rank 3), found [3, 4] (rank 2)"),
    ("dropout2d", {}, [(3, 4)], "dropout2d: expects input (C, H, W)"),
    ("batchnorm1d", {}, [(3, 4, 5)], "batchnorm1d: expects input (C,) or (C, L)"),
    ("conv1d", {"out": 2, "kernel": 3, "padding": 3, "padding_mode": "reflect"}, [(1, 3)],
     "padding_mode 'reflect' needs padding smaller than the input size, found padding 3 on input 3"),
    ("conv_transpose2d", {"out": 2, "kernel": 3, "stride": 2, "output_padding": 2}, [(1, 4, 4)],
     "output_padding 2x2 must be smaller than stride 2x2 or dilation 1x1"),
])
def test_refusals(name, args, xs, message):
    with pytest.raises(ShapeRuleError) as err:
        rule(name, xs, **args)
    assert message in str(err.value)


def test_check_args_problems():
    conv = ops.get("conv2d")
    _, problems = conv.check_args({"out": 8, "kernal": 3})
    assert ("kernal", "conv2d: unknown argument 'kernal' (did you mean 'kernel'?)") in problems
    assert ("", "conv2d: missing required argument 'kernel'") in problems
    _, problems = ops.get("linear").check_args({"out": "ten"})
    assert problems == [("out", "linear: argument 'out': expected a positive integer, found string 'ten'")]
    _, problems = ops.get("maxpool2d").check_args({"kernel": [2, 2, 2]})
    assert "expected a positive integer or a list of 2, found list [2, 2, 2]" in problems[0][1]
    _, problems = ops.get("relu").check_args({"inplace": 1})
    assert "expected true or false, found int 1" in problems[0][1]
    _, problems = ops.get("gelu").check_args({"approximate": "tahn"})
    assert "did you mean 'tanh'?" in problems[0][1]


def test_defaults_are_filled_and_normalized():
    a, problems = ops.get("conv2d").check_args({"out": 8, "kernel": [3, 5]})
    assert not problems
    assert a == {"out": 8, "kernel": (3, 5), "stride": (1, 1), "padding": (0, 0), "dilation": (1, 1),
                 "groups": 1, "bias": True, "padding_mode": "zeros"}
    assert ops.get("maxpool2d").check_args({"kernel": 2})[0]["stride"] is None


def test_no_torch_at_import():
    code = "import sys, archspec.ops as o; o.registry(); assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
