"""Hypothesis strategies for valid specs: chains of conv/pool/norm/activation layers, a
linear head, parallel branches (concat/add/...), residuals, dense blocks, parameterized
blocks and repeats, with sizes drawn so that everything fits.

Shapes are tracked here with torch's own formulas, only to keep the drawn spec valid; the
tests compare archspec's checked shape with a real forward pass, not with these."""
from __future__ import annotations

import copy
import math

import yaml
from hypothesis import strategies as st

ACTIVATIONS = ["relu", "relu6", "gelu", "silu", "sigmoid", "tanh", "hardswish", "identity", "mish",
               {"leaky_relu": {"negative_slope": 0.2}}, {"elu": {"alpha": 0.5}}, {"dropout": 0.1}, {"relu": {"inplace": True}}]
MAX_C, MAX_HW = 12, 20

BLOCKS = {
    "unit": {"params": {"out": "required", "k": 3},
             "layers": [{"conv2d": {"out": "$out", "kernel": "$k", "padding": "${k // 2}"}}, "batchnorm2d", "relu"]},
    "basic": {"params": {"out": "required", "stride": 1}, "layers": [
        {"id": "conv", "conv2d": {"out": "$out", "kernel": 3, "stride": "$stride", "padding": 1, "bias": False}},
        {"id": "bn", "batchnorm2d": None},
        {"id": "short", "from": "input", "if": "${stride != 1 or input.c != out}",
         "conv2d": {"out": "$out", "kernel": 1, "stride": "$stride"}},
        {"add": None, "from": ["bn", "short"]},
        "relu"]},
}


def conv_out(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def pool_out(n, k, s, p, ceil):
    if not ceil:
        return (n + 2 * p - k) // s + 1
    out = math.ceil((n + 2 * p - k) / s) + 1
    return out - 1 if (out - 1) * s >= n + p else out


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


class Builder:
    """Draws items for a running shape and records the blocks and params it used."""

    def __init__(self, draw):
        self.draw = draw
        self.blocks: dict = {}
        self.params: dict = {}
        self.ids = 0
        self.last = None  # the kind of the item drawn last

    def new_id(self):
        self.ids += 1
        return f"n{self.ids}"

    # ---- single layers on (C, H, W) ------------------------------------------------------
    def conv(self, shape, same=False):
        d, (c, h, w) = self.draw, shape
        out = d(st.integers(1, MAX_C))
        if same:
            k = d(st.sampled_from([1, 3, 5]))
            args, new = {"out": out, "kernel": k, "padding": k // 2}, (out, h, w)
        else:
            k = d(st.integers(1, min(h, w, 5)))
            s, p = d(st.integers(1, 2)), d(st.integers(0, k // 2))
            dil = d(st.sampled_from([1, 1, 2])) if 2 * (k - 1) + 1 <= min(h, w) + 2 * p else 1
            args = {"out": out, "kernel": k, "stride": s, "padding": p, "dilation": dil}
            new = (out, conv_out(h, k, s, p, dil), conv_out(w, k, s, p, dil))
        g = d(st.sampled_from(divisors(c)))
        if g > 1:
            args["out"] = out = g * d(st.integers(1, max(MAX_C // g, 1)))
            args["groups"] = g
            new = (out, *new[1:])
        if d(st.booleans()):
            args["bias"] = False
        return {"conv2d": args}, new

    def pool(self, shape):
        d, (c, h, w) = self.draw, shape
        op = d(st.sampled_from(["maxpool2d", "avgpool2d"]))
        k = d(st.integers(1, min(h, w, 3)))
        s, p, ceil = d(st.integers(1, k)), d(st.integers(0, k // 2)), d(st.booleans())
        args = {"kernel": k, "stride": s, "padding": p, "ceil_mode": ceil}
        return {op: args}, (c, pool_out(h, k, s, p, ceil), pool_out(w, k, s, p, ceil))

    def adaptive(self, shape):
        d, (c, h, w) = self.draw, shape
        op = d(st.sampled_from(["adaptive_avgpool2d", "adaptive_maxpool2d"]))
        oh, ow = d(st.integers(1, h)), d(st.integers(1, w))
        return {op: {"size": [oh, ow]}}, (c, oh, ow)

    def norm(self, shape):
        d, (c, h, w) = self.draw, shape
        kind = d(st.sampled_from(["batchnorm2d", "groupnorm", "layernorm", "instancenorm2d"]))
        if kind == "groupnorm":
            return {"groupnorm": {"groups": d(st.sampled_from(divisors(c)))}}, shape
        if kind == "layernorm":
            return {"layernorm": {"dims": d(st.integers(1, 3))}}, shape
        if kind == "instancenorm2d" and h * w == 1:
            kind = "batchnorm2d"
        return kind, shape

    def activation(self, shape):
        """inplace only after a conv or a norm, as torchvision does: an op that keeps its output
        for backward (relu, sigmoid, ...) fails in backward when the next one overwrites it."""
        safe = self.last in ("conv", "norm", "param_conv")
        return self.draw(st.sampled_from([a for a in ACTIVATIONS if safe or "inplace" not in str(a)])), shape

    def upsample(self, shape):
        c, h, w = shape
        if h * 2 > MAX_HW or w * 2 > MAX_HW:
            return "identity", shape
        return {"upsample": {"scale": 2}}, (c, 2 * h, 2 * w)

    # ---- combinators and blocks ----------------------------------------------------------
    def same_chain(self, shape, length):
        """Items that keep H and W: the inside of branches, residual bodies and dense layers."""
        items = []
        for _ in range(length):
            pick = self.draw(st.sampled_from(["conv", "conv", "norm", "act", "pool"]))
            if pick == "conv":
                item, shape = self.conv(shape, same=True)
            elif pick == "norm":
                item, shape = self.norm(shape)
            elif pick == "act":  # not inplace: branches and shortcuts read the same input
                item = self.draw(st.sampled_from([a for a in ACTIVATIONS if "inplace" not in str(a)]))
            else:
                item = {self.draw(st.sampled_from(["maxpool2d", "avgpool2d"])): {"kernel": 3, "stride": 1, "padding": 1}}
            items.append(item)
        return items, shape

    def ending_with(self, shape, channels):
        items, shape = self.same_chain(shape, self.draw(st.integers(0, 2)))
        k = self.draw(st.sampled_from([1, 3]))
        return items + [{"conv2d": {"out": channels, "kernel": k, "padding": k // 2}}], (channels, *shape[1:])

    def parallel(self, shape):
        d = self.draw
        merge = d(st.sampled_from(["concat", "concat", "add", "mul", "max", "mean"]))
        branches, outs = [], []
        common = d(st.integers(1, MAX_C))
        for _ in range(d(st.integers(2, 3))):
            if merge == "concat":
                items, out = self.same_chain(shape, d(st.integers(1, 2)))
            else:
                items, out = self.ending_with(shape, common)
            branches.append(items if len(items) != 1 or d(st.booleans()) else items[0])
            outs.append(out)
        item = {"parallel": branches}
        if merge != "concat" or d(st.booleans()):
            item["merge"] = merge
        c = sum(o[0] for o in outs) if merge == "concat" else common
        return item, (c, *shape[1:])

    def residual(self, shape):
        d, (c, h, w) = self.draw, shape
        if d(st.booleans()):
            body, _ = self.ending_with(shape, c)
            return {"residual": {"body": body}}, shape
        out, k = d(st.integers(1, MAX_C)), d(st.sampled_from([1, 3]))
        body = [{"conv2d": {"out": out, "kernel": k, "stride": 2, "padding": k // 2}}, "batchnorm2d"]
        short = [{"conv2d": {"out": out, "kernel": 1, "stride": 2}}]
        return {"residual": {"body": body, "shortcut": short}}, (out, (h - 1) // 2 + 1, (w - 1) // 2 + 1)

    def dense(self, shape):
        d, (c, h, w) = self.draw, shape
        growth, times = d(st.integers(1, 4)), d(st.integers(1, 3))
        layers = [*(["batchnorm2d", "relu"] if d(st.booleans()) else []), {"conv2d": {"out": growth, "kernel": 3, "padding": 1}}]
        repeat = times if d(st.booleans()) else {"times": times, "id": "layer${i + 1}"}
        return {"dense": {"layers": layers, "repeat": repeat}, "id": self.new_id()}, (c + growth * times, h, w)

    def block_call(self, shape):
        d, (c, h, w) = self.draw, shape
        name = d(st.sampled_from(sorted(BLOCKS)))
        self.blocks[name] = copy.deepcopy(BLOCKS[name])
        out = d(st.integers(1, MAX_C))
        times = d(st.sampled_from([None, None, 1, 2, 3]))
        if name == "unit":
            item = {"unit": {"out": out, "k": d(st.sampled_from([1, 3, 5]))} if d(st.booleans()) else {"out": out}}
            new = (out, h, w)
        else:
            stride = d(st.sampled_from([1, 2]))
            item = {"basic": {"out": out, "stride": stride}}
            for _ in range(times or 1):
                h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
            new = (out, h, w)
        if times is not None:
            item["repeat"] = times
            if d(st.booleans()):
                item["id"] = self.new_id()
        return item, new

    def param_conv(self, shape):
        """A conv whose width is a spec param, through `$name` or an expression."""
        c, h, w = shape
        width = self.params.setdefault("width", self.draw(st.integers(1, 6)))
        out, text = self.draw(st.sampled_from([(width, "$width"), (2 * width, "${width * 2}"), (width + c, "${width + input.c}")]))
        return {"conv2d": {"out": text, "kernel": 1}}, (out, h, w)

    def item(self, shape):
        kinds = ["conv", "conv", "pool", "norm", "activation", "adaptive", "upsample", "parallel", "residual", "dense",
                 "block_call", "param_conv"]
        kind = self.draw(st.sampled_from(kinds))
        item, new = getattr(self, kind)(shape)
        self.last = kind
        if isinstance(item, dict) and "id" not in item and self.draw(st.integers(0, 4)) == 0:
            item = {"id": self.new_id(), **item}
        return item, new


def head(draw, shape):
    """Optionally flatten into one or two linear layers."""
    c, h, w = shape
    if draw(st.booleans()) or c * h * w > 4096:
        return [], shape
    items, n = ["flatten"], c * h * w
    for _ in range(draw(st.integers(1, 2))):
        out = draw(st.integers(1, 16))
        items.append({"linear": out} if draw(st.booleans()) else {"linear": {"out": out, "bias": draw(st.booleans())}})
        extra = draw(st.sampled_from([None, "relu", {"dropout": 0.2}, "batchnorm1d", "layernorm"]))
        if extra:
            items.append(extra)
        n = out
    return items, (n,)


@st.composite
def valid_specs(draw, max_items: int = 6):
    """(spec as a dict, the output shape these formulas expect)."""
    first = shape = (draw(st.integers(1, 4)), draw(st.integers(4, 16)), draw(st.integers(4, 16)))
    builder = Builder(draw)
    layers = []
    for _ in range(draw(st.integers(1, max_items))):
        item, shape = builder.item(shape)
        layers.append(item)
    tail, shape = head(draw, shape)
    spec = {"archspec": 1, "name": "fuzz", "input": list(first)}
    if builder.params:
        spec["params"] = builder.params
    if builder.blocks:
        spec["blocks"] = builder.blocks
    spec["layers"] = layers + tail
    return spec, shape


def to_yaml(spec: dict) -> str:
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=1000)
