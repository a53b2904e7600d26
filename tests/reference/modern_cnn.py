"""ConvNeXt, EfficientNet, MobileNetV3 and ShuffleNetV2 laid out as torchvision lays them out
(same state_dict keys, same parameter shapes, same eval forward), written by hand because
torchvision cannot be installed beside this torch. Width multipliers 1.0, no weight loading,
torchvision's default arguments; the constructors take a stage table so tests can build
small variants.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torch.nn import functional as F


# --- pieces torchvision.ops provides --------------------------------------------------------
def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to the nearest multiple of `divisor`, never more than 10% down."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class StochasticDepth(nn.Module):
    """Drop the whole residual branch per sample ("row") or per batch ("batch") with
    probability p while training, scaling survivors by 1/(1-p); the identity in eval."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        shape = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(survival)
        return x * (noise / survival if survival > 0.0 else noise)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return torch.permute(x, self.dims)


class ConvNormAct(nn.Sequential):
    """torchvision's Conv2dNormActivation: conv (no bias), norm, then the activation if any."""

    def __init__(self, cin, cout, kernel=3, stride=1, groups=1, norm=nn.BatchNorm2d, act=nn.ReLU):
        layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False), norm(cout)]
        if act is not None:
            layers.append(act(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """x * gate(fc2(act(fc1(avgpool(x))))), the 1x1 convolutions keeping (C, 1, 1)."""

    def __init__(self, channels, squeeze, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


def linear_drop_rates(total_prob: float, blocks: int, denominator: int) -> list[float]:
    """Stochastic depth growing linearly with the block's index over the whole network."""
    return [total_prob * k / denominator for k in range(blocks)]


# --- ConvNeXt ---------------------------------------------------------------------------------
class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor (moved last, normalized, moved back)."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale, drop_prob):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), layer_scale))
        self.stochastic_depth = StochasticDepth(drop_prob, "row")

    def forward(self, x):
        return x + self.stochastic_depth(self.layer_scale * self.block(x))


# (channels, channels after the downsampling that follows or None, blocks)
CONVNEXT_TINY = ((96, 192, 3), (192, 384, 3), (384, 768, 9), (768, None, 3))


class ConvNeXt(nn.Module):
    def __init__(self, stages=CONVNEXT_TINY, stochastic_depth_prob=0.1, layer_scale=1e-6, num_classes=1000):
        super().__init__()
        total = sum(n for _, _, n in stages)
        rates = iter(linear_drop_rates(stochastic_depth_prob, total, total - 1))
        layers = [nn.Sequential(nn.Conv2d(3, stages[0][0], kernel_size=4, stride=4),
                                LayerNorm2d(stages[0][0], eps=1e-6))]
        for dim, out, blocks in stages:
            layers.append(nn.Sequential(*(CNBlock(dim, layer_scale, next(rates)) for _ in range(blocks))))
            if out is not None:
                layers.append(nn.Sequential(LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, out, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = stages[-1][1] or stages[-1][0]
        self.classifier = nn.Sequential(LayerNorm2d(last, eps=1e-6), nn.Flatten(1), nn.Linear(last, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


def convnext_tiny(num_classes=1000):
    return ConvNeXt(CONVNEXT_TINY, 0.1, 1e-6, num_classes)


# --- EfficientNet-B0 --------------------------------------------------------------------------
class MBConv(nn.Module):
    """Expand (1x1, skipped at ratio 1), depthwise, squeeze-excite, project; residual with
    stochastic depth when the shape is kept."""

    def __init__(self, cin, cout, expand, kernel, stride, drop_prob):
        super().__init__()
        hidden = make_divisible(cin * expand)
        self.use_res_connect = stride == 1 and cin == cout
        layers = [ConvNormAct(cin, hidden, 1, act=nn.SiLU)] if hidden != cin else []
        layers += [
            ConvNormAct(hidden, hidden, kernel, stride, groups=hidden, act=nn.SiLU),
            SqueezeExcitation(hidden, max(1, cin // 4), activation=partial(nn.SiLU, inplace=True)),
            ConvNormAct(hidden, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop_prob, "row")

    def forward(self, x):
        y = self.block(x)
        return x + self.stochastic_depth(y) if self.use_res_connect else y


# (expand ratio, kernel, first stride, in channels, out channels, blocks)
EFFICIENTNET_B0 = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                   (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))


class EfficientNet(nn.Module):
    def __init__(self, stages=EFFICIENTNET_B0, dropout=0.2, stochastic_depth_prob=0.2, num_classes=1000):
        super().__init__()
        total = sum(s[-1] for s in stages)
        rates = iter(linear_drop_rates(stochastic_depth_prob, total, total))
        layers = [ConvNormAct(3, stages[0][3], 3, 2, act=nn.SiLU)]
        for expand, kernel, stride, cin, cout, blocks in stages:
            layers.append(nn.Sequential(*(
                MBConv(cin if k == 0 else cout, cout, expand, kernel, stride if k == 0 else 1, next(rates))
                for k in range(blocks))))
        last = 4 * stages[-1][4]
        layers.append(ConvNormAct(stages[-1][4], last, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(last, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_b0(num_classes=1000):
    return EfficientNet(EFFICIENTNET_B0, 0.2, 0.2, num_classes)


# --- MobileNetV3-Large ------------------------------------------------------------------------
def mobilenet_v3_norm(channels):
    return nn.BatchNorm2d(channels, eps=0.001, momentum=0.01)


class InvertedResidualV3(nn.Module):
    def __init__(self, cin, kernel, expanded, cout, use_se, activation, stride):
        super().__init__()
        act = nn.Hardswish if activation == "HS" else nn.ReLU
        self.use_res_connect = stride == 1 and cin == cout
        layers = [ConvNormAct(cin, expanded, 1, norm=mobilenet_v3_norm, act=act)] if expanded != cin else []
        layers.append(ConvNormAct(expanded, expanded, kernel, stride, groups=expanded, norm=mobilenet_v3_norm, act=act))
        if use_se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4), scale_activation=nn.Hardsigmoid))
        layers.append(ConvNormAct(expanded, cout, 1, norm=mobilenet_v3_norm, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res_connect else y


# (in, kernel, expanded, out, squeeze-excite, "RE" ReLU or "HS" hardswish, stride)
MOBILENET_V3_LARGE = (
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1))


class MobileNetV3(nn.Module):
    def __init__(self, blocks=MOBILENET_V3_LARGE, last_channel=1280, dropout=0.2, num_classes=1000):
        super().__init__()
        layers = [ConvNormAct(3, blocks[0][0], 3, 2, norm=mobilenet_v3_norm, act=nn.Hardswish)]
        layers += [InvertedResidualV3(*b) for b in blocks]
        lastconv = 6 * blocks[-1][3]
        layers.append(ConvNormAct(blocks[-1][3], lastconv, 1, norm=mobilenet_v3_norm, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(lastconv, last_channel), nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True), nn.Linear(last_channel, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def mobilenet_v3_large(num_classes=1000):
    return MobileNetV3(MOBILENET_V3_LARGE, 1280, 0.2, num_classes)


# --- ShuffleNetV2 x1.0 ------------------------------------------------------------------------
def channel_shuffle(x, groups):
    """Interleave the channel groups: (g, C/g) channels transposed to (C/g, g)."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def depthwise(channels, stride):
    return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)


class ShuffleUnit(nn.Module):
    """torchvision's shufflenetv2.InvertedResidual. Stride 1: split the channels in two halves,
    transform the second (branch2), concatenate. Stride 2: branch1 and branch2 both see the
    whole input. Then shuffle the two halves' channels together."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        half = cout // 2
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                depthwise(cin, stride), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            depthwise(half, stride), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            kept, changed = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(changed)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, repeats=(4, 8, 4), channels=(24, 116, 232, 464, 1024), num_classes=1000):
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, channels[0], 3, 2, 1, bias=False), nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = channels[0]
        for name, n, cout in zip(("stage2", "stage3", "stage4"), repeats, channels[1:4]):
            setattr(self, name, nn.Sequential(*(ShuffleUnit(cin if k == 0 else cout, cout, 2 if k == 0 else 1)
                                                for k in range(n))))
            cin = cout
        self.conv5 = nn.Sequential(
            nn.Conv2d(cin, channels[4], 1, bias=False), nn.BatchNorm2d(channels[4]), nn.ReLU(inplace=True))
        self.fc = nn.Linear(channels[4], num_classes)

    def forward(self, x):
        x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
        return self.fc(self.conv5(x).mean([2, 3]))


def shufflenet_v2_x1_0(num_classes=1000):
    return ShuffleNetV2((4, 8, 4), (24, 116, 232, 464, 1024), num_classes)
