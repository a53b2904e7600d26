"""`archspec graph`: a picture of a spec's network (SVG or PNG through Graphviz, or DOT and
Mermaid text, which need nothing)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from archspec.cli.options import input_option, parse_pairs, set_option, shapes_from, spec_options
from archspec.draw import FORMATS


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Picture format (default: from -o's suffix: .svg .png .dot/.gv .mmd; dot on stdout).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="The file to write; '-' or none prints to stdout.")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Draw each scope deeper than this as one box (its block, params and output shape).")
@set_option
@input_option
@spec_options
def graph(spec, fmt, out, depth, sets, inputs):
    """Draw SPEC's network: layers with their output shapes, blocks as clusters.

    \b
      archspec graph specs/d2l/googlenet.yaml -o googlenet.svg
      archspec graph specs/resnet18.yaml --depth 2 -o resnet18.png
      archspec graph specs/d2l/lenet.yaml --format mermaid
    """
    from archspec import check
    from archspec.draw import SUFFIXES, draw
    from archspec.errors import ArchspecError

    to_file = out not in (None, "-")
    implied = SUFFIXES.get(Path(out).suffix.lower()) if to_file else None
    if fmt and implied and fmt != implied:
        raise click.UsageError(f"-o {out} looks like {implied}, not {fmt}; pick one")
    fmt = fmt or implied or (None if to_file else "dot")
    if fmt is None:
        raise click.UsageError(f"cannot tell the format from -o {out}: give --format svg|png|dot|mermaid")
    if fmt == "png" and out is None:
        raise click.UsageError("png is binary: write it to a file with -o FILE (or -o - to pipe it)")
    report = check(spec, input=shapes_from(inputs), **parse_pairs(sets)).require_model()
    picture = draw(report, fmt, depth)
    if isinstance(picture, str) and not to_file:  # the terminal sees control characters escaped
        from archspec.diagnostics import printable

        picture = printable(picture)
    data = picture.encode() if isinstance(picture, str) else picture
    if not to_file:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        raise ArchspecError(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out} ({fmt}, {len(data):,} bytes)")
