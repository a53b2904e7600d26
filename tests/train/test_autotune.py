"""channels_last: auto is decided by timing both layouts; the choice is remembered, and never
changes what is trained (the weights of a forced run with the same layout and seed)."""
from __future__ import annotations

import io
import json

import pytest
import torch
from torch import nn

from archspec.train import autotune
from archspec.train.checkpoint import load
from archspec.train.run import train

FAST = {"data": "synthetic:48", "epochs": 2, "batch_size": 16, "seed": 0, "device": "cpu"}


def _weights(run) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)["model"]


@pytest.fixture(autouse=True)
def measure_short_runs(monkeypatch):
    """These runs are a few steps long: measure them anyway (the real floor is tested below)."""
    monkeypatch.setattr(autotune, "MIN_RUN_STEPS", 0)


def test_a_run_too_short_to_pay_back_trains_in_nchw_unmeasured(tiny_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(autotune, "MIN_RUN_STEPS", 10**6)
    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("measured a run too short to pay it back"))
    train(str(tiny_spec), {**FAST, "epochs": 1}, out=str(tmp_path / "run"), stream=io.StringIO())
    assert load(tmp_path / "run")["recipe"]["channels_last"] is False
    assert not autotune.cache_path().exists()


def test_candidates_are_both_layouts_for_2d_conv_nets_on_cpu_and_cuda_only():
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(2))
    mlp, conv1d = nn.Sequential(nn.Flatten(), nn.Linear(64, 2)), nn.Sequential(nn.Conv1d(1, 4, 3))
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    assert autotune.candidates(conv, (1, 8, 8), cpu) == [False, True] == autotune.candidates(conv, (1, 8, 8), cuda)
    assert autotune.candidates(conv, (1, 8, 8), mps) == [False]
    assert autotune.candidates(mlp, (1, 8, 8), cpu) == [False] == autotune.candidates(conv1d, (1, 8), cpu)


def test_a_measured_run_trains_exactly_like_a_forced_run_and_a_rerun_does_not_measure(tiny_spec, tmp_path,
                                                                                       monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = io.StringIO()
    train(str(tiny_spec), dict(FAST), out=str(tmp_path / "measured"), stream=out)
    entries = json.loads(autotune.cache_path().read_text())
    (key, entry), = entries.items()
    assert "threads=" in key and "batch=16" in key and set(entry["step_s"]) == {"NCHW", "channels_last"}
    chosen = entry["channels_last"]
    assert min(entry["step_s"], key=entry["step_s"].get) == autotune.LAYOUTS[chosen]
    assert f"layout {autotune.LAYOUTS[chosen]}: " in out.getvalue() and "measured in" in out.getvalue()
    assert "timing a few training steps in NCHW and channels_last" in out.getvalue()

    train(str(tiny_spec), {**FAST, "channels_last": chosen}, out=str(tmp_path / "forced"), stream=io.StringIO())
    measured, forced = _weights(tmp_path / "measured"), _weights(tmp_path / "forced")
    assert all(torch.equal(measured[k], forced[k]) for k in forced)  # the RNG stream was not touched

    monkeypatch.setattr(autotune, "measure", lambda *a: pytest.fail("measured again despite the cache"))
    out = io.StringIO()
    train(str(tiny_spec), dict(FAST), out=str(tmp_path / "rerun"), stream=out)
    assert "as measured by an earlier run" in out.getvalue()
    assert "timing" not in out.getvalue()
    assert all(torch.equal(measured[k], v) for k, v in _weights(tmp_path / "rerun").items())


def test_the_key_names_what_the_speed_depends_on(tiny_spec):
    import archspec
    from archspec.train.model import build_model
    from archspec.train.recipe import Recipe

    info = build_model(archspec.load(str(tiny_spec)), {})
    cpu = torch.device("cpu")
    base = autotune.cache_key(info, cpu, Recipe(batch_size=16))
    assert base != autotune.cache_key(info, cpu, Recipe(batch_size=32))
    assert base != autotune.cache_key(info, cpu, Recipe(batch_size=16, amp="bf16"))
    info.params = {**info.params, "width": 5}
    assert base != autotune.cache_key(info, cpu, Recipe(batch_size=16))


def test_measuring_leaves_the_model_and_the_random_stream_alone(tiny_spec):
    import archspec
    from archspec.train.model import build_model
    from archspec.train.recipe import Recipe

    info = build_model(archspec.load(str(tiny_spec)), {})
    before = {k: v.clone() for k, v in info.module.state_dict().items()}
    torch.manual_seed(3)
    state = torch.get_rng_state()
    choice = autotune.measure(info, Recipe(batch_size=4, lr=0.5), torch.device("cpu"), [False, True], run_steps=10)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in info.module.state_dict().items())
    assert choice.cost_s > 0 and all(s > 0 for s in choice.step_s.values())


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", json.dumps({"k": {"channels_last": "yes"}})])
def test_a_damaged_cache_is_measured_again_and_rewritten(tiny_spec, tmp_path, monkeypatch, text):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    autotune.cache_path().parent.mkdir(parents=True)
    autotune.cache_path().write_text(text)
    out = io.StringIO()
    train(str(tiny_spec), {**FAST, "epochs": 1}, out=str(tmp_path / "run"), stream=out)
    assert "measured in" in out.getvalue()
    assert any(type(e.get("channels_last")) is bool for e in json.loads(autotune.cache_path().read_text()).values()
               if isinstance(e, dict))


def test_a_forced_layout_is_not_measured(tiny_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = io.StringIO()
    train(str(tiny_spec), {**FAST, "epochs": 1, "channels_last": False}, out=str(tmp_path / "run"), stream=out)
    assert "layout " not in out.getvalue() and not autotune.cache_path().exists()
