"""Token inputs and attention against torch itself: `multihead_attention` loads
nn.MultiheadAttention's state_dict strictly and gives its outputs (self, cross, q/k/v,
causal); `attention` equals softmax(q k^T / sqrt(d) + mask) v written out by hand (packed
and separate inputs, float and bool masks, causal); `embedding` read at `positions` is
nanoGPT's wte(idx) + wpe(arange(t)) at every length up to the declared one; the refusals
name the place, what was expected and what was found."""
from __future__ import annotations

import math
import textwrap

import pytest
import torch
from torch import nn

import archspec


def build(text: str, **params):
    return archspec.build(textwrap.dedent(text), **params)


def spec(layers: str, inputs: str = "{x: [5, 8], m: [7, 6]}", outputs: str = "") -> str:
    return f"archspec: 1\nname: t\ninput: {inputs}\n{outputs}layers:\n" + textwrap.indent(textwrap.dedent(layers), "  ")


CAUSAL = nn.Transformer.generate_square_subsequent_mask(5)


@pytest.mark.parametrize("inputs, layer, call", [
    ("{x: [5, 8]}", "multihead_attention: 2", lambda mha, x: mha(x, x, x, need_weights=False)[0]),
    ("{x: [5, 8]}", "multihead_attention: {heads: 2, causal: true}",
     lambda mha, x: mha(x, x, x, need_weights=False, attn_mask=CAUSAL, is_causal=True)[0]),
    ("{x: [5, 8], m: [7, 6]}", "multihead_attention: {heads: 4, bias: false}, from: [x, m]",
     lambda mha, x, m: mha(x, m, m)[0]),
    ("{x: [5, 8], k: [7, 8], v: [7, 3]}", "multihead_attention: 2, from: [x, k, v]",
     lambda mha, x, k, v: mha(x, k, v)[0]),
])
def test_multihead_attention_is_torchs_with_a_strict_load(inputs, layer, call):
    model = build(f"archspec: 1\nname: t\ninput: {inputs}\nlayers:\n  - {{id: a, {layer}}}\n").eval()
    a = model.report.graph.nodes["a"]["args"]
    shapes = [model.report.graph.shape_of(r) for r in model.report.graph.inputs_of("a")]
    kdim, vdim = shapes[min(1, len(shapes) - 1)][-1], shapes[-1][-1]
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, a["heads"], bias=a["bias"], kdim=kdim, vdim=vdim, batch_first=True).eval()
    with torch.no_grad():
        for name, p in mha.named_parameters():
            if "bias" in name:
                p.normal_(std=0.1)  # torch starts them at zero
    model.load_state_dict({f"a.{k}": v for k, v in mha.state_dict().items()}, strict=True)
    xs = [torch.randn(3, *shape) for shape in model.report.input_shapes.values()]
    with torch.no_grad():
        torch.testing.assert_close(model(*xs), call(mha, *xs), atol=1e-5, rtol=1e-4)
    assert model.report.params == sum(p.numel() for p in mha.parameters())


def by_hand(q, k, v, heads, mask=None, causal=False):
    """softmax(q k^T / sqrt(d) + mask) v per head, written out."""
    split = lambda t: t.unflatten(-1, (heads, -1)).transpose(-3, -2)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        scores = scores.masked_fill(torch.ones(scores.shape[-2:], dtype=torch.bool).triu(1), float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    return (scores.softmax(-1) @ v).transpose(-3, -2).flatten(-2)


def test_attention_core_is_the_formula_packed_or_separate_with_masks():
    text = """\
    archspec: 1
    name: core
    input: {x: [5, 12], bias: {shape: [3, 5, 5]}, keep: {shape: [1, 5, 5], dtype: bool}}
    outputs: [packed, causal, separate, biased, kept]
    layers:
      - {id: qkv, linear: 36, from: x}
      - {id: packed, attention: 3, from: qkv}
      - {id: causal, attention: {heads: 3, causal: true}, from: qkv}
      - {id: parts, split: {sizes: [12, 12, 12], dim: -1}, from: qkv}
      - {id: separate, attention: 3, from: [parts.0, parts.1, parts.2]}
      - {id: biased, attention: 3, from: [qkv, bias]}
      - {id: kept, attention: 3, from: [parts.0, parts.1, parts.2, keep]}
    """
    model = build(text).eval()
    assert model.report.params == 36 * 12 + 36
    x, bias = torch.randn(2, 5, 12), torch.randn(2, 3, 5, 5)
    keep = torch.rand(2, 1, 5, 5) > 0.3
    keep[..., 0] = True
    with torch.no_grad():
        q, k, v = model.qkv(x).split(12, dim=-1)
        got = model(x, bias, keep)
    want = [by_hand(q, k, v, 3), by_hand(q, k, v, 3, causal=True), by_hand(q, k, v, 3),
            by_hand(q, k, v, 3, bias), by_hand(q, k, v, 3, keep)]
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    g = model.report.graph
    assert [d["role"] for _, _, d in sorted(g.in_edges("kept", data=True), key=lambda e: e[2]["index"])] == \
        ["query", "key", "value", "mask"]
    assert [d["role"] for _, _, d in g.in_edges("biased", data=True)] == ["qkv", "mask"]
    assert g.nodes["packed"]["macs"] == 5 * 5 * (12 + 12)


GPT_LIKE = """\
archspec: 1
name: gpt_like
input:
  idx: {shape: [$block_size], dtype: int64, range: [0, $vocab]}
params: {block_size: 8, vocab: 20}
layers:
  - {id: wte, embedding: {num: $vocab, dim: 6}}
  - {id: pos, positions, from: input}
  - {id: wpe, embedding: {num: $block_size, dim: 6}}
  - {add, from: [wte, wpe]}
"""


def test_a_position_table_is_read_at_the_actual_length():
    model = build(GPT_LIKE).eval()
    wte, wpe = nn.Embedding(20, 6), nn.Embedding(8, 6)
    model.load_state_dict({"wte.weight": wte.weight, "wpe.weight": wpe.weight}, strict=True)
    for t in (8, 3, 1):
        idx = torch.randint(0, 20, (2, t))
        with torch.no_grad():
            torch.testing.assert_close(model(idx), wte(idx) + wpe(torch.arange(t)))
    table = model.report.table()
    assert "[8] int64 no batch" in table and "input: idx [8] int64" in table


@pytest.mark.parametrize("change, line, message", [
    ("{id: wte, embedding: {num: $vocab, dim: 6}}", 0, None),
    ("{id: wte, linear: 6}", 7, "linear: expects a float input, found int64 idx [8]"),
    ("{id: wpe, embedding: {num: $block_size, dim: 6}}\n  - {id: again, embedding: {num: 4, dim: 2}}", 10,
     "embedding: expects an int64 input, found float32 wpe [8, 6]"),
])
def test_token_refusals_are_located(change, line, message):
    text = GPT_LIKE.replace("{id: wte, embedding: {num: $vocab, dim: 6}}", change) if line != 10 else \
        GPT_LIKE.replace("{id: wpe, embedding: {num: $block_size, dim: 6}}", change)
    report = archspec.check(text)
    if message is None:
        assert report.ok
        return
    d = report.diagnostics[0]
    assert (d.loc.line, d.message) == (line, message)


@pytest.mark.parametrize("layers, message", [
    ("- {id: bm, buffer: {shape: [4, 5]}}\n- {attention: 2, from: [x, x, x, bm]}",
     "attention: the mask [4, 5] does not broadcast to the scores [2, 5, 5]"),
    ("- {attention: 2, from: [x, m]}", "attention: a packed qkv input is (..., L, 3E), found [5, 8]"),
    ("- {attention: 2, from: [x, x, x, m]}", "attention: a batched mask has the scores' rank"),
    ("- {attention: {heads: 2, causal: true}, from: [x, x, x, mask]}", "attention: causal and a mask input: give one"),
    ("- {attention: 3, from: [x, x, x]}", "attention: query and key features 8 do not split into 3 heads"),
    ("- {multihead_attention: 2, from: [x, m, x]}", "multihead_attention: key [7, 6] and value [5, 8] differ in length"),
    ("- {multihead_attention: 2, from: [x, m, x, x]}", "multihead_attention takes 1 to 3 inputs (query, key, value), found 4"),
])
def test_attention_refusals(layers, message):
    text = spec(layers, inputs="{x: [5, 8], m: [7, 6], mask: {shape: [5, 5]}}")
    report = archspec.check(text)
    found = [d.message for d in report.diagnostics]
    assert any(message in m for m in found), found
