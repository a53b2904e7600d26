"""`archspec check` and `archspec schema`: the fast, torch-free linter and its schema."""
from __future__ import annotations

import json
import sys

import click

from archspec.cli.options import (OPTIONS, input_option, limit_options, limits_from, parse_pairs, plugin_option,
                                  recipe_flag, set_option, shapes_from, spec_options)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
@input_option
@spec_options
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table for people or one JSON object for tools.")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Sum the rows below this module depth.")
@recipe_flag(OPTIONS["freeze"], help="Count what this glob over module paths matches as frozen, as `archspec train "
                                     "--freeze` will: layer1, 'layer*' (repeatable).")
@limit_options
def check(spec, sets, inputs, fmt, depth, freeze, **limits):
    """Check SPEC's structure and every tensor shape, without torch.

    Exits 0 when the spec is valid and 1 when it has errors.
    """
    from archspec import check as run_check

    from pathlib import Path

    report = run_check(Path(spec), limits=limits_from(**limits), input=shapes_from(inputs), **parse_pairs(sets))
    report = report.freezing(freeze)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(depth), indent=2))
        sys.exit(0 if report.ok else 1)
    if not report.ok:
        raise report.error()
    click.echo(report.table(depth))
    if report.warnings:
        from archspec.diagnostics import render

        click.echo(render(report.warnings, report.sources, color=sys.stderr.isatty()), err=True)
    _warn_memory(report)


def _warn_memory(report) -> None:
    from archspec.report import human_bytes
    from archspec.resources import free_bytes, needed_bytes

    need, free = needed_bytes(report), free_bytes("cpu")
    if free is not None and need > free:
        click.echo(f"warning: building this model needs {human_bytes(need)} but this machine has {human_bytes(free)} "
                   "free: archspec build and train will refuse it here", err=True)


@click.command()
@plugin_option
@click.option("--library", is_flag=True, help="The schema of a block library (a file specs import) instead.")
def schema(library):
    """Print the JSON Schema of the spec format (for editors' YAML language servers)."""
    from archspec.lang.schema import library_schema, spec_schema

    click.echo(json.dumps(library_schema() if library else spec_schema(), indent=2))
