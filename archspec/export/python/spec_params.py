"""The spec's own params as arguments of the generated network class (`num_classes=1000`).

Which numbers a param sets is found by experiment, not by guessing from equal values:
the spec is checked again with the param changed, and the numbers that follow the change
exactly are the param's."""
from __future__ import annotations

from archspec.export.python.classes import Param, Sym
from archspec.export.python.templates import values


def nudged(value):
    """Another value of the same type that a spec will most likely accept."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return value + 7
    return round(value / 2 + 0.01, 4) if 0 < value < 1 else value + 0.5


def name_spec_params(top, report, generate, others) -> None:
    """Replace the root class's literals that a spec param sets by the param itself.

    `generate(report)` gives (root template, text of the other classes) of another report;
    `others` is that text for this one. A param is taken only when it changes nothing but
    those literals: a class that would silently keep the old value makes it a trap."""
    from archspec.compiler.pipeline import check_spec

    base = report.graph.spec_params
    for name, value in base.items():
        other = nudged(value)
        if other is None or not name.isidentifier():
            continue
        changed = check_spec(report.spec, {**base, name: other})
        if not changed.ok or changed.graph.ops() != report.graph.ops():
            continue
        template, text = generate(changed)
        moved = _moved(top.base, template, value, other)
        if not moved or text != others:
            continue
        for key in moved:
            top.exprs[key] = Sym(name)
        top.signature.append(Param(name, value))


def _moved(template, changed, value, other) -> list:
    """Positions whose number is `value` here and `other` in the changed template."""
    if len(template.entries) != len(changed.entries):
        return []
    out = []
    for i, (a, b) in enumerate(zip(template.entries, changed.entries)):
        mine, theirs = list(values(a.body)), list(values(b.body))
        if [p for p, _ in mine] != [p for p, _ in theirs]:
            return []
        for (pos, v), (_, w) in zip(mine, theirs):
            if _same(v, value) and _same(w, other):
                out.append((i, pos))
            elif not _same(v, w):
                return []  # the param also sets numbers derived from it: not one argument
    return out


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b

