"""Trained weights for an export, read by the one checkpoint reader (archspec.train.checkpoint:
weights_only, sized, digest and fields checked) and checked key by key against the spec."""
from __future__ import annotations

from archspec.errors import ArchspecError


def load_weights(module, path) -> None:
    """Load `path` into `module` strictly; a mismatch names the keys and shapes that differ."""
    from archspec.train.checkpoint import read_weights

    state = read_weights(path)
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
