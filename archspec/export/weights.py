"""Trained weights for an export: a state_dict or a training checkpoint ({'model': ...}),
read with weights_only=True (a file never runs code), checked key by key against the spec."""
from __future__ import annotations

from pathlib import Path

import torch

from archspec.errors import ArchspecError

WRAPPERS = ("_orig_mod.", "module.")  # torch.compile and DataParallel prefixes


def read_state(path) -> dict:
    """The weights in a state_dict file or a training checkpoint (its digest verified)."""
    from archspec.train.checkpoint import FORMAT, read_torch_file, verified

    path = Path(path)
    if not path.is_file():
        raise ArchspecError(f"checkpoint {path}: no such file")
    obj = read_torch_file(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        obj = verified(obj, path)
    state = obj.get("model") if isinstance(obj, dict) and isinstance(obj.get("model"), dict) else obj
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ArchspecError(f"checkpoint {path} holds neither a state_dict nor a training checkpoint "
                            "with a 'model' state_dict")
    for prefix in WRAPPERS:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def load_weights(module, path) -> None:
    """Load `path` into `module` strictly; a mismatch names the keys and shapes that differ."""
    state = read_state(path)
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or shapes:
        problems = []
        if shapes:
            k = shapes[0]
            problems.append(f"{_count(shapes, 'tensor')} of another shape (first: {k} is {list(state[k].shape)} "
                            f"in the checkpoint, {list(expected[k].shape)} in the spec)")
        if missing:
            problems.append(f"{_count(missing, 'key')} missing from the checkpoint ({_some(missing)})")
        if unexpected:
            problems.append(f"{_count(unexpected, 'key')} the spec does not have ({_some(unexpected)})")
        hint = "; was it trained with other --set values?" if shapes and not (missing or unexpected) else ""
        raise ArchspecError(f"checkpoint {path} does not fit the spec: " + "; ".join(problems) + hint)
    module.load_state_dict(state, strict=True)


def _count(items, word: str) -> str:
    return f"{len(items)} {word}{'s' if len(items) != 1 else ''}"


def _some(keys: list[str], n: int = 3) -> str:
    more = f", ... {len(keys) - n} more" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more
