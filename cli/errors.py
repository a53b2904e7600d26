"""The one place where errors become what the user sees and the exit code.

Every command runs under `handled` (the `archspec` group wraps them all): an ArchspecError is
printed as the compiler shows diagnostics (`FILE:LINE:COL: error: ...`, the source line, a
caret), followed by `N errors in FILE` when it comes from one file, and exits with its class's
code (1 a spec or data problem, 2 usage, 130 an interrupt). Click's own usage errors print with
the same `error:` prefix, so every message archspec prints starts alike."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from archspec.diagnostics import printable
from archspec.errors import ArchspecError, Interrupted, Reported


@contextmanager
def handled(ctx: click.Context | None):
    """Run a command: errors are printed once, here, and end the process with their exit code."""
    try:
        yield
    except click.ClickException as exc:
        if isinstance(exc, click.UsageError):
            _usage(exc.ctx)
        _echo(f"error: {printable(exc.format_message())}")
        sys.exit(exc.exit_code)
    except Reported:  # under torchrun: another process printed it
        sys.exit(Reported.exit_code)
    except ArchspecError as exc:
        if exc.exit_code == 2:
            _usage(_command_context(ctx))
        show(exc)
        sys.exit(exc.exit_code)
    except Interrupted as exc:
        if not _rank_prefix():
            _echo(f"\n{exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _echo("\ninterrupted")
        sys.exit(Interrupted.exit_code)


def show(exc: ArchspecError) -> None:
    """The error's diagnostics, then how many there are in which file."""
    _echo(_rank_prefix() + exc.format(color=sys.stderr.isatty()))
    n = sum(d.severity == "error" for d in exc.diagnostics)
    if len(exc.sources) == 1 and n:
        _echo(f"{n} error{'s' if n != 1 else ''} in {printable(next(iter(exc.sources)))}")


def _echo(text: str) -> None:
    click.echo(text, err=True)


def _usage(ctx: click.Context | None) -> None:
    """The command's usage line and where its help is, as click shows them above a usage error."""
    if ctx is None:
        return
    names = ctx.command.get_help_option_names(ctx)
    hint = f"Try '{ctx.command_path} {max(names, key=len)}' for help.\n" if names else ""
    _echo(f"{ctx.get_usage()}\n{hint}")


def _command_context(ctx: click.Context | None) -> click.Context | None:
    """The context of the subcommand that was running (for its usage line), or the group's."""
    name = ctx.invoked_subcommand if ctx is not None else None
    command = ctx.command.get_command(ctx, name) if name else None
    return click.Context(command, info_name=name, parent=ctx) if command is not None else ctx


def _rank_prefix() -> str:
    """'rank N: ' in a training process other than rank 0 under torchrun; '' everywhere else.
    Only training starts several processes, so only a loaded archspec.train can say."""
    distributed = sys.modules.get("archspec.train.distributed")
    return distributed.rank_prefix() if distributed is not None else ""
