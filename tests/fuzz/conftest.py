"""The fuzz suite runs twice as long as it is told: a few hundred examples in the
default test run, thousands under `pytest -m fuzz` (every test here carries the `fuzz`
marker; `ARCHSPEC_FUZZ_EXAMPLES=N` sets the count per test explicitly)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    if "fuzz" in (config.getoption("markexpr", "") or "") and "not fuzz" not in config.getoption("markexpr", ""):
        os.environ.setdefault("ARCHSPEC_FUZZ_LONG", "1")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.fuzz)
