"""U-Net (Ronneberger et al., 2015) by hand, with padded convolutions and batch norm, in the
module layout specs/unet.yaml gives: inc, down1..down{depth}, up{5-depth}..up4 (up1 meets the
deepest skip), head."""
from __future__ import annotations

import torch
from torch import nn


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Up(nn.Module):
    """Up-convolution of x to the skip's channels, concatenated after the skip, then a double conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, kernel_size=2, stride=2)
        self.conv = double_conv(2 * cout, cout)

    def forward(self, x, skip):
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 21, base: int = 64, depth: int = 4):
        super().__init__()
        self.depth = depth
        self.inc = double_conv(in_channels, base)
        for level in range(1, depth + 1):
            self.add_module(f"down{level}", nn.Sequential(nn.MaxPool2d(2),
                                                          double_conv(base * 2 ** (level - 1), base * 2 ** level)))
        for level in range(depth - 1, -1, -1):  # the deepest skip first
            self.add_module(f"up{4 - level}", Up(base * 2 ** (level + 1), base * 2 ** level))
        self.head = nn.Conv2d(base, num_classes, kernel_size=1)

    def forward(self, x):
        skips = [self.inc(x)]
        for level in range(1, self.depth + 1):
            skips.append(getattr(self, f"down{level}")(skips[-1]))
        x = skips.pop()
        for level in range(self.depth - 1, -1, -1):
            x = getattr(self, f"up{4 - level}")(x, skips[level])
        return self.head(x)
