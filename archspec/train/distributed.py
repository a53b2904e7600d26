"""Training in several processes with DistributedDataParallel (or FSDP: sharding.py), launched by torchrun.

torchrun starts the same `archspec train` once per device and tells each process its place in
RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE. The loop calls this module at a few seams:
wrap() the model, shard() each global batch, reduce_epoch()/reduce_sums() the metrics, agree()
on stopping, and is_main() guards every write. Without torchrun the world has one process and
every function here is a no-op, so single-process training is unchanged.
"""
from __future__ import annotations

import gc
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as tdist

from archspec.errors import ArchspecError, Reported

TIMEOUT_ENV = "ARCHSPEC_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 600  # a collective that waits longer than this means a peer is gone or stuck
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}  # Ctrl-C, and what schedulers, `kill` and torchrun send


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    launched: bool = False  # started by torchrun: a process group even for one process (it tests DDP/nccl)


_world = World()


class Echo(Reported):
    """An error another process (rank 0, or this machine's first process) has already reported.

    The CLI exits 1 without printing it, so a mistake shows once, not once per process."""


def world() -> World:
    return _world


def is_main() -> bool:
    """The one process that prints, logs and writes the run folder (rank 0)."""
    return _world.rank == 0


def from_env(env=None) -> World:
    """The process's place as torchrun sets it; no torchrun variables means a single process."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return World()
    try:
        rank, size = int(env.get("RANK", "0")), int(env["WORLD_SIZE"])
        local_rank = int(env.get("LOCAL_RANK", "0"))
        local_size = int(env.get("LOCAL_WORLD_SIZE", str(size)))
    except ValueError:
        raise ArchspecError("the torchrun variables " + ", ".join(f"{k}={env.get(k)!r}" for k in ENV_KEYS)
                            + " are not integers; start several processes with torchrun or --nproc") from None
    if not (0 <= rank < size and 0 <= local_rank < local_size <= size):
        raise ArchspecError("inconsistent torchrun variables: " + ", ".join(f"{k}={env.get(k)}" for k in ENV_KEYS))
    return World(rank, size, local_rank, local_size, launched=True)


def rank_prefix() -> str:
    """'rank N: ' for messages of processes other than rank 0 (read from the environment)."""
    try:
        rank = from_env().rank
    except ArchspecError:
        return ""
    return f"rank {rank}: " if rank else ""


def timeout_s() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ArchspecError(f"{TIMEOUT_ENV}={text!r}: expected a number of seconds > 0")
    return value


@contextmanager
def session():
    """Join torchrun's process group for one run and leave it at the end.

    nccl carries CUDA tensors and gloo CPU ones (the small control messages, and all of a CPU run).
    A peer that dies makes a collective fail; that becomes one clear error instead of a traceback.
    SIGINT and SIGTERM (torchrun forwards both) are blocked in every thread and polled by interrupted():
    a signal landing in one of gloo's socket threads would cut a read short and garble the stream.
    """
    global _world
    place = from_env()
    if not place.launched:
        yield place
        return
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        tdist.init_process_group(backend, timeout=timedelta(seconds=timeout_s()))
        _world = place
        yield place
    except RuntimeError as exc:  # gloo reports a lost peer as a plain RuntimeError
        if not _is_comm_failure(exc):
            raise
        raise ArchspecError(f"lost contact with another training process ({_first_line(exc)}); this process "
                            "stops too. The process that failed first (see torchrun's report) tells why") from None
    finally:
        _world = World()
        if tdist.is_initialized():
            # DDP's reducer sits in reference cycles and holds the process group: freed only by a
            # later collection, possibly at interpreter exit, where gloo's threads then abort the
            # process ("terminate called without an active exception"). Free it while all is alive.
            gc.collect()
            tdist.destroy_process_group()
        while STOP_SIGNALS & signal.sigpending():  # answered already: the run saved and stopped
            signal.sigwait(STOP_SIGNALS)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def interrupted() -> int:
    """The stop signal (SIGINT or SIGTERM) that arrived since the last call, or 0; only under torchrun,
    see session()."""
    if _world.size == 1 or not STOP_SIGNALS & signal.sigpending():
        return 0
    return signal.sigwait(STOP_SIGNALS)


def _is_comm_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, tdist.DistError) or any(k in text for k in ("gloo", "nccl", "connection", "timed out"))


def _first_line(exc: BaseException) -> str:
    line = next((s for s in str(exc).splitlines() if s.strip()), type(exc).__name__)
    line = line.split("] ", 1)[-1]  # drop gloo's "[file.cc:NNN] " prefix
    return line.split(". ", 1)[0][:300]  # and its advice after the first sentence


def device(name: str, sync_bn: bool = False) -> torch.device:
    """This process's device: under torchrun, 'cuda' (or 'auto' with CUDA) means cuda:LOCAL_RANK."""
    from archspec.train.devices import resolve_device

    w = _world
    if w.local_size > 1 and name.startswith("cuda:"):
        raise ArchspecError(f"--device {name} names one GPU, but {w.local_size} processes run on this machine; "
                            "use --device cuda (each process takes the GPU of its LOCAL_RANK)")
    dev = resolve_device(name)
    if w.size > 1 and dev.type == "mps":
        raise ArchspecError("--device mps: torch cannot train on MPS in several processes; use one process")
    if dev.type == "cuda" and w.launched:
        count = torch.cuda.device_count()
        if dev.index is None and w.local_size > count:
            raise ArchspecError(f"{w.local_size} processes run on this machine but it has {count} CUDA "
                                f"device{'s' if count != 1 else ''}; start at most {count} per machine "
                                "(--nproc or torchrun --nproc_per_node) or use --device cpu")
        dev = torch.device("cuda", w.local_rank if dev.index is None else dev.index)
        torch.cuda.set_device(dev)
    if sync_bn and w.size > 1 and dev.type != "cuda":
        raise ArchspecError(f"--sync-bn: torch synchronizes batch norm only on CUDA devices, not {dev.type}; "
                            "drop --sync-bn (each process then normalizes over its own part of the batch)")
    return dev


def wrap(model: torch.nn.Module, recipe, dev: torch.device):
    """(net to train, net to evaluate): DDP or FSDP (and SyncBatchNorm) across processes, compiled when asked.

    Under DDP evaluation uses the bare module: each rank scores its own shard, and DDP's forward would
    broadcast buffers in a collective that ranks with fewer batches never join. Under FSDP every
    forward gathers weights, so ranks evaluate in lockstep (eval_passes).
    """
    net = model
    if _world.launched:
        if recipe.sync_bn and _world.size > 1:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # same keys: checkpoints stay portable
        if recipe.strategy == "fsdp":
            from archspec.train.sharding import shard

            shard(model, recipe.amp)  # in place: model is the sharded net, trained and evaluated as it is
        else:
            net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    # dynamic=False: a short last batch gets its own graph instead of turning every graph into a
    # slower shape-generic one (measured 0.85x of eager on the CPU with the default)
    train_net = torch.compile(net, dynamic=False) if recipe.compile else net
    return train_net, (train_net if net is model and not sharded(recipe) else model)


def sharded(recipe) -> bool:
    """Whether the model's weights are sharded (--strategy fsdp under torchrun): gathering them for a
    checkpoint, and every forward pass, then take all processes."""
    return _world.launched and recipe.strategy == "fsdp"


def eval_passes(n: int, batch_size: int, recipe) -> int:
    """The forward passes each process makes over its share of an n-sample split: the same on every
    rank when sharded (each pass gathers weights with the others), else 0 (each does its own)."""
    largest = -(-n // _world.size)  # shard_split gives the first ranks one sample more
    return -(-largest // batch_size) if sharded(recipe) else 0


def global_batch(per_process: int) -> int:
    return per_process * _world.size


def per_process_batch(global_size: int) -> int:
    """The per-process batch that keeps a run's global batch when it resumes in another world size."""
    if global_size % _world.size:
        raise ArchspecError(f"the run trained with a global batch of {global_size}, which {_world.size} processes "
                            "cannot share equally; resume with a process count that divides it")
    return global_size // _world.size


def shard(idx: torch.Tensor) -> tuple[torch.Tensor, float]:
    """This rank's slice of a global batch, and the weight of its mean loss.

    DDP averages gradients over ranks; weighting each rank's mean by its share of the batch
    makes that average the mean over the whole global batch, even when the slices differ by one.
    """
    if _world.size == 1:
        return idx, 1.0
    part = idx.tensor_split(_world.size)[_world.rank]
    return part, len(part) * _world.size / max(len(idx), 1)


def shard_split(split):
    """This rank's contiguous share of an evaluation split (may be empty)."""
    if split is None or _world.size == 1:
        return split
    idx = torch.arange(len(split)).tensor_split(_world.size)[_world.rank]
    return type(split)(split.x[idx], split.y[idx])


def reduce_sums(values: dict, op: str = "sum") -> dict:
    """The same numbers summed (or maxed) over all ranks; one small all-reduce on the CPU."""
    if _world.size == 1:
        return dict(values)
    t = torch.tensor([float(v) for v in values.values()], dtype=torch.float64)
    tdist.all_reduce(t, op=tdist.ReduceOp.MAX if op == "max" else tdist.ReduceOp.SUM)
    return {k: (round(v) if isinstance(values[k], int) else v) for k, v in zip(values, t.tolist())}


def reduce_epoch(acc: dict) -> dict:
    """An epoch's accumulators over all ranks: loss, correct and count summed, seconds the slowest rank's."""
    out = reduce_sums({k: acc[k] for k in ("loss_sum", "correct", "count", "targets")})
    out.update(reduce_sums({"seconds": acc["seconds"]}, op="max"))
    return out


def mean_over_ranks(means: list[float], n: int) -> list[float]:
    """Means over all ranks' samples from each rank's means over its n samples."""
    if _world.size == 1:
        return list(means)
    sums = reduce_sums({"n": n, **{i: m * n for i, m in enumerate(means)}})
    total = max(sums.pop("n"), 1)
    return [v / total for v in sums.values()]


def reduce_tensor(t: torch.Tensor) -> torch.Tensor:
    """A device tensor summed over ranks (no host sync of its own on CUDA)."""
    if _world.size == 1:
        return t
    t = t.clone()
    tdist.all_reduce(t)
    return t


def agree(*flags: bool) -> tuple[bool, ...]:
    """Each flag raised on any rank, so all ranks stop (or fail) at the same step."""
    if _world.size == 1:
        return tuple(bool(f) for f in flags)
    return tuple(v > 0 for v in reduce_sums({i: float(bool(f)) for i, f in enumerate(flags)}, op="max").values())


def localize(pos, seed: int) -> None:
    """After a restore on ranks other than 0: the checkpoint holds rank 0's RNG and the global sums.

    Other ranks drop the sums (rank 0 carries them) and draw their own dropout randomness.
    """
    if _world.rank == 0:
        return
    pos.partial = {"loss_sum": 0.0, "correct": 0, "count": 0, "targets": 0, "seconds": pos.partial.get("seconds", 0.0)}
    pos.aug_state = None
    seed_rank(seed, pos.step)


def rank_seed(seed: int) -> int:
    """Rank 0 keeps the run's seed (so one process is unchanged); other ranks get their own."""
    return seed if _world.rank == 0 else (seed + _world.rank * 0x9E3779B97F4A7C15) % 2**63


def seed_rank(seed: int, step: int = 0) -> None:
    """Different dropout masks on each rank (same seed everywhere would repeat one mask N times)."""
    if _world.rank:
        torch.manual_seed((rank_seed(seed) + step * 1_000_003) % 2**63)


def from_main(fn):
    """fn() on rank 0 alone (it reads files on its machine), the result sent to every rank."""
    if _world.size == 1:
        return fn()
    box = [None]
    if is_main():
        try:
            box = [("ok", fn())]
        except ArchspecError as exc:
            tdist.broadcast_object_list([("error", None)], src=0)
            raise exc
    tdist.broadcast_object_list(box, src=0)
    if box[0][0] == "error":
        raise Echo("rank 0 reported the error")
    return box[0][1]


def main_first(fn, per_machine: bool = False):
    """fn() on rank 0 (or each machine's first process) first, then on the others.

    Downloads then happen once per machine, and a mistake every rank would hit is reported once.
    """
    if _world.size == 1:
        return fn()
    first = _world.local_rank == 0 if per_machine else is_main()
    result, failure = None, None
    if first:
        try:
            result = fn()
        except ArchspecError as exc:
            failure = exc
    (failed,) = agree(failure is not None)
    if failure is not None:
        raise failure
    if failed:
        raise Echo("another process reported the error")
    return result if first else fn()
