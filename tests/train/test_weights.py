"""--weights, --weights-skip, --freeze and --lr-for: what loads, what trains, and the reports
for what does not fit. The safetensors files are written by the safetensors library itself."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import archspec
from archspec import globs
from archspec.errors import ArchspecError
from archspec.train import checkpoint, tuning, weights
from archspec.train.recipe import Recipe


@pytest.fixture
def model(tiny_spec):
    torch.manual_seed(0)
    return archspec.build(tiny_spec)


def _other(state: dict) -> dict:
    return {k: torch.rand_like(v.float()).to(v.dtype) if v.is_floating_point() else v + 1 for k, v in state.items()}


@pytest.mark.parametrize("form", ["state_dict", "safetensors", "safetensors named .pt"])
def test_every_form_of_weights_file_loads_exactly(form, model, tmp_path):
    source = _other(model.state_dict())
    path = tmp_path / ("w.safetensors" if form == "safetensors" else "w.pt")
    if form == "state_dict":
        torch.save(source, path)
    else:  # told by its first bytes, not its name
        save_file(source, str(path))
    weights.load(model, path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.items())


def test_a_training_checkpoint_loads_its_model(model, tiny_spec, cli, tmp_path):
    result = cli("train", tiny_spec, "--data", "synthetic:64", "--epochs", "1", "--seed", "1", "--out", "run")
    assert result.exit_code == 0, result.output
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    source = checkpoint.read(path)["model"]
    weights.load(model, path)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in source.items())


def test_a_mismatch_lists_missing_unexpected_and_mis_shaped_keys_in_a_few_lines(model, tmp_path):
    source = _other(model.state_dict())
    source.pop("0.bias")
    source["head.weight"] = torch.zeros(2)
    source["6.weight"] = torch.zeros(5, 64)
    torch.save(source, tmp_path / "w.pt")
    with pytest.raises(ArchspecError) as err:
        weights.load(model, tmp_path / "w.pt")
    lines = str(err.value).splitlines()
    assert lines[0] == f"error: --weights {tmp_path / 'w.pt'} does not fit the spec:"
    assert lines[1:] == ["  1 tensor of another shape (first: 6.weight is [5, 64] in the file, [3, 64] in the spec)",
                         "  1 key missing from the file (0.bias)", "  1 key the spec does not have (head.weight)"]


def test_a_new_head_is_named_and_skipped(model, tmp_path):
    """A 5-class file into a 3-class spec: the error says which --weights-skip loads the rest;
    with it, everything but the head loads and the head keeps its initialization."""
    source = _other(model.state_dict())
    source["6.weight"], source["6.bias"] = torch.zeros(5, 64), torch.zeros(5)
    torch.save(source, tmp_path / "w.pt")
    with pytest.raises(ArchspecError, match=r"add --weights-skip 6$"):
        weights.load(model, tmp_path / "w.pt")
    head = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("6.")}
    done = weights.load(model, tmp_path / "w.pt", skip=["6"])
    assert done.skipped == ["6.weight", "6.bias"]
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in head.items())
    assert all(torch.equal(state[k], v) for k, v in source.items() if not k.startswith("6."))


def test_a_pattern_that_matches_nothing_is_refused_with_a_suggestion(model, tmp_path):
    torch.save(model.state_dict(), tmp_path / "w.pt")
    with pytest.raises(ArchspecError, match="--weights-skip 7: matches none of the model's 9 tensors; .* here are "
                                            "0, 1, 6$"):
        weights.load(model, tmp_path / "w.pt", skip=["7"])
    with pytest.raises(ArchspecError, match="--freeze layer9: matches none"):
        tuning.freeze(model, ["layer9"])
    with pytest.raises(ArchspecError, match="--freeze layer1.0.bn: .*did you mean 'layer1.0.bn1'"):
        globs.require_matches("--freeze", ["layer1.0.bn"], ["layer1.0.bn1.weight", "fc.weight"])


@pytest.mark.parametrize("pattern,hits", [
    ("layer1", ["layer1.0.conv1.weight", "layer1.1.bn.bias"]),
    ("layer*", ["layer1.0.conv1.weight", "layer1.1.bn.bias", "layer2.0.conv1.weight"]),
    ("*.bn", ["layer1.1.bn.bias"]),
    ("fc.weight", ["fc.weight"]),
    ("layer", []),
])
def test_patterns_are_globs_over_module_paths(pattern, hits):
    names = ["conv1.weight", "layer1.0.conv1.weight", "layer1.1.bn.bias", "layer2.0.conv1.weight", "fc.weight"]
    assert globs.chosen(names, [pattern]) == hits


def test_freeze_and_lr_for_make_the_optimizer_groups(model):
    """Frozen parameters are in no group; --lr-for's patterns get their own lr; conflicting rates
    for one parameter are refused."""
    tuning.freeze(model, ["0"])
    assert tuning.counts(model) == (sum(p.numel() for n, p in model.named_parameters() if not n.startswith("0.")),
                                    4 * 9 + 4)
    groups = tuning.param_groups(model, 0.1, {"6": 0.01})
    named = {id(p): n for n, p in model.named_parameters()}
    assert [(g["lr"], sorted(named[id(p)] for p in g["params"])) for g in groups] == [
        (0.1, ["1.bias", "1.weight"]), (0.01, ["6.bias", "6.weight"])]
    with pytest.raises(ArchspecError, match="6.weight is matched by 6=0.01 and 6.weight=0.02"):
        tuning.param_groups(model, 0.1, {"6": 0.01, "6.weight": 0.02})
    tuning.freeze(model, ["*"])
    with pytest.raises(ArchspecError, match="nothing to train"):
        tuning.param_groups(model, 0.1, {})


def test_frozen_norms_keep_their_statistics_and_the_head_alone_trains(model):
    """A frozen batch norm runs in eval mode in training: its running statistics stay put too."""
    from archspec.train.data import Data, Split
    from archspec.train.loop import Batcher, Trainer
    from archspec.train.model import ModelInfo
    from archspec.train.progress import Progress
    from archspec.train.transforms import Pipeline

    tuning.freeze(model, ["0", "1"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    info = ModelInfo(model, "tiny", (1, 8, 8), 3, "out", "", "0" * 64, None, 0)
    x, y = torch.rand(32, 1, 8, 8), torch.randint(0, 3, (32,))
    r = Recipe(optimizer="sgd", lr=0.5, epochs=2, batch_size=8, channels_last=False, seed=0, lr_for={"6": 0.05})
    trainer = Trainer(info, Data("t", Split(x, y), None), r, torch.device("cpu"),
                      Batcher(Pipeline({}), (1, 8, 8), torch.device("cpu"), False), None, Progress(2, quiet=True), {})
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [0.5, 0.05]  # the base group is empty: all in 6
    trainer.fit()
    after = model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before if k.split(".")[0] in ("0", "1"))
    assert not torch.equal(after["6.weight"], before["6.weight"])
    assert isinstance(model.get_submodule("1"), nn.BatchNorm2d)


def test_a_frozen_run_with_its_own_head_rate_resumes(tiny_spec, cli, tmp_path):
    """--freeze and --lr-for are part of the recipe: a resumed run keeps them, and its optimizer state
    (two groups, the frozen weights in neither) is restored onto the same groups."""
    common = ("--data", "synthetic:64", "--batch-size", 16, "--seed", 3, "--out", "run")
    first = cli("train", tiny_spec, *common, "--epochs", 1, "--freeze", "0", "--lr-for", "6=0.01")
    assert first.exit_code == 0, first.output
    assert "(243 parameters: 203 trainable, 40 frozen)" in first.output  # conv 4 * 9 + 4; bn 8; linear 64 * 3 + 3
    before = checkpoint.read(tmp_path / "run")["model"]
    again = cli("train", "--resume", "run", "--epochs", 2)
    assert again.exit_code == 0, again.output
    state = checkpoint.read(tmp_path / "run")
    assert [(g["lr"], len(g["params"])) for g in state["optimizer"]["param_groups"]] == [(0.1, 2), (0.01, 2)]
    assert all(torch.equal(state["model"][k], before[k]) for k in ("0.weight", "0.bias"))
    changed = cli("train", "--resume", "run", "--epochs", 3, "--freeze", "1")
    assert changed.exit_code == 2 and "--freeze" in changed.output


@pytest.mark.parametrize("recipe,message", [
    ("  weights: w.pt\n", "a spec cannot name a weights file on this machine; pass --weights w.pt"),
    ("  weights_skip: [fc]\n", "says which tensors of a --weights file to leave out, but no --weights is given"),
    ("  lr_for: {fc: .nan}\n", "train.lr_for: expected a finite number"),
    ("  lr_for: {fc: 0}\n", "train.lr_for"),
    ("  freeze: fc\n", "train.freeze: 'fc' is not of type 'array', 'null'"),
])
def test_recipe_mistakes_in_fine_tuning_options(recipe, message, tiny_spec, cli):
    tiny_spec.write_text(tiny_spec.read_text() + "train:\n" + recipe)
    result = cli("train", tiny_spec, "--data", "synthetic:32")
    assert result.exit_code in (1, 2) and message in result.output, result.output
