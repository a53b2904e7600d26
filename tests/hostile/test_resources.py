"""archspec.build refuses a model that will not fit before any module exists, saying how
much it needs; check reports the same without torch."""
from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

import archspec
from archspec import resources
from archspec.cli.main import main

SMALL = "archspec: 1\ninput: [3, 8, 8]\nlayers:\n  - flatten\n  - {linear: 10}\n"


def linear_needing(bytes_: int) -> str:
    out = bytes_ // 4 // 100_000 + 1
    return f"archspec: 1\ninput: [100000]\nlayers:\n  - {{id: fc, linear: {out}}}\n"


def test_build_refuses_more_than_the_free_memory_before_allocating():
    free = resources.free_bytes("cpu")
    assert free and free > 0
    spec = linear_needing(2 * free)
    start = time.perf_counter()
    with pytest.raises(archspec.ResourceError) as info:
        archspec.build(spec, limits=archspec.Limits(max_params=None))
    assert time.perf_counter() - start < 5  # allocating 2x the free memory would not be quick
    (d,) = info.value.diagnostics
    assert (d.loc.line, d.loc.col, d.code) == (4, 5, "out-of-memory")
    assert d.message.startswith("the model needs ") and " parameters x 4 bytes + " in d.message
    assert d.message.endswith(" free") and " but cpu has " in d.message
    assert d.notes == [f"the largest layer is 'fc' (linear) with {archspec.check(spec, limits=archspec.Limits(max_params=None)).params:,} parameters"]


def test_no_module_is_built_when_memory_is_short(monkeypatch):
    import archspec.compiler.emit

    monkeypatch.setattr(resources, "free_bytes", lambda device="cpu": 1000)
    monkeypatch.setattr(archspec.compiler.emit, "emit", lambda report: pytest.fail("emit ran"))
    with pytest.raises(archspec.ResourceError, match=r"needs 8.33 KiB \(1,930 parameters x 4 bytes \+ 808 B of "
                                                      r"activations for one sample\) but cpu has 1000 B free"):
        archspec.build(SMALL)


def test_build_goes_ahead_when_the_device_cannot_tell(monkeypatch):
    monkeypatch.setattr(resources, "free_bytes", lambda device="cpu": None)
    assert sum(p.numel() for p in archspec.build(SMALL).parameters()) == 1930


def test_needed_bytes_counts_weights_copies_and_a_batch_of_activations():
    report = archspec.check(SMALL)
    assert resources.needed_bytes(report) == 1930 * 4 + report.activation_bytes
    assert resources.needed_bytes(report, batch=64, param_copies=4) == 1930 * 16 + 64 * report.activation_bytes


def test_a_huge_buffer_is_refused_before_it_exists():
    """Buffers are no parameters, but they take memory once: 2^40 int64 elements (8 TiB) are
    refused by the memory guard, not allocated."""
    spec = ("archspec: 1\ninput: [4]\nlayers:\n  - {id: table, buffer: {shape: [1048576, 1048576], dtype: int64}}\n"
            "  - {id: used, identity, from: table}\n  - {id: sum, add, from: [input, input]}\noutputs: [used, sum]\n")
    report = archspec.check(spec)
    assert report.ok and report.params == 0 and report.fixed_bytes == 2 * 8 * 2**40
    start = time.perf_counter()
    with pytest.raises(archspec.ResourceError, match=r"\+ 16384.00 GiB of buffers\) but cpu has") as info:
        archspec.build(spec)
    assert time.perf_counter() - start < 5
    (d,) = info.value.diagnostics
    assert (d.loc.line, d.code, d.notes) == (4, "out-of-memory", ["the largest buffer is 'table' (buffer) of shape [1048576, 1048576]"])


def test_check_warns_when_this_machine_could_not_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "free_bytes", lambda device="cpu": 1000)
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    result = CliRunner().invoke(main, ["check", str(path)], catch_exceptions=False)
    assert result.exit_code == 0
    assert "warning: building this model needs 8.33 KiB but this machine has 1000 B free" in result.output


def test_free_memory_of_cpu_is_what_meminfo_says_or_less():
    with open("/proc/meminfo") as f:
        available = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    assert 0 < resources.free_bytes("cpu") <= available * 1.1
    assert resources.free_bytes("mps") is None
