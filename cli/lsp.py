"""`archspec lsp`: the language server, for editors."""
from __future__ import annotations

import click

from archspec.cli.options import spec_options
from archspec.errors import ArchspecError


@click.command()
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the default and only transport; "
              "accepted because editors pass it).")
@spec_options
def lsp(stdio):
    """Serve the Language Server Protocol over stdin/stdout for an editor.

    While you type a spec it shows archspec's diagnostics, each item's output shape (inlay
    hints and hover, with parameters and MACs), completes ops, arguments, blocks, ids and
    $params, and goes to definitions. Set-up for VS Code, Neovim and Helix: docs/editors.md.
    Needs the lsp extra: pip install 'archspec[lsp]'.
    """
    try:
        from archspec.lsp.server import serve
    except ImportError as e:
        raise ArchspecError(f"archspec lsp needs the lsp extra ({e.name} is missing): pip install 'archspec[lsp]'") from None
    serve()
