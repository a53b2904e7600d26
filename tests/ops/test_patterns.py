"""rearrange, reduce and tile against einops itself (einops.rearrange, reduce, repeat): the same patterns (the strategies'
draws and hand-picked ones), the same verdict, the same values. Where the two differ, it is
the language's batch rule: a batched value's pattern keeps its batch first and alone."""
from __future__ import annotations

from dataclasses import replace

import einops
import pytest
import torch
from hypothesis import given, settings, strategies as st

import archspec.ops as ops
from archspec.ops.base import InputError, ShapeRuleError
from strategies.pattern import einops_case

DTYPES = {"float32": torch.float32, "int64": torch.int64, "bool": torch.bool}
EINOPS = {"rearrange": einops.rearrange, "reduce": einops.reduce, "tile": einops.repeat}


def by_einops(kind, args, x):
    sizes = dict(args.get("sizes", {}))
    if kind == "reduce":
        return einops.reduce(x, args["pattern"], args["reduction"], **sizes)
    return EINOPS[kind](x, args["pattern"], **sizes)


def sample(t, batch=2):
    size = ((batch,) if t.batched else ()) + t.shape
    return (torch.randn(size) * 3).to(DTYPES[t.dtype]) if t.dtype != "bool" else torch.randn(size) > 0


def compare(kind, given_args, t):
    """The rule's verdict and the module's values against einops on a tensor of type t."""
    op = ops.get(kind)
    a, problems = op.check_args(given_args)
    assert not problems
    x = sample(t)
    try:
        out = op.type(a, [t])
    except InputError:
        return "input"
    except ShapeRuleError as e:
        out, refusal = None, e
    else:
        refusal = None
    try:
        want = by_einops(kind, given_args, x)
    except (einops.EinopsError, RuntimeError) as e:  # a pattern einops refuses, or a reduction torch cannot do
        assert refusal is not None, f"einops refused what the rule accepts ({out}): {e}"
        assert str(refusal).startswith(f"{kind}: ")
        return "refused"
    if refusal is not None:
        assert t.batched and "batch" in str(refusal), f"the rule refused what einops accepts: {refusal}"
        return "batch"
    bound = op.bind(a, [t])
    got = op.apply(bound, x)
    assert out.shape == tuple(want.shape[t.batched:]) and out.batched == t.batched and out.dtype == t.dtype
    torch.testing.assert_close(got, want)  # exact for ints and bools; floats may sum in another order
    torch.testing.assert_close(eval(op.python(bound, ["x"]), {"x": x}), got, rtol=0, atol=0)  # noqa: S307 - its export text
    at_another_size(kind, given_args, t, op, bound)
    return "same"


def at_another_size(kind, given_args, t, op, bound):
    """Bound at t, run on another input: another batch, and each dim the pattern leaves free
    (einops takes it doubled) doubled. The values must be einops' on that input."""
    def grown(dims):
        return replace(t, shape=tuple(2 * n if k in dims else n for k, n in enumerate(t.shape)))

    def einops_takes(u):
        try:
            by_einops(kind, given_args, sample(u))
        except (einops.EinopsError, RuntimeError):
            return False
        return True

    free = {k for k in range(len(t.shape)) if einops_takes(grown({k}))}
    x = sample(grown(free), batch=3)
    want = by_einops(kind, given_args, x)
    torch.testing.assert_close(op.apply(bound, x), want)
    torch.testing.assert_close(eval(op.python(bound, ["x"]), {"x": x}), want)  # noqa: S307 - its export text


@pytest.mark.parametrize("kind", sorted(EINOPS))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_patterns_agree_with_einops(kind, data):
    given_args, (t,) = data.draw(einops_case(kind), label="args, input")
    compare(kind, given_args, t)


@pytest.mark.parametrize("kind, args, shape, batched, verdict", [
    ("rearrange", {"pattern": "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", "sizes": {"p1": 4, "p2": 4}}, (3, 8, 12), True, "same"),
    ("rearrange", {"pattern": "b (h wh) (w ww) c -> b (h w) (wh ww) c", "sizes": {"wh": 2, "ww": 2}}, (4, 6, 3), True, "same"),
    ("rearrange", {"pattern": "b (h w) (wh ww) c -> b (h wh) (w ww) c", "sizes": {"h": 2, "wh": 2, "ww": 2}},
     (6, 4, 3), True, "same"),
    ("rearrange", {"pattern": "b (g c) h w -> b (c g) h w", "sizes": {"g": 2}}, (6, 2, 2), True, "same"),
    ("rearrange", {"pattern": "(i j) h -> h i j", "sizes": {"i": 4}}, (16, 3), False, "same"),
    ("rearrange", {"pattern": "b c h w -> (b h w) c"}, (3, 2, 2), True, "batch"),
    ("rearrange", {"pattern": "... c -> c ..."}, (3, 2), True, "batch"),
    ("rearrange", {"pattern": "b c h w -> b c (h w)", "sizes": {"b": 2}}, (3, 2, 2), True, "batch"),
    ("rearrange", {"pattern": "b c (h p) -> b c h p", "sizes": {"p": 4}}, (3, 6), True, "refused"),
    ("rearrange", {"pattern": "b c (h p) -> b c h", "sizes": {"p": 3}}, (3, 6), True, "refused"),
    ("rearrange", {"pattern": "b c h -> b c h", "sizes": {"w": 3}}, (3, 6), True, "refused"),
    ("rearrange", {"pattern": "b c h w -> b c h w"}, (3, 6), True, "refused"),
    ("rearrange", {"pattern": "b (c 2) -> b c 2"}, (4,), True, "refused"),
    ("reduce", {"pattern": "b c (h 2) (w 2) -> b c h w", "reduction": "max"}, (3, 4, 6), True, "same"),
    ("reduce", {"pattern": "b c h w -> b c", "reduction": "mean"}, (3, 4, 6), True, "same"),
    ("reduce", {"pattern": "b c h w -> b c 1 1", "reduction": "prod"}, (3, 2, 2), True, "same"),
    ("reduce", {"pattern": "b ... -> b", "reduction": "sum"}, (3, 2, 2), True, "same"),
    ("reduce", {"pattern": "b c -> c", "reduction": "sum"}, (3,), True, "batch"),
    ("reduce", {"pattern": "b c -> b c d", "reduction": "sum", "sizes": {"d": 2}}, (3,), True, "refused"),
    ("reduce", {"pattern": "b c -> b", "reduction": "mean"}, (3,), True, "same"),
    ("tile", {"pattern": "b h w -> b h w c", "sizes": {"c": 3}}, (4, 5), True, "same"),
    ("tile", {"pattern": "b d -> b n d", "sizes": {"n": 3}}, (4,), True, "same"),
    ("tile", {"pattern": "h w -> (r h) w", "sizes": {"r": 3}}, (4, 5), False, "same"),
    ("tile", {"pattern": "b h w -> b h w c"}, (4, 5), True, "refused"),
    ("tile", {"pattern": "b h w -> b h"}, (4, 5), True, "refused"),
    ("tile", {"pattern": "b h -> (b r) h", "sizes": {"r": 2}}, (4,), True, "batch"),
])
def test_hand_picked_patterns(kind, args, shape, batched, verdict):
    from archspec.compiler.ir import Type

    assert compare(kind, args, Type(shape, "float32", batched)) == verdict


def test_integer_values():
    from archspec.compiler.ir import Type

    tokens = Type((4, 6), "int64")
    assert compare("rearrange", {"pattern": "b s (p t) -> b (s p) t", "sizes": {"t": 3}}, tokens) == "same"
    assert compare("reduce", {"pattern": "b s t -> b t", "reduction": "max"}, tokens) == "same"
    with pytest.raises(ShapeRuleError, match="reduce: reduction 'mean' needs float values, found int64"):
        ops.get("reduce").type({"pattern": "b s t -> b s", "reduction": "mean", "sizes": ()}, [tokens])
