"""One check of one text, and the maps the editor features read from it: where each YAML key
and value is, which item a position is in, and what each item made in the IR.

Positions here are (line, column) pairs counted from 0, columns in characters (code points);
the server converts them to the client's units at the edge."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from lsprotocol import types as lsp

from archspec.compiler.pipeline import check_spec
from archspec.lang.loader import SpecText
from archspec.lsp.outline import Item, Outline, outline
from archspec.report import Report

Pos = tuple  # (line, column), both from 0


@dataclass(frozen=True)
class Span:
    """Where one YAML value, or one mapping key (key=True), is written."""

    path: tuple
    start: Pos
    end: Pos
    key: bool = False

    def __contains__(self, pos: Pos) -> bool:
        return self.start <= pos < self.end or pos == self.start


@dataclass(eq=False)
class Analysis:
    """A check of `text` (shown as `file`) and what the features read from it."""

    text: str
    file: str
    report: Report

    @property
    def spec(self):
        """The parsed spec; None when the text is not YAML (or is refused before it is read)."""
        return self.report.spec

    @property
    def foreign(self) -> bool:
        """A YAML mapping with none of a spec's own keys (a CI workflow, a compose file): the
        server leaves it alone, so an editor may start the server for every YAML file."""
        data = self.spec.data if self.spec is not None else None
        return isinstance(data, dict) and not {"archspec", "layers", "blocks"} & set(data)

    @property
    def graph(self):
        return self.report.graph

    @cached_property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @cached_property
    def outline(self) -> Outline:
        return outline(self.spec.data if self.spec is not None else None)

    @cached_property
    def items(self) -> list[Item]:
        """Every item, in the order they are written."""
        return sorted(self.outline.all(), key=lambda item: self.range(item.path)[0])

    @cached_property
    def made(self) -> dict:
        return self.graph.items_made() if self.graph is not None else {}

    @cached_property
    def spans(self) -> list[Span]:
        if self.spec is None:
            return []
        where = self.spec.locations
        values = [Span(path, pos(loc), self._trim(pos(loc), pos(where.ends.get(path, loc)))) for path, loc in where.values.items()]
        keys = [Span(path, pos(loc), self._key_end(pos(loc), path[-1]), key=True) for path, loc in where.keys.items()]
        return sorted(values + keys, key=lambda s: s.start)

    @cached_property
    def _value_spans(self) -> dict:
        return {s.path: s for s in self.spans if not s.key}

    @cached_property
    def _key_spans(self) -> dict:
        return {s.path: s for s in self.spans if s.key}

    # ---- lookups ------------------------------------------------------------------------
    def range(self, path: tuple, key: bool = False) -> tuple[Pos, Pos]:
        """Where the value (or the key) at `path` is written; (0, 0) when it is not."""
        span = (self._key_spans if key else self._value_spans).get(path)
        return (span.start, span.end) if span else ((0, 0), (0, 0))

    def span_at(self, at: Pos) -> Span | None:
        """The innermost key or value written at `at` (a key before the value that starts with it)."""
        found = [s for s in self.spans if at in s]
        return max(found, key=lambda s: (len(s.path), s.key), default=None)

    def item_at(self, at: Pos) -> Item | None:
        """The innermost item written around `at`."""
        found = [item for item in self.items if self._contains(item.path, at)]
        return max(found, key=lambda item: len(item.path), default=None)

    def expansions(self, item: Item) -> list:
        """What each expansion of `item` made (one per call of its block), as the IR's Made records."""
        loc = self.spec.locations.values.get(item.path) if self.spec is not None else None
        return self.made.get(loc, [])

    def _contains(self, path, at: Pos) -> bool:
        start, end = self.range(path)
        return start <= at <= end

    # ---- positions ----------------------------------------------------------------------
    def _trim(self, start: Pos, end: Pos) -> Pos:
        """A value's end without the blank lines, comments and indentation that YAML counts in a
        block mapping (it ends where the next token starts)."""
        line, col = end
        if line == start[0]:
            return end
        while line > start[0] and (line >= len(self.lines) or not _content(self.lines[line])[:col].strip()):
            line -= 1
            col = len(_content(self.lines[line]).rstrip()) if line < len(self.lines) else 0
        return line, col

    def _key_end(self, start: Pos, key) -> Pos:
        line = self.lines[start[0]] if start[0] < len(self.lines) else ""
        quote = line[start[1]:start[1] + 1]
        if quote in ("'", '"'):
            close = line.find(quote, start[1] + 1)
            return start[0], (close + 1 if close >= 0 else len(line))
        return start[0], start[1] + len(str(key))


def pos(loc) -> Pos:
    """A Loc (1-based) as a position (0-based)."""
    return loc.line - 1, max(loc.col - 1, 0)


def position(at: Pos) -> lsp.Position:
    return lsp.Position(at[0], at[1])


def lsp_range(start: Pos, end: Pos) -> lsp.Range:
    return lsp.Range(position(start), position(end))


def _content(line: str) -> str:
    """A line without its comment (a `#` after a space or at the start), near enough for trimming."""
    cut = line.find(" #")
    if line.lstrip().startswith("#"):
        return ""
    return line[:cut] if cut >= 0 else line


def analyse(text: str, file: str) -> Analysis:
    """Check `text` as the spec file `file` (never read from disk) and index the result."""
    return Analysis(text, file, check_spec(SpecText(text, file)))
