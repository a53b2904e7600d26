"""Classes from templates: the calls of one block that share a structure become one class
whose constructor arguments are the numbers that differ between the calls.

A call may lack entries another call has (an `if:` that dropped a downsample or a
shortcut add): such an entry becomes optional, behind a flag. The numbers that vary are
named after the block's params when their values agree call by call (`planes`,
`c2[0]`), after the input's channels (`in_channels`), and otherwise get a new argument
named after the torch argument they fill.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from archspec.export.python.modules import EMPTY
from archspec.export.python.templates import Call, Func, Leaf, Template, shape, values


MISSING = object()  # a member without the entry
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?")
TAKEN = {"self", "nn", "torch", "super", "OrderedDict"}  # names the generated code itself uses


@dataclass(frozen=True)
class Lit:
    value: object


@dataclass(frozen=True)
class Sym:
    name: str  # an argument, or an element of one: "c2[0]"


@dataclass
class Param:
    name: str
    default: object = EMPTY


@dataclass
class ClassDef:
    name: str
    kind: str
    base: Template
    members: list[Template]
    maps: list[list]  # per member: base entry index -> member entry index or None
    doc: str = ""
    signature: list[Param] = field(default_factory=list)
    calls: list[tuple] = field(default_factory=list)  # per member: its argument values
    exprs: dict = field(default_factory=dict)  # (entry index, position) -> Lit | Sym
    flags: dict = field(default_factory=dict)  # optional entry index -> flag name

    @property
    def stateful(self) -> bool:
        return any(e.stateful for e in self.base.entries)

    def call_of(self, template: Template) -> Call:
        return Call(self, self.calls[self.members.index(template)])


def cluster(templates: list[Template]) -> list[tuple[Template, list[Template], list[list]]]:
    """Group templates that one class can build: (base, members, maps) with base the fullest."""
    groups: list = []
    for t in sorted(templates, key=lambda t: (t.kind != "graph", -len(t.entries))):
        for base, members, maps in groups:
            mapping = unify(base, t)
            if mapping is not None:
                members.append(t)
                maps.append(mapping)
                break
        else:
            groups.append((t, [t], [list(range(len(t.entries)))]))
    return groups


def unify(base: Template, other: Template) -> list | None:
    """Map base entries onto `other`'s, or None when `other` is not base minus optional entries."""
    if (base.kind, other.kind) == ("seq", "graph") or len(base.scope.inputs) != len(other.scope.inputs):
        return None  # a graph class can build a chain, not the other way round
    mapping: list = [None] * len(base.entries)
    j = 0
    for i, e in enumerate(base.entries):
        if j < len(other.entries) and other.entries[j].key == e.key and shape(other.entries[j].body) == shape(e.body):
            mapping[i], j = j, j + 1
        elif base.kind == "seq" or e.n_out != 1 or not e.inputs:
            return None  # only a graph entry with an input can stand for its input when absent
    if j != len(other.entries):
        return None

    def resolve(ref):
        if ref[0] == "in":
            return ref
        i = ref[1]
        return resolve(base.entries[i].inputs[0]) if mapping[i] is None else ("e", mapping[i], ref[2])

    for i, e in enumerate(base.entries):
        if mapping[i] is not None and [resolve(r) for r in e.inputs] != other.entries[mapping[i]].inputs:
            return None
    return mapping if [resolve(r) for r in base.outputs] == other.outputs else None


def parameterize(cls: ClassDef, block_defaults: dict) -> None:
    """Fill signature, calls, exprs and flags of a class from its members' numbers."""
    members, maps = cls.members, cls.maps
    symbols = [_symbols(t.scope) for t in members]
    common = [k for k in symbols[0] if all(k in s for s in symbols)]
    vectors: dict = {}  # (entry, position) -> [value or MISSING per member]
    for i, e in enumerate(cls.base.entries):
        for m, (t, mapping) in enumerate(zip(members, maps)):
            if mapping[i] is None:
                continue
            for pos, v in values(t.entries[mapping[i]].body):
                vectors.setdefault((i, pos), [MISSING] * len(members))[m] = v
    used: dict[str, list] = {}  # symbol -> values per member
    new: dict[str, list] = {}
    constant = []
    for key, vec in vectors.items():
        present = [v for v in vec if v is not MISSING]
        if all(_eq(v, present[0]) for v in present):
            constant.append(key)
            continue
        name = _match(vec, common, symbols, composite=True)
        if name is None:
            name = _new_param(key[1][-1], vec, new, common)
        else:
            for root in NAME.findall(name):
                if root in common:
                    used[root] = [s.get(root) for s in symbols]
        cls.exprs[key] = Sym(name)
    for key in constant:
        vec = vectors[key]
        name = _match(vec, list(used), symbols)
        cls.exprs[key] = Sym(name) if name else Lit(next(v for v in vec if v is not MISSING))
    for i in range(len(cls.base.entries)):
        presence = [mapping[i] is not None for mapping in maps]
        if not all(presence):
            flag = _match(presence, [k for k in common if isinstance(symbols[0][k], bool)], symbols)
            if flag:
                used.setdefault(flag, presence)
            else:
                flag = _flag_name(cls.base.entries[i], new, common)
                new[flag] = presence
            cls.flags[i] = flag
    _signature(cls, used, new, symbols, block_defaults)



def _eq(a, b) -> bool:
    return type(a) is type(b) and a == b


def _symbols(scope) -> dict:
    """The values a call's numbers may be named after: block params (and list elements), input channels."""
    out: dict = {}
    if scope.block is not None:
        for k, v in scope.block[1].items():
            if keyword.iskeyword(k) or k in TAKEN:
                continue
            if isinstance(v, (list, tuple)):
                out.update({f"{k}[{n}]": x for n, x in enumerate(v) if not isinstance(x, (list, tuple, dict))})
            elif isinstance(v, (bool, int, float, str)):
                out[k] = v
    if len(scope.input_shapes) == 1 and scope.input_shapes[0]:
        name = "in_features" if len(scope.input_shapes[0]) == 1 else "in_channels"
        out.setdefault(name, scope.input_shapes[0][0])
    return out


def _match(vec, names, symbols, composite: bool = False) -> str | None:
    """The first expression over `names` that gives every member's value."""
    for text, fn in _expressions(names, symbols, vec) if composite else ((n, None) for n in names):
        got = [s.get(text) for s in symbols] if fn is None else [fn(s) for s in symbols]
        if all(v is MISSING or _eq(v, g) for v, g in zip(vec, got)):
            return text
    return None


def _expressions(names, symbols, vec):
    """Candidate expressions, simplest first: a name, `not flag`, a product or sum of two names,
    a name scaled by a small integer, the input's channels plus a constant."""
    for n in names:
        yield n, None
    ints = sorted((n for n in names if all(_is_int(s[n]) for s in symbols)), key=lambda n: not n.startswith("in_"))
    for n in names:
        if all(isinstance(s[n], bool) for s in symbols):
            yield f"not {n}", lambda s, n=n: not s[n]
    for x, a in enumerate(ints):
        for y, b in enumerate(ints):
            if x < y:
                yield f"{a} * {b}", lambda s, a=a, b=b: s[a] * s[b]
            if a != b:
                yield f"{a} + {b}", lambda s, a=a, b=b: s[a] + s[b]
    for a in ints:
        for k in range(2, 9):
            yield f"{a} * {k}", lambda s, a=a, k=k: s[a] * k
            yield f"{a} // {k}", lambda s, a=a, k=k: s[a] // k
    for a in ints:
        for b in ints:
            for k in range(2, 9):
                if a != b:
                    yield f"{a} + {k} * {b}", lambda s, a=a, b=b, k=k: s[a] + k * s[b]
    for a in ("in_channels", "in_features"):
        if a in ints:
            offsets = {v - s[a] for v, s in zip(vec, symbols) if _is_int(v)}
            if len(offsets) == 1 and (c := offsets.pop()) != 0:
                yield (f"{a} + {c}" if c > 0 else f"{a} - {-c}"), lambda s, a=a, c=c: s[a] + c


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _fresh(name: str, taken) -> str:
    if keyword.iskeyword(name) or name in TAKEN:
        name += "_"
    base, n = name, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def _new_param(arg: str, vec, new: dict, common) -> str:
    for name, known in new.items():
        if all(a is MISSING or b is MISSING or _eq(a, b) for a, b in zip(vec, known)):
            return name
    name = _fresh(arg, set(new) | {c.split("[")[0] for c in common})
    new[name] = vec
    return name


def _flag_name(entry, new, common) -> str:
    if entry.name.isidentifier():
        base = entry.name
    elif isinstance(entry.body, Func):
        base = f"use_{entry.body.op.name}"
    else:
        base = f"use_{entry.body.ctor.cls.lower()}" if isinstance(entry.body, Leaf) else "use_block"
    return _fresh(base, set(new) | {c.split("[")[0] for c in common})


def _signature(cls: ClassDef, used: dict, new: dict, symbols, block_defaults: dict) -> None:
    roots = list(dict.fromkeys(name.split("[")[0] for name in used))
    params: list[Param] = []
    for root in (r for r in _order(symbols[0]) if r in roots):
        default = block_defaults.get(root, EMPTY)
        params.append(Param(root, default))
    for name, vec in new.items():
        default = False if name in cls.flags.values() else (None if any(v is MISSING for v in vec) else EMPTY)
        params.append(Param(name, default))
    params.sort(key=lambda p: p.default is not EMPTY)
    cls.signature = params
    blocks = [t.scope.block[1] if t.scope.block else {} for t in cls.members]
    calls = []
    for m, t in enumerate(cls.members):
        row = []
        for p in params:
            if p.name in new:
                v = new[p.name][m]
                row.append(None if v is MISSING else v)
            elif p.name in blocks[m]:
                v = blocks[m][p.name]
                row.append(tuple(v) if isinstance(v, list) else v)
            else:
                row.append(symbols[m][p.name])
        calls.append(tuple(row))
    cls.calls = calls


def _order(symbols: dict) -> list[str]:
    """Argument order: the input's channels first, then the block's params as declared."""
    roots = list(dict.fromkeys(k.split("[")[0] for k in symbols))
    inputs = [r for r in roots if r in ("in_channels", "in_features")]
    return inputs + [r for r in roots if r not in inputs]
