"""Render diagnostics as a compiler prints them: location, message, source line, caret."""
from __future__ import annotations

import difflib
import re

from archspec.errors import Diagnostic

# control characters and bidirectional overrides: a spec must not drive the terminal
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, mark: str | None = None) -> str:
    """`text` with its unprintable characters escaped (\\x1b), or each replaced by `mark`."""
    return UNPRINTABLE.sub(lambda m: mark if mark is not None else repr(m.group())[1:-1], text)


def closest(word: str, candidates) -> str | None:
    """The candidate closest to `word`, or None when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, candidates) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or '' when nothing is close."""
    best = closest(word, candidates)
    return f" (did you mean '{best}'?)" if best else ""


def render(diagnostics: list[Diagnostic], sources: dict[str, str], color: bool = False) -> str:
    bold, dim, reset = ("\x1b[1m", "\x1b[2m", "\x1b[0m") if color else ("",) * 3
    out = []
    lines_of = {name: text.splitlines() for name, text in sources.items()}
    for d in diagnostics:
        red = ("\x1b[31m" if d.severity == "error" else "\x1b[35m") if color else ""  # a warning in magenta, as gcc's
        where = f"{d.loc}: " if d.loc else ""
        out.append(f"{bold}{printable(where)}{red}{d.severity}:{reset}{bold} {printable(d.message)}{reset}")
        lines = lines_of.get(d.loc.file) if d.loc else None
        if lines and 1 <= d.loc.line <= len(lines):
            text = lines[d.loc.line - 1]
            if len(text) > 200:
                text = text[:200] + " ..."
            gutter = f"{d.loc.line:>5} | "
            out.append(f"{dim}{gutter}{reset}{printable(text, '?')}")
            caret_col = min(max(d.loc.col - 1, 0), len(text))
            out.append(f"{dim}{' ' * (len(gutter) - 2)}| {reset}{' ' * caret_col}{red}^{reset}")
        out.extend(f"    {printable(note)}" for note in d.notes)
    return "\n".join(out)
