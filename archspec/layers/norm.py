"""Layer norm over a dim that is not the last."""
import torch
from torch import nn


class LayerNormAlongDim(nn.LayerNorm):
    """nn.LayerNorm over one dim that is not the last: ConvNeXt's channels-first LayerNorm2d
    is dim=1 of (N, C, H, W). Its parameters and state_dict are nn.LayerNorm's (`weight`,
    `bias` of shape (C,)); it computes what moving `dim` last, nn.LayerNorm and moving it
    back compute."""

    def __init__(self, normalized_shape, dim: int = 1, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__(normalized_shape, eps, elementwise_affine, bias, device, dtype)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim, last = self.dim % x.dim(), x.dim() - 1  # dims >= 0: ONNX export mistranslates movedim's negative ones
        x = nn.functional.layer_norm(x.movedim(dim, last), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.movedim(last, dim)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dim={self.dim}"
