"""The matrix product of two values, torch.matmul on the tensors as they are: a batched value
of sample shape S is the tensor (B, *S), a batch-free one is its shape. So attention's scores
are q [H, L, D] @ k^T [H, D, L] (both batched: [H, L, L] per sample), and a batched [L, D]
times a batch-free weight [D, E] is [L, E] per sample. torch's rules apply unchanged: a 1-d
operand is a vector, the dims before the last two broadcast from the right.

The batch must come through as the result's first dim and only there, so the rule refuses
what would mix samples, which torch itself may accept at some batch sizes: the batch being
the contracted dim (a batched [D] on the right is a (B, D) matrix to torch), lining up with
another operand's dim (a batched [L, D] times a batch-free [H, D, E]; two batched operands
of different ranks), or ending up elsewhere than first."""
from __future__ import annotations

from archspec.compiler.ir import Type
from archspec.ops import register
from archspec.ops.base import Op, ShapeRuleError, prod


class Batch:
    """The batch dim, whose size a rule does not know."""

    def __repr__(self):
        return "B"


B = Batch()


def show(x) -> str:
    return "[" + ", ".join(map(repr, x)) + "]"


@register
class Matmul(Op):
    name = "matmul"
    family = "linear"
    doc = "Matrix product of two values, broadcasting as torch.matmul (q @ k^T in attention); the batch stays first."
    roles = ("left", "right")
    batch_free = True

    def type(self, a, ts):
        self.check_inputs(ts)
        left, right = ((B, *t.shape) if t.batched else tuple(t.shape) for t in ts)
        if all(t.batched for t in ts) and len(left) != len(right):
            raise ShapeRuleError(f"{self.name}: the batched operands {show(left)} and {show(right)} differ in rank: "
                                 "torch would line one's batch up with a dim of the other; give them one rank")
        out = self.product(left, right)
        batched = any(t.batched for t in ts)
        if (B in out) != batched or B in out[1:] or (batched and out[0] is not B):
            raise ShapeRuleError(f"{self.name}: {show(left)} @ {show(right)} gives {show(out)} to torch: the batch B "
                                 "would not stay the result's first dim")
        return Type(out[1:] if batched else out, batched=batched)

    def product(self, left: tuple, right: tuple) -> tuple:
        """torch.matmul's result shape, B meeting only B or 1 in the broadcast dims."""
        pair = f"{show(left)} @ {show(right)}"
        if not left or not right:
            raise ShapeRuleError(f"{self.name}: {pair}: both operands need at least one dim")
        lhs = (1, *left) if len(left) == 1 else left
        rhs = (*right, 1) if len(right) == 1 else right
        k, k2 = lhs[-1], rhs[-2]
        if B in (k, k2):
            raise ShapeRuleError(f"{self.name}: {pair} would sum over the batch B (torch reads the batched operand as "
                                 "a matrix whose rows are the samples); give it a matrix per sample")
        if k != k2:
            raise ShapeRuleError(f"{self.name}: {pair}: the left's last dim {k} differs from the right's "
                                 f"{'only' if len(right) == 1 else 'second-to-last'} dim {k2}")
        front = []
        lead_l, lead_r = lhs[:-2], rhs[:-2]
        for i in range(max(len(lead_l), len(lead_r)), 0, -1):
            p = lead_l[-i] if i <= len(lead_l) else 1
            q = lead_r[-i] if i <= len(lead_r) else 1
            if p is B or q is B:
                if (p, q) not in ((B, B), (B, 1), (1, B)):
                    raise ShapeRuleError(f"{self.name}: {pair}: the batch B lines up with a dim of size "
                                         f"{q if p is B else p} of the other operand (torch broadcasts the dims "
                                         "before the last two from the right)")
                front.append(B)
            elif p != q and 1 not in (p, q):
                raise ShapeRuleError(f"{self.name}: {pair}: the dims before the last two do not broadcast: "
                                     f"{p} vs {q}")
            else:
                front.append(max(p, q))
        rows = () if len(left) == 1 else (lhs[-2],)  # a vector's added dim is dropped again
        cols = () if len(right) == 1 else (rhs[-1],)
        return (*front, *rows, *cols)

    def macs(self, a, xs, out):
        return prod(out) * xs[0][-1]

    def apply(self, a, left, right):
        import torch

        return torch.matmul(left, right)

    def python(self, a, xs):
        return f"{xs[0]} @ {xs[1]}"
