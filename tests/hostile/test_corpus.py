"""Every file of the hostile corpus is refused by `archspec check` in a child process:
exit 1, its located message, no traceback, quickly, within a 1 GiB address-space cap and
under 500 MiB of resident memory. The figures are in docs/benchmarks.md (benchmarks/hostile.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_corpus import EXPECTED, HOSTILE, check_in_child, write_50mb  # noqa: E402

FILES = sorted(p.name for p in HOSTILE.iterdir() if p.is_file())
PWNED = "/tmp/archspec-pwned"  # what the object tags in the corpus would create


def test_corpus_covers_every_file_and_is_large_enough():
    assert sorted(EXPECTED) == FILES
    assert len(FILES) >= 15


def assert_refused(outcome, path, expected):
    assert outcome.exit_code == 1, outcome.output[-2000:]
    assert "Traceback" not in outcome.output
    assert f"{path}:{expected}" in outcome.output, outcome.output[:2000]
    assert outcome.seconds < 10  # measured: well under 2 s each (docs/benchmarks.md); generous here
    assert outcome.max_rss_mib < 500


@pytest.mark.parametrize("name", FILES)
def test_hostile_spec_is_refused_cleanly(name):
    path = HOSTILE / name
    assert_refused(check_in_child(path), path, EXPECTED[name])
    assert not os.path.exists(PWNED)


def test_a_50_mb_spec_is_refused_before_it_is_read(tmp_path):
    path = write_50mb(tmp_path / "big.yaml")
    assert_refused(check_in_child(path), path, "1:1: error: spec file is 52,428,800 bytes; the limit is 5,000,000")


def test_a_device_without_end_is_refused():
    assert_refused(check_in_child("/dev/zero"), "/dev/zero", "1:1: error: spec file is over the limit of 5,000,000 bytes")
