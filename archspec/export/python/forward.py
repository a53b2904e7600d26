"""The body of a generated `forward`: one line per entry, with variable names a person
would pick: a chain keeps reusing one name (`out = self.bn1(out)`), the branches of a
concat are named after their layers (`p1`, `branch5x5`), a residual's two sides are
`out` and `identity`, and an optional entry runs under `if`."""
from __future__ import annotations

import re

from archspec.export.python.modules import expression
from archspec.export.python.templates import Func, State


def forward_lines(cls, inputs: list[str], attrs: dict, head: int = 0) -> list[str]:
    """Lines of forward's body for a graph class; attrs: entry index -> `self.name` text.

    With `head` k, entries 0..k-1 are the class's own nn.Sequential: `super().forward(x)`."""
    entries = cls.base.entries
    uses: dict = {}
    for i, e in enumerate(entries):
        for ref in e.inputs:
            uses.setdefault(ref, []).append(i)
    outputs = cls.base.outputs
    last = {ref: (len(entries) if ref in outputs else max(users)) for ref, users in uses.items()}
    for ref in outputs:
        last.setdefault(ref, len(entries))
    prefer = _branch_names(entries, uses, outputs)
    var = {("in", k): name for k, name in enumerate(inputs)}
    lines: list[str] = []
    if head:
        var[("e", head - 1, 0)] = "out"
        lines.append(f"out = super().forward({inputs[0]})")
    for i, e in enumerate(entries):
        if i < head:
            continue
        args = [var[r] for r in e.inputs]
        if isinstance(e.body, Func):
            call = expression(e.body.op, e.body.args, args, e.where)
        elif isinstance(e.body, State):
            call = attrs[i]  # a tensor is read, not called
        else:
            call = f"{attrs[i]}({', '.join(args)})"
        refs = [("e", i, o) for o in range(e.n_out)]
        if i == len(entries) - 1 and isinstance(e.body, Func) and outputs == refs and i not in cls.flags:
            return lines + [f"return {call}"]
        live = {var[r] for r, end in last.items() if r in var and end > i}
        if e.n_out > 1:
            names = [_fresh(f"out{o}", live) for o in range(e.n_out)]
        else:
            names = [_pick(e, i, args, var, last, live, prefer, len(outputs) > 1 and refs[0] in outputs)]
        var.update(zip(refs, names))
        target = ", ".join(names)
        if e.unpacked and list(e.unpacked) != [f"[{o}]" for o in range(e.n_out)]:  # nested: nn.LSTM's (out, (h, c))
            whole = _fresh("result", live | set(names))
            lines.append(f"{whole} = {call}")
            call = ", ".join(whole + part for part in e.unpacked)
        if i in cls.flags:
            condition = f"self.{cls.flags[i]}" if isinstance(e.body, Func) else f"{attrs[i]} is not None"
            if target != args[0]:
                lines.append(f"{target} = {args[0]}")
            lines += [f"if {condition}:", f"    {target} = {call}"]
        else:
            lines.append(f"{target} = {call}")
    result = [var[r] for r in outputs]
    return lines + [f"return {', '.join(result)}"]


def _pick(e, i, args, var, last, live, prefer, is_output) -> str:
    dying = [a for a, r in zip(args, e.inputs) if last.get(r, i) <= i]
    if is_output and e.name.isidentifier() and e.name not in live:
        return e.name
    wanted = prefer.get(i)
    if wanted and (wanted not in live or wanted in dying):
        return wanted
    if isinstance(e.body, Func) and e.body.op.variadic:
        if "out" in dying or "out" not in live:
            return "out"
    if args and args[0] in dying:
        return args[0]
    return _fresh("out", live)


def _fresh(name: str, live) -> str:
    base, n = name, 2
    while name in live:
        name, n = f"{base}{n}", n + 1
    return name


def _branch_names(entries, uses, outputs) -> dict:
    """Entry index -> the name of the branch it belongs to, for the inputs of every merge."""
    def chain_to(ref):
        chain = []
        while ref[0] == "e" and len(uses.get(ref, ())) == 1 and ref not in outputs:
            chain.insert(0, ref[1])
            e = entries[ref[1]]
            if len(e.inputs) != 1 or e.n_out != 1:
                break
            ref = e.inputs[0]
        return chain

    prefer: dict = {}
    for m, e in enumerate(entries):
        if not (isinstance(e.body, Func) and e.body.op.variadic and len(e.inputs) > 1):
            continue
        chains = [chain_to(ref) for ref in e.inputs]
        filled = [c for c in chains if c]
        if (e.body.op.name == "add" and len(e.inputs) == 2) or len(filled) == 1:
            longest = max(filled, key=len, default=[])
            names = {id(c): "out" if c is longest else ("identity" if len(filled) == 2 else None) for c in filled}
        else:
            names = {id(c): _branch(entries, c, k) for k, c in enumerate(filled)}
            if len(set(names.values())) < len(names):
                names = {id(c): f"branch{k + 1}" for k, c in enumerate(filled)}
        for c in filled:
            for i in c:
                if names[id(c)]:
                    prefer.setdefault(i, names[id(c)])
    return prefer


def _branch(entries, chain, k) -> str:
    named = [entries[i].name for i in chain if entries[i].name.isidentifier()]
    return re.sub(r"_\d+$", "", named[-1]) if named else f"branch{k + 1}"
