"""Option parsing shared by commands: `--set k=v` pairs with YAML-typed values."""
from __future__ import annotations

import click
import yaml


def parse_sets(pairs: tuple[str, ...], option: str = "--set") -> dict:
    """['ratio=4', 'act=relu'] -> {'ratio': 4, 'act': 'relu'}; values read as YAML scalars."""
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, found {pair!r}", param_hint=option)
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        except ValueError:  # an integer over Python's 4,300-digit limit
            shown = pair if len(pair) <= 60 else f"{pair[:40]}... ({len(pair):,} characters)"
            raise click.BadParameter(f"{shown}: the value is too long a number to read", param_hint=option) from None
        if isinstance(value, dict):
            value = raw
        out[key.strip()] = value
    return out


set_option = click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE",
    help="Override a spec param (repeatable); the value is read as YAML: --set num_classes=10.",
)


def _load_plugins(ctx, param, values):
    from archspec.plugins import PluginError, load_plugin

    for value in values:
        try:
            load_plugin(value)
        except PluginError as e:
            raise click.BadParameter("; ".join(d.message for d in e.diagnostics), ctx=ctx, param=param) from None
    return values


plugin_option = click.option(
    "--plugin", multiple=True, metavar="MODULE[:CLASS]", expose_value=False, callback=_load_plugins,
    help="Load your own ops: import MODULE (it calls archspec.register_op), or register MODULE:CLASS "
         "(an nn.Module or Op class); MODULE may be a .py file. Repeatable.",
)


def _limit(name: str, what: str, default):
    shown = "none" if default is None else f"{default:,}"
    return click.option(name, type=click.IntRange(min=1), default=None, metavar="N", help=f"{what} (default {shown}).")


def limit_options(fn):
    """--max-nodes, --max-repeat, --max-params: raise (or lower) archspec.Limits."""
    from archspec.limits import Limits

    for name, what in reversed([("--max-nodes", "Most primitive nodes a spec may expand to"),
                                ("--max-repeat", "Most copies one repeat may make"),
                                ("--max-params", "Most parameters a model may have")]):
        fn = _limit(name, what, getattr(Limits(), name[2:].replace("-", "_")))(fn)
    return fn


def limits_from(max_nodes=None, max_repeat=None, max_params=None):
    """The Limits the --max-* options ask for (defaults where an option is not given)."""
    from dataclasses import replace

    from archspec.limits import Limits

    given = {"max_nodes": max_nodes, "max_repeat": max_repeat, "max_params": max_params}
    return replace(Limits(), **{k: v for k, v in given.items() if v is not None})
