"""The `archspec` command: a click group whose subcommands load on first use, and which runs
each of them under the one error handler (cli/errors.py).

Lazy loading keeps `archspec check` free of torch and fast to start.
"""
from __future__ import annotations

import importlib

import click

from archspec.cli.errors import handled

# command name -> "module:attribute" under archspec.cli
COMMANDS = {
    "check": "check:check",
    "schema": "check:schema",
    "train": "train:train",
    "eval": "train:evaluate",
    "plot": "train:plot",
    "generate": "generate:generate",
    "export": "export:export",
    "graph": "graph:graph",
    "ops": "tooling:ops",
    "list": "tooling:list_specs",
    "new": "tooling:new",
    "diff": "tooling:diff",
    "lsp": "lsp:lsp",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"archspec.cli.{module}"), attr)

    def make_context(self, info_name, args, parent=None, **extra):
        with handled(None):  # a mistake in the group's own options
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        with handled(ctx):
            return super().invoke(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="archspec")
def main():
    """archspec: write a network as a YAML spec; check its shapes; build and train it."""


if __name__ == "__main__":
    main()
