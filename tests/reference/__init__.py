"""Hand-written PyTorch reference models for the specs in specs/.

d2l.py holds the course notes' networks, torchvision_layout.py the standard
architectures in torchvision's module layout, modern_cnn.py and transformers.py today's
networks (ConvNeXt to Swin in torchvision's layout, GPT-2 in nanoGPT's, two small text
classifiers), checked by test_modern.py until their specs exist. `REFERENCES` maps a spec's path
(relative to the repository root) to a function building its reference model.
"""
from __future__ import annotations

from . import d2l, modern_cnn as cnn, torchvision_layout as tv, transformers as tf, unet

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
    "specs/convnext_tiny.yaml": cnn.convnext_tiny,
    "specs/efficientnet_b0.yaml": cnn.efficientnet_b0,
    "specs/mobilenet_v3_large.yaml": cnn.mobilenet_v3_large,
    "specs/shufflenet_v2_x1_0.yaml": cnn.shufflenet_v2_x1_0,
    "specs/text_lstm.yaml": tf.text_lstm,
    "specs/swin_t.yaml": lambda: tf.SwinTransformer(**TEST_PARAMS["specs/swin_t.yaml"]),
    "specs/vit_b_16.yaml": lambda: tf.VisionTransformer(**TEST_PARAMS["specs/vit_b_16.yaml"]),
    "specs/gpt2.yaml": lambda: tf.gpt2(tf.GPTConfig(**TEST_PARAMS["specs/gpt2.yaml"])),
    "specs/text_transformer.yaml": tf.text_transformer,
    "specs/gpt_small.yaml": lambda: tf.gpt2(tf.GPTConfig(block_size=64, vocab_size=256, n_layer=4, n_head=4, n_embd=128,
                                                         bias=False)),
    "specs/unet.yaml": lambda: unet.UNet(**{k: v for k, v in TEST_PARAMS["specs/unet.yaml"].items() if k != "size"}),
}

# Params the spec tests build a spec with, where the full size would be slow on a CPU; its
# reference above is built alike. The full size is still checked (parameters, PUBLISHED_PARAMS).
TEST_PARAMS = {
    "specs/vit_b_16.yaml": {"num_layers": 2, "num_heads": 2, "hidden_dim": 32, "mlp_dim": 64, "num_classes": 10},  # at 224
    "specs/gpt2.yaml": {"vocab_size": 97, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 32},
    "specs/swin_t.yaml": {"embed_dim": 8, "depths": [2, 2, 2, 2], "num_heads": [1, 1, 2, 2], "num_classes": 10},
    "specs/unet.yaml": {"base": 4, "size": 32, "num_classes": 3},
}

# The full-size references of the specs in TEST_PARAMS: their layouts are compared on torch's meta device.
FULL_SIZE = {"specs/vit_b_16.yaml": tf.vit_b_16, "specs/gpt2.yaml": tf.gpt2, "specs/swin_t.yaml": tf.swin_t,
             "specs/unet.yaml": unet.UNet}

# Parameter counts published with torchvision's weights (ImageNet, 1000 classes).
PUBLISHED_PARAMS = {
    "specs/resnet18.yaml": 11_689_512,
    "specs/resnet50.yaml": 25_557_032,
    "specs/vgg16.yaml": 138_357_544,
    "specs/densenet121.yaml": 7_978_856,
    "specs/mobilenet_v2.yaml": 3_504_872,
    "specs/convnext_tiny.yaml": 28_589_128,
    "specs/efficientnet_b0.yaml": 5_288_548,
    "specs/mobilenet_v3_large.yaml": 5_483_032,
    "specs/shufflenet_v2_x1_0.yaml": 2_278_604,
    "specs/text_lstm.yaml": 230_146,  # issue 12's figure for the reference's defaults (no published weights)
    "specs/swin_t.yaml": 28_288_354,
    "specs/vit_b_16.yaml": 86_567_656,
    "specs/gpt2.yaml": 124_439_808,  # nanoGPT's GPT-2 small (wte and lm_head counted once)
}

# Specs whose built module must also run, unchanged, at a second input size (one sample's
# shape) and match its reference there: nothing in the module may be fixed to the size it
# was built at.
SECOND_SIZES = {
    "specs/convnext_tiny.yaml": (3, 160, 160),
    "specs/efficientnet_b0.yaml": (3, 160, 160),
    "specs/mobilenet_v3_large.yaml": (3, 160, 160),
    "specs/shufflenet_v2_x1_0.yaml": (3, 160, 160),
    "specs/unet.yaml": (3, 48, 48),  # built at 32: any multiple of 2^depth
}
