"""The result of a check: per-node rows, totals, and its table and JSON forms."""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.diagnostics import printable
from archspec.errors import Diagnostic
from archspec.compiler.infer import show

BYTES_PER_ELEMENT = 4  # activations counted as float32


@dataclass
class Row:
    name: str
    op: str
    shape: tuple | None
    params: int
    macs: int


@dataclass
class Report:
    spec: object
    expanded: object = None
    graph: object = None
    extra: list[Diagnostic] = field(default_factory=list)
    sources_: dict = field(default_factory=dict)

    @classmethod
    def failed(cls, diagnostics, sources, spec=None) -> "Report":
        return cls(spec, extra=list(diagnostics), sources_=dict(sources))

    # ---- what was found ---------------------------------------------------------------
    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.extra + (self.expanded.diagnostics if self.expanded else [])

    @property
    def ok(self) -> bool:
        return self.expanded is not None and not self.diagnostics

    @property
    def sources(self) -> dict:
        return self.spec.sources if self.spec is not None else self.sources_

    @property
    def nodes(self) -> list:
        return [n for n in self.expanded.nodes if n.op is not None] if self.expanded else []

    @property
    def input_shapes(self) -> dict[str, tuple]:
        return dict(self.expanded.inputs) if self.expanded else {}

    @property
    def output_shapes(self) -> dict[str, tuple]:
        return {v.ref: v.shape for v in self.expanded.outputs} if self.expanded else {}

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def trainable_params(self) -> int:
        return self.params  # every parameter an op makes is trainable

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    @property
    def activation_bytes(self) -> int:
        """Memory of every node's output for one sample: what a forward pass keeps for backward."""
        from archspec.ops.base import prod

        return sum(prod(n.shape) for n in self.nodes if n.shape) * BYTES_PER_ELEMENT

    @property
    def checked_by_forward(self) -> list[str]:
        """Ops whose shapes came from a forward pass on the meta device (plugin ops without a shape rule)."""
        return sorted({n.op.name for n in self.nodes if getattr(n.op, "checked_by_forward", False)})

    def rows(self, depth: int | None = None) -> list[Row]:
        """One row per node, or per module path cut to `depth` parts (summed over its nodes)."""
        rows: list[Row] = []
        counts: dict[int, int] = {}
        for n in self.nodes:
            parts = n.name.split(".")
            if depth is None or len(parts) <= depth:
                rows.append(Row(n.name, n.op.name, n.shape, n.params, n.macs))
                continue
            key = ".".join(parts[:depth])
            if not rows or rows[-1].name != key or id(rows[-1]) not in counts:
                rows.append(Row(key, "", None, 0, 0))
                counts[id(rows[-1])] = 0
            row = rows[-1]
            counts[id(row)] += 1
            row.shape, row.params, row.macs = n.shape, row.params + n.params, row.macs + n.macs
            block = self.expanded.blocks.get(key, ("",))[0]
            row.op = f"{block} ({counts[id(row)]} nodes)".lstrip()
        return rows

    # ---- forms ------------------------------------------------------------------------
    def to_dict(self, depth: int | None = None) -> dict:
        out: dict = {"ok": self.ok}
        if self.spec is not None:
            out["name"] = self.spec.name
        if self.ok:
            outputs = {k: list(v) for k, v in self.output_shapes.items()}
            out.update(params=self.params, trainable_params=self.trainable_params, macs=self.macs,
                       activation_bytes=self.activation_bytes,
                       input_shapes={k: list(v) for k, v in self.input_shapes.items()})
            if len(outputs) == 1:
                out["output_shape"] = next(iter(outputs.values()))
            else:
                out["output_shapes"] = outputs
            out["checked_by_forward"] = self.checked_by_forward
            out["nodes"] = [{"name": r.name, "op": r.op, "shape": list(r.shape) if r.shape else None,
                             "params": r.params, "macs": r.macs} for r in self.rows(depth)]
        else:
            out["errors"] = [d.to_dict() for d in self.diagnostics]
        return out

    def table(self, depth: int | None = None) -> str:
        rows = self.rows(depth)
        header = ("name", "op", "output shape", "params", "MACs")
        cells = [(r.name, r.op, show(r.shape) if r.shape else "?", f"{r.params:,}", human(r.macs)) for r in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
        right = (False, False, False, True, True)

        def line(values):
            return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

        inputs = ", ".join(show(v) if k == "input" else f"{k} {show(v)}" for k, v in self.input_shapes.items())
        outputs = ", ".join(f"{show(v)} ({k})" for k, v in self.output_shapes.items())
        title = f"{self.spec.name}: {self.spec.doc}" if self.spec.doc else self.spec.name
        rule = "-" * len(line(header))
        return printable("\n".join([
            title, f"input: {inputs}", "", line(header), rule, *(line(c) for c in cells), rule,
            f"output:             {outputs}",
            f"parameters:         {self.params:,}",
            f"trainable:          {self.trainable_params:,}",
            f"MACs:               {human(self.macs)} per sample ({self.macs:,})",
            f"activation memory:  {human_bytes(self.activation_bytes)} per sample (float32)",
            *([f"note: {', '.join(self.checked_by_forward)} checked by a forward pass on the meta device "
               "(plugin ops without a shape rule)"] if self.checked_by_forward else []),
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
