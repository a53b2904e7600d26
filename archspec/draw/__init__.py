"""Pictures of a checked spec: Graphviz DOT and Mermaid text (no dependency), and SVG or
PNG rendered by Graphviz's `dot` program."""
from __future__ import annotations

import shutil
import subprocess

from archspec.errors import ArchspecError

FORMATS = ("svg", "png", "dot", "mermaid")
TEXT_FORMATS = ("dot", "mermaid")
SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}
INSTALL = ("svg and png need Graphviz's `dot` program: install Graphviz (Debian/Ubuntu: "
           "apt-get install graphviz; macOS: brew install graphviz; conda: conda install graphviz), "
           "or use --format dot or mermaid")


def draw(report, fmt: str, depth: int | None = None) -> str | bytes:
    """The picture of a valid report as text (dot, mermaid) or bytes (svg, png)."""
    from archspec.draw.dot import to_dot
    from archspec.draw.picture import picture

    if fmt not in FORMATS:
        raise ArchspecError(f"unknown picture format '{fmt}' (formats: {', '.join(FORMATS)})")
    pic = picture(report, depth)
    if fmt == "mermaid":
        from archspec.draw.mermaid import to_mermaid

        return to_mermaid(pic)
    text = to_dot(pic)
    return text if fmt == "dot" else render(text, fmt)


def render(dot_text: str, fmt: str) -> bytes:
    """Run Graphviz's dot on DOT text."""
    program = shutil.which("dot")
    if program is None:
        raise ArchspecError(INSTALL)
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise ArchspecError("Graphviz's dot took over 5 minutes; draw fewer boxes with --depth") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise ArchspecError(f"Graphviz's dot failed: {reason[0] if reason else f'exit {done.returncode}'}")
    return done.stdout
