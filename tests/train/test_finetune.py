"""Fine-tuning end to end, from the command line: specs/resnet18.yaml (torchvision's ResNet-18
layout; its copy here has an eighth of its widths and a 16x16 input, so it trains in seconds)
starts from a state_dict that the hand-written reference network wrote, with a new 10-class head in place of its 1000-class one and
the backbone frozen.

The reference is pretrained by a plain PyTorch loop on the training split of sklearn's digits,
its labels spread over a 1000-way head (digit d is class 100 * d + 7), so its features know
digits and its head does not fit: what is tested is that the backbone arrives intact, stays so,
and that a new head trained on it for two epochs beats the whole network trained from scratch
for the same two epochs, on the held-out validation split neither saw.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from archspec.train import checkpoint
from archspec.train.data import load_data
from archspec.train.loop import Batcher
from archspec.train.recipe import Recipe

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from reference import torchvision_layout as tv  # noqa: E402
SPEC = ROOT / "specs/resnet18.yaml"
WIDTH, SIZE, EPOCHS = 8, 16, 2
SHAPE = (3, SIZE, SIZE)
FROZEN = ("conv1", "bn1", "layer*")  # every module but the head, fc


def pretrain(path: Path) -> dict:
    """The reference ResNet-18 (width 8, 1000 classes) trained on digits' training split; its state_dict saved."""
    torch.manual_seed(0)
    ref = tv.resnet18(num_classes=1000, width=WIDTH)
    recipe = Recipe(data="digits", channels_last=False, seed=0)
    data = load_data(recipe, SHAPE, 10, log=lambda *_: None)
    batcher = Batcher.for_data(data, SHAPE, recipe, torch.device("cpu"))
    opt = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    ref.train()
    for _ in range(3):
        for idx in torch.randperm(len(data.train), generator=g).split(64):
            x, y = batcher(data.train, idx)
            loss = F.cross_entropy(ref(x), 100 * y + 7)
            opt.zero_grad()
            loss.backward()
            opt.step()
    state = ref.state_dict()
    torch.save(state, path)
    return state


def narrow(path: Path) -> Path:
    """specs/resnet18.yaml with every width divided by 8 and a 16x16 input: the same modules and names."""
    text = SPEC.read_text()
    for wide, narrowed in [("[3, 224, 224]", f"[3, {SIZE}, {SIZE}]"), ("out: 64,", f"out: {WIDTH},"),
                           *((f"planes: {64 * k}", f"planes: {WIDTH * k}") for k in (1, 2, 4, 8))]:
        assert wide in text
        text = text.replace(wide, narrowed)
    path.write_text(text)
    return path


def train(cli, out: str, *flags) -> tuple[dict, str]:
    result = cli("train", "resnet18.yaml", "--data", "digits", "--set", "num_classes=10", "--epochs", EPOCHS, "--batch-size", 32, "--lr", 0.05, "--momentum", 0.9,
                 "--seed", 1, "--no-channels-last", "--out", out, *flags)
    assert result.exit_code == 0, result.output
    last = json.loads((Path(out) / "metrics.jsonl").read_text().splitlines()[-1])
    return last, result.output


@pytest.mark.slow
def test_a_frozen_pretrained_backbone_with_a_new_head_beats_training_from_scratch(cli, tmp_path):
    reference = pretrain(tmp_path / "resnet18_1000.pt")
    narrow(tmp_path / "resnet18.yaml")
    strict = cli("train", "resnet18.yaml", "--data", "digits", "--set", "num_classes=10",
                 "--weights", "resnet18_1000.pt", "--out", "refused")
    assert strict.exit_code == 1
    assert "fc.weight is [1000, 64] in the file, [10, 64] in the spec" in strict.output
    assert strict.output.rstrip().endswith("add --weights-skip fc")

    freeze = [arg for pattern in FROZEN for arg in ("--freeze", pattern)]
    tuned, output = train(cli, "tuned", "--weights", "resnet18_1000.pt", "--weights-skip", "fc", *freeze)
    scratch, _ = train(cli, "scratch")

    head = 8 * WIDTH * 10 + 10
    total = sum(v.numel() for k, v in reference.items() if "running" not in k and "num_batches" not in k) \
        - 1000 * 8 * WIDTH - 1000 + head
    assert f"({total:,} parameters: {head:,} trainable, {total - head:,} frozen)" in output
    assert "weights from resnet18_1000.pt: 120 tensors loaded, 2 left as initialized (fc.weight, fc.bias)" in output

    state = checkpoint.read(tmp_path / "tuned")
    after = state["model"]
    assert all(torch.equal(after[k], v) for k, v in reference.items() if not k.startswith("fc."))  # bit for bit
    assert sum(len(g["params"]) for g in state["optimizer"]["param_groups"]) == 2  # only fc.weight and fc.bias
    assert tuned["val_acc"] > scratch["val_acc"] + 0.05, (tuned, scratch)
    assert tuned["val_acc"] > 0.8  # a head that did not train would be near 0.1
