"""The typed op contract (docs/adding-an-op.md): the default type rule's refusals, named by the
type pass; an op with several outputs decided by its args (the doc's own example, run here);
an op without inputs whose module is an nn.Parameter; emission of both."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import archspec
from archspec import ops, plugins
from archspec.compiler.emit import emit
from archspec.compiler.infer import infer
from archspec.compiler.ir import Graph, Ref, Type
from archspec.errors import Loc
from archspec.ops.base import Arg, InputError, Int, IntList, Op

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-an-op.md"
HERE = Loc("spec", 1, 1)


def doc_op(name: str) -> Op:
    """Register the op class the doc defines (inside a restored registry) and return it."""
    text = DOC.read_text(encoding="utf-8")
    code = next(block for block in re.findall(r"```python\n(.*?)```", text, re.S) if f'name = "{name}"' in block)
    exec(compile(code, str(DOC), "exec"), {"__name__": "adding_an_op"})
    plugins._schema_changed()  # the JSON Schema lists ops with their arguments
    return ops.get(name)


class Table(Op):
    """No input, one batch-free output: the module is the tensor itself."""

    name = "table_like"
    roles = ()
    args = (Arg("shape", IntList(1), doc="its shape"),)

    def type(self, a, ts):
        return Type(tuple(a["shape"]), "float32", batched=False)

    def params(self, a, xs):
        return torch.Size(a["shape"]).numel()

    def module(self, a, xs):
        return torch.nn.Parameter(torch.arange(float(torch.Size(a["shape"]).numel())).reshape(a["shape"]))


def node(g, name, op, args, inputs):
    g.add_op(name, op, op.check_args(args)[0], inputs, HERE, ())
    return infer(g, name)


def test_the_default_rule_refuses_an_int_or_batch_free_input_and_the_pass_names_it():
    g = Graph()
    tokens = g.add_input("tokens", Type((16,), "int64"))
    table = g.add_input("table", Type((1, 1, 8), batched=False))
    problem = node(g, "conv", ops.get("conv1d"), {"out": 4, "kernel": 3}, [tokens])
    assert problem.message == "conv1d: expects a float input, found int64 tokens [16]"
    assert problem.notes == ["at node 'conv': input tokens is [16] int64"]
    assert node(g, "flat", ops.get("flatten"), {}, [table]).message == \
        "flatten: expects a batched input, found batch-free table [1, 1, 8]"
    with pytest.raises(InputError, match=r"^linear: expects a float input, found bool input 0 \[3\]$"):
        ops.get("linear").type({"out": 2, "bias": True}, [Type((3,), "bool")])


def test_elementwise_ops_take_batch_free_values_and_identity_any_dtype():
    relu, identity = ops.get("relu"), ops.get("identity")
    assert relu.type({"inplace": False}, [Type((1, 1, 8), batched=False)]) == Type((1, 1, 8), "float32", False)
    assert identity.type({}, [Type((16,), "int64")]) == Type((16,), "int64", True)
    with pytest.raises(InputError):
        ops.get("softmax").type({"dim": 1}, [Type((4,), batched=False)])


def test_an_op_with_outputs_decided_by_its_args_and_one_without_inputs_are_emitted():
    with plugins.restoring():
        halves = doc_op("halves")
        a = halves.check_args({"n": 3})[0]
        assert halves.n_outputs(a) == 3 and halves.output_name(2) == "part"
        assert halves.type(a, [Type((2, 6))]) == (Type((2, 2)),) * 3
        g = Graph()
        x = g.add_input("x", Type((2, 6)))
        assert node(g, "parts", halves, {"n": 3}, [x]) is None
        assert node(g, "enc.pos", Table(), {"shape": [2, 2]}, []) is None
        g.add_op("sum", ops.get("add"), {}, [Ref("parts", 2), Ref("enc.pos")], HERE, ())
        g.graph["outputs"] = [Ref("parts", 0), Ref("sum")]
        assert [(u, d["output"]) for u, _, d in g.in_edges("sum", data=True)] == [("parts", 2), ("enc.pos", 0)]
        assert g.label(Ref("parts", 2)) == "parts.2" and g.type_of(Ref("enc.pos")).batched is False
        g.nodes["sum"]["types"] = (Type((2, 2)),)
        module = emit(SimpleNamespace(graph=g, spec=SimpleNamespace(name="contract")))
    assert list(module.state_dict()) == ["enc.pos"] and isinstance(module.enc.pos, torch.nn.Parameter)
    x = torch.randn(5, 2, 6)
    first, total = module(x)
    torch.testing.assert_close(first, x[..., :2])
    torch.testing.assert_close(total, x[..., 4:] + torch.arange(4.0).reshape(2, 2))


class Recurrent(Op):
    """nn.LSTM as an op of three outputs: its module nests them, (output, (h_n, c_n)), and puts
    the batch second in h_n and c_n: `unpack` indexes deeper and moves the batch first."""

    name = "recurrent_like"
    family = "recurrent"
    args = (Arg("hidden", Int(1), doc="hidden size"),)
    outputs = ("output", "h_n", "c_n")

    def type(self, a, ts):
        self.check_inputs(ts)
        length, _ = ts[0].shape
        return Type((length, a["hidden"])), Type((1, a["hidden"])), Type((1, a["hidden"]))

    def weights(self, a, xs):
        h, f = a["hidden"], xs[0][-1]
        return {"weight_ih_l0": (4 * h, f), "weight_hh_l0": (4 * h, h), "bias_ih_l0": (4 * h,), "bias_hh_l0": (4 * h,)}

    def module(self, a, xs):
        return torch.nn.LSTM(xs[0][-1], a["hidden"], batch_first=True)

    def unpack(self, a, y, n):
        return y[0], y[1][0].transpose(0, 1), y[1][1].transpose(0, 1)


RECURRENT = """\
archspec: 1
name: recurrent
input: [5, 3]
layers:
  - {id: rnn, recurrent_like: {hidden: 4}}
  - {id: head, linear: 2, from: rnn.1}
outputs: [rnn, head, rnn.2]
"""


class Nested(Op):
    """A function with nested outputs, so that the Python export's text of `unpack` is run too
    (nn.LSTM has no constructor the Python export can read back: that is the recurrent ops' part)."""

    name = "nested_like"
    family = "reshape"
    outputs = ("same", "doubled", "flipped")

    def type(self, a, ts):
        self.check_inputs(ts)
        return ts[0], ts[0], Type(tuple(reversed(ts[0].shape)))

    def apply(self, a, x):
        return x, (x * 2, x)

    def python(self, a, xs):
        return f"({xs[0]}, ({xs[0]} * 2, {xs[0]}))"

    def unpack(self, a, y, n):
        return y[0], y[1][0], y[1][1].transpose(1, 2)


@pytest.mark.parametrize("fmt", ["python", "torchscript", "onnx"])
def test_an_op_whose_module_nests_its_outputs_is_unpacked_alike_everywhere(fmt, tmp_path):
    from archspec.export import export
    from archspec.export.verify import TOLERANCE, max_difference

    spec = tmp_path / "recurrent.yaml"
    spec.write_text(RECURRENT if fmt != "python" else RECURRENT.replace("recurrent_like: {hidden: 4}", "nested_like")
                    .replace("linear: 2, from: rnn.1", "linear: 2, from: rnn.2"))
    with plugins.restoring():
        plugins.register_op(Recurrent())
        plugins.register_op(Nested())
        if fmt == "python":
            done = export(spec, fmt, tmp_path / "nested.py")
            assert max_difference(done, batches=(1, 3)) <= TOLERANCE
            assert "result = " in done.path.read_text() and ".transpose(1, 2)" in done.path.read_text()
            return
        module = archspec.build(str(spec))
        x = torch.randn(2, 5, 3)
        out, head, c_n = module(x)
        want, (h, c) = module.rnn(x)
        torch.testing.assert_close(out, want)
        torch.testing.assert_close(head, module.head(h.transpose(0, 1)))
        torch.testing.assert_close(c_n, c.transpose(0, 1))
        assert module.report.params == sum(p.numel() for p in module.parameters())
        done = export(spec, fmt, tmp_path / f"recurrent.{fmt}")
        assert max_difference(done, batches=(1, 3)) <= TOLERANCE
