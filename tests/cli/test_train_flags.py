"""One source for every option: `archspec train`'s flags are the recipe's table (archspec/train/recipe.py),
each option exactly one flag with the table's choices and bounds, and no flag beside them but a run's own."""
from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from archspec.cli.main import main
from archspec.cli.train import evaluate, train
from archspec.train import resolve
from archspec.train.recipe import OPTIONS, RUN_ONLY

RECIPE_ONLY = {"for_data"}  # a layer's adaptation to the data: written in a recipe, never a flag


def flag_of(command: click.Command, flag: str) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and flag in p.opts]


def types(schema: dict) -> list[str]:
    return [schema["type"]] if isinstance(schema.get("type"), str) else schema.get("type", [])


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_every_recipe_option_is_exactly_one_flag_of_the_same_kind(name):
    option = OPTIONS[name]
    (param,) = flag_of(train, option.flag)
    schema = option.schema
    assert param.name == name and param.default in (None, ())
    if "boolean" in types(schema) or schema.get("enum") == [True, False, "auto"]:
        assert param.is_flag and param.secondary_opts == ["--no-" + option.flag[2:]]
    elif "enum" in schema:
        assert list(param.type.choices) == schema["enum"]
    elif "integer" in types(schema):
        assert isinstance(param.type, click.IntRange) and param.type.min == schema["minimum"]
    elif "number" in types(schema):
        assert param.type is click.FLOAT
    elif "object" in types(schema):
        assert param.multiple and param.metavar == option.metavar
    elif "array" in types(schema):  # repeatable, each value one item (of the items' choices, if any)
        assert param.multiple and param.metavar == option.metavar
        items = schema["items"]
        assert list(param.type.choices) == items["enum"] if "enum" in items else param.type is click.STRING
    else:
        assert param.type is click.STRING and types(schema) in (["string"], ["string", "null"])
    assert param.help == option.help_text and "{default}" not in param.help


def test_every_flag_is_a_recipe_option_or_belongs_to_the_run():
    from archspec.cli.options import spec_options

    recipe_flags = {OPTIONS[name].flag for name in OPTIONS}
    run_flags = {"--" + name.replace("_", "-") for name in RUN_ONLY}
    reading = {p.opts[0] for p in click.command()(spec_options(lambda: None)).params}  # --plugin, --lib-path
    flags = [p.opts[0] for p in train.params if isinstance(p, click.Option)]
    assert len(flags) == len(set(flags))
    assert set(flags) == recipe_flags | run_flags | reading
    assert set(OPTIONS) | RECIPE_ONLY == set(resolve.SCHEMA["properties"])


@pytest.mark.parametrize("name", sorted(n for n, o in OPTIONS.items() if "maximum" in o.schema))
def test_an_upper_bound_holds_for_the_flag_as_in_a_recipe(name):
    high = OPTIONS[name].schema["maximum"]
    over = high + 1 if isinstance(high, int) else high * 2
    with pytest.raises(resolve.OptionError, match=f"{OPTIONS[name].flag}: .* is greater than the maximum of {high}"):
        resolve.validate_layer(resolve.Layer("flag", {name: over}))


def test_eval_flags_are_the_same_options(tmp_path):
    for name in ("data", "data_dir", "batch_size", "device"):
        (param,) = flag_of(evaluate, OPTIONS[name].flag)
        assert param.type.name == flag_of(train, OPTIONS[name].flag)[0].type.name
    (tmp_path / "t.yaml").write_text("archspec: 1\ninput: [4]\nlayers: [{linear: 2}]\n")
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "t.yaml"), "--checkpoint", str(tmp_path),
                                       "--batch-size", "2000000"])
    assert result.exit_code == 2 and "--batch-size: 2000000 is greater than the maximum of 1000000" in result.output
