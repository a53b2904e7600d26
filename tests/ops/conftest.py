"""The op strategies of tests/ops/strategies (one module per family, discovered) as a fixture."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from strategies import discover  # noqa: E402


class Strategies(dict):
    def __repr__(self):  # hypothesis prints fixtures of a failing example; keep that short
        return "<op strategies>"


@pytest.fixture(scope="session")
def op_strategies() -> dict:
    return Strategies(discover())
