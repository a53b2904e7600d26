"""Colours of the boxes by op family (each op class declares its own: conv, norm, activation, ...);
a family without a colour of its own is drawn grey."""
from __future__ import annotations

# family -> (fill, border)
COLOURS = {
    "conv": ("#d6e6f5", "#5b8cc0"),
    "norm": ("#fdf1c7", "#c9a227"),
    "activation": ("#e2f3dc", "#6aa84f"),
    "pool": ("#fbe1cf", "#d9822b"),
    "linear": ("#e9dcf3", "#8e6bb5"),
    "recurrent": ("#e6f0dc", "#7a9a3a"),
    "index": ("#e3eef0", "#5f8f99"),
    "merge": ("#f4cccc", "#cc4125"),
    "reshape": ("#eeeeee", "#888888"),
    "math": ("#dff3f8", "#3c9bb5"),
    "reduction": ("#fde3ef", "#c2588a"),
    "nn": ("#e8eaf6", "#5c6bc0"),
    "block": ("#d9eeee", "#4a8a8a"),
    "state": ("#fff2e0", "#b7791f"),
    "attention": ("#fce5cd", "#e06666"),
    "embedding": ("#d9ead3", "#38761d"),
    "input": ("#ffffff", "#333333"),
    "output": ("#ffffff", "#333333"),
}
OTHER = ("#f5f5f5", "#999999")
CLUSTER_FILLS = ("#f7f9fb", "#eef2f6", "#e5ebf1", "#dde4ec")


def colours(family: str) -> tuple[str, str]:
    return COLOURS.get(family, OTHER)


def cluster_fill(depth: int) -> str:
    return CLUSTER_FILLS[min(depth, len(CLUSTER_FILLS)) - 1]
