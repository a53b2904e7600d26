"""Transformers and sequence models: ViT-B/16 and Swin-T in torchvision's module layout,
GPT-2 in nanoGPT's, and two small text classifiers of our own design (TextTransformer,
TextLSTM). Same state_dict keys, parameter shapes and eval forward as the originals; no
weight loading. Initialization is torch's default for torch's modules; free parameters get
their original's init, except ViT's class token (normal, std 0.02, where torchvision uses
zeros) so that a test comparing outputs sees it.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from itertools import product

import torch
from torch import nn
from torch.nn import functional as F

from .modern_cnn import Permute, StochasticDepth, linear_drop_rates


def mlp(dim, hidden, dropout=0.0):
    """torchvision.ops.MLP with one hidden layer: Linear, GELU, Dropout, Linear, Dropout."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, dim), nn.Dropout(dropout))


# --- ViT --------------------------------------------------------------------------------------
class EncoderBlock(nn.Module):
    """Pre-norm: x + attention(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.mlp = mlp(hidden_dim, mlp_dim, dropout)

    def forward(self, x):
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout))
            for i in range(num_layers)))
        self.ln = nn.LayerNorm(hidden_dim, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Patches by a strided conv, a class token prepended, learned positions added, pre-norm
    encoder; the class token's final state is classified. Runs at image_size only."""

    def __init__(self, image_size=224, patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072,
                 dropout=0.0, attention_dropout=0.0, num_classes=1000):
        super().__init__()
        self.image_size, self.hidden_dim = image_size, hidden_dim
        self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.empty(1, 1, hidden_dim).normal_(std=0.02))
        seq_length = (image_size // patch_size) ** 2 + 1
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden_dim, num_classes)))

    def forward(self, x):
        n, _, h, w = x.shape
        if (h, w) != (self.image_size, self.image_size):
            raise ValueError(f"expected {self.image_size}x{self.image_size} images, got {h}x{w}")
        x = self.conv_proj(x).reshape(n, self.hidden_dim, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def vit_b_16(num_classes=1000):
    return VisionTransformer(224, 16, 12, 12, 768, 3072, num_classes=num_classes)


# --- Swin-T -----------------------------------------------------------------------------------
def window_partition(x, w):
    """(B, H, W, C) -> (B * windows, w * w, C), windows in row-major order."""
    b, h, wd, c = x.shape
    return x.view(b, h // w, w, wd // w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)


def window_reverse(x, w, b, h, wd):
    c = x.shape[-1]
    return x.view(b, h // w, wd // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, wd, c)


def relative_position_index(w):
    """For each (query, key) pair of a w x w window, the row of the bias table holding their
    offset: (dy + w - 1) * (2w - 1) + (dx + w - 1), flattened to (w^4,)."""
    coords = torch.stack(torch.meshgrid(torch.arange(w), torch.arange(w), indexing="ij")).flatten(1)
    offset = coords[:, :, None] - coords[:, None, :] + (w - 1)
    return (offset[0] * (2 * w - 1) + offset[1]).flatten()


def shift_mask(like, h, wd, w, shifts):
    """-100 between tokens of one window that the cyclic shift brought from different regions,
    0 elsewhere: (windows, w * w, w * w)."""
    region = like.new_zeros((h, wd))
    cuts = [(slice(0, -w), slice(-w, -s), slice(-s, None)) for s in shifts]
    for label, (rows, cols) in enumerate(product(*cuts)):
        region[rows, cols] = label
    ids = window_partition(region[None, :, :, None], w).squeeze(-1)
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class ShiftedWindowAttention(nn.Module):
    """Multi-head self-attention inside w x w windows (after a cyclic shift by shift_size when
    it is non-zero), with a learned bias per relative offset and head. The input is padded to
    whole windows; a shift along a side no longer than one window is dropped."""

    def __init__(self, dim, window_size, shift_size, num_heads, attention_dropout=0.0, dropout=0.0):
        super().__init__()
        self.window_size, self.shift_size, self.num_heads = window_size, shift_size, num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(window_size))

    def relative_position_bias(self):
        n = self.window_size ** 2
        bias = self.relative_position_bias_table[self.relative_position_index].view(n, n, -1)
        return bias.permute(2, 0, 1).contiguous().unsqueeze(0)

    def forward(self, x):
        b, h, wd, c = x.shape
        w, heads = self.window_size, self.num_heads
        x = F.pad(x, (0, 0, 0, (-wd) % w, 0, (-h) % w))
        ph, pw = x.shape[1:3]
        shifts = [s if w < size else 0 for s, size in zip(self.shift_size, (ph, pw))]
        if sum(shifts):
            x = torch.roll(x, shifts=(-shifts[0], -shifts[1]), dims=(1, 2))
        x = window_partition(x, w)
        windows, n = x.shape[0], w * w
        q, k, v = self.qkv(x).reshape(windows, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // heads) ** -0.5).matmul(k.transpose(-2, -1)) + self.relative_position_bias()
        if sum(shifts):
            mask = shift_mask(x, ph, pw, w, shifts)
            attn = (attn.view(b, -1, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)).view(-1, heads, n, n)
        attn = F.dropout(F.softmax(attn, dim=-1), p=self.attention_dropout, training=self.training)
        x = attn.matmul(v).transpose(1, 2).reshape(windows, n, c)
        x = F.dropout(self.proj(x), p=self.dropout, training=self.training)
        x = window_reverse(x, w, b, ph, pw)
        if sum(shifts):
            x = torch.roll(x, shifts=(shifts[0], shifts[1]), dims=(1, 2))
        return x[:, :h, :wd, :].contiguous()


class SwinTransformerBlock(nn.Module):
    """Pre-norm on (B, H, W, C): x + drop(attn(norm1(x))), then x + drop(mlp(norm2(x)))."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = ShiftedWindowAttention(dim, window_size, shift_size, num_heads, attention_dropout, dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = mlp(dim, int(dim * mlp_ratio), dropout)

    def forward(self, x):
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """Each 2x2 neighbourhood concatenated on channels (in the order (0,0), (1,0), (0,1),
    (1,1)), normalized, projected from 4C to 2C; odd sides padded first."""

    def __init__(self, dim):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=1e-5)

    def forward(self, x):
        h, w = x.shape[-3:-1]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.reduction(self.norm(x))


class SwinTransformer(nn.Module):
    def __init__(self, patch_size=4, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7,
                 mlp_ratio=4.0, stochastic_depth_prob=0.2, num_classes=1000):
        super().__init__()
        total = sum(depths)
        rates = iter(linear_drop_rates(stochastic_depth_prob, total, total - 1))
        layers = [nn.Sequential(nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size),
                                Permute([0, 2, 3, 1]), nn.LayerNorm(embed_dim, eps=1e-5))]
        for stage, (depth, heads) in enumerate(zip(depths, num_heads)):
            dim = embed_dim * 2 ** stage
            layers.append(nn.Sequential(*(
                SwinTransformerBlock(dim, heads, window_size, [0, 0] if k % 2 == 0 else [window_size // 2] * 2,
                                     mlp_ratio, stochastic_depth_prob=next(rates))
                for k in range(depth))))
            if stage < len(depths) - 1:
                layers.append(PatchMerging(dim))
        self.features = nn.Sequential(*layers)
        features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(features, eps=1e-5)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(features, num_classes)

    def forward(self, x):
        x = self.avgpool(self.permute(self.norm(self.features(x))))
        return self.head(self.flatten(x))


def swin_t(num_classes=1000):
    return SwinTransformer(4, 96, (2, 2, 6, 2), (3, 6, 12, 24), 7, 4.0, 0.2, num_classes)


# --- GPT-2 (nanoGPT) --------------------------------------------------------------------------
@dataclass
class GPTConfig:
    """nanoGPT's GPTConfig with GPT-2 small's values (its checkpoints' vocabulary of 50257)."""

    block_size: int = 1024
    vocab_size: int = 50257
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
                   for z in self.c_attn(x).split(self.n_embd, dim=2))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c)))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token and position embeddings, pre-norm causal blocks, a final norm, and an lm_head
    sharing its weight with wte. Returns the logits of every position: (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig | None = None):
        super().__init__()
        self.config = config = config or GPTConfig()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias)))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx):
        t = idx.shape[1]
        if t > self.config.block_size:
            raise ValueError(f"sequence of length {t} is longer than block_size {self.config.block_size}")
        pos = torch.arange(t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


def gpt2(config: GPTConfig | None = None):
    return GPT(config or GPTConfig())


# --- small text classifiers (our design) ------------------------------------------------------
class TextTransformer(nn.Module):
    """tokens (B, T) int64, T <= max_len -> logits (B, num_classes):
      x = embedding(tokens) + position(arange(T))      embedding: Embedding(vocab_size, d_model)
                                                       position:  Embedding(max_len, d_model)
      x = layers[i](x) for each i                      nn.TransformerEncoderLayer(d_model, nhead,
          dim_feedforward, dropout, batch_first=True, norm_first=norm_first): ReLU, eps 1e-5,
          post-norm by default (keys layers.N.self_attn.in_proj_weight, .linear1, .norm1, ...)
      logits = head(x.mean(dim=1))                      head: Linear(d_model, num_classes)
    No padding mask, no final norm, no embedding scale."""

    def __init__(self, vocab_size=1000, max_len=64, d_model=64, nhead=4, num_layers=2, dim_feedforward=128,
                 dropout=0.1, norm_first=False, num_classes=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True,
                                       norm_first=norm_first)
            for _ in range(num_layers))
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, tokens):
        x = self.embedding(tokens) + self.position(torch.arange(tokens.shape[1], device=tokens.device))
        for layer in self.layers:
            x = layer(x)
        return self.head(x.mean(dim=1))


class TextLSTM(nn.Module):
    """tokens (B, T) int64 -> logits (B, num_classes):
      out, (h_n, c_n) = lstm(embedding(tokens))     embedding: Embedding(vocab_size, embed_dim)
          lstm: nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout,
          bidirectional=True); h_n is (2 * num_layers, B, hidden_size)
      features = cat(h_n[-2], h_n[-1]) when pool == "last" (the last layer's final forward and
          backward states), out.mean(dim=1) when pool == "mean"; both (B, 2 * hidden_size)
      logits = head(features)                       head: Linear(2 * hidden_size, num_classes)"""

    def __init__(self, vocab_size=1000, embed_dim=64, hidden_size=64, num_layers=2, dropout=0.0, pool="last",
                 num_classes=2):
        super().__init__()
        if pool not in ("last", "mean"):
            raise ValueError(f"pool must be 'last' or 'mean', not {pool!r}")
        self.pool = pool
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout, bidirectional=True)
        self.head = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, tokens):
        out, (h, _) = self.lstm(self.embedding(tokens))
        return self.head(torch.cat((h[-2], h[-1]), dim=1) if self.pool == "last" else out.mean(dim=1))


def text_transformer(num_classes=2):
    return TextTransformer(num_classes=num_classes)


def text_lstm(num_classes=2):
    return TextLSTM(num_classes=num_classes)
