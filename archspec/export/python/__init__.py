"""The python export: a checked spec as a standalone .py file of plain PyTorch.

The generated classes are named after the spec's blocks, their attributes after the
spec's ids, so the file's module has the same state_dict keys as `archspec.build`.
"""
from __future__ import annotations

import inspect

from archspec import layers
from archspec.compiler.emit import class_name
from archspec.export.python.classes import ClassDef, cluster, parameterize
from archspec.export.python.modules import forget
from archspec.export.python.render import render_class
from archspec.export.python.scopes import build_tree
from archspec.export.python.spec_params import name_spec_params
from archspec.export.python.templates import ROOT_KEY, Leaf, Seq, State, class_key, template
from archspec.export.python.render import attribute, wrap

RESERVED = {"nn", "torch", "OrderedDict", *layers.__all__}


def to_python(report, weights: str | None = None) -> str:
    """Source text of a module defining the spec's network as an nn.Module class; `weights`
    names a state_dict file saved beside it, which its __main__ block then loads."""
    try:
        return _Generator(report, weights).source()
    finally:
        forget()


class _Generator:
    def __init__(self, report, weights: str | None = None):
        self.report, self.weights = report, weights
        self.root = build_tree(report)
        self.scopes: dict = {}
        for scope in self.root.walk():
            key = class_key(scope)
            if key is not None:
                self.scopes.setdefault(key, []).append(scope)
        self.done: set = set()
        self.where: dict = {}  # scope path -> (class, its template)
        self.order: list[ClassDef] = []
        self.names: set = set(RESERVED)

    def call(self, scope):
        """The Call that builds `scope`, or None when it is an inline nn.Sequential."""
        key = class_key(scope)
        if key is None:
            return None
        self._resolve(key)
        cls, t = self.where[scope.path]
        return cls.call_of(t)

    def _resolve(self, key) -> None:
        if key in self.done:
            return
        self.done.add(key)
        scopes = self.scopes[key]
        templates = [template(s, self.call) for s in scopes]
        for base, members, maps in cluster(templates):
            cls = ClassDef(self._name(key), base.kind, base, members, maps, self._doc(key, members))
            parameterize(cls, self._defaults(key))
            for t in members:
                self.where[t.scope.path] = (cls, t)
            self.order.append(cls)

    def _name(self, key) -> str:
        if key == ROOT_KEY:
            name = class_name(self.report.spec.name)
        elif key[0] == "block":
            name = class_name(key[1])
        else:
            name = class_name(key[2])
        base, n = name, 2
        while name in self.names:
            name, n = f"{base}{n}", n + 1
        self.names.add(name)
        return name

    def _blocks(self) -> dict:
        return self.report.spec.blocks

    def _doc(self, key, members) -> str:
        if key == ROOT_KEY:
            return self.report.spec.doc or f"The {self.report.spec.name} network."
        if key[0] == "block":
            return str(self._blocks().get(key[1], {}).get("doc") or f"The spec's {key[1]} block.")
        paths = [t.scope.path for t in members]
        more = f" and {len(paths) - 1} more places" if len(paths) > 1 else ""
        return f"The layers at {paths[0]}{more}."

    def _defaults(self, key) -> dict:
        if key[0] != "block":
            return {}
        params = self._blocks().get(key[1], {}).get("params") or {}
        out = {}
        for name, value in params.items():
            if isinstance(value, str) and (value == "required" or "$" in value):
                continue
            out[name] = tuple(value) if isinstance(value, list) else value
        return out

    # ---- the file ---------------------------------------------------------------------
    def root_class(self):
        """The root class and its template."""
        self._resolve(ROOT_KEY)
        return self.where[""]

    def _others(self) -> list[str]:
        """The text of every class but the root, for comparison with a changed spec's."""
        top = self.root_class()[0]
        return ["\n".join(render_class(c, self._arg_names(c))) for c in self.order if c is not top]

    def source(self) -> str:
        top = self.root_class()[0]

        def generate(changed):
            other = _Generator(changed)
            return other.root_class()[1], other._others()

        name_spec_params(top, self.report, generate, self._others())
        inputs = self._input_names()
        blocks = []
        for cls in self.order:
            args = inputs if cls is top else self._arg_names(cls)
            blocks.append("\n".join(render_class(cls, args, self._root_lines() if cls is top else ())))
        body = "\n\n\n".join(self._layer_sources() + blocks)
        imports = ["import torch", "from torch import nn"]
        if "OrderedDict(" in body:
            imports.insert(0, "from collections import OrderedDict\n")
        return "\n".join([self._header(), *imports, "", "", body, "", "", *self._main(top, inputs)]) + "\n"

    def _layer_sources(self) -> list[str]:
        """The source of each of archspec's own layers (and buffer-filling functions) the classes use,
        which the file then defines."""
        found: dict = {}

        def visit(body):
            if isinstance(body, Leaf) and body.ctor.source:
                found[body.ctor.cls] = body.ctor.source.rstrip()
            elif isinstance(body, State):  # a constant filled by one of archspec's functions
                for function in body.op.sources():
                    found[function.__name__] = inspect.getsource(function).rstrip()
            elif isinstance(body, Seq):
                for _, item in body.items:
                    visit(item)

        for cls in self.order:
            for t in cls.members:
                for entry in t.entries:
                    visit(entry.body)
        return [found[name] for name in sorted(found)]

    def _root_lines(self) -> list[str]:
        """What ends the root's __init__: tied parameters made one tensor, frozen weights frozen."""
        g = self.report.graph
        lines = []
        for name in g.ops():
            for own, (node, theirs) in g.nodes[name].get("ties", {}).items():
                target = attribute(node, "parameter") if theirs is None else f"{attribute(node)}.{theirs}"
                lines.append(f"{attribute(name)}.{own} = {target}")
        for path in frozen_roots(g):
            lines.append(("self" if not path else attribute(path, "parameter" if path in g and not g.nodes[path]["op"].roles
                                                                       else "submodule")) + ".requires_grad_(False)")
        return lines

    def _input_names(self) -> list[str]:
        names = list(self.report.input_shapes)
        if len(names) == 1:
            return ["x"]
        return [n if n.isidentifier() and n not in ("self", "x") else f"x{k}" for k, n in enumerate(names)]

    @staticmethod
    def _arg_names(cls) -> list[str]:
        n = len(cls.base.scope.inputs)
        return ["x"] if n == 1 else [f"x{k}" for k in range(n)]

    def _header(self) -> str:
        spec, r = self.report.spec, self.report
        params = ", ".join(f"{k}={v!r}" for k, v in r.graph.spec_params.items())
        ins = ", ".join((f"{k} " if len(r.input_shapes) > 1 else "") + batched(t) for k, t in r.input_types.items())
        outs = ", ".join(batched(t) for t in r.output_types.values())
        from archspec import __version__

        title = f"{spec.name}: {spec.doc}" if spec.doc else spec.name
        source = spec.file or "a spec"
        made = f"Generated by archspec {__version__} from {source}" + (f" with {params}." if params else ".")
        lines = [*wrap(title, 0), "", *wrap(made, 0), f"Input: {ins}. Output: {outs}.",
                 "Plain PyTorch: it imports nothing but torch; edit it freely."]
        if self.weights:
            lines.append(f"Trained weights: {self.weights} beside this file (the __main__ block loads them).")
        return '"""' + "\n".join(lines) + '\n"""'


    def _main(self, top, inputs) -> list[str]:
        lines = ['if __name__ == "__main__":', f"    model = {top.name}().eval()"]
        if self.weights:
            lines[1:1] = ["    import os", ""]
            lines += [f"    weights = os.path.join(os.path.dirname(os.path.abspath(__file__)), {self.weights!r})",
                      "    model.load_state_dict(torch.load(weights, weights_only=True))"]
        g = self.report.graph
        for name, (key, t) in zip(inputs, self.report.input_types.items()):
            size = ", ".join(map(str, (1, *t.shape)))
            if t.dtype == "float32":
                made = f"torch.randn({size})"
            else:
                low, high = g.nodes[key]["range"] if t.dtype == "int64" else (0, 2)
                made = f"torch.randint({low}, {high}, ({size},))" + (".bool()" if t.dtype == "bool" else "")
            lines.append(f"    {name} = {made}")
        call = f"model({', '.join(inputs)})"
        outputs = self.report.output_types
        shown = f"{call}.shape" if len(outputs) == 1 else f"[y.shape for y in {call}]"
        return lines + [f"    print({shown})  # {', '.join(batched(t, 1) for t in self.report.output_types.values())}"]


def frozen_roots(g) -> list[str]:
    """The fewest module paths whose parameters are exactly the frozen ones ('' for all of them)."""
    weighted = [n for n in g.ops() if g.nodes[n]["params"] and not g.nodes[n].get("shares")]
    frozen = {n for n in weighted if g.nodes[n].get("frozen")}
    if not frozen:
        return []

    def covered(prefix):
        inside = [n for n in weighted if not prefix or n == prefix or n.startswith(prefix + ".")]
        return all(n in frozen for n in inside)

    roots = []
    for n in sorted(frozen):
        parts = n.split(".")
        best = next((".".join(parts[:k]) for k in range(len(parts) + 1) if covered(".".join(parts[:k]))), n)
        if best not in roots and not any(best.startswith(r + ".") or not r for r in roots):
            roots.append(best)
    return roots


def batched(t, n="N") -> str:
    """A value's whole shape as the file's reader sees it: (N, C, H, W), its dtype unless float32."""
    dims = ", ".join(map(str, ((n,) if t.batched else ()) + tuple(t.shape)))
    return f"({dims}{',' if len(t.shape) + t.batched == 1 else ''})" + ("" if t.dtype == "float32" else f" {t.dtype}")
