"""Stochastic depth (drop path) as a module."""
import torch
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., 2016), as torchvision.ops.StochasticDepth does it: while
    training, zero the whole input of each sample ("row") or of the whole batch ("batch") with
    probability p and scale what survives by 1 / (1 - p); the identity in eval. It draws its
    noise as torchvision does, so the same seed drops the same samples."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop path probability must be in [0, 1], found {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f"drop path mode must be 'row' or 'batch', found {mode!r}")
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(keep)
        if keep > 0.0:
            noise = noise / keep
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode!r}"
