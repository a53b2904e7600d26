"""Recurrent layers: `lstm`, `gru` and `rnn`, torch's nn.LSTM, nn.GRU and nn.RNN with
`batch_first` forced (archspec's batch is dim 0), in their state_dict layout (`weight_ih_l0`,
`weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, ... `_reverse` for the backward direction).

A sample is a sequence (T, features). The outputs are the output sequence (T, directions *
hidden), then the final hidden state h_n (and the final cell state c_n for lstm), each
(layers * directions, hidden) per sample: torch's (layers * directions, B, hidden) with the
batch moved first (a view, no copy), because every value in archspec has its batch at dim 0,
where the ops, the check and the exports' dynamic batch axis look for it. So torch's
`h_n[-1]` (the last layer's final state) is `select: -1` here, whose default dim is 1."""
from __future__ import annotations

from archspec.compiler.ir import Type
from archspec.ops import register
from archspec.ops.base import Arg, Bool, Choice, Float, Int, Op, ShapeRuleError

ARGS = (
    Arg("hidden", Int(1), doc="hidden_size: the features of each direction's state"),
    Arg("layers", Int(1), 1, "num_layers: stacked layers, each reading the sequence of the one before"),
    Arg("bidirectional", Bool(), False, "add a backward direction; outputs join both (directions = 2)"),
    Arg("dropout", Float(0.0, 1.0), 0.0, "dropout on the outputs of every layer but the last (needs layers >= 2)"),
    Arg("bias", Bool(), True, "learn bias_ih and bias_hh"),
)


class Recurrent(Op):
    """One of torch's recurrent layers; subclasses set the class and its gates per step."""

    family = "recurrent"
    main_arg = "hidden"
    args = ARGS
    outputs = ("output", "h_n")
    torch_class = ""
    gates = 1  # blocks of `hidden` rows in each weight: 4 for LSTM (i, f, g, o), 3 for GRU (r, z, n)

    def check_args(self, given):
        a, problems = super().check_args(given)
        if not problems and a["dropout"] > 0 and a["layers"] == 1:
            problems.append(("dropout", f"{self.name}: argument 'dropout': {a['dropout']} acts only between stacked "
                             "layers, so with layers 1 it does nothing (torch warns); give layers >= 2 or dropout 0"))
        return a, problems

    def type(self, a, ts):
        self.check_inputs(ts)
        x = ts[0].shape
        if len(x) != 2:
            raise ShapeRuleError(f"{self.name}: expects input (T, features) (rank 2): a sequence of feature "
                                 f"vectors, found {list(x)} (rank {len(x)})")
        dirs = 1 + a["bidirectional"]
        state = Type((a["layers"] * dirs, a["hidden"]))
        return (Type((x[0], dirs * a["hidden"])),) + (state,) * (len(self.outputs) - 1)

    def constructor_keywords(self, a, xs) -> dict:
        """The keywords of the torch class, for module() and the Python export's constructor call."""
        return {"input_size": xs[0][-1], "hidden_size": a["hidden"], "num_layers": a["layers"], "bias": a["bias"],
                "batch_first": True, "dropout": a["dropout"], "bidirectional": a["bidirectional"]}

    def module(self, a, xs):
        from torch import nn

        return getattr(nn, self.torch_class)(**self.constructor_keywords(a, xs))

    def unpack(self, a, y, n):
        return y[0], y[1].transpose(0, 1)  # h_n: batch first

    def weights(self, a, xs):
        h, rows, found = a["hidden"], self.gates * a["hidden"], {}
        for layer in range(a["layers"]):
            for suffix in ("", "_reverse")[: 1 + a["bidirectional"]]:
                width = xs[0][-1] if layer == 0 else (1 + a["bidirectional"]) * h
                found[f"weight_ih_l{layer}{suffix}"] = (rows, width)
                found[f"weight_hh_l{layer}{suffix}"] = (rows, h)
                if a["bias"]:
                    found[f"bias_ih_l{layer}{suffix}"] = (rows,)
                    found[f"bias_hh_l{layer}{suffix}"] = (rows,)
        return found

    def macs(self, a, xs, out):
        """Each step of each direction of each layer: the input and the state times their weights."""
        per_step = sum(shape[0] * shape[1] for shape in self.weights(a, xs).values() if len(shape) == 2)
        return xs[0][0] * per_step


@register
class LSTM(Recurrent):
    name = "lstm"
    torch_class = "LSTM"
    gates = 4
    outputs = ("output", "h_n", "c_n")
    doc = ("Long short-term memory over a sequence (T, features) (torch.nn.LSTM, batch_first): outputs the "
           "sequence (T, directions * hidden), h_n and c_n (layers * directions, hidden).")

    def unpack(self, a, y, n):
        return y[0], y[1][0].transpose(0, 1), y[1][1].transpose(0, 1)  # (output, (h_n, c_n)): batch first


@register
class GRU(Recurrent):
    name = "gru"
    torch_class = "GRU"
    gates = 3
    doc = ("Gated recurrent unit over a sequence (T, features) (torch.nn.GRU, batch_first): outputs the "
           "sequence (T, directions * hidden) and h_n (layers * directions, hidden).")


@register
class RNN(Recurrent):
    name = "rnn"
    torch_class = "RNN"
    args = ARGS + (Arg("nonlinearity", Choice("tanh", "relu"), "tanh", "the activation of each step"),)
    doc = ("Elman recurrent layer over a sequence (T, features) (torch.nn.RNN, batch_first): outputs the "
           "sequence (T, directions * hidden) and h_n (layers * directions, hidden).")

    def constructor_keywords(self, a, xs):
        return {**super().constructor_keywords(a, xs), "nonlinearity": a["nonlinearity"]}
