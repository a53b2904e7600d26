"""`archspec check` and `archspec schema`: the fast, torch-free linter and its schema."""
from __future__ import annotations

import json
import sys

import click

from archspec.cli.options import parse_sets, plugin_option, set_option


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
@plugin_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table for people or one JSON object for tools.")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Sum the rows below this module depth.")
def check(spec, sets, fmt, depth):
    """Check SPEC's structure and every tensor shape, without torch.

    Exits 0 when the spec is valid and 1 when it has errors.
    """
    from archspec import check as run_check

    report = run_check(spec, **parse_sets(sets))
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(depth), indent=2))
    elif report.ok:
        click.echo(report.table(depth))
    else:
        color = sys.stderr.isatty()
        from archspec.diagnostics import render

        click.echo(render(report.diagnostics, report.sources, color=color), err=True)
        n = len(report.diagnostics)
        click.echo(f"{n} error{'s' if n != 1 else ''} in {spec}", err=True)
    sys.exit(0 if report.ok else 1)


@click.command()
@plugin_option
def schema():
    """Print the JSON Schema of the spec format (for editors' YAML language servers)."""
    from archspec.spec.schema import spec_schema

    click.echo(json.dumps(spec_schema(), indent=2))
