"""Source text of one generated class: constructor calls laid out as a person would
(short calls on one line, long ones one argument per line), attributes named after
the spec's ids, stateless unnamed layers named after their op and shared when equal."""
from __future__ import annotations

import re
import textwrap

from archspec.export.python.classes import ClassDef, Lit, Sym
from archspec.export.python.forward import forward_lines
from archspec.export.python.modules import EMPTY
from archspec.export.python.templates import Alias, Call, Func, Leaf, Seq, State

WIDTH = 100
INDENT = "    "


class Expr:
    """`func(arg, ...)`; args are strings or Exprs. Laid out within WIDTH columns."""

    def __init__(self, func: str, args: list, wrap: tuple[str, str] = ("", "")):
        self.func, self.args, self.wrap = func, args, wrap

    def flat(self) -> str:
        inner = ", ".join(a.flat() if isinstance(a, Expr) else a for a in self.args)
        return f"{self.func}({self.wrap[0]}{inner}{self.wrap[1]})"

    def lines(self, indent: str, prefix: str) -> list[str]:
        one = indent + prefix + self.flat()
        if len(one) <= WIDTH or not self.args:
            return [one]
        inner = indent + INDENT
        head = f"{indent}{prefix}{self.func}({self.wrap[0]}"
        middle = inner + ", ".join(a.flat() if isinstance(a, Expr) else a for a in self.args)
        if len(middle) <= WIDTH and not any(isinstance(a, Expr) for a in self.args):
            return [head, middle, f"{indent}{self.wrap[1]})"]
        out = [head]
        for a in self.args:
            if isinstance(a, Expr):
                sub = a.lines(inner, "")
                out += sub[:-1] + [sub[-1] + ","]
            else:
                out.append(f"{inner}{a},")
        return out + [f"{indent}{self.wrap[1]})"]


class Raw:
    """Source text that is laid out as it is (a tensor item's expression, a second name)."""

    def __init__(self, text: str):
        self.text = text

    def flat(self) -> str:
        return self.text

    def lines(self, indent: str, prefix: str) -> list[str]:
        return [indent + prefix + self.text]


def attribute(path: str, kind: str = "submodule") -> str:
    """`self.a.b` for a module path of identifiers, else `self.get_submodule('a.0')` (or get_parameter)."""
    import keyword

    if all(part.isidentifier() and not keyword.iskeyword(part) for part in path.split(".")):
        return f"self.{path}"
    return f"self.get_{kind}({path!r})"


def wrap(text: str, indent: int) -> list[str]:
    """A docstring's text in lines that fit WIDTH (the first line holds the opening quotes);
    backslashes and quotes from a spec's doc are escaped so they cannot end the string."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    lines = textwrap.wrap(text, WIDTH - indent - 3) or [""]
    return [lines[0]] + [" " * indent + line for line in lines[1:]]


def literal(value) -> str:
    return repr(value)


def show(expr) -> str:
    return expr.name if isinstance(expr, Sym) else literal(expr.value)


def body_expr(body, exprs, i: int, path: tuple = ()):
    """The constructor expression of an entry's body; numbers come from `exprs`."""
    if isinstance(body, State):
        return Raw(body.op.python(body.args, []))
    if isinstance(body, Alias):
        return Raw(attribute(body.target))
    if isinstance(body, Leaf):
        given = [(k, exprs.get((i, path + (k,)), Lit(v))) for k, v in body.ctor.args]
        if body.ctor.by_keyword:
            return Expr(body.ctor.callee, [f"{k}={show(v)}" for k, v in given])
        return Expr(body.ctor.callee, _arguments(given, dict(body.ctor.defaults), kernel_keyword=True))
    if isinstance(body, Call):
        given = [(p.name, exprs.get((i, path + (p.name,)), Lit(v))) for p, v in zip(body.cls.signature, body.values)]
        return Expr(body.cls.name, _arguments(given, {p.name: p.default for p in body.cls.signature}))
    items = [(name, body_expr(b, exprs, i, path + (name,))) for name, b in body.items]
    if [name for name, _ in items] == [str(k) for k in range(len(items))]:
        return Expr("nn.Sequential", [e for _, e in items])
    pairs = [Expr("", [repr(name), e]) for name, e in items]
    return Expr("nn.Sequential", [Expr("OrderedDict", pairs, ("[", "]"))])


def _arguments(given, defaults, kernel_keyword=False) -> list[str]:
    """Required arguments positionally (kernel_size by keyword, as people write it), the rest by
    keyword, defaults left out."""
    out, positional = [], True
    for name, expr in given:
        default = defaults.get(name, EMPTY)
        if default is not EMPTY and isinstance(expr, Lit) and _same(expr.value, default):
            positional = False
            continue
        keyword = (kernel_keyword and name == "kernel_size") or (isinstance(expr, Lit) and isinstance(expr.value, bool))
        if positional and default is EMPTY and not keyword:
            out.append(show(expr))
        else:
            positional = False
            out.append(f"{name}={show(expr)}")
    return out


def _same(value, default) -> bool:
    if isinstance(default, tuple) and len(set(default)) == 1:
        default = default[0]
    return type(value) is type(default) and value == default


def render_class(cls: ClassDef, inputs: list[str], after: list[str] = ()) -> list[str]:
    """The class's source; `after` are lines that end its __init__ (the root's ties and freezing)."""
    entries = cls.base.entries
    exprs = {i: body_expr(e.body, cls.exprs, i) for i, e in enumerate(entries) if not isinstance(e.body, Func)}
    head = _chain_head(cls)
    base = "nn.Sequential" if cls.kind == "seq" or head else "nn.Module"
    doc = wrap(cls.doc or f"{cls.name}.", len(INDENT))
    doc[0] = f'{INDENT}"""{doc[0]}'
    doc[-1] += '"""'
    signature = ", ".join(["self"] + [p.name if p.default is EMPTY else f"{p.name}={literal(p.default)}"
                                      for p in cls.signature])
    lines = [f"class {cls.name}({base}):", *doc, "", f"{INDENT}def __init__({signature}):"]
    body = 2 * INDENT
    if head or cls.kind == "seq" and all(e.name.isdigit() for e in entries):
        n = head or len(entries)
        lines += Expr("super().__init__", [exprs[i] for i in range(n)]).lines(body, "")
        calls: dict = {}
    else:
        lines.append(f"{body}super().__init__()")
        attrs, calls, order = _attributes(cls, exprs)
        for i in order:
            lines += _define(cls, i, attrs.get(i), exprs, body)
    lines += [body + line for line in after]
    if cls.kind == "graph":
        lines += ["", f"{INDENT}def forward(self, {', '.join(inputs)}):"]
        lines += [body + line for line in forward_lines(cls, inputs, calls, head)]
    return lines


def _define(cls: ClassDef, i: int, target, exprs, body) -> list[str]:
    e = cls.base.entries[i]
    if isinstance(e.body, Func):
        return [f"{body}self.{cls.flags[i]} = {cls.flags[i]}"] if i in cls.flags else []
    if target is None:
        return []  # shares an equal stateless layer
    if not target.startswith("self."):
        how = "setattr(self, " if isinstance(e.body, (State, Alias)) else "self.add_module("  # setattr registers tensors too
        made = exprs[i].lines(body, f"{how}{e.name!r}, ")
        return made[:-1] + [made[-1] + ")"]
    if i in cls.flags:
        return [f"{body}if {cls.flags[i]}:", *exprs[i].lines(body + INDENT, f"{target} = "),
                f"{body}else:", f"{body}{INDENT}{target} = None"]
    return exprs[i].lines(body, f"{target} = ")


def _chain_head(cls: ClassDef) -> int:
    """k when entries 0..k-1 are numbered layers in a chain from the input and the rest are
    functional: written as an nn.Sequential whose forward adds the tail (`super().forward(x)`)."""
    entries = cls.base.entries
    if cls.kind != "graph" or cls.flags or len(cls.base.scope.inputs) != 1:
        return 0
    k = 0
    while k < len(entries) and isinstance(entries[k].body, (Leaf, Call, Seq)):
        k += 1
    if k == 0 or any(not isinstance(e.body, Func) for e in entries[k:]):
        return 0
    if [e.name for e in entries[:k]] != [str(j) for j in range(k)]:
        return 0
    refs = [r for e in entries for r in e.inputs] + list(cls.base.outputs)
    for j, e in enumerate(entries[:k]):
        if e.inputs != [("in", 0) if j == 0 else ("e", j - 1, 0)] or e.n_out != 1:
            return 0
        if j < k - 1 and refs.count(("e", j, 0)) != 1:
            return 0
    return k


def _attributes(cls: ClassDef, exprs: dict) -> tuple[dict, dict, list]:
    """(entry -> attribute it defines, entry -> module forward calls, order of definition).

    Entries keep their ids; an unnamed stateless layer is named after its op, or, in a
    forward, calls an equal stateless layer (one `self.relu` used twice), which is then
    defined where it is first used."""
    entries = cls.base.entries
    attrs: dict = {}
    calls: dict = {}
    texts: dict = {}

    def shareable(i):
        return cls.kind == "graph" and not entries[i].stateful and i not in cls.flags and i in exprs

    for i, e in enumerate(entries):
        if shareable(i) and e.name.isidentifier():
            texts.setdefault(exprs[i].flat(), (i, f"self.{e.name}"))
    taken = {e.name for e in entries if e.name.isidentifier()} | set(cls.flags.values())
    order: list = []
    for i, e in enumerate(entries):
        if isinstance(e.body, Func):
            order.append(i)
            continue
        owner, shared = texts.get(exprs[i].flat(), (None, None)) if shareable(i) else (None, None)
        if e.name.isidentifier():
            attrs[i] = calls[i] = f"self.{e.name}"
        elif e.stateful:
            attrs[i] = f"add_module:{e.name}"
            calls[i] = f"getattr(self, {e.name!r})"
        elif owner is not None:
            calls[i] = shared
            if owner not in order:
                order.append(owner)
            continue
        else:
            name = _fresh(_op_name(e.body), taken)
            taken.add(name)
            attrs[i] = calls[i] = f"self.{name}"
            if shareable(i):
                texts[exprs[i].flat()] = (i, calls[i])
        if i not in order:
            order.append(i)
    return attrs, calls, order


def _op_name(body) -> str:
    if isinstance(body, Leaf):
        return re.sub(r"[123]d$", "", body.ctor.cls.lower()).replace("adaptive", "")
    if isinstance(body, Call):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", body.cls.name).lower()
    return "layers"


def _fresh(name: str, taken) -> str:
    base, n = name, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name
