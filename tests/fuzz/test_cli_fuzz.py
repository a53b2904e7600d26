"""`archspec check` on broken specs: exit 0 or 1, never a traceback, errors as
`file:line:col: error:` lines."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given

sys.path.insert(0, str(Path(__file__).resolve().parent))
from archspec.cli.main import main  # noqa: E402
from fuzz_budget import fuzz_settings  # noqa: E402
from fuzz_mutations import broken_specs  # noqa: E402


@fuzz_settings(short=100, long=1000)
@given(broken_specs())
def test_cli_exits_0_or_1_without_a_traceback(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    for fmt in ("table", "json"):
        result = CliRunner().invoke(main, ["check", str(path), "--format", fmt, "--max-params", "2000000"],
                                    catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        assert "Traceback" not in result.output
        if result.exit_code == 1 and fmt == "table":
            assert re.search(rf"^{re.escape(str(path))}:\d+:\d+: error: ", result.output, re.M), result.output
