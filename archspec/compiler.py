"""The compiler pipeline: load -> validate -> expand (with shapes) -> graph checks -> report,
and emission for build(). Everything before emission is pure Python (no torch)."""
from __future__ import annotations

from archspec.errors import ArchspecError, Diagnostic, GraphError, ResourceError, ShapeError, SpecError
from archspec.graph import block_cycles, check_graph, to_graph
from archspec.report import Report
from archspec.spec.expand import Expander, Limits
from archspec.spec.loader import load_spec

GRAPH_CODES = {"unused", "unused-input", "cycle", "unknown-id", "recursion"}
RESOURCE_CODES = {"too-many-nodes", "too-large", "too-many", "too-deep"}


def check_spec(spec, params: dict | None = None, limits: Limits | None = None) -> Report:
    """Check a spec completely; problems are in report.diagnostics, never raised."""
    try:
        loaded = load_spec(spec)
    except ArchspecError as e:
        return Report.failed(e.diagnostics, e.sources)
    problems = _block_problems(loaded)
    if problems:
        return Report.failed(problems, loaded.sources, loaded)
    try:
        expanded = Expander(loaded, dict(params or {}), limits or Limits()).run()
    except ArchspecError as e:
        return Report.failed(e.diagnostics, loaded.sources, loaded)
    graph = to_graph(expanded)
    expanded.diagnostics += check_graph(expanded, graph) if expanded.outputs else []
    return Report(loaded, expanded, graph)


def _block_problems(spec) -> list[Diagnostic]:
    from archspec.ops import registry

    shadowing = [
        spec.error(("blocks", name), "shadows-op", f"block '{name}' has the name of an op; rename the block", key=True)
        for name in (spec.data.get("blocks") or {}) if name in registry()
    ]
    return shadowing + block_cycles(spec)


def error_for(report: Report) -> ArchspecError:
    """The typed error that stands for a failed report (its first problem decides the type)."""
    code = report.diagnostics[0].code if report.diagnostics else ""
    cls = ShapeError if code == "shape" else GraphError if code in GRAPH_CODES else ResourceError if code in RESOURCE_CODES else SpecError
    return cls(report.diagnostics, report.sources)


def build_module(spec, params: dict | None = None, limits: Limits | None = None):
    """Check, then emit a torch.fx.GraphModule; raises the typed error of a failed check."""
    report = check_spec(spec, params, limits)
    if not report.ok:
        raise error_for(report)
    from archspec.emit import emit

    module = emit(report)
    module.report = report
    return module
