"""A registry that each plugin test may extend and that is restored afterwards, so ops
registered here never leak into tests that iterate over the registry."""
from __future__ import annotations

import pytest

from archspec import ops, plugins


@pytest.fixture
def fresh_registry():
    with plugins.restoring():
        yield ops.registry()
