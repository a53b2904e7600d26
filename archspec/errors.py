"""Typed errors that carry source locations; the CLI alone turns them into exit codes."""
from __future__ import annotations

from dataclasses import dataclass, field


MAX_MESSAGE = 1000


@dataclass(frozen=True)
class Loc:
    """A position in a spec file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Diagnostic:
    """One problem in a spec: where, a stable code, a message, and context notes."""

    loc: Loc | None
    code: str
    message: str
    notes: list[str] = field(default_factory=list)
    severity: str = "error"

    def __post_init__(self):
        if len(self.message) > MAX_MESSAGE:  # a message quoting a huge value from a hostile spec
            self.message = f"{self.message[:MAX_MESSAGE]}... ({len(self.message):,} characters)"

    def to_dict(self) -> dict:
        return {
            "file": self.loc.file if self.loc else None,
            "line": self.loc.line if self.loc else None,
            "col": self.loc.col if self.loc else None,
            "code": self.code,
            "message": self.message,
            "notes": list(self.notes),
        }

    def headline(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        return f"{where}{self.severity}: {self.message}"


class ArchspecError(Exception):
    """Base of every error archspec raises for a user's mistake."""

    def __init__(self, diagnostics: list[Diagnostic] | str, sources: dict[str, str] | None = None):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(None, "error", diagnostics)]
        self.diagnostics = list(diagnostics)
        self.sources = sources or {}
        super().__init__(self.diagnostics[0].message if self.diagnostics else "")

    def __str__(self) -> str:
        return self.format(color=False)

    def format(self, color: bool = False) -> str:
        from archspec.diagnostics import render

        return render(self.diagnostics, self.sources, color=color)


class SpecError(ArchspecError):
    """The spec text is malformed: YAML, schema, names, expressions, arguments."""


class GraphError(ArchspecError):
    """The spec's graph is wrong: cycles, unknown or unused ids."""


class ShapeError(ArchspecError):
    """A tensor shape does not fit an op."""


class ResourceError(ArchspecError):
    """A model or a run would exceed a limit (parameters, memory, nodes)."""
