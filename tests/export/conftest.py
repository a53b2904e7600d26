"""Shared set-up of the export tests: which specs run through which formats.

Every bundled spec exports to every format it is tested in, and the file's outputs are
compared with the archspec module's. ONNX export and onnxruntime on the 224x224 standard
networks take 10-40 s each on a 2-core machine, so those run through python and
torchscript, and the ONNX path is proven on the smaller ones (docs/export.md says so)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ZOO = HERE.parent / "fixtures" / "zoo.yaml"
TYPED = HERE.parent / "fixtures" / "typed.yaml"  # its own test asserts more (sharing, ties, freezing)
FIXTURES = [p for p in sorted((HERE.parent / "fixtures").glob("*.yaml")) if p != TYPED]  # specs that exercise ops beyond the bundled ones

# spec -> params: the notes' 224x224 networks at the sizes their recipes train at
SMALL = {
    "specs/d2l/lenet.yaml": {},
    "specs/d2l/lenet_bn.yaml": {},
    "specs/d2l/mnist_inception.yaml": {},
    "specs/d2l/mnist_residual.yaml": {},
    "specs/d2l/googlenet.yaml": {},
    "specs/d2l/densenet.yaml": {},
    "specs/d2l/resnet18.yaml": {"size": 96},
    "specs/d2l/nin.yaml": {},
    "specs/d2l/vgg11.yaml": {"ratio": 4},
    "specs/d2l/shared_mlp.yaml": {},
    "specs/text_lstm.yaml": {},
    "specs/gpt2.yaml": {"vocab_size": 97, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32},
    "specs/gpt_small.yaml": {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8},
    "specs/vit_b_16.yaml": {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "mlp_dim": 64},
    "specs/text_transformer.yaml": {},
    "specs/convnext_tiny.yaml": {"dims": [8, 16, 32, 64], "depths": [1, 1, 2, 1]},   # narrow: every format
    "specs/shufflenet_v2_x1_0.yaml": {"repeats": [1, 2, 1], "widths": [8, 16, 32, 64, 128]},
    "specs/unet.yaml": {"base": 4, "size": 32, "num_classes": 3},
}
# the largest (224x224, up to 138M parameters): python and one binary format, at one batch size
LARGE = {
    "specs/d2l/alexnet.yaml": ({}, "torchscript"),
    "specs/d2l/vgg11.yaml": ({"ratio": 1}, "torchscript"),
    "specs/resnet18.yaml": ({}, "torchscript"),
    "specs/resnet50.yaml": ({}, "torchscript"),
    "specs/densenet121.yaml": ({}, "torchscript"),
    "specs/vgg16.yaml": ({}, "torchscript"),
    "specs/mobilenet_v2.yaml": ({}, "onnx"),
    # a small variant at 112, where both paddings (to whole windows, odd sides before a merge) run
    "specs/swin_t.yaml": ({"size": 112, "embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 1, 2, 2]}, "torchscript"),
    "specs/efficientnet_b0.yaml": ({}, "onnx"),
    "specs/mobilenet_v3_large.yaml": ({}, "torchscript"),
}


def cases() -> list[tuple[str, dict, str, tuple]]:
    """(spec, params, format, batch sizes) for the export-and-compare test."""
    out = [(spec, params, fmt, (1, 3)) for spec, params in SMALL.items() for fmt in ("python", "torchscript", "onnx")]
    for spec, (params, binary) in LARGE.items():
        out += [(spec, params, "python", (2,)), (spec, params, binary, (2,))]
    return out
