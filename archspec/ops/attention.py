"""Attention: `attention`, the parameter-free core between a model's own projections
(nanoGPT's c_attn -> core -> c_proj), and `multihead_attention`, nn.MultiheadAttention with
its parameters (torchvision's ViT, nn.TransformerEncoderLayer). Both are computed with
torch's scaled_dot_product_attention; the modules are archspec's own (archspec/layers/)."""
from __future__ import annotations

from archspec.compiler.ir import Type
from archspec.ops import register
from archspec.ops.base import Arg, Bool, Float, InputError, Int, Op, Optional, ShapeRuleError, prod
from archspec.ops.merge import broadcast

HEADS = Arg("heads", Int(1), doc="attention heads; the features split evenly among them")
CAUSAL = Arg("causal", Bool(), False, "mask each query's later keys (a decoder, GPT)")
DROPOUT = Arg("dropout", Float(0.0, 1.0), 0.0, "dropout on the attention weights while training")


def show(shape) -> str:
    return str(list(shape))


class AttentionOp(Op):
    family = "attention"
    main_arg = "heads"

    def floats(self, ts, upto: int) -> None:
        """The first `upto` inputs (queries, keys, values) must be batched float values."""
        for k, t in enumerate(ts[:upto]):
            if t.dtype != "float32":
                raise InputError(self.name, k, "a float", t.dtype, t.shape)
            if not t.batched:
                raise InputError(self.name, k, "a batched", "batch-free", t.shape)

    def split(self, e: int, heads: int, what: str) -> int:
        if e % heads:
            raise ShapeRuleError(f"{self.name}: {what} features {e} do not split into {heads} heads")
        return e // heads


@register
class Attention(AttentionOp):
    name = "attention"
    doc = ("softmax(q k^T / sqrt(d) + mask) v over heads, no parameters (torch's scaled_dot_product_attention): "
           "from: [q, k, v] or one packed qkv (..., L, 3E), then an optional mask or additive bias (..., heads, L, S).")
    roles = ("query", "key", "value", "mask")
    min_inputs = 1
    args = (HEADS, CAUSAL, DROPOUT,
            Arg("scale", Optional(Float(0.0)), None, "the scores' factor; null: 1 / sqrt(features per head)"))

    def input_roles(self, n):
        return ("qkv", "mask")[:n] if n <= 2 else self.roles[:n]

    def qkv(self, ts) -> tuple[tuple, tuple, tuple]:
        """The query, key and value shapes, a packed input cut in three."""
        if len(ts) > 2:
            return tuple(t.shape for t in ts[:3])
        x = ts[0].shape
        if len(x) < 2 or x[-1] % 3:
            raise ShapeRuleError(f"{self.name}: a packed qkv input is (..., L, 3E), found {show(x)}: "
                                 "its last dim must split into three")
        one = (*x[:-1], x[-1] // 3)
        return one, one, one

    def type(self, a, ts):
        packed = len(ts) <= 2
        self.floats(ts, 1 if packed else 3)
        q, k, v = self.qkv(ts)
        if min(len(q), len(k), len(v)) < 2:
            raise ShapeRuleError(f"{self.name}: queries, keys and values are (..., L, E), found {show(q)}, {show(k)}, "
                                 f"{show(v)}")
        if not q[:-2] == k[:-2] == v[:-2] or k[-2] != v[-2] or q[-1] != k[-1]:
            raise ShapeRuleError(f"{self.name}: query {show(q)}, key {show(k)} and value {show(v)} do not fit: "
                                 "they share the leading dims, key and value their length, query and key their features")
        heads = a["heads"]
        self.split(q[-1], heads, "query and key")
        self.split(v[-1], heads, "value")
        if len(ts) in (2, 4):
            mask = ts[-1]
            if mask.dtype == "int64":
                raise InputError(self.name, len(ts) - 1, "a float (added) or bool (kept where true)", mask.dtype, mask.shape)
            if a["causal"]:
                raise ShapeRuleError(f"{self.name}: causal and a mask input: give one (a causal mask, or causal: true)")
            scores = Type((*q[:-2], heads, q[-2], k[-2]))
            if mask.batched and len(mask.shape) != len(scores.shape):
                raise ShapeRuleError(f"{self.name}: a batched mask has the scores' rank, (..., heads, L, S) = "
                                     f"{show(scores.shape)}, found {show(mask.shape)}")
            try:
                fits = broadcast(self.name, [scores, Type(mask.shape, "float32", mask.batched)]).shape == scores.shape
            except ShapeRuleError:
                fits = False
            if not fits:
                raise ShapeRuleError(f"{self.name}: the mask {show(mask.shape)} does not broadcast to the scores "
                                     f"{show(scores.shape)} (..., heads, L, S)")
        return Type((*q[:-1], v[-1]))

    def bind(self, a, ts):
        return {**a, "packed": len(ts) <= 2}

    def macs(self, a, xs, out):
        q, k, _ = self.qkv([Type(tuple(x)) for x in xs])
        return prod(q[:-1]) * k[-2] * (q[-1] + out[-1])

    def module(self, a, xs):
        from archspec.layers import Attention

        return Attention(a["heads"], causal=a["causal"], dropout=a["dropout"], scale=a["scale"], packed=a["packed"])


@register
class MultiheadAttention(AttentionOp):
    name = "multihead_attention"
    doc = ("torch's nn.MultiheadAttention (batch first) with its parameters (in_proj_weight, in_proj_bias, out_proj): "
           "self-attention on one (L, E) input, cross-attention from: [query, memory], or from: [query, key, value].")
    roles = ("query", "key", "value")
    min_inputs = 1
    args = (HEADS, DROPOUT, Arg("bias", Bool(), True, "learn biases of the projections"), CAUSAL)

    def type(self, a, ts):
        self.floats(ts, 3)
        q, k, v = (ts + [ts[-1]] * 2)[:3]
        q, k, v = q.shape, k.shape, v.shape
        if not len(q) == len(k) == len(v) == 2:
            raise ShapeRuleError(f"{self.name}: expects sequences (L, E), found {', '.join(show(x) for x in (q, k, v)[:len(ts)])}")
        if k[0] != v[0]:
            raise ShapeRuleError(f"{self.name}: key {show(k)} and value {show(v)} differ in length")
        self.split(q[-1], a["heads"], "query")
        return Type(tuple(q))

    def dims(self, xs) -> tuple[int, int, int, int, int]:
        """(L, S, E, kdim, vdim) of inputs xs."""
        q, k, v = (list(xs) + [xs[-1]] * 2)[:3]
        return q[0], k[0], q[1], k[1], v[1]

    def weights(self, a, xs):
        _, _, e, kd, vd = self.dims(xs)
        proj = {"in_proj_weight": (3 * e, e)} if kd == vd == e else \
            {"q_proj_weight": (e, e), "k_proj_weight": (e, kd), "v_proj_weight": (e, vd)}
        if a["bias"]:
            proj["in_proj_bias"] = (3 * e,)
        return {**proj, "out_proj.weight": (e, e), **({"out_proj.bias": (e,)} if a["bias"] else {})}

    def macs(self, a, xs, out):
        l, s, e, kd, vd = self.dims(xs)
        return l * e * e + s * (kd + vd) * e + 2 * l * s * e + l * e * e

    def module(self, a, xs):
        from archspec.layers import MultiheadAttention

        _, _, e, kd, vd = self.dims(xs)
        return MultiheadAttention(e, a["heads"], dropout=a["dropout"], bias=a["bias"], kdim=kd, vdim=vd, causal=a["causal"])
