"""Resource guards: what a checked model needs in memory, against a parameter cap and what
the device has free, decided from the check report before any tensor is allocated.

Needed bytes = parameters x 4 x param_copies (float32 weights; training adds gradients
and optimizer state) + activations of one sample x batch + buffers (and what is computed
from them alone), once. Torch is imported only to
ask a CUDA device how much it has free.
"""
from __future__ import annotations

import os

from archspec.errors import Code, Diagnostic, ResourceError
from archspec.ops.base import prod
from archspec.report import BYTES_PER_ELEMENT, human_bytes

FLAG = "--max-params"


def needed_bytes(report, batch: int = 1, param_copies: int = 1) -> int:
    return report.params * BYTES_PER_ELEMENT * param_copies + report.activation_bytes * batch + report.fixed_bytes


def training_copies(optimizer: str = "sgd", momentum: float = 0.0) -> int:
    """Copies of the weights that training keeps: the weights, their gradients, and the
    optimizer's state (SGD's momentum buffer, Adam's two moments)."""
    return 2 + (2 if optimizer in ("adam", "adamw") else 1 if momentum else 0)


def free_bytes(device="cpu") -> int | None:
    """Bytes the device can still give this process, or None when it cannot tell."""
    kind = str(device).split(":")[0]
    if kind == "cuda":
        import torch

        return torch.cuda.mem_get_info(torch.device(device))[0]
    if kind != "cpu":
        return None
    found = [n for n in (_meminfo_available(), _cgroup_room()) if n is not None]
    return min(found) if found else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_room() -> int | None:
    """Room left under a cgroup v2 memory limit (containers), or None without one."""
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit == "max":
            return None
        with open("/sys/fs/cgroup/memory.current") as f:
            return max(int(limit) - int(f.read().strip()), 0)
    except (OSError, ValueError):
        return None


def largest(report) -> str | None:
    """The op node with the most parameters: where a size error points."""
    g = report.graph
    return max(g.ops(), key=lambda n: g.nodes[n]["params"], default=None)


def params_problem(report, max_params: int | None) -> Diagnostic | None:
    """A located diagnostic when the model has more parameters than `max_params`."""
    if max_params is None or report.params <= max_params:
        return None
    node = largest(report)
    return Diagnostic(_loc(report, node), Code.TOO_MANY_PARAMS,
                      f"the model has {report.params:,} parameters, over the limit of {max_params:,} "
                      f"(raise it with {FLAG})", _largest_note(report, node))


def require_memory(report, device="cpu", batch: int = 1, param_copies: int = 1) -> None:
    """Raise ResourceError when the model will not fit in what `device` has free."""
    need, free = needed_bytes(report, batch, param_copies), free_bytes(device)
    if free is None or need <= free:
        return
    node = largest(report)
    note = _largest_note(report, node)
    if report.fixed_bytes > report.params * BYTES_PER_ELEMENT * param_copies:  # the buffers take the most
        g = report.graph
        node = max((n for n in g.ops() if not g.nodes[n]["types"][0].batched), key=lambda n: prod(g.nodes[n]["types"][0].shape))
        note = [f"the largest buffer is '{node}' ({g.nodes[node]['op'].name}) of shape {list(g.nodes[node]['types'][0].shape)}"]
    weights = f"{report.params:,} parameters x {BYTES_PER_ELEMENT} bytes" + (f" x {param_copies}" if param_copies > 1 else "")
    activations = f"{human_bytes(report.activation_bytes)} of activations" + (f" x {batch} samples" if batch > 1 else " for one sample")
    if report.fixed_bytes:
        activations += f" + {human_bytes(report.fixed_bytes)} of buffers"
    message = f"the model needs {human_bytes(need)} ({weights} + {activations}) but {device} has {human_bytes(free)} free"
    raise ResourceError([Diagnostic(_loc(report, node), Code.OUT_OF_MEMORY, message, note)], report.sources)


def _loc(report, node: str | None):
    return report.graph.nodes[node]["loc"] if node is not None else None


def _largest_note(report, node: str | None) -> list[str]:
    if node is None:
        return []
    data = report.graph.nodes[node]
    return [f"the largest layer is '{node}' ({data['op'].name}) with {data['params']:,} parameters"]
