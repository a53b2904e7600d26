"""Hand-written PyTorch reference models for the specs in specs/.

d2l.py holds the course notes' networks, torchvision_layout.py the standard
architectures in torchvision's module layout, modern_cnn.py and transformers.py today's
networks (ConvNeXt to Swin in torchvision's layout, GPT-2 in nanoGPT's, two small text
classifiers), checked by test_modern.py until their specs exist. `REFERENCES` maps a spec's path
(relative to the repository root) to a function building its reference model.
"""
from __future__ import annotations

from . import d2l, torchvision_layout as tv, transformers

REFERENCES = {
    "specs/d2l/lenet.yaml": d2l.lenet,
    "specs/d2l/lenet_bn.yaml": d2l.lenet_bn,
    "specs/d2l/alexnet.yaml": d2l.alexnet,
    "specs/d2l/vgg11.yaml": d2l.vgg11,
    "specs/d2l/nin.yaml": d2l.nin,
    "specs/d2l/googlenet.yaml": d2l.googlenet,
    "specs/d2l/resnet18.yaml": d2l.resnet18,
    "specs/d2l/densenet.yaml": d2l.densenet,
    "specs/d2l/mnist_inception.yaml": d2l.MnistInceptionNet,
    "specs/d2l/mnist_residual.yaml": d2l.MnistResidualNet,
    "specs/d2l/shared_mlp.yaml": d2l.shared_mlp,
    "specs/resnet18.yaml": tv.resnet18,
    "specs/resnet50.yaml": tv.resnet50,
    "specs/vgg16.yaml": tv.vgg16,
    "specs/densenet121.yaml": tv.densenet121,
    "specs/mobilenet_v2.yaml": tv.mobilenet_v2,
    "specs/text_lstm.yaml": transformers.text_lstm,
    "specs/swin_t.yaml": transformers.swin_t,
}

# Parameter counts published with torchvision's weights (ImageNet, 1000 classes).
PUBLISHED_PARAMS = {
    "specs/resnet18.yaml": 11_689_512,
    "specs/resnet50.yaml": 25_557_032,
    "specs/vgg16.yaml": 138_357_544,
    "specs/densenet121.yaml": 7_978_856,
    "specs/mobilenet_v2.yaml": 3_504_872,
    "specs/text_lstm.yaml": 230_146,  # issue 12's figure for the reference's defaults (no published weights)
    "specs/swin_t.yaml": 28_288_354,
}

# Specs too slow to compare at full size in the suite: the spec params of a small variant and
# the reference built alike. Their full size is checked by counts (the check's total, the
# reference's and the published number).
SMALL_VARIANTS = {
    "specs/swin_t.yaml": ({"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 1, 2, 2], "num_classes": 10},
                          lambda: transformers.SwinTransformer(embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2),
                                                               num_classes=10)),
}
