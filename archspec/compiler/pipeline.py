"""The compiler pipeline: load -> schema -> blocks -> expand (types inferred node by node)
-> graph checks -> counts -> report, and emission for build(). Every stage adds its problems
to one diagnostics list. Everything before emission is pure Python (no torch)."""
from __future__ import annotations

from archspec.compiler.blocks import block_problems, read_as_op
from archspec.compiler.checks import check_graph
from archspec.compiler.counts import count
from archspec.compiler.expand import Expander
from archspec.compiler.hints import naming_hints
from archspec.compiler.interface import override_inputs
from archspec.errors import ArchspecError, Code, Diagnostic
from archspec.lang.imports import note_imports
from archspec.lang.loader import parse_spec
from archspec.limits import Limits
from archspec.report import Report
from archspec.resources import params_problem, require_memory
from archspec.train.resolve import recipe_problems


def check_spec(spec, params: dict | None = None, limits: Limits | None = None, inputs=None) -> Report:
    """Check a spec completely; problems are in report.diagnostics, never raised. `inputs` checks
    it at other input shapes: one shape, or {input name: shape}."""
    report = _check(spec, params, limits, inputs)
    if report.spec is not None:
        note_imports(report.spec, report.diagnostics)
    return report


def _check(spec, params, limits, inputs) -> Report:
    try:
        loaded, schema_problems = parse_spec(spec)
    except ArchspecError as e:
        return Report.failed(e.diagnostics, e.sources)
    broken = [path for path, _ in schema_problems]
    frame_broken = any(len(path) < 2 or path[0] not in ("layers", "blocks") for path in broken)  # not in an item or a block
    blocks, bad_blocks = ([], set()) if frame_broken else block_problems(loaded)
    schema_problems = [(p, d) for p, d in schema_problems if not read_as_op(loaded, p, bad_blocks)]
    diagnostics = [d for _, d in schema_problems] + recipe_problems(loaded) + blocks  # every stage adds to this list
    if inputs is not None and not schema_problems:
        loaded = override_inputs(loaded, inputs, diagnostics)
    report = Report(loaded, diagnostics=diagnostics)
    if frame_broken or loaded.is_library:
        return report.sorted()  # the spec's frame is broken: items can't be read; a library has none to expand
    diagnostics += naming_hints(loaded)
    limits = limits or Limits()
    try:
        graph = Expander(loaded, dict(params or {}), limits, broken, diagnostics, bad_blocks).run()
    except ArchspecError as e:
        diagnostics += e.diagnostics
        return report.sorted()
    except RecursionError:  # blocks within blocks within sub-lists, each within the limits
        where = loaded.locate(("layers",), key=True)
        diagnostics.append(Diagnostic(where, Code.TOO_DEEP, "blocks and sub-lists are nested too deeply to expand: "
                                      "flatten some of them"))
        return report.sorted()
    if graph.outputs:
        diagnostics += check_graph(graph)
    diagnostics += count(graph)
    report.graph = graph
    report.sorted()
    if report.ok:  # only a model that checks has a parameter count to compare
        too_big = params_problem(report, limits.max_params)
        diagnostics += [too_big] if too_big else []
    return report


def build_module(spec, params: dict | None = None, limits: Limits | None = None, inputs=None):
    """Check, then emit a torch.fx.GraphModule; raises the typed error of a failed check."""
    report = check_spec(spec, params, limits, inputs).require_model()
    require_memory(report, "cpu")  # before any weight exists
    from archspec.compiler.emit import emit

    return emit(report)
