"""A check's diagnostics as the editor shows them: at the line:col `archspec check` prints
(counted from 0), over the key or value written there, with the notes (the block call chain,
the input shapes) as related information."""
from __future__ import annotations

import re

from lsprotocol import types as lsp

from archspec.lsp.analysis import Analysis, pos, position

SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}
LINE_COL = re.compile(r"(\d+):(\d+)")


def diagnostics(analysis: Analysis, uri: str) -> list[lsp.Diagnostic]:
    out = []
    for d in analysis.report.diagnostics:
        here = d.loc is not None and d.loc.file == analysis.file
        message = d.message if here or d.loc is None else f"{d.loc}: {d.message}"  # another file's (imports)
        where = _range(analysis, pos(d.loc) if here else (0, 0))
        related = [lsp.DiagnosticRelatedInformation(lsp.Location(uri, _note_range(analysis, note) or where), note)
                   for note in d.notes]
        out.append(lsp.Diagnostic(where, message, severity=SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Error),
                                  code=d.code.value, source="archspec", related_information=related or None))
    return out


def _range(analysis: Analysis, start) -> lsp.Range:
    """From `start` over what is written there: the key or value starting there when it ends on
    the same line, else the rest of the line."""
    lines = analysis.lines
    line = min(start[0], len(lines) - 1)
    col = min(start[1], len(lines[line]))
    ends = [s.end for s in analysis.spans if s.start == (line, col)]
    end = min((e for e in ends if e[0] == line and e[1] > col), default=None)
    if end is None:
        end = (line, max(len(lines[line].rstrip()), col))
    return lsp.Range(position((line, col)), position(end))


def _note_range(analysis: Analysis, note: str) -> lsp.Range | None:
    """A note that names a place in this file ('called at FILE:LINE:COL') points there."""
    at = note.find(f" {analysis.file}:")
    m = LINE_COL.match(note, at + len(analysis.file) + 2) if at >= 0 else None
    return _range(analysis, (int(m[1]) - 1, int(m[2]) - 1)) if m else None
