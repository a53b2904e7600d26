"""Shared fixtures: a tiny conv spec (batch norm + dropout, so RNG and buffers matter) and a CLI runner."""
from __future__ import annotations

import pytest

TINY = """\
archspec: 1
name: tiny
input: [1, 8, 8]
params: {num_classes: 3, width: 4}
layers:
  - {conv2d: {out: $width, kernel: 3, padding: 1}}
  - batchnorm2d
  - relu
  - {maxpool2d: {kernel: 2, stride: 2}}
  - flatten
  - {dropout: 0.2}
  - {linear: $num_classes}
"""


@pytest.fixture
def tiny_spec(tmp_path):
    """Path of the tiny spec, with an optional train: recipe appended via write(recipe_text)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke `archspec ...` in-process in tmp_path; returns click's Result."""
    from click.testing import CliRunner

    from archspec.cli.main import main

    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here runs on one thread (see tests/conftest.py)."""
