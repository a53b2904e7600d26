"""Defaults chosen by measurement: the memory layout a run trains in, timed on this machine.

Why: the fastest layout depends on the network, the device, the threads and the batch (on one
CPU, NHWC is 1.4x NCHW for mnist_inception and 0.5x for lenet_bn), so no fixed rule is right.
With `channels_last: auto`, a few training steps of a copy of the model are timed in each
layout that can win here, the fastest is used, and the choice is remembered per (spec and
params, device, threads, batch size, precision) in a small JSON file under the user's cache
folder, so a rerun does not measure again. The copy trains on its own random input inside
torch.random.fork_rng: the run's weights and random stream are exactly those of a run that
forced the same layout.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from archspec.train.devices import autocast
from archspec.train.optim import build_optimizer

LAYOUTS = {False: "NCHW", True: "channels_last"}
WARMUP_STEPS, TIMED_STEPS, MAX_ROUNDS = 1, 2, 3  # per candidate and round
BUDGET = 0.02  # measure more rounds only while the measurement stays under 2% of the run's estimated time
MIN_RUN_STEPS = 300  # a shorter run trains in NCHW unmeasured: the 6+ measured steps could not pay back
CACHE_FILE = "choices.json"
MAX_CACHE_BYTES = 1 << 20  # a larger file is not ours to parse: it is measured again and rewritten


@dataclass(frozen=True)
class Choice:
    """The layout picked, seconds per step of each candidate, and what deciding cost."""

    channels_last: bool
    step_s: dict  # layout name -> median seconds per training step
    cost_s: float  # seconds spent measuring (0 when remembered)
    remembered: bool = False
    unmeasured: str = ""  # why nothing was measured, when nothing was

    def describe(self) -> str:
        """'channels_last, measured: 1.31x NCHW per step (0.4 s spent measuring, remembered in ...)'."""
        name = LAYOUTS[self.channels_last]
        other = next((k for k in self.step_s if k != name), None)
        speed = (f"{self.step_s[other] / self.step_s[name]:.2f}x {other} per step"
                 if other and self.step_s.get(name) else "the only candidate")
        if self.remembered:
            return f"layout {name}: {speed}, as measured by an earlier run ({cache_path()})"
        return f"layout {name}: {speed}, measured in {self.cost_s:.1f}s and remembered in {cache_path()}"


def candidates(module: torch.nn.Module, input_shape: tuple, device: torch.device) -> list[bool]:
    """The layouts that can win: NHWC only matters to 2-D convolution nets on the CPU and CUDA
    (oneDNN's and cuDNN's NHWC kernels); elsewhere it would only add copies."""
    if device.type in ("cpu", "cuda") and len(input_shape) == 3 \
            and any(isinstance(m, torch.nn.Conv2d) for m in module.modules()):
        return [False, True]
    return [False]


def choose_layout(info, recipe, device: torch.device, run_steps: int, say=None) -> Choice:
    """The layout to train in: remembered for this key, else measured (and remembered) when the
    run is long enough to pay the measurement back, else NCHW; say(text) announces a
    measurement, which on a slow device may take a while."""
    options = candidates(info.module, info.input_shape, device)
    if len(options) == 1:
        return Choice(options[0], {}, 0.0, unmeasured="the only layout that can win here")
    key = cache_key(info, device, recipe)
    known = _read_cache().get(key)
    if isinstance(known, dict) and type(known.get("channels_last")) is bool and isinstance(known.get("step_s"), dict):
        return Choice(known["channels_last"], dict(known["step_s"]), 0.0, remembered=True)
    if run_steps < MIN_RUN_STEPS:
        return Choice(False, {}, 0.0, unmeasured=f"NCHW unmeasured: {run_steps} steps cannot pay a measurement back")
    if say is not None:
        say(f"timing a few training steps in {' and '.join(LAYOUTS[o] for o in options)} to choose the layout "
            "(once for this spec, device, threads and batch size)")
    choice = measure(info, recipe, device, options, run_steps)
    _remember(key, {"channels_last": choice.channels_last, "step_s": choice.step_s, "cost_s": choice.cost_s})
    return choice


def measure(info, recipe, device: torch.device, options: list[bool], run_steps: int) -> Choice:
    """Time training steps in each layout, in alternating rounds (a busy machine slows all alike);
    more rounds only while the measurement stays cheap against the whole run."""
    start = time.perf_counter()
    times = {layout: [] for layout in options}
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        model = copy.deepcopy(info.module).to(device)
        gen = torch.Generator(device="cpu").manual_seed(0)
        x = torch.rand(recipe.batch_size, *info.input_shape, generator=gen).to(device)
        y = torch.randint(0, info.num_classes, (recipe.batch_size, *info.task.target_shape(info)), generator=gen).to(device)
        for _ in range(MAX_ROUNDS):
            for layout in options:
                times[layout] += _time_steps(model, x, y, recipe, device, layout)
            best = min(statistics.median(t) for t in times.values())
            if time.perf_counter() - start > BUDGET * best * run_steps:
                break
    step_s = {LAYOUTS[layout]: statistics.median(t) for layout, t in times.items()}
    winner = min(options, key=lambda layout: step_s[LAYOUTS[layout]])
    return Choice(winner, step_s, time.perf_counter() - start)


def _time_steps(model, x, y, recipe, device: torch.device, channels_last: bool) -> list[float]:
    """Seconds per step of forward, loss, backward and the optimizer's update, after a warm-up step."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = x.contiguous(memory_format=fmt)
    optimizer = build_optimizer([p for p in model.parameters() if p.requires_grad], recipe)
    seconds = []
    for i in range(WARMUP_STEPS + TIMED_STEPS):
        _sync(device)
        begin = time.perf_counter()
        with autocast(recipe.amp, device):
            out = model(x)
        loss = F.cross_entropy(out.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(device)
        if i >= WARMUP_STEPS:
            seconds.append(time.perf_counter() - begin)
    return seconds


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- the cache -----------------------------------------------------------------------------------
def cache_path() -> Path:
    """$XDG_CACHE_HOME/archspec/choices.json (~/.cache when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archspec" / CACHE_FILE


def cache_key(info, device: torch.device, recipe) -> str:
    """What the fastest layout depends on: the model (spec text and params), the device, the
    threads, the batch size, the precision and the torch build."""
    model = hashlib.sha256((info.sha256 + json.dumps(info.params, sort_keys=True, default=str)).encode()).hexdigest()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    return "|".join([model[:16], where, f"threads={torch.get_num_threads()}", f"batch={recipe.batch_size}",
                     f"amp={recipe.amp}", f"torch={torch.__version__}"])


def _read_cache() -> dict:
    """The remembered choices; a missing, oversized or malformed file is an empty one."""
    try:
        path = cache_path()
        if path.stat().st_size > MAX_CACHE_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(key: str, entry: dict) -> None:
    """Add one choice (best effort: an unwritable cache only means measuring again next time)."""
    path = cache_path()
    data = _read_cache()
    data[key] = entry
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
