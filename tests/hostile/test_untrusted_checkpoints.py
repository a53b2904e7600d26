"""Checkpoints and run folders are untrusted input: every field read back is validated (a forged one
is one line of error naming it), flipped bytes are caught by the stored digest, config.yaml is
never trusted, and a checkpoint's stored recipe never sends eval to the network or to a path."""
from __future__ import annotations

import zipfile

import pytest
import torch
from click.testing import CliRunner

from archspec.cli.main import main
from archspec.train import checkpoint

from ..train.conftest import TINY

TRAIN = ["--data", "synthetic:48", "--epochs", "2", "--batch-size", "16", "--seed", "0", "--device", "cpu",
         "--momentum", "0.9"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One trained run; each test works on a copy of its last.pt."""
    folder = tmp_path_factory.mktemp("trained")
    (folder / "tiny.yaml").write_text(TINY)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    result = CliRunner().invoke(main, ["train", str(folder / "tiny.yaml"), *TRAIN, "--out", str(folder / "run")])
    torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def run(trained, tmp_path, monkeypatch):
    """A copy of the trained run folder in tmp_path (the spec beside it), and a CLI runner there."""
    import shutil

    shutil.copytree(trained / "run", tmp_path / "run")
    shutil.copy(trained / "tiny.yaml", tmp_path / "tiny.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "run"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def forge(run, change):
    """Edit a field and save again through checkpoint.save, so the digest matches the forgery."""
    path = run / "checkpoints" / "last.pt"
    state = checkpoint.load(path)
    change(state)
    checkpoint.save(path, state)


def _set(*keys, value):
    def change(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def _drop(key):
    return lambda state: state.pop(key)


def _momentum_shape(state):
    buffers = state["optimizer"]["state"][0]
    buffers["momentum_buffer"] = torch.zeros(7)


FORGERIES = [  # refused when the checkpoint is loaded, then (the last four) when a run restores it
    (_set("epoch", value="2"), "field epoch should be a whole number >= 0, found '2'"),
    (_set("partial", "count", value=-1), "field partial.count should be a whole number >= 0, found -1"),
    (_set("history", value=["junk"]), "field history[0] should be an epoch record"),
    (_set("aug_state", value=torch.zeros(3)), "field aug_state should be null or a uint8 tensor, found a "
                                                "torch.float32 tensor of shape [3]"),
    (_set("rng", "python", "state", value=torch.zeros(3, dtype=torch.int64)),
     "field rng.python.state should be 625 int64 values"),
    (_set("spec", "sha256", value="zz"), "field spec.sha256 should be a sha256 in hex, found 'zz'"),
    (_drop("model"), "field model is missing"),
    (_set("recipe", "lr", value=float("nan")), "its stored recipe is invalid: lr: expected a finite number, "
                                                  "found nan"),
    (_set("recipe", "workers", value=100_000), "its stored recipe is invalid: workers: 100000 is greater than "
                                                  "the maximum of 64"),
    (lambda state: state["recipe"].pop("seed"), "field recipe.seed is missing"),
    (_set("batch", value=10**9), "it stopped after batch 1000000000 of an epoch, but epochs here have 3 batches"),
    (_set("scheduler", "optimizer", value=3), "scheduler state has an unknown entry 'optimizer'"),
    (_momentum_shape, "optimizer state 'momentum_buffer' of parameter 0 does not fit its shape [4, 1, 3, 3]"),
    (_set("model", "0.weight", value=torch.zeros(2)), "checkpoint run/checkpoints/last.pt does not fit this run: "),
]


@pytest.mark.parametrize("change, needle", FORGERIES)
def test_a_forged_field_is_one_line_naming_it(run, change, needle):
    forge(run, change)
    result = cli("train", "--resume", "run", "--epochs", "3")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert needle in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("change, needle", FORGERIES[:-4])
def test_eval_refuses_the_same_forgeries(run, change, needle):
    forge(run, change)
    result = cli("eval", "tiny.yaml", "--checkpoint", "run")
    assert result.exit_code == 1 and needle in result.output, result.output


@pytest.mark.parametrize("change, needle", FORGERIES[:3])
def test_export_reads_checkpoints_as_train_and_eval_do(run, change, needle):
    forge(run, change)
    result = cli("export", "tiny.yaml", "-o", "t.py", "--checkpoint", run / "checkpoints" / "last.pt")
    assert result.exit_code == 1 and needle in result.output, result.output


def test_a_checkpoint_from_before_an_option_existed_resumes_with_its_default(run):
    forge(run, lambda state: [state["recipe"].pop(k) for k in ("weights", "freeze", "strategy")])
    result = cli("train", "--resume", "run", "--epochs", "3")
    assert result.exit_code == 0, result.output
    state = checkpoint.read(run / "checkpoints" / "last.pt")
    assert state["epoch"] == 3
    assert (state["recipe"]["weights"], state["recipe"]["freeze"], state["recipe"]["strategy"]) == (None, [], "ddp")
    forge(run, _set("recipe", "weights_from_the_future", value=1))  # an unknown one is still refused
    result = cli("train", "--resume", "run", "--epochs", "4")
    assert result.exit_code == 1 and "its stored recipe is invalid" in result.output, result.output


def test_resume_holds_flags_to_the_bounds_of_a_new_run(run):
    result = cli("train", "--resume", "run", "--workers", "100000")
    assert result.exit_code == 2 and "--workers: 100000 is greater than the maximum of 64" in result.output


def test_flipped_bytes_in_the_tensor_data_are_refused_everywhere(run):
    path = run / "checkpoints" / "last.pt"
    with zipfile.ZipFile(path) as z:
        record = max(z.infolist(), key=lambda info: info.file_size if "/data/" in info.filename else 0)
        start = record.header_offset + 30 + len(record.filename) + len(record.extra)
    data = bytearray(path.read_bytes())
    for i in range(start, start + min(200, record.file_size)):  # torch.load checks no CRC: it loaded these
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    for args in (["train", "--resume", "run"], ["eval", "tiny.yaml", "--checkpoint", "run"],
                 ["export", "tiny.yaml", "-o", "t.py", "--checkpoint", path]):
        result = cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "checkpoints/last.pt is corrupt: its contents do not match the sha256 digest stored in it" \
            in result.output, result.output


def test_an_edited_config_yaml_is_not_trusted(run):
    (run / "config.yaml").write_text("recipe: {workers: 100000, data_dir: /, download: true}\n\x00junk")
    result = cli("train", "--resume", "run", "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert "workers: 0" in (run / "config.yaml").read_text()  # rewritten from the checkpoint's recipe


def test_eval_never_follows_a_stored_recipe_to_the_network_or_a_path(run, tmp_path):
    forge(run, _set("recipe", value={**checkpoint.load(run)["recipe"], "data": "mnist", "download": True,
                                     "data_dir": str(tmp_path / "fetched")}))
    result = cli("eval", "tiny.yaml", "--checkpoint", "run")
    assert result.exit_code == 1 and "no train-images-idx3-ubyte[.gz] in data/mnist" in result.output, result.output
    assert not (tmp_path / "fetched").exists() and not (tmp_path / "data").exists()
    forge(run, _set("recipe", "data", value="npz:/etc/secret.npz"))
    result = cli("eval", "tiny.yaml", "--checkpoint", "run")
    assert result.exit_code == 1
    assert "was trained on npz:/etc/secret.npz; eval reads data only from where you say: add --data " \
           "npz:/etc/secret.npz" in result.output


def test_resume_does_not_download_unless_asked_again(run, tmp_path):
    forge(run, _set("recipe", value={**checkpoint.load(run)["recipe"], "data": "mnist", "download": True,
                                     "data_dir": str(tmp_path / "fetched")}))
    result = cli("train", "--resume", "run", "--epochs", "3")
    assert result.exit_code == 1 and f"no train-images-idx3-ubyte[.gz] in {tmp_path / 'fetched' / 'mnist'}" \
        in result.output, result.output
    assert not (tmp_path / "fetched").exists()
