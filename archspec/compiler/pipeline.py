"""The compiler pipeline: load -> validate -> expand (with shapes) -> graph checks -> report,
and emission for build(). Everything before emission is pure Python (no torch)."""
from __future__ import annotations

from archspec.errors import ArchspecError, Diagnostic, GraphError, ResourceError, ShapeError, SpecError
from archspec.compiler.checks import block_cycles, check_graph, to_graph
from archspec.report import Report
from archspec.limits import Limits
from archspec.resources import params_problem, require_memory
from archspec.compiler.expand import Expander
from archspec.lang.loader import parse_spec
from archspec.train.recipe import recipe_problems

GRAPH_CODES = {"unused", "unused-input", "cycle", "unknown-id", "recursion", "inplace"}
RESOURCE_CODES = {"too-many-nodes", "too-large", "too-many", "too-deep", "too-many-params", "out-of-memory"}


def check_spec(spec, params: dict | None = None, limits: Limits | None = None) -> Report:
    """Check a spec completely; problems are in report.diagnostics, never raised."""
    try:
        loaded, schema_problems = parse_spec(spec)
    except ArchspecError as e:
        return Report.failed(e.diagnostics, e.sources)
    bad = [path for path, _ in schema_problems]
    first = sorted([d for _, d in schema_problems] + recipe_problems(loaded), key=_position)
    if any(len(path) < 2 or path[0] not in ("layers", "blocks") for path in bad):  # not inside an item or a block
        return Report.failed(first, loaded.sources, loaded)  # the spec's frame is broken: items can't be read
    problems = _block_problems(loaded)
    if problems:
        return Report.failed(first + problems, loaded.sources, loaded)
    limits = limits or Limits()
    try:
        expanded = Expander(loaded, dict(params or {}), limits, bad).run()
    except ArchspecError as e:
        return Report.failed(first + e.diagnostics, loaded.sources, loaded)
    except RecursionError:  # blocks within blocks within sub-lists, each within the limits
        where = loaded.locate(("layers",), key=True)
        return Report.failed(first + [Diagnostic(where, "too-deep", "blocks and sub-lists are nested too deeply to expand: "
                                                 "flatten some of them")], loaded.sources, loaded)
    graph = to_graph(expanded)
    later = expanded.diagnostics + (check_graph(expanded, graph) if expanded.outputs else [])
    seen = {d.loc for d in first}
    expanded.diagnostics = sorted(first + [d for d in later if d.loc not in seen], key=_position)
    report = Report(loaded, expanded, graph)
    too_big = params_problem(report, limits.max_params) if report.ok else None
    if too_big:
        expanded.diagnostics.append(too_big)
    return report


def _position(d: Diagnostic) -> tuple:
    return (d.loc.line, d.loc.col) if d.loc else (0, 0)


def _block_problems(spec) -> list[Diagnostic]:
    from archspec.ops import registry

    from archspec.lang.schema import COMBINATORS, ITEM_KEYS

    taken = {**{k: "an op" for k in registry()}, **{k: "a combinator" for k in COMBINATORS}, **{k: "an item key" for k in ITEM_KEYS}}
    shadowing = [
        spec.error(("blocks", name), "shadows-op", f"block '{name}' has the name of {taken[name]}; rename the block", key=True)
        for name in (spec.data.get("blocks") or {}) if name in taken
    ]
    bodies = []
    for name, block in (spec.data.get("blocks") or {}).items():
        kinds = [k for k in COMBINATORS if k in block] if isinstance(block, dict) else [None]
        if len(kinds) != 1:
            found = f"found {', '.join(kinds)}" if kinds else "found none"
            bodies.append(spec.error(("blocks", name), "block-body", f"block '{name}' needs one body: layers, parallel, "
                                     f"residual or dense; {found}", key=True))
    return shadowing + bodies + block_cycles(spec)


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
    require_memory(report, "cpu")  # before any weight exists
    from archspec.compiler.emit import emit

    module = emit(report)
    module.report = report
    return module
