"""The one KEY=VALUE rule of --set, --set-a/--set-b and --transform: VALUE is read as YAML reads the
value after `KEY:` in a spec (so an empty VALUE is null); what YAML cannot read is a usage error."""
from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from archspec.cli.main import main
from archspec.cli.options import parse_pairs
from archspec.errors import UsageError

PAIRS = ["n=4", "p=0.5", "flag=true", "size=[32, 48]", "norm={mean: [0.5], std: [0.25]}", "act=relu", "empty=",
         "text=''", "quoted='4'", " key = 7", "eq=a=b"]


def test_a_value_is_what_yaml_reads_after_the_key_in_a_spec():
    spec_text = "\n".join(f"{pair.partition('=')[0].strip()}: {pair.partition('=')[2]}" for pair in PAIRS)
    assert parse_pairs(PAIRS) == yaml.safe_load(spec_text)  # YAML itself is the reference
    assert parse_pairs(PAIRS)["empty"] is None and parse_pairs(PAIRS)["text"] == ""
    assert parse_pairs(PAIRS)["eq"] == "a=b"  # split at the first '='


@pytest.mark.parametrize("pair, message", [
    ("size", "--transform 'size': expected KEY=VALUE"),
    ("=4", "--transform '=4': expected KEY=VALUE"),
    ("size=[1,", "--transform 'size=[1,': the value is not valid YAML"),
    ("x=!!python/object/apply:os.system ['true']", "the value is not valid YAML"),
    ("n=" + "9" * 5000, "the value is too long a number to read"),
])
def test_what_yaml_cannot_read_is_a_usage_error(pair, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_pairs([pair], "--transform")


def test_every_command_reads_pairs_alike(tmp_path):
    (tmp_path / "t.yaml").write_text("archspec: 1\nparams: {n: 3}\ninput: [4]\nlayers: [{linear: $n}]\n")
    for args in (["check", "--set", "n=[1,"], ["diff", "t.yaml", "--set-a", "n=[1,"],
                 ["train", "--transform", "hflip=[1,"]):
        result = CliRunner().invoke(main, [args[0], str(tmp_path / "t.yaml"), *args[1:]])
        assert result.exit_code == 2 and "the value is not valid YAML" in result.output, (args, result.output)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "t.yaml"), "--set", "n="])
    assert result.exit_code == 1 and "found nothing (null)" in result.output, result.output  # empty is null, as in YAML
