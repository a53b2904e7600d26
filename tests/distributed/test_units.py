"""The distributed seams on their own (no processes): sharding, weights, batch rescaling, launch checks."""
from __future__ import annotations

import pytest
import torch

from archspec.errors import ArchspecError
from archspec.train import distributed, launch
from archspec.train.loop import epoch_batches
from archspec.train.recipe import OptionError

from .conftest import LENET


@pytest.mark.parametrize("size", [2, 3, 4])
@pytest.mark.parametrize("n", [8, 64, 37, 5])
def test_shards_partition_each_global_batch_and_weights_give_the_global_mean(fake_world, size, n):
    idx = torch.randperm(100)[:n]
    losses = torch.rand(100, dtype=torch.float64)
    parts, weighted = [], []
    for rank in range(size):
        fake_world(rank, size)
        part, weight = distributed.shard(idx)
        parts.append(part)
        if len(part):
            weighted.append(weight * losses[part].mean())
    assert torch.equal(torch.cat(parts), idx)  # disjoint, complete, in order
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    # DDP averages over ranks: sum(weighted) / size must be the mean over the whole global batch
    assert float(sum(weighted) / size) == pytest.approx(float(losses[idx].mean()), rel=1e-12)


def test_one_process_changes_nothing():
    idx = torch.arange(10)
    part, weight = distributed.shard(idx)
    assert part is idx and weight == 1.0
    assert distributed.reduce_sums({"a": 1.5, "n": 3}) == {"a": 1.5, "n": 3}
    assert distributed.agree(True, False) == (True, False)
    assert distributed.global_batch(64) == 64 and distributed.is_main()
    assert distributed.mean_over_ranks([0.25, 0.5], 7) == [0.25, 0.5]
    assert not distributed.interrupted()


def test_final_batch_too_small_for_every_rank_is_dropped():
    assert [len(b) for b in epoch_batches(10, 4, 0, 0)] == [4, 4, 2]
    assert [len(b) for b in epoch_batches(9, 4, 0, 0)] == [4, 4]  # one sample: batch norm cannot train
    assert [len(b) for b in epoch_batches(11, 4, 0, 0, min_last=4)] == [4, 4]  # 2 processes need 2 each
    assert torch.equal(torch.cat(epoch_batches(12, 4, 3, 1, min_last=4)).sort().values, torch.arange(12))


def test_resume_keeps_the_global_batch(fake_world):
    fake_world(0, 2)
    assert distributed.per_process_batch(128) == 64
    fake_world(0, 3)
    with pytest.raises(ArchspecError, match="global batch of 128, which 3 processes cannot share"):
        distributed.per_process_batch(128)


def test_torchrun_environment_is_read_and_checked():
    assert distributed.from_env({}) == distributed.World()
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert distributed.from_env(env) == distributed.World(3, 4, 1, 2, launched=True)
    with pytest.raises(ArchspecError, match="are not integers"):
        distributed.from_env({**env, "RANK": "x"})
    with pytest.raises(ArchspecError, match="inconsistent torchrun variables"):
        distributed.from_env({**env, "RANK": "4"})


def test_device_per_process_and_sync_bn_refusals(fake_world):
    fake_world(1, 2)
    assert distributed.device("cpu") == torch.device("cpu")
    with pytest.raises(ArchspecError, match="names one GPU, but 2 processes run on this machine"):
        distributed.device("cuda:0")
    with pytest.raises(ArchspecError, match="--sync-bn: torch synchronizes batch norm only on CUDA"):
        distributed.device("cpu", sync_bn=True)


def test_sync_batchnorm_keeps_checkpoint_keys():
    """Checkpoints hold the bare module's state dict, the same with or without SyncBatchNorm."""
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(synced[1], torch.nn.SyncBatchNorm)
    assert synced.state_dict().keys() == before.keys()
    synced.load_state_dict(before)


def test_timeout_from_the_environment(monkeypatch):
    monkeypatch.delenv(distributed.TIMEOUT_ENV, raising=False)
    assert distributed.timeout_s() == distributed.DEFAULT_TIMEOUT_S
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "-3")
    with pytest.raises(ArchspecError, match="expected a number of seconds > 0"):
        distributed.timeout_s()


def test_nproc_is_stripped_from_the_command_each_process_runs():
    assert launch.strip_nproc(["s.yaml", "--nproc", "2", "--epochs", "1"]) == ["s.yaml", "--epochs", "1"]
    assert launch.strip_nproc(["--nproc=4", "s.yaml"]) == ["s.yaml"]


def test_launch_refuses_what_the_machine_cannot_do(monkeypatch):
    with pytest.raises(OptionError, match="names one GPU, but --nproc 2 needs one device per process"):
        launch.check(2, "cuda:0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ArchspecError, match="--nproc 2 with --device cuda: this machine has 1 CUDA device;"):
        launch.check(2, "cuda")
    with pytest.raises(ArchspecError, match="has 1 CUDA device"):
        launch.check(2, "auto")  # auto picks CUDA when there is one
    launch.check(1, "cuda")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(OptionError, match="already runs under torchrun"):
        launch.check(2, "cpu")


def test_failures_are_described():
    assert "rank 1 (pid 7) was killed by SIGKILL" in launch.describe_failure(1, -9, 7)
    assert "rank 0 exited with code 1 (its message is above)" in launch.describe_failure(0, 1, 7)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cli_nproc_with_cuda_on_a_cpu_machine_is_a_clear_error(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from archspec.cli.main import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", str(LENET), "--nproc", "2", "--device", "cuda"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--device cuda: CUDA is not available on this machine; use --device cpu" in result.output
    result = CliRunner().invoke(main, ["train", str(LENET), "--nproc", "2", "--device", "cuda:1"])
    assert result.exit_code == 2 and "needs one device per process" in result.output
    result = CliRunner().invoke(main, ["train", str(LENET), "--nproc", "0"])
    assert result.exit_code == 2 and "--nproc" in result.output
    result = CliRunner().invoke(main, ["train", str(LENET), "--nproc", "2", "--device", "cpu", "--lr", "-1"])
    assert result.exit_code == 2 and "--lr: -1.0 is less than or equal to the minimum of 0" in result.output
    assert not (tmp_path / "runs").exists()  # nothing launched


def test_lost_peers_are_told_apart_from_bugs():
    reset = RuntimeError("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:2445: "
                         "Connection reset by peer. This is typically caused by a remote worker hanging.")
    stuck = RuntimeError("[/pytorch/third_party/gloo/gloo/transport/tcp/unbound_buffer.cc:78] Timed out waiting "
                         "3000ms for recv operation to complete")
    assert distributed._is_comm_failure(reset) and distributed._is_comm_failure(stuck)
    assert distributed._first_line(reset) == "Read error [127.0.0.1]:2445: Connection reset by peer"
    assert distributed._first_line(stuck).startswith("Timed out waiting 3000ms")
    assert not distributed._is_comm_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
