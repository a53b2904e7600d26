"""Schedules equal torch's own schedulers; one step of the loop equals a hand-written torch step."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from archspec.train.optim import build_optimizer, init_weights, lr_factor
from archspec.train.recipe import Recipe


def recipe(**kw):
    return Recipe(**{"epochs": 6, "schedule": "none", "warmup": 0, "step_size": 2, "gamma": 0.5, **kw})


def torch_lrs(make, steps):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


@pytest.mark.parametrize("name, make", [
    ("step", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2 * 5, gamma=0.5)),
    ("cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6 * 5)),
    ("onecycle", lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=6 * 5,
                                                               cycle_momentum=False)),
])
def test_schedules_match_torch(name, make):
    ours = [lr_factor(s, recipe(schedule=name), steps_per_epoch=5) for s in range(30)]
    assert ours == pytest.approx(torch_lrs(make, 30), rel=1e-9, abs=1e-12)


def test_warmup_is_linear_then_hands_over():
    r = recipe(schedule="cosine", warmup=1)
    assert [lr_factor(s, r, 4) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lr_factor(4, r, 4) == pytest.approx(1.0) and lr_factor(23, r, 4) < 0.02


@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_one_training_step_equals_hand_written_sgd(tiny_spec, channels_last):
    """Our Trainer._step against the textbook: forward, cross-entropy, backward, SGD with momentum;
    in the NHWC layout too (the CPU default for conv nets), against the textbook in NCHW."""
    import archspec
    from archspec.train.data import Data, Split
    from archspec.train.loop import Batcher, Trainer
    from archspec.train.model import build_model
    from archspec.train.progress import Progress
    from archspec.train.transforms import Pipeline

    torch.manual_seed(0)
    info = build_model(archspec.load(str(tiny_spec)), {})
    reference = copy.deepcopy(info.module)
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 3, (8,))
    r = Recipe(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True, epochs=1, batch_size=8,
               schedule="none", warmup=0, loss="cross_entropy", label_smoothing=0.1, amp="off", grad_clip=0.5,
               channels_last=channels_last, compile=False, seed=0)
    data = Data("t", Split(x, y), None)
    trainer = Trainer(info, data, r, torch.device("cpu"), Batcher(Pipeline({}), (1, 8, 8), torch.device("cpu"), False),
                      None, Progress(1, quiet=True), {})
    for _ in range(2):  # two steps so the momentum buffer matters
        torch.manual_seed(1)
        trainer.net.train()
        trainer._step(x.contiguous(memory_format=torch.channels_last) if channels_last else x, y)

    opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True)
    for _ in range(2):
        torch.manual_seed(1)
        reference.train()
        loss = nn.functional.cross_entropy(reference(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
        opt.step()
    for (name, a), b in zip(info.module.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_init_schemes_change_weights_and_keep_biases():
    layer = nn.Linear(64, 32)
    bias = layer.bias.detach().clone()
    init_weights(layer, "kaiming_normal", generator=torch.Generator().manual_seed(0))
    assert torch.equal(layer.bias, bias)  # as the notes' init_weights and torchvision leave them
    assert layer.weight.std().item() == pytest.approx((2 / 64) ** 0.5, rel=0.15)
    init_weights(layer, "xavier_uniform")
    bound = (6 / (64 + 32)) ** 0.5
    assert layer.weight.abs().max().item() <= bound


def test_adamw_gets_weight_decay():
    opt = build_optimizer([nn.Parameter(torch.zeros(2))], Recipe(optimizer="adamw", lr=0.01, weight_decay=0.05))
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.05


def test_progress_bar_on_a_terminal_and_plain_lines_otherwise():
    import io

    from archspec.train.progress import Progress

    record = {"epoch": 1, "train_loss": 0.5, "train_acc": 0.75, "val_loss": 0.4, "val_acc": 0.8, "lr": 0.1,
              "seconds": 1.0, "samples_per_s": 1000.0}
    tty, plain = io.StringIO(), io.StringIO()
    bar = Progress(2, stream=tty, tty=True)
    bar.start_epoch()
    assert bar.due(1, 10)
    bar.step(1, 5, 10, 0.5, 0.75, 1234.0)
    bar.end_epoch(record)
    assert "[############............] 5/10  loss 0.5000 acc 0.7500  1,234 samples/s  ETA" in tty.getvalue()
    lines = Progress(2, stream=plain, tty=False)
    lines.start_epoch()
    assert not lines.due(1, 10)
    lines.end_epoch(record)
    assert plain.getvalue() == ("epoch 1/2  train loss 0.5000 acc 0.7500  val loss 0.4000 acc 0.8000  lr 0.1  "
                                "1,000 samples/s  1.0s\n")


def test_frozen_parameters_are_left_alone_by_training(tiny_spec):
    """`trainable: false` weights are not handed to the optimizer and come out of training steps
    (AdamW with weight decay, which moves every weight it holds) bit for bit as they went in."""
    import archspec
    from archspec.train.data import Data, Split
    from archspec.train.loop import Batcher, Trainer
    from archspec.train.model import build_model
    from archspec.train.progress import Progress
    from archspec.train.transforms import Pipeline

    tiny_spec.write_text(tiny_spec.read_text().replace("  - {conv2d: {out: $width, kernel: 3, padding: 1}}\n  - batchnorm2d",
                                                       "  - {trainable: false, layers: [{conv2d: {out: $width, kernel: 3, padding: 1}}, batchnorm2d]}"))
    torch.manual_seed(0)
    info = build_model(archspec.load(str(tiny_spec)), {})
    frozen = {n: p.detach().clone() for n, p in info.module.named_parameters() if not p.requires_grad}
    assert sorted(frozen) == ["0.0.bias", "0.0.weight", "0.1.bias", "0.1.weight"]
    assert info.module.report.trainable_params == info.module.report.params - sum(p.numel() for p in frozen.values())
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 3, (8,))
    r = Recipe(optimizer="adamw", lr=0.1, momentum=0.0, weight_decay=0.1, epochs=1, batch_size=8, schedule="none",
               warmup=0, amp="off", channels_last=False, compile=False, seed=0)
    trainer = Trainer(info, Data("t", Split(x, y), None), r, torch.device("cpu"),
                      Batcher(Pipeline({}), (1, 8, 8), torch.device("cpu"), False), None, Progress(1, quiet=True), {})
    held = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert held == {id(p) for p in info.module.parameters() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in info.module.named_parameters() if p.requires_grad}
    for _ in range(2):
        trainer.net.train()
        trainer._step(x, y)
    after = dict(info.module.named_parameters())
    assert all(torch.equal(after[n], p) for n, p in frozen.items())
    assert all(not torch.equal(after[n], p) for n, p in before.items())
