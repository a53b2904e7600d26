"""A registry that each plugin test may extend and that is restored afterwards, so ops
registered here never leak into tests that iterate over the registry."""
from __future__ import annotations

import pytest

from archspec import ops, plugins


@pytest.fixture
def fresh_registry():
    table = ops.registry()
    saved, origins = dict(table), dict(plugins._origins)
    yield table
    table.clear()
    table.update(saved)
    plugins._origins.clear()
    plugins._origins.update(origins)
    plugins._schema_changed()
