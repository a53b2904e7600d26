"""`archspec train --nproc N`: torchrun's elastic agent on this machine runs the same command N times.

The agent (torch.distributed.run) gives each process RANK/LOCAL_RANK/WORLD_SIZE, watches them,
and stops all of them when one fails, so a crashed or killed process ends the whole job.
"""
from __future__ import annotations

import os
import signal
import sys

from archspec.errors import ArchspecError
from archspec.train.recipe import OptionError


def strip_nproc(args: list[str]) -> list[str]:
    """The command line without `--nproc N` / `--nproc=N`: what each process runs."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def check(nproc: int, device: str) -> None:
    """Refuse, before any process starts, what N processes cannot do on this machine."""
    import torch

    if "WORLD_SIZE" in os.environ:
        raise OptionError("--nproc starts torchrun itself; this command already runs under torchrun, "
                          "so leave --nproc out")
    if nproc > 1 and device.startswith("cuda:"):
        raise OptionError(f"--device {device} names one GPU, but --nproc {nproc} needs one device per process; "
                          "use --device cuda (process N takes cuda:N)")
    if nproc > 1 and device == "mps":
        raise OptionError("--device mps: torch cannot train on MPS in several processes; drop --nproc")
    wants_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if wants_cuda and count < nproc:
        if not count:
            raise ArchspecError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
        raise ArchspecError(f"--nproc {nproc} with --device {device}: this machine has {count} CUDA "
                            f"device{'s' if count != 1 else ''}; use --nproc {count} or --device cpu")


def planned_device(spec_arg, flags: dict, config_path, resume) -> str:
    """The device the run will use, resolving (and so checking) all options once, before launching."""
    from archspec.train import checkpoint
    from archspec.train.model import load_spec
    from archspec.train.run import resolve_options

    if resume:
        try:
            stored = checkpoint.read(resume)["recipe"]["device"]
        except ArchspecError:
            stored = "auto"  # the processes report the unreadable run folder themselves
        return flags.get("device") or stored
    if spec_arg is None:
        raise OptionError("missing SPEC (or --resume RUN)")
    return resolve_options(load_spec(spec_arg), flags, config_path).device


def launch(nproc: int, args: list[str]) -> None:
    """Run `python -m archspec train ARGS` in nproc processes under torchrun's agent on this machine."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    if "OMP_NUM_THREADS" not in os.environ:  # share the cores instead of oversubscribing them N times
        os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // nproc))
    try:
        torchrun.main(["--standalone", "--nproc_per_node", str(nproc), "--max_restarts", "0",
                       "-m", "archspec", "train", *args])
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        raise ArchspecError(describe_failure(rank, failure.exitcode, failure.pid)) from None
    except SignalException as exc:
        if exc.sigval == signal.SIGINT:
            raise KeyboardInterrupt from None
        sys.exit(128 + int(exc.sigval))


def describe_failure(rank: int, exitcode: int, pid: int) -> str:
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return (f"training process rank {rank} (pid {pid}) was killed by {name}; "
                "torchrun stopped the other processes")
    return (f"training process rank {rank} exited with code {exitcode} (its message is above); "
            "torchrun stopped the other processes")
