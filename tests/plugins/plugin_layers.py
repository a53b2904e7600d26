"""Plugin layers for the tests: written as a user would, with no shape rule of their own."""
from __future__ import annotations

import torch
from torch import nn

from archspec.plugins import Arg, Int


class SqueezeExcite(nn.Module):
    """Scale each channel by a gate computed from the channel means (Hu et al., 2018)."""

    archspec_op = dict(args=[Arg("reduction", Int(1), 4, "how much the gate narrows")],
                       inputs={"channels": "c"}, main_arg="reduction")

    def __init__(self, channels, reduction=4):
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, channels)

    def forward(self, x):
        gate = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * gate[:, :, None, None]


class Stem(nn.Module):
    """A strided 3x3 convolution whose output size only a forward pass tells (no shape rule)."""

    def __init__(self, in_channels, width):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(width)

    def forward(self, x):
        return torch.relu(self.norm(self.conv(x)))


class Pair(nn.Module):
    """Returns two tensors: not a valid op."""

    def forward(self, x):
        return x, x
