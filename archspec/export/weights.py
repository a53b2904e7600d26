"""Trained weights for an export, read by the one weights reader (archspec.train.weights: torch
files weights_only, sized, digest and fields checked; or safetensors) and checked key by key."""
from __future__ import annotations

from archspec.errors import ArchspecError


def load_weights(module, path) -> None:
    """Load `path` into `module` strictly; a mismatch names the keys and shapes that differ."""
    from archspec.train.weights import fit, read

    state = read(path)
    result = fit(module.state_dict(), state)
    if not result.ok:
        hint = "; was it trained with other --set values?" if result.reshaped and not (
            result.missing or result.unexpected) else ""
        raise ArchspecError(f"checkpoint {path} does not fit the spec: " + "; ".join(result.problems("the checkpoint"))
                            + hint)
    module.load_state_dict(state, strict=True)
