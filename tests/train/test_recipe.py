"""Option resolution: precedence, located errors, contradictions refused before any work."""
from __future__ import annotations

import pytest

from archspec.errors import SpecError
from archspec.lang.loader import locate_in
from archspec.train import resolve as rec


def spec_layer(text: str, file="s.yaml"):
    import yaml

    values = yaml.safe_load(text)
    return rec.Layer("spec", values["train"], file, text, locate_in(text, file).locate)


def test_precedence_flags_over_config_over_spec_over_defaults():
    spec = spec_layer("train:\n  epochs: 3\n  batch_size: 16\n  lr: 0.5\n")
    config = rec.Layer("config", {"batch_size": 32, "lr": 0.25}, "c.yaml")
    flags = rec.Layer("flag", {"lr": 0.125})
    r = rec.resolve([spec, config, flags])
    assert (r.epochs, r.batch_size, r.lr, r.optimizer) == (3, 32, 0.125, "sgd")
    assert r.where("lr") == "--lr" and r.where("batch_size").startswith("batch_size (c.yaml")


def test_nested_optimizer_form_and_yaml_off():
    r = rec.resolve([spec_layer("train:\n  optimizer: {sgd: {lr: 0.9, momentum: 0.5}}\n  amp: off\n")])
    assert (r.optimizer, r.lr, r.momentum, r.amp) == ("sgd", 0.9, 0.5, "off")


def test_default_lr_depends_on_optimizer_and_seed_is_drawn():
    r = rec.resolve([rec.Layer("flag", {"optimizer": "adam"})])
    assert r.lr == 1e-3 and isinstance(r.seed, int)


def test_unknown_key_is_located_with_did_you_mean():
    text = "name: x\ntrain:\n  epochs: 2\n  batch_sise: 8\n"
    with pytest.raises(SpecError) as exc:
        rec.resolve([spec_layer(text)])
    msg = str(exc.value)
    assert "s.yaml:4:15" in msg and "unknown train option 'batch_sise'" in msg and "did you mean 'batch_size'" in msg


def test_bad_value_in_nested_optimizer_points_at_it():
    text = "train:\n  optimizer: {sgd: {lr: -1}}\n"
    with pytest.raises(SpecError) as exc:
        rec.resolve([spec_layer(text)])
    assert "s.yaml:2:" in str(exc.value) and "lr" in str(exc.value)


def test_enum_typo_suggests_and_transform_typo_is_located():
    with pytest.raises(SpecError, match="did you mean 'cosine'"):
        rec.resolve([spec_layer("train:\n  schedule: cosin\n")])
    with pytest.raises(SpecError) as exc:
        rec.resolve([spec_layer("train:\n  transforms:\n    resise: 96\n")])
    assert "s.yaml:3:" in str(exc.value) and "did you mean 'resize'" in str(exc.value)


def test_run_only_keys_are_explained():
    with pytest.raises(SpecError, match="'resume' is a command-line option"):
        rec.resolve([spec_layer("train:\n  resume: runs/x\n")])
    with pytest.raises(SpecError, match="'set': --set on the command line is 'params' in a recipe"):
        rec.resolve([spec_layer("train:\n  set: {width: 4}\n")])


@pytest.mark.parametrize("values, needle", [
    ({"loss": "mse", "label_smoothing": 0.1}, "--label-smoothing: label smoothing only applies to cross_entropy"),
    ({"optimizer": "adam", "momentum": 0.9}, "--momentum: only applies to sgd"),
    ({"nesterov": True}, "--nesterov: Nesterov momentum needs --momentum > 0"),
    ({"schedule": "onecycle", "warmup": 1}, "--warmup: onecycle has its own warm-up"),
    ({"epochs": 2, "warmup": 2}, "--warmup: warm-up of 2 epochs leaves no training"),
    ({"gamma": 0.5}, "--gamma: only applies to --schedule step"),
    ({"data": "digits", "download": True}, "--download: only mnist, fashion-mnist and cifar10"),
])
def test_contradictions_name_the_options(values, needle):
    with pytest.raises(rec.OptionError) as exc:
        rec.resolve([rec.Layer("flag", values)])
    assert needle in str(exc.value)


def test_contradiction_across_layers_names_both_sources():
    with pytest.raises(rec.OptionError) as exc:
        rec.resolve([spec_layer("train:\n  loss: mse\n"), rec.Layer("flag", {"label_smoothing": 0.1})])
    assert "--label-smoothing" in str(exc.value) and "loss (s.yaml:2:" in str(exc.value)


def test_transforms_and_params_merge_key_by_key():
    spec = spec_layer("train:\n  transforms: {resize: 96, hflip: true}\n  params: {size: 96, ratio: 4}\n")
    flags = rec.Layer("flag", {"transforms": {"hflip": False, "normalize": True}, "params": {"ratio": 2}})
    r = rec.resolve([spec, flags])
    assert r.transforms == {"resize": [96, 96], "normalize": "auto"}
    assert r.params == {"size": 96, "ratio": 2}


FOR_DATA = """train:
  data: fashion-mnist
  batch_size: 256
  optimizer: {sgd: {lr: 1.0}}
  transforms: {resize: 96}
  for_data:
    digits: {batch_size: 32, optimizer: {sgd: {lr: 0.3}}, transforms: {hflip: true}}
"""


def test_for_data_applies_only_to_the_chosen_data_and_inside_its_layer():
    r = rec.resolve([spec_layer(FOR_DATA)])
    assert (r.data, r.batch_size, r.lr, r.transforms) == ("fashion-mnist", 256, 1.0, {"resize": [96, 96]})
    r = rec.resolve([spec_layer(FOR_DATA), rec.Layer("flag", {"data": "digits"})])
    assert (r.batch_size, r.lr) == (32, 0.3)
    assert r.transforms == {"resize": [96, 96], "hflip": 0.5}  # merged key by key with the layer's own
    assert r.where("batch_size") == "for_data.digits.batch_size (s.yaml:7:26)"
    assert r.where("lr") == "for_data.digits.optimizer.sgd.lr (s.yaml:7:52)"
    # a higher layer still wins over the spec's adaptation
    r = rec.resolve([spec_layer(FOR_DATA), rec.Layer("flag", {"data": "digits", "batch_size": 8})])
    assert (r.batch_size, r.lr) == (8, 0.3)
    assert "for_data" not in r.to_dict()


@pytest.mark.parametrize("entry, needle, where", [
    ("digts: {epochs: 1}", "unknown data kind 'digts' (did you mean 'digits'?)", "s.yaml:3:"),
    ("digits: {epohcs: 1}", "unknown train option 'epohcs'", "s.yaml:3:"),
    ("digits: {batch_size: 0}", "batch_size", "s.yaml:3:"),
    ("digits: {data: mnist}", "train.for_data.digits: 'data' cannot be set here", "s.yaml:3:"),
    ("digits: 32", "a train recipe must be a mapping", "s.yaml:3:"),
])
def test_for_data_mistakes_are_located(entry, needle, where):
    with pytest.raises(SpecError) as exc:
        rec.resolve([spec_layer(f"train:\n  for_data:\n    {entry}\n")])
    assert needle in str(exc.value) and where in str(exc.value)


def test_for_data_is_not_a_flag():
    with pytest.raises(rec.OptionError, match="for_data belongs in a recipe"):
        rec.resolve([rec.Layer("flag", {"for_data": {"digits": {"epochs": 1}}})])


def test_a_recipe_is_a_frozen_value_and_a_later_decision_is_a_new_one():
    import dataclasses
    import pickle

    import yaml

    from archspec.train.recipe import OPTIONS, Recipe

    r = rec.resolve([rec.Layer("flag", {"transforms": {"normalize": True}, "params": {"width": 4}})])
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.lr = 1.0
    with pytest.raises(TypeError):
        r.transforms["hflip"] = 0.5  # the mappings are read-only views too
    decided = dataclasses.replace(r, transforms={**r.transforms, "normalize": {"mean": [0.5], "std": [0.25]}})
    assert r.transforms == {"normalize": "auto"} and decided.transforms["normalize"] == {"mean": [0.5], "std": [0.25]}
    assert decided.where("params") == "--set" and decided.where("lr") == "lr (default)"
    plain = decided.to_dict()
    assert list(plain) == list(OPTIONS) and yaml.safe_load(yaml.safe_dump(plain)) == plain  # config.yaml's form
    assert Recipe.from_dict(plain) == decided
    sent = pickle.loads(pickle.dumps(decided))  # as torchrun's ranks receive it
    assert sent == decided and dict(sent.origins) == dict(decided.origins)
