"""Attention as modules: the parameter-free core between a model's own projections, and
nn.MultiheadAttention called the way a spec's graph calls a module (positional inputs, one
tensor back, the batch first). Both run torch.nn.functional.scaled_dot_product_attention, so
flash and memory-efficient kernels are used where the device has them."""
import torch
from torch import nn


class Attention(nn.Module):
    """softmax(q k^T * scale + mask) v over `heads` heads, without parameters. Inputs are
    (B, *, L, E) queries and (B, *, S, E) keys, (B, *, S, Ev) values, split into heads on the
    last dim and joined again: (B, *, L, Ev) out. `packed`: one (B, *, L, 3E) input holding
    q, k and v in that order (nanoGPT's c_attn, timm's qkv), then the mask as the second.
    The mask is added to the scores (float) or keeps where true (bool); `causal` masks the
    future instead. Dropout on the weights while training."""

    def __init__(self, heads: int, causal: bool = False, dropout: float = 0.0, scale: float | None = None,
                 packed: bool = False):
        super().__init__()
        self.heads = heads
        self.causal = causal
        self.dropout = dropout
        self.scale = scale
        self.packed = packed

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(..., L, E) -> (..., heads, L, E / heads)."""
        return x.unflatten(-1, (self.heads, -1)).transpose(-3, -2)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None, value: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.packed:
            q, k, v = query.chunk(3, dim=-1)
            mask = key
        elif key is None or value is None:
            raise ValueError("attention takes a query, a key and a value, or packed qkv")
        else:
            q, k, v = query, key, value
        y = torch.nn.functional.scaled_dot_product_attention(
            self.split(q), self.split(k), self.split(v), attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0, is_causal=self.causal, scale=self.scale)
        return y.transpose(-3, -2).flatten(-2)

    def extra_repr(self) -> str:
        return f"heads={self.heads}, causal={self.causal}, dropout={self.dropout}, packed={self.packed}"


class MultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention (same parameters and state_dict: in_proj_weight, in_proj_bias,
    out_proj) with the batch first, called as forward(query) for self-attention,
    forward(query, memory) for cross-attention or forward(query, key, value); returns the
    output alone (the weights are not computed, so the fused kernels run). `causal` masks
    each query's future keys."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 kdim: int | None = None, vdim: int | None = None, causal: bool = False):
        super().__init__(embed_dim, num_heads, dropout=dropout, bias=bias, kdim=kdim, vdim=vdim, batch_first=True)
        self.bias = bias
        self.causal = causal

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None) -> torch.Tensor:
        key = query if key is None else key
        value = key if value is None else value
        mask: torch.Tensor | None = None
        if self.causal:
            mask = torch.ones(query.shape[1], key.shape[1], dtype=torch.bool, device=query.device).triu(1)
        q, k, v = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        separate = not self._qkv_same_embed_dim  # kdim or vdim differ: q_proj_weight, k_proj_weight, v_proj_weight
        y, _ = torch.nn.functional.multi_head_attention_forward(
            q, k, v, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, need_weights=False, attn_mask=mask, is_causal=self.causal,
            use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight)
        return y.transpose(0, 1)
