"""The constant tensors of window attention (Swin): which row of a relative position bias
table each pair of a window's tokens reads, and the mask that keeps a shifted window's
tokens from attending across the seams of the cyclic shift."""
import torch


def relative_position_index(window: tuple, flatten: bool = False) -> torch.Tensor:
    """(n, n) for the n = wh * ww tokens of a wh x ww window in row-major order: for tokens p and
    q, the row (dy + wh - 1) * (2 * ww - 1) + (dx + ww - 1) of a (2wh - 1)(2ww - 1)-row table,
    (dy, dx) being p's position minus q's; flattened to (n * n,) when `flatten` (torchvision)."""
    wh, ww = window
    k = torch.arange(wh * ww)
    y, x = k // ww, k % ww
    index = (y[:, None] - y[None, :] + wh - 1) * (2 * ww - 1) + (x[:, None] - x[None, :] + ww - 1)
    return index.flatten() if flatten else index


def shift_mask(size: tuple, window: tuple, shift: tuple, value: float = -100.0) -> torch.Tensor:
    """(windows, n, n) for an (H, W) map rolled back by `shift` and cut into wh x ww windows
    (row-major): `value` between two tokens of a window that came from different regions of
    the unrolled map, 0 elsewhere. The regions along each side are [0, H - wh), [H - wh, H - sh)
    and [H - sh, H), as in Swin."""
    (h, w), (wh, ww), (sh, sw) = size, window, shift
    if not (0 <= sh < wh and 0 <= sw < ww):
        raise ValueError(f"shift {(sh, sw)} must be at least 0 and smaller than the window {(wh, ww)}")
    rows, cols = torch.arange(h), torch.arange(w)
    row_region = (rows >= h - wh).long() + (rows >= h - sh).long()
    col_region = (cols >= w - ww).long() + (cols >= w - sw).long()
    region = row_region[:, None] * 3 + col_region[None, :]
    ids = region.reshape(h // wh, wh, w // ww, ww).permute(0, 2, 1, 3).reshape(-1, wh * ww)
    apart = ids[:, :, None] != ids[:, None, :]
    return torch.zeros(apart.shape).masked_fill(apart, value)
