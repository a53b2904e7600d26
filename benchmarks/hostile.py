"""Time and peak memory of `archspec check` on each file of the hostile corpus
(tests/fixtures/hostile, plus a generated 50 MiB spec), each in a fresh child process
under a 1 GiB address-space cap. Prints a table; the figures go to docs/benchmarks.md."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import ROOT, print_table

sys.path.insert(0, str(ROOT / "tests" / "hostile"))
from hostile_corpus import EXPECTED, HOSTILE, check_in_child, write_50mb  # noqa: E402


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = [HOSTILE / name for name in sorted(EXPECTED)] + [write_50mb(Path(tmp) / "50mb.yaml")]
        for path in paths:
            runs = [check_in_child(path) for _ in range(3)]
            best = min(runs, key=lambda r: r.seconds)
            located = "yes" if f"{path}:" in best.output and "Traceback" not in best.output else "NO"
            rows.append((path.name, best.exit_code, located, f"{best.seconds:.2f}", f"{max(r.max_rss_mib for r in runs):.0f}"))
    print_table(("file", "exit", "located", "seconds (best of 3)", "peak RSS MiB"), rows)


if __name__ == "__main__":
    main()
