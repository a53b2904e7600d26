"""How many examples each fuzz test draws: `short` in the default run, `long` under
`pytest -m fuzz`, or ARCHSPEC_FUZZ_EXAMPLES when set."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def fuzz_settings(short: int, long: int):
    n = os.environ.get("ARCHSPEC_FUZZ_EXAMPLES")
    count = int(n) if n else long if os.environ.get("ARCHSPEC_FUZZ_LONG") == "1" else short
    return settings(max_examples=count, deadline=None, database=None, derandomize=not os.environ.get("ARCHSPEC_FUZZ_LONG"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
