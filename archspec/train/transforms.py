"""Batch transforms in plain torch: every op works on a whole (N, C, H, W) batch at once.

Random choices are drawn on the CPU from an explicit generator, so a run's augmentation
is the same on every device and can be replayed exactly after a resume.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class Pipeline:
    """Applies a canonical transforms mapping to float batches in [0, 1]."""

    def __init__(self, transforms: dict, size: tuple[int, int] | None = None, channels: int | None = None):
        self.t = transforms
        self.size = tuple(transforms["resize"]) if "resize" in transforms else size
        self.channels = channels
        norm = transforms.get("normalize")
        self.mean = self.std = None
        if isinstance(norm, dict):
            self.mean = torch.tensor(norm["mean"]).view(1, -1, 1, 1)
            self.std = torch.tensor(norm["std"]).view(1, -1, 1, 1)

    def __call__(self, x: torch.Tensor, train: bool = False, gen: torch.Generator | None = None) -> torch.Tensor:
        return self.pair(x, None, train, gen)[0]

    def pair(self, x: torch.Tensor, mask: torch.Tensor | None, train: bool = False,
             gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The batch and its masks ((N, H, W) class indices, or None): crops, flips and resizes move
        a mask's pixels as its image's, by nearest neighbour (no class mixed with another); the
        random draws are the same as without masks."""
        if x.dim() != 4:
            return x, mask
        if self.channels and x.shape[1] == 1 and self.channels != 1:
            x = x.expand(-1, self.channels, -1, -1)
        if train and "random_resized_crop" in self.t:
            x, mask = _crop(x, mask, self.size or tuple(x.shape[-2:]), gen=gen, **self.t["random_resized_crop"])
        elif self.size and tuple(x.shape[-2:]) != tuple(self.size):
            x = resize(x, self.size)
            if mask is not None:
                mask = F.interpolate(mask[:, None].float(), size=tuple(self.size), mode="nearest")[:, 0].to(mask.dtype)
        if train and "hflip" in self.t:
            x, mask = _hflip(x, mask, self.t["hflip"], gen)
        if train and "color_jitter" in self.t:
            x = color_jitter(x, gen=gen, **self.t["color_jitter"])
        if self.mean is not None:
            x = (x - self.mean.to(x.device)) / self.std.to(x.device)
        return x, mask


def resize(x: torch.Tensor, size) -> torch.Tensor:
    down = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=down)


def _uniform(n: int, low: float, high: float, gen) -> torch.Tensor:
    return torch.rand(n, generator=gen) * (high - low) + low


def _to(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """CPU-drawn random numbers to the device without stalling the host (pinned, asynchronous)."""
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t.to(device)


def random_hflip(x: torch.Tensor, p: float, gen) -> torch.Tensor:
    return _hflip(x, None, p, gen)[0]


def _hflip(x: torch.Tensor, mask: torch.Tensor | None, p: float, gen):
    flip = _to(torch.rand(x.shape[0], generator=gen) < p, x.device).view(-1, 1, 1, 1)
    if mask is not None:
        mask = torch.where(flip[:, 0], mask.flip(-1), mask)
    return torch.where(flip, x.flip(-1), x), mask


def random_resized_crop(x: torch.Tensor, size, scale, ratio, gen) -> torch.Tensor:
    return _crop(x, None, size, scale, ratio, gen)[0]


def _crop(x: torch.Tensor, mask: torch.Tensor | None, size, scale, ratio, gen):
    """Per-sample crop boxes (area fraction in `scale`, aspect in `ratio`) sampled with one grid_sample;
    a mask by the same grid, nearest."""
    n, _, h, w = x.shape
    area = _uniform(n, scale[0], scale[1], gen)
    aspect = torch.exp(_uniform(n, math.log(ratio[0]), math.log(ratio[1]), gen))
    fw = torch.sqrt(area * aspect * h / w).clamp(max=1.0)  # crop width as a fraction of the image width
    fh = torch.sqrt(area / aspect * w / h).clamp(max=1.0)
    cx = (torch.rand(n, generator=gen) * 2 - 1) * (1 - fw)
    cy = (torch.rand(n, generator=gen) * 2 - 1) * (1 - fh)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = fw, cx, fh, cy
    grid = F.affine_grid(_to(theta, x.device).to(x.dtype), [n, x.shape[1], *size], align_corners=False)
    if mask is not None:
        moved = F.grid_sample(mask[:, None].to(x.dtype), grid, mode="nearest", padding_mode="border",
                              align_corners=False)
        mask = moved[:, 0].round().to(mask.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False), mask


def color_jitter(x: torch.Tensor, brightness: float, contrast: float, saturation: float, gen) -> torch.Tensor:
    n = x.shape[0]

    def factors(strength):
        return _to(_uniform(n, max(0.0, 1 - strength), 1 + strength, gen), x.device).to(x.dtype).view(-1, 1, 1, 1)

    if brightness:
        x = (x * factors(brightness)).clamp(0, 1)
    if contrast:
        mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
        f = factors(contrast)
        x = (f * x + (1 - f) * mean).clamp(0, 1)
    if saturation and x.shape[1] == 3:
        f = factors(saturation)
        x = (f * x + (1 - f) * grayscale(x)).clamp(0, 1)
    return x


def grayscale(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
    r, g, b = x.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)


def channel_stats(x: torch.Tensor, chunk: int = 4096) -> dict:
    """Per-channel mean and std of a dataset in [0, 1] (uint8 is scaled by 1/255), in chunks."""
    total = sq = None
    count = 0
    for start in range(0, x.shape[0], chunk):
        part = x[start:start + chunk].double()
        if x.dtype == torch.uint8:
            part = part / 255.0
        s, q = part.sum(dim=(0, 2, 3)), (part * part).sum(dim=(0, 2, 3))
        total, sq = (s, q) if total is None else (total + s, sq + q)
        count += part.shape[0] * part.shape[2] * part.shape[3]
    mean = total / count
    std = (sq / count - mean * mean).clamp(min=1e-12).sqrt()
    return {"mean": [round(float(m), 6) for m in mean], "std": [round(max(float(s), 1e-6), 6) for s in std]}
