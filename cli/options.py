"""Options shared by commands: KEY=VALUE pairs, flags made from the recipe's table, --plugin,
--lib-path, --input, --max-*."""
from __future__ import annotations

import click
import yaml

from archspec.errors import ArchspecError, UsageError
from archspec.train.recipe import OPTIONS, Option, short


def parse_pairs(pairs, option: str = "--set") -> dict:
    """KEY=VALUE pairs (--set, --set-a, --set-b, --transform), all read by one rule: VALUE is read
    as YAML reads the value after `KEY:` in a spec (`4` an int, `0.5` a float, `true`, `[1, 2]` a
    list, `{a: 1}` a mapping, `relu` text), so an empty VALUE is null, as `KEY:` is; quote text
    YAML would read otherwise (`KEY='"4"'`, `KEY='""'` for empty text). A pair without `=` or
    with a VALUE YAML cannot read is a usage error (exit 2) naming the option."""
    out = {}
    for pair in pairs or ():
        key, eq, text = pair.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"{option} {short(pair)}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UsageError(f"{option} {short(pair)}: the value is not valid YAML") from None
        except ValueError:  # an integer over Python's 4,300-digit limit
            raise UsageError(f"{option} {short(pair)}: the value is too long a number to read") from None
    return out


def recipe_flag(option: Option, dest: str | None = None, help: str | None = None):
    """The click option of a recipe option, made from its row in the recipe's table (type, choices,
    lower bound of an integer as --help shows it; every bound is checked with the recipe's schema)."""
    schema, kw = option.schema, {"default": None, "help": option.help_text if help is None else help}
    names = [option.flag]
    types = [schema["type"]] if isinstance(schema.get("type"), str) else schema.get("type", [])
    if "boolean" in types or schema.get("enum") == [True, False, "auto"]:
        names = [f"{option.flag}/--no-{option.flag[2:]}"]
    elif "enum" in schema:
        kw["type"] = click.Choice(schema["enum"])
    elif "integer" in types:
        kw["type"] = click.IntRange(min=schema["minimum"])
    elif "number" in types:
        kw["type"] = float
    elif "object" in types or "array" in types:  # repeatable: KEY=VALUE pairs, or a list
        kw.update(multiple=True, default=())
        if "enum" in schema.get("items", {}):
            kw["type"] = click.Choice(schema["items"]["enum"])
    if option.metavar:
        kw["metavar"] = option.metavar
    return click.option(*names, dest or option.name, **kw)


set_option = recipe_flag(OPTIONS["params"], dest="sets")


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


def _add_lib_paths(ctx, param, values):
    from archspec.lang.imports import add_search_path

    for value in values:
        try:
            add_search_path(value)
        except ArchspecError as e:
            raise click.BadParameter(str(e.diagnostics[0].message), ctx=ctx, param=param) from None
    return values


lib_path_option = click.option(
    "--lib-path", multiple=True, metavar="DIR", expose_value=False, callback=_add_lib_paths,
    help="A folder of block libraries that specs may import by name (`imports: [NAME]` reads DIR/NAME.yaml), "
         "searched before the bundled ones; files in it may also be imported by path. Repeatable.",
)


def spec_options(fn):
    """--plugin and --lib-path: what every command that reads a spec needs to read it."""
    return plugin_option(lib_path_option(fn))


class ShapeType(click.ParamType):
    """`3,160,160` or `NAME=3,160,160` -> (NAME or None, (3, 160, 160))."""

    name = "[NAME=]SIZES"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        name, _, sizes = str(value).rpartition("=")
        try:
            shape = tuple(int(size) for size in sizes.split(","))
        except ValueError:
            self.fail(f"{short(value)}: expected sizes separated by commas (3,160,160), or NAME=3,160,160 for one "
                      "of several inputs", param, ctx)
        if any(size < 1 for size in shape):
            self.fail(f"{short(value)}: sizes must be positive integers", param, ctx)
        return name.strip() or None, shape


input_option = click.option(
    "--input", "inputs", type=ShapeType(), multiple=True,
    help="Check at another input shape, batch excluded: --input 3,160,160; with several inputs, name each: "
         "--input image=3,160,160 --input tokens=77. Repeatable.",
)


def shapes_from(inputs) -> tuple | dict | None:
    """What archspec.check(input=...) takes, from the --input values: one shape, or {name: shape}."""
    if not inputs:
        return None
    if len(inputs) == 1 and inputs[0][0] is None:
        return inputs[0][1]
    named = {}
    for name, shape in inputs:
        if name is None:
            raise UsageError(f"--input {','.join(map(str, shape))}: with more than one --input, name each (NAME=3,160,160)")
        if name in named:
            raise UsageError(f"--input {name}=...: given twice")
        named[name] = shape
    return named


def limit_option(name: str, what: str):
    """--max-nodes, --max-repeat or --max-params, its default shown from archspec.Limits."""
    from archspec.limits import Limits

    default = getattr(Limits(), name[2:].replace("-", "_"))
    shown = "none" if default is None else f"{default:,}"
    return click.option(name, type=click.IntRange(min=1), default=None, metavar="N", help=f"{what} (default {shown}).")


def limit_options(fn):
    """--max-nodes, --max-repeat, --max-params: raise (or lower) archspec.Limits."""
    for name, what in reversed([("--max-nodes", "Most primitive nodes a spec may expand to"),
                                ("--max-repeat", "Most copies one repeat may make"),
                                ("--max-params", "Most parameters a model may have")]):
        fn = limit_option(name, what)(fn)
    return fn


def limits_from(max_nodes=None, max_repeat=None, max_params=None):
    """The Limits the --max-* options ask for (defaults where an option is not given)."""
    from dataclasses import replace

    from archspec.limits import Limits

    given = {"max_nodes": max_nodes, "max_repeat": max_repeat, "max_params": max_params}
    return replace(Limits(), **{k: v for k, v in given.items() if v is not None})
