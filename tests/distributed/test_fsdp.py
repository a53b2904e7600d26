"""`--strategy fsdp` under torchrun on the CPU (gloo): the curve of one process, and checkpoints a
plain process reads (the unwrapped module's keys, one process's optimizer numbering), resumed
across world sizes.

Adam, so every parameter carries optimizer state (two moments and a step) that the checkpoint must
gather from the shards and give back to them. As with DDP, 2 processes x 32 and 1 x 64 see the same
batches and differ only in the order floats are summed; the tolerance is the DDP tests' 1e-5.
"""
from __future__ import annotations

import io
import shutil

import torch
import yaml

from archspec.train.run import train

from .conftest import LENET, RUN, run_ok, torchrun
from .test_torchrun import ONE, assert_same_curve, assert_same_weights, records, weights

# after RUN's --lr and --val-split, the last ones count. 129 validation samples: 65 + 64 in two
# processes, 3 batches of 32 and 2, so the ranks' evaluation passes must be kept in lockstep.
ADAM = ["--optimizer", "adam", "--lr", "0.01", "--val-split", "0.0718"]
ONE_ADAM = {**ONE, "optimizer": "adam", "lr": 0.01, "val_split": 0.0718}


def one_process(out, epochs, resume=None):
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the subprocesses (OMP_NUM_THREADS=1)
    try:
        return train(None if resume else str(LENET), {"epochs": epochs} if resume else {**ONE_ADAM, "epochs": epochs},
                     out=None if resume else str(out), resume=resume, stream=io.StringIO())
    finally:
        torch.set_num_threads(before)


def test_two_fsdp_processes_follow_one_process_and_resume_across_world_sizes(tmp_path):
    one_process(tmp_path / "one2", 2)
    one_process(tmp_path / "one1", 1)
    run_ok(torchrun(2, LENET, *RUN, *ADAM, "--batch-size", "32", "--epochs", "1", "--strategy", "fsdp",
                    "--out", tmp_path / "fsdp"), tmp_path)
    shutil.copytree(tmp_path / "fsdp", tmp_path / "fsdp_then_one")

    # a plain process reads the checkpoint: the unwrapped module's keys, one process's optimizer layout
    state = torch.load(tmp_path / "fsdp" / "checkpoints" / "last.pt", weights_only=True)
    plain = torch.load(tmp_path / "one1" / "checkpoints" / "last.pt", weights_only=True)
    assert_same_weights(state["model"], plain["model"])
    assert state["optimizer"]["param_groups"][0]["params"] == plain["optimizer"]["param_groups"][0]["params"]
    for i, buffers in plain["optimizer"]["state"].items():
        for key in buffers:
            torch.testing.assert_close(state["optimizer"]["state"][i][key], buffers[key], atol=1e-5, rtol=1e-5)

    # 2 fsdp processes -> 2 fsdp processes, and -> 1 process; 1 process -> 2 fsdp processes
    run_ok(torchrun(2, "--resume", tmp_path / "fsdp", "--epochs", "2"), tmp_path)
    one_process(None, 2, resume=str(tmp_path / "fsdp_then_one"))
    resumed = run_ok(torchrun(2, "--resume", tmp_path / "one1", "--epochs", "2", "--strategy", "fsdp"), tmp_path)
    assert "trained in 1 process(es), now 2" in resumed.stdout and "(global 64), fsdp" in resumed.stdout
    for run in ("fsdp", "fsdp_then_one", "one1"):
        assert_same_curve(records(tmp_path / run), records(tmp_path / "one2"))
        assert_same_weights(weights(tmp_path / run), weights(tmp_path / "one2"))
    assert yaml.safe_load((tmp_path / "one2" / "config.yaml").read_text())["data"]["val"] == 129
    recipe = yaml.safe_load((tmp_path / "one1" / "config.yaml").read_text())["recipe"]
    assert recipe["strategy"] == "fsdp" and recipe["batch_size"] == 32


def test_bf16_gathers_low_precision_weights_but_keeps_batch_norm_in_fp32(tmp_path):
    """In one gloo process: the dtype each layer's gathered weight has when it runs, and the output
    against the unsharded module under the same autocast (bf16 keeps 8 bits of mantissa)."""
    import copy

    import torch.distributed as tdist
    from torch import nn

    from archspec.train.sharding import shard

    tdist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                              nn.Linear(256, 3))
        reference = copy.deepcopy(model)
        shard(model, "bf16")
        seen = {}
        for name, layer in model.named_children():
            if isinstance(layer, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
                layer.register_forward_pre_hook(lambda m, args, name=name: seen.update({name: m.weight.dtype}))
        x = torch.randn(4, 1, 8, 8)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, expected = model(x), reference(x)
        assert seen == {"0": torch.bfloat16, "1": torch.float32, "4": torch.bfloat16}
        torch.testing.assert_close(out.float(), expected.float(), atol=3e-2, rtol=3e-2)
        assert all(p.dtype == torch.float32 for p in model.parameters())  # the shards the optimizer updates
    finally:
        tdist.destroy_process_group()
