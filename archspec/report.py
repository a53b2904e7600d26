"""The result of a check: per-node rows, totals, and its table and JSON forms."""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.compiler.infer import show_type
from archspec.compiler.ir import Graph, Ref, Type
from archspec.diagnostics import printable
from archspec.errors import ArchspecError, Diagnostic, error_for
from archspec.table import table

BYTES_PER_ELEMENT = 4  # float32 weights and activations
DTYPE_BYTES = {"float32": 4, "int64": 8, "bool": 1}


@dataclass
class Row:
    name: str
    op: str
    type: Type | None
    params: int
    macs: int
    trainable: int = 0
    outputs: tuple = ()  # (label, Type) of each output where a node has several (lstm's h_n, c_n)

    @property
    def shape(self) -> tuple | None:
        return self.type.shape if self.type else None

    def to_dict(self) -> dict:
        """The row as JSON; dtype, batch, frozen weights and sharing only where they are not the usual."""
        out = {"name": self.name, "op": self.op, "shape": list(self.shape) if self.shape else None,
               "params": self.params, "macs": self.macs}
        if self.type is not None and self.type.dtype != "float32":
            out["dtype"] = self.type.dtype
        if self.type is not None and not self.type.batched:
            out["batched"] = False
        if self.trainable != self.params:
            out["trainable"] = self.trainable
        if self.outputs:
            out["outputs"] = [{"name": label, "shape": list(t.shape)} for label, t in self.outputs]
        return out


@dataclass
class Report:
    """A check's result: the spec, its IR (None when expansion could not run) and every problem
    found, in the order of the spec's lines. Everything else is read from the graph."""

    spec: object
    graph: Graph | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources_: dict = field(default_factory=dict)
    freeze: tuple = ()  # --freeze's globs over module paths (archspec/globs.py), beside `trainable: false`

    @classmethod
    def failed(cls, diagnostics, sources, spec=None) -> "Report":
        return cls(spec, diagnostics=list(diagnostics), sources_=dict(sources))

    def sorted(self) -> "Report":
        """The diagnostics in the order of the spec's lines, then of the files it imports (a stable
        sort: ties keep their stage's order), each mistake once: the same message at the same place, made by several calls of a
        block (or copies of an item), is told at the first, with a note on how many more."""
        first: dict = {}
        for d in self.diagnostics:
            first.setdefault((d.loc, d.code, d.message), []).append(d)
        for same in first.values():
            if len(same) > 1:
                n = len(same) - 1
                same[0].notes = [*same[0].notes, f"and {n} more time{'s' if n > 1 else ''}: the same mistake in other calls or copies"]
        self.diagnostics[:] = [same[0] for same in first.values()]
        own = self.spec.file if self.spec is not None else None
        self.diagnostics.sort(key=lambda d: (d.loc.file != own, d.loc.file, d.loc.line, d.loc.col) if d.loc else (False, "", 0, 0))
        return self

    # ---- what was found ---------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return (self.graph is not None or self.is_library) and not self.errors

    @property
    def is_library(self) -> bool:
        """A block library checks its blocks' form only: each block's shapes are checked where a spec calls it."""
        return self.spec is not None and self.spec.is_library

    @property
    def library_name(self) -> str:
        """The name `imports:` finds a library by: its file's."""
        from pathlib import Path

        return Path(self.spec.path or self.spec.file).stem

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        """What checks but probably is not what the writer meant (shown beside the table)."""
        return [d for d in self.diagnostics if d.severity != "error"]

    def require_model(self) -> "Report":
        """This report, when it checked a model; else the error that says why there is none to build,
        draw or compare (the spec's own errors, or that it is a block library)."""
        if not self.ok:
            raise self.error()
        if self.graph is None:
            raise ArchspecError(f"{self.spec.file} is a block library, not a model: a spec imports it "
                                f"(`imports: [{self.library_name}]`) and calls its blocks")
        return self

    def error(self) -> ArchspecError:
        """The typed error that stands for a failed report (its first error's code decides the type);
        its warnings come with it, in the order of the spec's lines."""
        return error_for(self.diagnostics, self.sources)

    @property
    def sources(self) -> dict:
        return self.spec.sources if self.spec is not None else self.sources_

    @property
    def input_types(self) -> dict[str, Type]:
        g = self.graph
        return {name: g.type_of(Ref(name)) for name in g.input_names()} if g is not None else {}

    @property
    def input_shapes(self) -> dict[str, tuple]:
        return {name: t.shape for name, t in self.input_types.items()}

    @property
    def output_types(self) -> dict[str, Type]:
        g = self.graph
        return {g.label(ref): g.type_of(ref) for ref in g.outputs} if g is not None else {}

    @property
    def output_shapes(self) -> dict[str, tuple]:
        return {name: t.shape for name, t in self.output_types.items()}

    def _total(self, key: str) -> int:
        g = self.graph
        return sum(g.nodes[n][key] for n in g.ops()) if g is not None else 0

    def freezing(self, patterns) -> "Report":
        """This report with --freeze's patterns applied to its trainable counts, as training will
        apply them; a pattern that matches no parameter is refused, as training refuses it."""
        from dataclasses import replace

        from archspec.globs import require_matches

        patterns = tuple(patterns)
        if patterns and self.ok:
            names = [name for node in self.graph.ops() for name in self._weights(node)]
            require_matches("--freeze", patterns, names)
        return replace(self, freeze=patterns)

    def _weights(self, node: str) -> dict[str, int]:
        """A node's own parameters by state_dict name and size: what its op says it makes, less the
        ones tied to another item's; all under the node's path where the op does not say."""
        from archspec.ops.base import prod

        g, n = self.graph, self.graph.nodes[node]
        if not n["params"]:
            return {}
        shapes = n["op"].weights(n["args"], [g.shape_of(r) for r in g.inputs_of(node)])
        if shapes is None:
            return {node: n["params"]}
        return {f"{node}.{w}": prod(shape) for w, shape in shapes.items() if w not in n.get("ties", {})}

    def _trainable(self, node: str) -> int:
        """The parameters of a node that training updates: none made inside `trainable: false`,
        and none that a --freeze pattern matches."""
        from archspec.globs import matches

        n = self.graph.nodes[node]
        if n.get("frozen"):
            return 0
        if not self.freeze:
            return n["params"]
        return sum(size for name, size in self._weights(node).items() if not any(matches(name, p) for p in self.freeze))

    @property
    def params(self) -> int:
        return self._total("params")

    @property
    def trainable_params(self) -> int:
        """The parameters training updates: those not made inside `trainable: false` nor frozen by --freeze."""
        g = self.graph
        return sum(self._trainable(n) for n in g.ops()) if g is not None else 0

    @property
    def macs(self) -> int:
        return self._total("macs")

    @property
    def activation_bytes(self) -> int:
        """Memory of every op's output for one sample: what a forward pass keeps for backward.
        Batch-free values (learnable tensors, what is computed from them alone) are not per sample."""
        from archspec.ops.base import prod

        g = self.graph
        if g is None:
            return 0
        return sum(prod(t.shape) * DTYPE_BYTES[t.dtype] for n in g.ops() for t in g.nodes[n]["types"] if t.batched)

    @property
    def fixed_bytes(self) -> int:
        """Memory of the batch-free values other than parameters (buffers, what is computed from
        them alone): made once, whatever the batch."""
        from archspec.ops.base import prod

        g = self.graph
        if g is None:
            return 0
        return sum(prod(t.shape) * DTYPE_BYTES[t.dtype] for n in g.ops() if g.nodes[n]["op"].name != "parameter"
                   for t in g.nodes[n]["types"] if not t.batched)

    def _dtypes(self) -> str:
        """' (float32)' when every activation is, as a reader of a float model expects to be told."""
        g = self.graph
        mixed = g is not None and any(t.dtype != "float32" for n in g.ops() for t in g.nodes[n]["types"])
        return "" if mixed else " (float32)"

    @property
    def checked_by_forward(self) -> list[str]:
        """Ops whose shapes came from a forward pass on the meta device (torch.nn classes, plugin ops
        without a shape rule)."""
        g = self.graph
        ops = [g.nodes[n]["op"] for n in g.ops()] if g is not None else []
        return sorted({op.name for op in ops if getattr(op, "checked_by_forward", False)})

    def rows(self, depth: int | None = None) -> list[Row]:
        """One row per node, or per module path cut to `depth` parts (summed over its nodes)."""
        rows: list[Row] = []
        counts: dict[int, int] = {}
        g = self.graph
        for name in g.ops() if g is not None else ():
            n = g.nodes[name]
            t = g.type_of(Ref(name))
            trainable = self._trainable(name)
            parts = name.split(".")
            if depth is None or len(parts) <= depth:
                shared = f" (shares {n['shares']})" if n.get("shares") else ""
                several = tuple((g.label(Ref(name, k)), t) for k, t in enumerate(n["types"])) if len(n["types"]) > 1 else ()
                rows.append(Row(name, n["op"].name + shared, t, n["params"], n["macs"], trainable, several))
                continue
            key = ".".join(parts[:depth])
            if not rows or rows[-1].name != key or id(rows[-1]) not in counts:
                rows.append(Row(key, "", None, 0, 0))
                counts[id(rows[-1])] = 0
            row = rows[-1]
            counts[id(row)] += 1
            row.type, row.params, row.macs = t, row.params + n["params"], row.macs + n["macs"]
            row.trainable += trainable
            block = g.blocks.get(key, ("",))[0]
            row.op = f"{block} ({counts[id(row)]} nodes)".lstrip()
        return rows

    # ---- forms ------------------------------------------------------------------------
    def to_dict(self, depth: int | None = None) -> dict:
        out: dict = {"ok": self.ok}
        if self.spec is not None:
            out["name"] = self.spec.name
        if self.ok and self.is_library:
            out.update(library=True, blocks=list(self.spec.data["blocks"]))
        elif self.ok:
            outputs = {k: list(v) for k, v in self.output_shapes.items()}
            out.update(params=self.params, trainable_params=self.trainable_params, macs=self.macs,
                       activation_bytes=self.activation_bytes,
                       input_shapes={k: list(v) for k, v in self.input_shapes.items()})
            dtypes = {k: t.dtype for k, t in self.input_types.items() if t.dtype != "float32"}
            if dtypes:
                out["input_dtypes"] = dtypes
            if len(outputs) == 1:
                out["output_shape"] = next(iter(outputs.values()))
            else:
                out["output_shapes"] = outputs
            dtypes = {k: t.dtype for k, t in self.output_types.items() if t.dtype != "float32"}
            if dtypes:
                out["output_dtypes"] = dtypes
            out["checked_by_forward"] = self.checked_by_forward
            out["nodes"] = [r.to_dict() for r in self.rows(depth)]
        else:
            out["errors"] = [d.to_dict() for d in self.errors]
        if self.warnings:
            out["warnings"] = [d.to_dict() for d in self.warnings]
        return out

    def table(self, depth: int | None = None) -> str:
        """The check as a table; a failed check has none: its typed error is raised instead."""
        if not self.ok:
            raise self.error()
        if self.is_library:
            blocks = list(self.spec.data["blocks"])
            return printable(f"{self.library_name}: a block library of {len(blocks)} block{'s' * (len(blocks) != 1)}"
                             f" ({', '.join(blocks)}); specs import it with `imports: [{self.library_name}]`, and "
                             "each block's shapes are checked where a spec calls it")
        rows = self.rows(depth)
        frozen = any(r.trainable != r.params for r in rows)  # a trainable column only where something is frozen
        cells = []
        for r in rows:  # a node's further outputs on lines of their own, under its first: lstm.h_n, lstm.c_n
            cells.append((r.name, r.op, show_type(r.type) if r.type else "?", f"{r.params:,}",
                          *([f"{r.trainable:,}"] if frozen else []), human(r.macs)))
            cells += [(f"  {label}", "", show_type(t), "", *([""] if frozen else []), "") for label, t in r.outputs[1:]]
        header = ("name", "op", "output shape", "params", *(["trainable"] if frozen else []), "MACs")
        columns = table(header, cells, right=(False, False, False, True, *([True] if frozen else []), True))
        inputs = ", ".join(show_type(t) if k == "input" else f"{k} {show_type(t)}" for k, t in self.input_types.items())
        outputs = ", ".join(f"{show_type(t)} ({k})" for k, t in self.output_types.items())
        title = f"{self.spec.name}: {self.spec.doc}" if self.spec.doc else self.spec.name
        return printable("\n".join([
            title, f"input: {inputs}", "", *columns, columns[1],
            f"output:             {outputs}",
            f"parameters:         {self.params:,}",
            f"trainable:          {self.trainable_params:,}" + (f" ({self.params - self.trainable_params:,} frozen)"
                                                                    if self.trainable_params != self.params else ""),
            f"MACs:               {human(self.macs)} per sample ({self.macs:,})",
            f"activation memory:  {human_bytes(self.activation_bytes)} per sample{self._dtypes()}",
            *([f"note: {', '.join(self.checked_by_forward)} checked by a forward pass on the meta device "
               "(torch.nn classes and plugin ops without a shape rule)"] if self.checked_by_forward else []),
        ]))


def human(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"
