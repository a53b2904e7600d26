"""archspec's own nn.Modules, and the functions that fill its constant buffers: what torch.nn
does not have, which ops build and export writes out (as timm keeps its layers). Each is
self-contained: it uses only `torch` and `nn`, so the Python export copies its source into the
file it writes, which then still imports nothing but torch."""
from archspec.layers.attention import Attention, MultiheadAttention
from archspec.layers.drop_path import DropPath
from archspec.layers.norm import LayerNormAlongDim
from archspec.layers.windows import relative_position_index, shift_mask

__all__ = ["Attention", "DropPath", "LayerNormAlongDim", "MultiheadAttention", "relative_position_index", "shift_mask"]
