"""Bounds that keep a hostile or mistaken spec from exhausting the machine.

The defaults sit far above the networks archspec is for (ResNet-152 expands to about 500
nodes, DenseNet-264 to about 1,100; 10^11 parameters are 400 GB of float32 weights) and
low enough that a spec crossing them is refused within a second. Raise them with
`archspec.check(spec, limits=archspec.Limits(max_nodes=...))` or, on the command line,
`--max-nodes`, `--max-repeat`, `--max-params`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_nodes: int = 20_000  # primitive nodes after expansion
    max_repeat: int = 10_000  # copies one `repeat` or `dense` makes
    max_block_depth: int = 32  # blocks calling blocks
    max_params: int | None = 100_000_000_000  # parameters of the whole model; None for no cap
