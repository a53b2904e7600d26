"""The hostile corpus (tests/fixtures/hostile) and a runner that checks one file in a child
process under a memory cap, measuring wall time and peak memory. Shared by
test_corpus.py and benchmarks/hostile.py."""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
ADDRESS_SPACE = 1 << 30  # the child is refused memory beyond 1 GiB of address space

# file -> the start of its first diagnostic: "LINE:COL: error: MESSAGE"
EXPECTED = {
    "alias_bomb.yaml": "10:38: error: spec has more than 100,000 YAML nodes once aliases are expanded",
    "binary_junk.yaml": "1:1: error: spec is not UTF-8 text (byte 0x82)",
    "block_cycle.yaml": "5:25: error: blocks call each other in a cycle: ping -> pong -> ping",
    "block_self.yaml": "5:43: error: blocks call each other in a cycle: again -> again",
    "control_chars.yaml": "5:1: error: invalid YAML: control characters are not allowed (found #x001b)",
    "deep_block_list.yaml": "5:129: error: spec is nested more than 64 levels deep",
    "deep_blocks_in_lists.yaml": "36:1: error: blocks and sub-lists are nested too deeply to expand",
    "deep_expression.yaml": "5:20: error: bad expression: expression too deeply nested",
    "deep_flow_list.yaml": "4:72: error: spec is nested more than 64 levels deep",
    "deep_flow_map.yaml": "4:261: error: spec is nested more than 64 levels deep",
    "expr_class.yaml": "5:20: error: bad expression: attribute '__class__' is not allowed",
    "expr_escapes.yaml": "6:24: error: bad expression: calling 'lambda: 1' is not allowed",
    "expr_input_globals.yaml": "5:20: error: bad expression: attribute '__globals__' is not allowed",
    "expr_subclasses.yaml": "5:20: error: bad expression: calling '[].__class__.__mro__[1].__subclasses__' is not allowed",
    "format_bomb.yaml": "5:20: error: bad expression: '%' formatting of text is not allowed",
    "huge_input.yaml": "3:8: error: input shape has more than 2^63 - 1 elements",
    "huge_int_literal.yaml": "5:14: error: cannot read 9999999999999999999999999999999999999999... (5,000 characters)",
    "huge_power.yaml": "5:20: error: bad expression: number too large: 10 ** 10000000000",
    "huge_string.yaml": "5:20: error: bad expression: result too long (more than 10000 items)",
    "import_escape.yaml": "4:11: error: cannot import '../../../../../../../../../../../../etc/passwd': /etc/passwd is outside",
    "import_self.yaml": "4:11: error: imports form a cycle: import_self.yaml -> import_self.yaml",
    "latin1.yaml": "4:7: error: spec is not UTF-8 text (byte 0xe9)",
    "long_expression.yaml": "5:20: error: bad expression: expression too long (100004 characters, at most 1000)",
    "nested_list_bomb.yaml": "5:20: error: bad expression: result too long (more than 10000 items)",
    "nested_repeat.yaml": "5:19: error: spec expands to more than 20,000 nodes (raise the limit with --max-nodes)",
    "nul_bytes.yaml": "4:1: error: spec contains a NUL byte: this is not a text file",
    "params_1e12_conv.yaml": "5:5: error: the model has 1,000,001,000,000 parameters, over the limit of 100,000,000,000",
    "params_1e12_linear.yaml": "5:5: error: the model has 1,000,001,000,000 parameters, over the limit of 100,000,000,000",
    "python_name.yaml": "5:5: error: YAML tag 'tag:yaml.org,2002:python/name:os.system' is not allowed in a spec",
    "python_object_apply.yaml": "4:9: error: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    "recursive_alias.yaml": "4:22: error: alias *loop is inside its own anchor &loop",
    "repeat_1e7.yaml": "5:20: error: repeat: 10,000,000 copies is over the limit of 10,000 (raise it with --max-repeat)",
    "round_bomb.yaml": "5:20: error: bad expression: round: digits must be an integer from -64 to 64",
    "tag_directive.yaml": "6:9: error: YAML tag 'tag:yaml.org,2002:python/object/new:subprocess.Popen' is not allowed",
    "tower_power.yaml": "5:20: error: bad expression: number too large: 9 ** 387420489",
    "utf16.yaml": "1:1: error: spec is not UTF-8 text (byte 0xff)",
}


def write_50mb(path: Path) -> Path:
    """A 50 MiB spec (too big to commit): valid YAML all the way, refused for its size."""
    size, head, line = 50 * 2**20, b"archspec: 1\ninput: [3, 8, 8]\nlayers:\n", b"  - relu\n"
    body = head + line * ((size - len(head)) // len(line) - 1)
    with open(path, "wb") as f:
        f.write(body + b"#" * (size - len(body) - 1) + b"\n")
    return path


@dataclass
class Outcome:
    exit_code: int
    output: str
    seconds: float
    max_rss_mib: float


# The child reports its own peak resident memory (VmHWM of the image after exec): a forked
# child's ru_maxrss also counts the parent's pages from before exec, which in a full test
# run is the whole pytest process.
CHILD = """
import atexit, os, sys
def report_peak():
    with open('/proc/self/status') as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith('VmHWM'))
    with open(os.environ['ARCHSPEC_PEAK_FILE'], 'w') as out:
        out.write(str(kib))
atexit.register(report_peak)
from archspec.cli.main import main
main(sys.argv[1:], prog_name='archspec')
"""


def check_in_child(path, *args: str) -> Outcome:
    """`archspec check PATH` in a fresh interpreter, capped at ADDRESS_SPACE bytes."""

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "ARCHSPEC_PEAK_FILE": str(peak_file)}
        start = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", CHILD, "check", str(path), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, preexec_fn=cap, env=env)
        seconds = time.perf_counter() - start
        peak_kib = int(peak_file.read_text()) if peak_file.exists() else float("inf")
    return Outcome(child.returncode, child.stdout.decode("utf-8", "replace"), seconds, peak_kib / 1024)
