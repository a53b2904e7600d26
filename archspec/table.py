"""Text tables: aligned columns under an underlined header (the check's report, `archspec ops`,
`list`, `diff`, and the benchmark scripts print theirs with it)."""
from __future__ import annotations


def table(header, rows, right=None, width: int | None = None) -> list[str]:
    """The header, a rule, then the rows, in aligned columns; `right` marks the right-aligned
    columns; the rule is as long as the longest line, but not longer than `width`."""
    right = right or (False,) * len(header)
    widths = [max([len(str(h)), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(header)]

    def line(values):
        return "  ".join(str(v).rjust(w) if r else str(v).ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    lines = [line(header), *(line(r) for r in rows)]
    longest = max(len(x) for x in lines)
    return [lines[0], "-" * (longest if width is None else min(longest, width)), *lines[1:]]
