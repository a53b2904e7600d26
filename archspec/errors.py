"""Typed errors that carry source locations, each with its exit code (click's way: 1 for a
spec or data problem, 2 for usage, 130 for an interrupt), and the codes of diagnostics, each
tied to the error class it raises as. The CLI alone turns errors into exits (cli/errors.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

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
    code: Code  # a Code, or its text ("shape"): an unknown text is a ValueError
    message: str
    notes: list[str] = field(default_factory=list)
    severity: str = "error"

    def __post_init__(self):
        self.code = Code(self.code)
        if len(self.message) > MAX_MESSAGE:  # a message quoting a huge value from a hostile spec
            self.message = f"{self.message[:MAX_MESSAGE]}... ({len(self.message):,} characters)"

    def to_dict(self) -> dict:
        return {
            "file": self.loc.file if self.loc else None,
            "line": self.loc.line if self.loc else None,
            "col": self.loc.col if self.loc else None,
            "code": self.code.value,
            "message": self.message,
            "notes": list(self.notes),
            **({"severity": self.severity} if self.severity != "error" else {}),
        }


class ArchspecError(Exception):
    """Base of every error archspec raises for a user's mistake: a spec or data problem (exit 1)."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic] | str, sources: dict[str, str] | None = None):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(None, Code.ERROR, diagnostics)]
        self.diagnostics = list(diagnostics)
        self.sources = sources or {}
        super().__init__(self.diagnostics[0].message if self.diagnostics else "")

    def __str__(self) -> str:
        return self.format(color=False)

    def format(self, color: bool = False) -> str:
        from archspec.diagnostics import render

        return render(self.diagnostics, self.sources, color=color)


class SpecError(ArchspecError):
    """A spec is wrong: its YAML, schema, names, expressions or arguments; the subclasses
    below say which kind of wrong."""


class GraphError(SpecError):
    """The spec's graph is wrong: cycles, unknown or unused ids."""


class ShapeError(SpecError):
    """A tensor shape does not fit an op."""


class ResourceError(SpecError):
    """A spec or a run would exceed a limit (its size, parameters, memory, nodes)."""


class UsageError(ArchspecError):
    """Options or arguments that do not fit together: a usage error (exit 2)."""

    exit_code = 2


class Reported(ArchspecError):
    """An error another process has reported already: the CLI exits 1 without printing it again."""


class Interrupted(Exception):
    """The user stopped a command (Ctrl-C); the message says what was kept (exit 130)."""

    exit_code = 130


class Code(str, Enum):
    """The stable code of every diagnostic (shown in JSON output), tied to its error class."""

    def __new__(cls, text: str, error: type[ArchspecError]):
        member = str.__new__(cls, text)
        member._value_ = text
        member.error = error
        return member

    ERROR = "error", ArchspecError  # a message without a code of its own
    USAGE = "usage", UsageError
    # reading the text
    IO = "io", SpecError
    ENCODING = "encoding", SpecError
    YAML = "yaml", SpecError
    YAML_TAG = "yaml-tag", SpecError
    DUPLICATE_KEY = "duplicate-key", SpecError
    RECURSIVE_ALIAS = "recursive-alias", SpecError
    EMPTY = "empty", SpecError
    IMPORT = "import", SpecError
    # the schema
    VERSION = "version", SpecError
    TYPE = "type", SpecError
    UNKNOWN_KEY = "unknown-key", SpecError
    MISSING_KEY = "missing-key", SpecError
    RANGE = "range", SpecError
    CHOICE = "choice", SpecError
    BAD_ID = "bad-id", SpecError
    BAD_NAME = "bad-name", SpecError
    SCHEMA = "schema", SpecError
    TRAIN_OPTION = "train-option", SpecError
    # blocks, items and their arguments
    SHADOWS_OP = "shadows-op", SpecError
    BLOCK_BODY = "block-body", SpecError
    UNKNOWN_PARAM = "unknown-param", SpecError
    MISSING_PARAM = "missing-param", SpecError
    EXPR = "expr", SpecError
    BAD_INPUT = "bad-input", SpecError
    NO_OP = "no-op", SpecError
    UNKNOWN_OP = "unknown-op", SpecError
    TWO_OPS = "two-ops", SpecError
    BAD_KEY = "bad-key", SpecError
    BAD_ARG = "bad-arg", SpecError
    ARITY = "arity", SpecError
    DUPLICATE_ID = "duplicate-id", SpecError
    # the graph
    UNKNOWN_ID = "unknown-id", GraphError
    CYCLE = "cycle", GraphError
    RECURSION = "recursion", GraphError
    UNUSED = "unused", GraphError
    UNUSED_INPUT = "unused-input", GraphError
    INPLACE = "inplace", GraphError
    # shapes
    SHAPE = "shape", ShapeError
    # limits
    TOO_LARGE = "too-large", ResourceError
    TOO_DEEP = "too-deep", ResourceError
    TOO_MANY = "too-many", ResourceError
    TOO_MANY_NODES = "too-many-nodes", ResourceError
    TOO_MANY_PARAMS = "too-many-params", ResourceError
    OUT_OF_MEMORY = "out-of-memory", ResourceError
    # warnings (severity "warning"): a check with only these passes
    NAMING_LEVEL = "naming-level", SpecError


def error_for(diagnostics: list[Diagnostic], sources: dict[str, str] | None = None) -> ArchspecError:
    """The typed error for `diagnostics`: the class its first error's code is tied to."""
    errors = [d for d in diagnostics if d.severity == "error"]
    cls = errors[0].code.error if errors else SpecError
    return cls(diagnostics, sources)
