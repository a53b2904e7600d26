"""The bundled block library (archspec/library/torchvision.yaml) and blocks chosen by a param.

Blocks the bundled specs use are checked against torchvision's layouts by tests/test_specs.py;
the others are checked here against hand-written PyTorch modules of torchvision's layout."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import archspec
from archspec.errors import Code
from archspec.lang.imports import BUNDLED
from archspec.lang.loader import Spec, parse_yaml
from archspec.lang.schema import validate

SPECS = Path(__file__).resolve().parents[2] / "specs"


def net(layers: str, params: str = "{}", input_shape: str = "[8, 6, 6]") -> str:
    return f"archspec: 1\nimports: [torchvision]\ninput: {input_shape}\nparams: {params}\nlayers: {layers}\n"


def test_the_bundled_libraries_are_valid_libraries():
    for path in BUNDLED.glob("*.yaml"):
        text = path.read_text()
        data, locations = parse_yaml(text, str(path))
        assert validate(Spec(data, text, str(path), str(path), locations), library=True) == []


@pytest.mark.parametrize("spec, params, published", [
    ("resnet18", {"layers": [3, 4, 6, 3]}, 21_797_672),                             # torchvision resnet34
    ("resnet18", {"block": "bottleneck", "layers": [3, 4, 6, 3]}, 25_557_032),      # resnet50
    ("resnet50", {"layers": [3, 4, 23, 3]}, 44_549_160),                            # resnet101
])
def test_one_spec_per_family_the_block_chosen_by_a_param(spec, params, published):
    report = archspec.check(str(SPECS / f"{spec}.yaml"), **params)
    assert report.ok and report.params == published


@pytest.mark.parametrize("value, message", [
    ("basik", "$block is 'basik': expected the name of a block or an op (did you mean 'basic'?)"),
    (3, "$block is 3: expected the name of a block or an op"),
    ("layers", "$block is 'layers': expected the name of a block or an op"),  # a combinator is no choice
])
def test_a_param_that_names_no_block_is_an_error_at_the_head(value, message):
    report = archspec.check(net("\n  - {id: x, $block: {planes: 8}}", f"{{block: {value}}}"))
    (diagnostic,) = report.diagnostics
    assert (diagnostic.loc.line, diagnostic.loc.col, diagnostic.code) == (6, 13, Code.UNKNOWN_OP)
    assert diagnostic.message.startswith(message)


@pytest.mark.parametrize("act, reference", [("gelu", nn.GELU()), ("silu", nn.SiLU()), ("hardswish", nn.Hardswish())])
def test_a_bare_param_item_is_the_op_it_names(act, reference):
    """`- $act` in a block, the caller choosing the activation (torchvision's activation_layer)."""
    text = ("archspec: 1\ninput: [8]\nparams: {act: relu}\nblocks:\n  mlp:\n    params: {act: required}\n"
            "    layers: [{linear: 6}, $act]\nlayers:\n  - {mlp: {act: $act}}\n  - $act\n")
    module = archspec.build(text, act=act)
    torch.manual_seed(0)
    x = torch.randn(3, 8)
    linear = module.get_submodule("0.0")
    torch.testing.assert_close(module(x), reference(reference(linear(x))))
    report = archspec.check(text, act="gleu")
    message = "$act is 'gleu': expected the name of a block or an op (did you mean 'gelu'?)"
    assert [(d.loc.line, d.loc.col, d.message) for d in report.errors] == [(7, 27, message), (10, 5, message)]
    assert report.errors[0].notes[0].startswith("in block 'mlp' called at")


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation, written out."""

    def __init__(self, channels: int, squeeze: int, scale=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.activation, self.scale_activation = nn.ReLU(), scale()

    def forward(self, x):
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x))))) * x


def conv_bn_act(c_in: int, c_out: int, stride: int, act) -> nn.Sequential:
    """torchvision.ops.Conv2dNormActivation with a 3x3 kernel, written out."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), act())


@pytest.mark.parametrize("layers, reference", [
    ("[{id: se, squeeze_excitation: {squeeze: 2}}]", lambda: nn.ModuleDict({"se": SqueezeExcitation(8, 2)})),
    ("[{id: se, squeeze_excitation: {squeeze: 4, scale_act: hardsigmoid}}]",
     lambda: nn.ModuleDict({"se": SqueezeExcitation(8, 4, nn.Hardsigmoid)})),
    ("[{id: stem, conv_bn_act: {out: 16, stride: 2, act: hardswish}}]",
     lambda: nn.ModuleDict({"stem": conv_bn_act(8, 16, 2, nn.Hardswish)})),
])
def test_library_blocks_match_torchvision_modules(layers, reference):
    torch.manual_seed(0)
    model, ref = archspec.build(net(layers)).eval(), reference().eval()
    for m in ref.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 1.5)
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 8, 6, 6)
    (block,) = ref.values()
    torch.testing.assert_close(model(x), block(x))
