"""Timing helpers shared by the benchmark scripts (they measure and print; they never fail a build)."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the hand-written references live in tests/reference
    sys.path.insert(0, str(ROOT))


def median_seconds(fn, repeat: int = 5, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(fns: dict, repeat: int = 10, warmup: int = 2, clock=time.perf_counter) -> dict:
    """Each function's times, run in turns so that machine drift hits all alike: round k of
    every list ran at about the same time (a pair of them gives a ratio less noisy than the
    ratio of medians on a shared machine). `clock=time.process_time` counts this process's
    CPU seconds instead of wall time: on one thread, the work done, whatever else runs."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return times


def interleaved_medians(fns: dict, repeat: int = 10, warmup: int = 2) -> dict:
    """Median time of each function, run in turns (interleaved_times)."""
    return {name: statistics.median(t) for name, t in interleaved_times(fns, repeat, warmup).items()}


def print_table(header, rows) -> None:
    from archspec.table import table

    print("\n".join(table(header, rows)))
