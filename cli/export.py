"""`archspec export`: a spec (and optionally its trained weights) as ONNX, TorchScript or
a standalone PyTorch .py file."""
from __future__ import annotations

from pathlib import Path

import click

from archspec.cli.options import parse_pairs, set_option, spec_options
from archspec.export import FORMATS

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "python": ".py", "safetensors": ".safetensors"}


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="What to write (default: from -o's suffix: .onnx, .pt, .py, .safetensors).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="The file to write (default: the spec's name with the format's suffix, here).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Load these weights first: a state_dict, a training checkpoint (its 'model') or .safetensors.")
@set_option
@spec_options
@click.option("--dynamo", is_flag=True,
              help="ONNX: use torch's torch.export-based exporter (slower; needs onnxscript).")
@click.option("--verify", is_flag=True,
              help="Run the written file on random input (batch sizes 1 and 3) and compare with the spec's module.")
@click.option("--force", is_flag=True,
              help="Write even over the checkpoint being read, or over an existing weights file beside a .py.")
def export(spec, fmt, out, checkpoint, sets, dynamo, verify, force):
    """Write SPEC as ONNX, TorchScript or PyTorch source, or its weights as safetensors.

    \b
      archspec export specs/resnet18.yaml -o resnet18.onnx
      archspec export specs/resnet18.yaml -o resnet18.py
      archspec export specs/d2l/lenet.yaml -o lenet.pt --checkpoint runs/lenet/best.pt
      archspec export specs/d2l/lenet.yaml -o lenet.safetensors --checkpoint runs/lenet/checkpoints/best.pt
    """
    from archspec.errors import ArchspecError
    from archspec.export import export as run

    params = parse_pairs(sets)
    fmt = _format(fmt, out)
    if dynamo and fmt != "onnx":
        raise click.UsageError("--dynamo applies to --format onnx only")
    if out is None:
        out = _default_name(spec) + SUFFIX[fmt]
    done = run(spec, fmt, out, params, checkpoint=checkpoint, dynamo=dynamo, force=force)
    for path in done.files:
        click.echo(f"wrote {path} ({_size(path)})")
    click.echo(f"{fmt} export of {done.report.spec.name} in {done.seconds:.1f} s")
    if verify:
        from archspec.export.verify import TOLERANCE, max_difference

        diff = max_difference(done)
        if diff > TOLERANCE:
            raise ArchspecError(f"{out} differs from the spec's module by {diff:.3g} (tolerance {TOLERANCE})")
        click.echo(f"verified: outputs match the spec's module (max abs difference {diff:.2g}, batch sizes 1 and 3)")


def _format(fmt, out) -> str:
    from archspec.export import format_for

    implied = format_for(out) if out else None
    if fmt and implied and implied != fmt:
        raise click.UsageError(f"-o {out} looks like {implied}, not {fmt}; pick one")
    if fmt or implied:
        return fmt or implied
    raise click.UsageError("say which format: --format onnx|torchscript|python|safetensors, or -o FILE with a "
                           ".onnx, .pt, .py or .safetensors suffix")


def _default_name(spec) -> str:
    from archspec import load
    from archspec.errors import ArchspecError

    try:
        return load(spec).name
    except ArchspecError:  # the export itself reports what is wrong with the spec
        return Path(spec).stem


def _size(path) -> str:
    from archspec.report import human_bytes

    return human_bytes(Path(path).stat().st_size)
