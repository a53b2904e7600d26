"""Every recipe value is bounded, and `archspec check` refuses what `archspec train` would crash on or
fork the machine with; a spec cannot turn on downloads or choose where data lives; command-line
values, --config files and metrics logs that are junk get one located line, never a traceback."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from archspec.cli.main import main

SPEC = "archspec: 1\nname: tiny\ninput: [1, 8, 8]\nlayers: [flatten, {linear: 3}]\n"
FAST = ["--data", "synthetic:24", "--epochs", "1", "--batch-size", "8", "--device", "cpu"]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(SPEC)
    return lambda *args: CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("line, column, message", [
    ("workers: 100000", 12, "train.workers: 100000 is greater than the maximum of 64"),
    ("lr: .nan", 7, "train.lr: expected a finite number, found nan"),
    ("lr: 1.0e+308", 7, "train.lr: 1e+308 is greater than the maximum of 100"),
    ("val_split: .nan", 14, "train.val_split: expected a finite number, found nan"),
    ("label_smoothing: .nan", 20, "train.label_smoothing: expected a finite number, found nan"),
    ("seed: 1000000000000000000000000000000", 9, "is greater than the maximum of 9223372036854775807"),
    ("epochs: 1000000000", 11, "train.epochs: 1000000000 is greater than the maximum of 1000000"),
    ("grad_clip: .inf", 14, "train.grad_clip: inf is greater than the maximum of 1000000000.0"),
    ("transforms: {color_jitter: .nan}", 30, "color_jitter: nan is not valid"),
    ("transforms: {resize: 100000}", 24, "resize: 100000 is not valid; expected an integer size or [height, "
                                         "width], at most 8192"),
    ("download: true", 13, "train.download: a spec cannot turn on downloading; pass --download"),
    ("data_dir: /var/tmp/x", 13, "train.data_dir: a spec cannot choose where data lives on this machine"),
    ("data: npz:/etc/x.npz", 9, "train.data: a spec cannot name a data path (npz:/etc/x.npz); pass --data"),
    ("for_data: {mnist: {download: true}}", 32, "train.download: a spec cannot turn on downloading"),
])
def test_check_refuses_what_train_could_not_run(cli, tmp_path, line, column, message):
    (tmp_path / "tiny.yaml").write_text(SPEC + f"train:\n  {line}\n")
    result = cli("check", "tiny.yaml")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"tiny.yaml:6:{column}: error: " in result.output and message in result.output, result.output
    result = cli("train", "tiny.yaml", "--data", "synthetic:24", "--device", "cpu", "--out", "run")
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "data").exists()


def test_a_spec_may_still_name_a_data_kind(cli, tmp_path):
    (tmp_path / "tiny.yaml").write_text(SPEC + "train:\n  data: fashion-mnist\n  download: false\n")
    assert cli("check", "tiny.yaml").exit_code == 0


@pytest.mark.parametrize("args, code, message", [
    (["--lr", "1e308"], 2, "--lr: 1e+308 is greater than the maximum of 100"),
    (["--lr", "nan"], 2, "--lr: expected a finite number, found nan"),
    (["--label-smoothing", "nan"], 2, "--label-smoothing: expected a finite number, found nan"),
    (["--val-split", "nan"], 2, "--val-split: expected a finite number, found nan"),
    (["--seed", str(2**64)], 2, "--seed: 18446744073709551616 is greater than the maximum of 9223372036854775807"),
    (["--workers", "100000"], 2, "--workers: 100000 is greater than the maximum of 64"),
    (["--transform", "resize=" + "9" * 5000], 2, "--transform 'resize=99999999999999999999999999999999"),
    (["--data", "synthetic:100000000000"], 1, "expected synthetic or synthetic:N with N from 2 to 10,000,000"),
])
def test_train_flags_out_of_bounds_are_refused_before_any_work(cli, tmp_path, args, code, message):
    result = cli("train", "tiny.yaml", *FAST, *args, "--out", "run")
    assert result.exit_code == code and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_set_with_a_5000_digit_number_is_a_usage_error(cli):
    result = cli("graph", "tiny.yaml", "--set", "num_classes=" + "9" * 5000)
    assert result.exit_code == 2 and "the value is too long a number to read" in result.output, result.output


@pytest.mark.parametrize("content, message", [
    ("epochs: " + "9" * 5000 + "\n", "r.yaml:1:9: error: cannot read 9999"),
    (b"\x89\xff\x00junk", "--config r.yaml:1: not UTF-8 text (byte 0x89); a recipe is a YAML text file"),
    ("epochs: [[[[" * 30, "r.yaml:1:"),
    ("a: &a [1]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                             for p, c in zip("abcdefgh", "bcdefghi")), "YAML nodes once aliases are expanded"),
    ("!!python/object/apply:os.system ['true']\n", "is not allowed"),
])
def test_config_files_are_read_as_guardedly_as_specs(cli, tmp_path, content, message):
    path = tmp_path / "r.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = cli("train", "tiny.yaml", *FAST, "--config", "r.yaml", "--out", "run")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_config_that_is_not_a_regular_file_is_refused_without_reading(cli, tmp_path, special):
    if special == "fifo":
        os.mkfifo(tmp_path / "fifo")  # opening it to read would wait for a writer forever
    result = cli("train", "tiny.yaml", *FAST, "--config", special, "--out", "run")
    assert result.exit_code == 1 and f"--config {special} is not a regular file" in result.output


@pytest.mark.parametrize("lines, message", [
    (['[1, 2]'], "metrics.jsonl:1: expected an epoch record (a JSON object), found list"),
    (['{"epoch": "one", "train_loss": 1}'], "metrics.jsonl:1: expected epoch to be a number"),
    (['{"epoch": 1, "step": 1, "train_loss": 0.5, "train_acc": 0.5, "val_loss": null, "val_acc": null, "lr": 0.1,'
      ' "seconds": 1, "samples_per_s": 1}', '{"epoch": 2}'], "metrics.jsonl:2: expected step to be a number"),
])
def test_plot_on_a_malformed_log_names_the_line(cli, tmp_path, lines, message):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    result = cli("plot", "r", "-o", "p.png")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output, result.output


def test_plot_refuses_an_unknown_image_suffix(cli, tmp_path):
    assert cli("train", "tiny.yaml", *FAST, "--out", "run").exit_code == 0
    for name in ("p.xyz", "p"):
        result = cli("plot", "run", "-o", name)
        assert result.exit_code == 1 and f"cannot tell the image format of {name} from its suffix" in result.output
        assert "name it .png, .svg or .pdf" in result.output and not (tmp_path / f"{name}.png").exists()
    assert cli("plot", "run", "-o", "p.svg").exit_code == 0 and (tmp_path / "p.svg").read_text().startswith("<?xml")
