"""Bounds checked on the YAML event stream before a spec is composed into nodes.

libyaml's composer is recursive in C: a few ten thousand `[` crash the process with a
segfault, beyond the reach of Python's RecursionError. The event parser is a flat
state machine, so this pass walks the events once, refusing at its place a document
nested deeper than `max_depth`, one with more than `max_nodes` nodes once aliases are
expanded (the "billion laughs"), and an alias inside its own anchor.

libyaml's scanner reads a run of opening brackets ahead of the parser, and newer releases
(PyPI's PyYAML 6.0.4) refuse more than 1,000 of them there, before any event reaches this
pass; `_flow_too_deep` then finds the bracket that crossed archspec's own limit, so the
refusal is the same, at the same place, whichever libyaml is installed.
"""
from __future__ import annotations

import yaml

from archspec.errors import Code, Diagnostic, Loc, error_for

try:
    from yaml import CSafeLoader as _Parser
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Parser

_START = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_END = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def check_events(text: str, file: str, max_depth: int, max_nodes: int) -> None:
    """Raise a located ResourceError when the YAML is too deep or too large; YAML syntax
    errors are left to the composer, which reports them with the same marks."""
    parser = _Parser(text)
    nodes = 0
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth) of its subtree
    frames: list[list] = [[None, 0, 0]]  # per open collection: [anchor, nodes at its start, deepest inside]
    last = None  # where the last event ended
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            mark, depth, frame, last = event.start_mark, len(frames) - 1, frames[-1], event.end_mark
            if isinstance(event, yaml.AliasEvent):
                if any(f[0] == event.anchor for f in frames):
                    _fail(file, mark, Code.RECURSIVE_ALIAS, f"alias *{event.anchor} is inside its own anchor &{event.anchor} (a structure without end)")
                size, sub_depth = anchors.get(event.anchor, (1, 0))
                nodes += size
                frame[2] = max(frame[2], depth + sub_depth)
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor:
                    anchors[event.anchor] = (1, 0)
            elif isinstance(event, _START):
                nodes += 1
                frames.append([event.anchor, nodes, depth + 1])
                frame = frames[-1]
            elif isinstance(event, _END) and len(frames) > 1:
                anchor, start, deepest = frames.pop()
                if anchor:
                    anchors[anchor] = (nodes - start + 1, deepest - depth + 1)
                frame = frames[-1]
                frame[2] = max(frame[2], deepest)
            if frame[2] > max_depth:
                _fail(file, mark, Code.TOO_DEEP, f"spec is nested more than {max_depth} levels deep")
            if nodes > max_nodes:
                _fail(file, mark, Code.TOO_LARGE, f"spec has more than {max_nodes:,} YAML nodes once aliases are expanded (an alias bomb?)")
    except yaml.YAMLError as e:
        deep = _flow_too_deep(text, last, getattr(e, "problem_mark", None), len(frames) - 1, max_depth)
        if deep is not None:
            _fail(file, deep, Code.TOO_DEEP, f"spec is nested more than {max_depth} levels deep")
        return
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose:
            dispose()


class _Mark:
    def __init__(self, line: int, column: int):
        self.line, self.column = line, column


def _flow_too_deep(text: str, start, stop, depth: int, max_depth: int):
    """The place of the flow bracket ('[' or '{') between marks `start` and `stop` that opens
    level `max_depth + 1`, `depth` levels being open at `start`; or None.

    Only called once libyaml has refused the text, so an approximate reading (quotes and
    comments skipped, brackets inside plain scalars counted) cannot refuse a valid spec."""
    if start is None or stop is None:
        return None
    lines = text.split("\n")
    quote = None
    for row in range(start.line, min(stop.line + 1, len(lines))):
        line = lines[row]
        first = start.column if row == start.line else 0
        last = stop.column + 1 if row == stop.line else len(line)
        for col in range(first, min(last, len(line))):
            ch = line[col]
            if quote:
                if ch == quote and not (quote == '"' and line[col - 1] == "\\"):
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "#" and (col == 0 or line[col - 1] in " \t"):
                break
            elif ch in "[{":
                depth += 1
                if depth > max_depth:
                    return _Mark(row, col)
            elif ch in "]}":
                depth -= 1
    return None


def _fail(file: str, mark, code: str, message: str):
    raise error_for([Diagnostic(Loc(file, mark.line + 1, mark.column + 1), code, message)])
