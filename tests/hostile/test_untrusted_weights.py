"""--weights files are untrusted: a pickle that would run code, a truncated or forged safetensors
file and a header that declares more than the file holds are each refused with one line naming
the file, before anything runs or is allocated."""
from __future__ import annotations

import json
import os
import struct

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from archspec.cli.main import main
from archspec.errors import ArchspecError
from archspec.train import weights

TINY = """\
archspec: 1
name: tiny
input: [1, 8, 8]
layers:
  - {conv2d: {out: 2, kernel: 3}}
  - flatten
  - {linear: 3}
"""


class Payload:
    """Unpickled by a plain torch.load, this would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def test_a_pickle_that_would_run_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"conv.weight": torch.zeros(1), "extra": Payload(marker)}, tmp_path / "evil.pt")
    with pytest.raises(ArchspecError, match="cannot load --weights file .*evil.pt"):
        weights.read(tmp_path / "evil.pt", "--weights file")
    assert not marker.exists()


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(_valid()[: len(_valid()) // 2]), "cannot load"),  # cut in the data
    (lambda p: p.write_bytes(_valid()[:20]), "is it truncated"),  # cut in the header
    (lambda p: p.write_bytes(struct.pack("<Q", 2**62) + b"{}"), "declares 4,611,686,018,427,387,904 bytes"),
    (lambda p: p.write_bytes(struct.pack("<Q", 200_000_000) + b"{" + b" " * 1000), "over the 100 MB"),
    (lambda p: p.write_bytes(_safetensors_bytes(  # a 40 GB tensor declared in a 100-byte file
        {"w": {"dtype": "F32", "shape": [100_000, 100_000], "data_offsets": [0, 40_000_000_000]}})), "cannot load"),
    (lambda p: p.write_bytes(_safetensors_bytes(  # offsets that disagree with the shape
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, b"\0" * 8)), "cannot load"),
    (lambda p: p.write_bytes(b"\x00" * 64), "neither a torch file"),
    (lambda p: p.write_bytes(b""), "neither a torch file"),
])
def test_broken_and_forged_safetensors_files_are_refused(make, message, tmp_path):
    path = tmp_path / "w.safetensors"
    make(path)
    with pytest.raises(ArchspecError, match=message):
        weights.read(path, "--weights file")


def _valid() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        save_file({"w": torch.arange(64, dtype=torch.float32)}, f"{tmp}/v.safetensors")
        with open(f"{tmp}/v.safetensors", "rb") as f:
            return f.read()


def test_the_cli_reports_a_hostile_weights_file_at_the_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY)
    marker = tmp_path / "pwned"
    torch.save({"0.weight": Payload(marker)}, tmp_path / "evil.pt")
    result = CliRunner().invoke(main, ["train", "tiny.yaml", "--data", "synthetic:32", "--epochs", "1",
                                       "--weights", "evil.pt", "--out", "run"])
    assert result.exit_code == 1
    assert result.output.startswith("error: cannot load --weights file evil.pt: ")
    assert "Traceback" not in result.output and not marker.exists()
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("path,message", [("/dev/zero", "is not a regular file"), ("missing.pt", "no such file")])
def test_a_device_or_a_missing_file_is_named(path, message, tmp_path):
    with pytest.raises(ArchspecError, match=f"--weights file .*{message}"):
        weights.read(tmp_path / path if path == "missing.pt" else path, "--weights file")
    with pytest.raises(ArchspecError, match="is not a regular file \\(it is a folder\\)"):
        weights.read(tmp_path, "--weights file")
