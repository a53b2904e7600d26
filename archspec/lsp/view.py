"""An analysis of an older text seen from the current one.

While a spec is being typed its text is often not YAML (an unclosed `{`), or its check has not
finished yet. Shapes, names and places from the last analysis that could read the spec are
still right on every line that has not changed since: a View maps those lines across (by line
diff) and maps edited lines to nothing, so no stale hint sits on a half-typed line."""
from __future__ import annotations

import difflib

from archspec.lsp.analysis import Analysis, Pos

MAX_DIFF_LINES = 2_000  # beyond this the changed middle of a text is left unmapped


class View:
    def __init__(self, analysis: Analysis, text: str):
        self.analysis = analysis
        self.lines = text.split("\n")
        self._to_old: dict[int, int] | None = None if analysis.text == text else _line_map(analysis.lines, self.lines)
        self._to_new = None if self._to_old is None else {old: new for new, old in self._to_old.items()}

    @property
    def current(self) -> bool:
        """Whether the analysis is of the current text itself."""
        return self._to_old is None

    def old(self, at: Pos) -> Pos | None:
        """A position of the current text in the analysed text; None on an edited line."""
        if self._to_old is None:
            return at
        line = self._to_old.get(at[0])
        return None if line is None else (line, at[1])

    def new(self, at: Pos) -> Pos | None:
        """A position of the analysed text in the current text; None when its line has changed."""
        if self._to_new is None:
            return at
        line = self._to_new.get(at[0])
        return None if line is None else (line, at[1])


def _line_map(old: list[str], new: list[str]) -> dict[int, int]:
    """new line -> old line for every line the edit left as it was."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    mapping = {k: k for k in range(head)}
    mapping.update({len(new) - 1 - k: len(old) - 1 - k for k in range(tail)})
    a, b = old[head:len(old) - tail], new[head:len(new) - tail]
    if a and b and len(a) + len(b) <= MAX_DIFF_LINES:
        for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
            mapping.update({head + block.b + k: head + block.a + k for k in range(block.size)})
    return mapping
