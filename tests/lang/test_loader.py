"""The front end's one YAML location finder: every key and value of a spec, or of any YAML
text (a --config recipe), at its line and column."""
from __future__ import annotations

import archspec
from archspec.errors import Loc
from archspec.lang.loader import locate_in

RECIPE = """\
epochs: 3
optimizer:
  sgd: {lr: 0.1}
for_data:
  digits:
    batch_size: 32
"""


def test_a_spec_locates_values_keys_and_the_nearest_parent():
    spec = archspec.load("archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - {conv2d: {out: 4, kernel: 3}}\n")
    assert spec.locate(("layers", 0, "conv2d", "kernel")) == Loc("<spec>", 4, 31)
    assert spec.locate(("layers", 0, "conv2d", "kernel"), key=True) == Loc("<spec>", 4, 23)
    assert spec.locate(("layers", 0, "conv2d", "stride")) == Loc("<spec>", 4, 14)  # not written: its mapping
    assert spec.locate(("nothing", "here")) == Loc("<spec>", 1, 1)


def test_any_yaml_text_is_located_values_first_else_the_nearest_parent():
    found = locate_in(RECIPE, "r.yaml")
    paths = [("epochs",), ("optimizer", "sgd", "lr"), ("for_data", "digits", "batch_size"), ("optimizer", "adam"), ("x",)]
    assert [found.locate(p) for p in paths] == [
        Loc("r.yaml", 1, 9), Loc("r.yaml", 3, 13), Loc("r.yaml", 6, 17), Loc("r.yaml", 3, 3), Loc("r.yaml", 1, 1)]


def test_text_that_is_not_yaml_places_everything_at_its_start():
    assert locate_in("a: [1, 2\n", "bad.yaml").locate(("a", 0)) == Loc("bad.yaml", 1, 1)
    assert locate_in("[" * 100_000, "deep.yaml").locate(("a",)) == Loc("deep.yaml", 1, 1)  # the guards still run
