"""Imports of block libraries: found relative to the importing file or by name in the search
path, confined to the spec's folder tree and the search path, read with the spec's guards,
and every mistake located (in the library when it is the library's, with the chain of imports)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import archspec
from archspec.errors import Code, SpecError
from archspec.lang import imports
from archspec.lang.loader import MAX_BYTES, SpecText

HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "hostile"
CONV_BN = """\
archspec: 1
blocks:
  conv_bn:
    params: {out: required}
    layers:
      - {id: conv, conv2d: {out: $out, kernel: 3, padding: 1, bias: false}}
      - {id: bn, batchnorm2d}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def spec(folder: Path, imports_line: str, layers: str = "[relu]", name: str = "net.yaml") -> Path:
    return write(folder / name, f"archspec: 1\nimports: {imports_line}\ninput: [3, 8, 8]\nlayers: {layers}\n")


def found(report) -> list[tuple]:
    """(file name, line, col, code, message) of every diagnostic."""
    return [(Path(d.loc.file).name if d.loc else None, d.loc.line if d.loc else None, d.loc.col if d.loc else None,
             d.code, d.message) for d in report.diagnostics]


@pytest.fixture
def search_path(monkeypatch):
    """The --lib-path folders, empty for the test and restored after it."""
    monkeypatch.setattr(imports, "_search_path", [])
    return imports._search_path


# ---- what imports give ----------------------------------------------------------------------
def test_a_spec_calls_the_blocks_of_a_relative_file_and_of_the_bundled_library(tmp_path):
    write(tmp_path / "lib" / "blocks.yaml", CONV_BN)
    net = spec(tmp_path, "[./lib/blocks.yaml, torchvision]", "[{id: a, conv_bn: {out: 8}}, {id: b, basic: {planes: 8}}]")
    report = archspec.check(str(net))
    assert report.ok, found(report)
    keys = set(archspec.build(str(net)).state_dict())
    assert {"a.conv.weight", "a.bn.running_mean", "b.conv1.weight", "b.bn2.weight"} <= keys
    assert not any(k.startswith("b.downsample") for k in keys)  # 8 channels in and out, stride 1: torchvision has none


def test_a_library_imports_libraries_and_a_shared_one_is_read_once(tmp_path):
    write(tmp_path / "base.yaml", CONV_BN)
    for side in ("left", "right"):
        write(tmp_path / f"{side}.yaml", f"archspec: 1\nimports: [./base.yaml]\nblocks:\n  {side}:\n    layers: [{{conv_bn: {{out: 4}}}}]\n")
    report = archspec.check(str(spec(tmp_path, "[./left.yaml, ./right.yaml]", "[left, right, conv_bn: {out: 2}]")))
    assert report.ok, found(report)
    assert sorted(Path(f).name for f in report.spec.imported_texts) == ["base.yaml", "left.yaml", "right.yaml"]


def test_lib_path_folders_are_searched_by_name_before_the_bundled_library(tmp_path, search_path):
    write(tmp_path / "libs" / "torchvision.yaml", CONV_BN)  # shadows the bundled file of that name
    net = spec(tmp_path / "project", "[torchvision]", "[{conv_bn: {out: 4}}]")
    (*_, code, message), = found(archspec.check(str(net)))
    assert code == Code.UNKNOWN_OP and message.startswith("unknown op or block 'conv_bn'")
    imports.add_search_path(tmp_path / "libs")
    assert archspec.check(str(net)).ok


def test_a_spec_given_as_text_imports_by_name_and_an_editor_buffer_by_path(tmp_path):
    assert archspec.check("archspec: 1\nimports: [torchvision]\ninput: [3, 8, 8]\nlayers: [{basic: {planes: 3}}]\n").ok
    report = archspec.check("archspec: 1\nimports: [./blocks.yaml]\ninput: [3, 8, 8]\nlayers: [relu]\n")
    assert found(report) == [("<spec>", 2, 11, Code.IMPORT, "cannot import './blocks.yaml': a spec given as text has "
                              "no folder, so it imports libraries by name only")]
    write(tmp_path / "blocks.yaml", CONV_BN)
    text = "archspec: 1\nimports: [./blocks.yaml]\ninput: [3, 8, 8]\nlayers: [{conv_bn: {out: 4}}]\n"
    assert archspec.check(SpecText(text, str(tmp_path / "unsaved.yaml"))).ok


def test_the_digest_covers_the_imported_files(tmp_path):
    lib = write(tmp_path / "blocks.yaml", CONV_BN)
    net = spec(tmp_path, "[./blocks.yaml]", "[{conv_bn: {out: 4}}]")
    before = archspec.load(str(net)).sha256
    lib.write_text(CONV_BN.replace("bias: false", "bias: true"))
    assert archspec.load(str(net)).sha256 != before
    plain = write(tmp_path / "plain.yaml", "archspec: 1\ninput: [3]\nlayers: [relu]\n")
    import hashlib

    assert archspec.load(str(plain)).sha256 == hashlib.sha256(plain.read_bytes()).hexdigest()  # as before imports existed


# ---- errors, located ------------------------------------------------------------------------
def test_an_error_in_an_imported_block_is_in_its_file_with_the_chain_of_imports(tmp_path):
    write(tmp_path / "lib" / "inner.yaml", CONV_BN.replace("kernel: 3", "kernal: 3"))
    write(tmp_path / "lib" / "outer.yaml", "archspec: 1\nimports: [./inner.yaml]\nblocks:\n  stage:\n"
                                           "    layers: [{conv_bn: {out: 4}}]\n")
    report = archspec.check(str(spec(tmp_path, "[./lib/outer.yaml]", "[stage]")))
    assert found(report) == [("inner.yaml", 6, 40, Code.UNKNOWN_KEY, "conv2d: unknown argument 'kernal' (did you mean 'kernel'?)")]
    notes = report.diagnostics[0].notes
    assert [n.rsplit("/", 1)[-1] for n in notes] == ["outer.yaml:2:11", "net.yaml:2:11"] and all(n.startswith("imported at ") for n in notes)


def test_an_error_found_while_expanding_an_imported_block_names_the_call_and_the_import(tmp_path):
    write(tmp_path / "blocks.yaml", CONV_BN.replace("- {id: bn, batchnorm2d}", "- {id: bn, batchnorm1d}"))
    report = archspec.check(str(spec(tmp_path, "[./blocks.yaml]", "[{id: a, conv_bn: {out: 4}}]")))
    (where, line, col, code, _), = found(report)
    assert (where, line, col, code) == ("blocks.yaml", 7, 9, Code.SHAPE)
    notes = report.diagnostics[0].notes
    assert f"in block 'conv_bn' called at {tmp_path / 'net.yaml'}:4:10 (a)" in notes
    assert notes[-1] == f"imported at {tmp_path / 'net.yaml'}:2:11"


def test_missing_files_bad_names_and_cycles_are_located_at_the_import(tmp_path):
    write(tmp_path / "a.yaml", "archspec: 1\nimports: [./b.yaml]\nblocks: {x: {layers: [relu]}}\n")
    write(tmp_path / "b.yaml", "archspec: 1\nimports: [./a.yaml]\nblocks: {y: {layers: [relu]}}\n")
    line = "[torchvison, ./missing.yaml, 'a b', ./net.yaml, ./a.yaml]"
    rows = found(archspec.check(str(spec(tmp_path, line))))
    at = [len("imports: ") + line.index(entry) + 1 for entry in ("torchvison", "./missing", "'a b'", "./net", "./a.yaml")]
    assert [r[:4] for r in rows] == [("net.yaml", 2, at[0], Code.IMPORT), ("net.yaml", 2, at[1], Code.IMPORT),
                                     ("net.yaml", 2, at[2], Code.IMPORT), ("net.yaml", 2, at[3], Code.CYCLE),
                                     ("b.yaml", 2, 11, Code.CYCLE)]
    assert rows[0][4].endswith("(did you mean 'torchvision'?)") and "no such file" in rows[1][4]
    assert "a library name is letters, digits" in rows[2][4]
    assert rows[3][4] == "imports form a cycle: net.yaml -> net.yaml"
    assert rows[4][4] == "imports form a cycle: a.yaml -> b.yaml -> a.yaml"


def test_a_block_defined_twice_is_located_at_the_second_definition(tmp_path):
    write(tmp_path / "one.yaml", CONV_BN)
    write(tmp_path / "two.yaml", CONV_BN)
    net = write(tmp_path / "net.yaml", "archspec: 1\nimports: [./one.yaml, ./two.yaml, torchvision]\ninput: [3, 8, 8]\n"
                                       "blocks:\n  basic: {layers: [relu]}\nlayers: [basic]\n")
    rows = found(archspec.check(str(net)))
    assert [r[:4] for r in rows] == [("net.yaml", 5, 3, Code.DUPLICATE_ID), ("two.yaml", 3, 3, Code.DUPLICATE_ID)]
    assert rows[0][4].startswith("block 'basic' is also defined at ") and "torchvision.yaml:6:3" in rows[0][4]
    assert rows[1][4] == f"block 'conv_bn' is defined twice: here and at {tmp_path / 'one.yaml'}:3:3, both imported: rename one"


# ---- hostile imports ------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["../../../../../../../../etc/passwd", "/etc/passwd", "/dev/zero", "../outside.yaml",
                                    "./link.yaml", "./dir_link/outside.yaml"])
def test_an_import_cannot_leave_the_spec_folder(tmp_path, target):
    write(tmp_path / "outside.yaml", CONV_BN)
    project = tmp_path / "project"
    project.mkdir()
    os.symlink("/etc/passwd", project / "link.yaml")
    os.symlink(tmp_path, project / "dir_link")
    rows = found(archspec.check(str(spec(project, f"['{target}']"))))
    assert len(rows) == 1 and rows[0][:4] == ("net.yaml", 2, 11, Code.IMPORT)
    assert "is outside the spec's folder and the library path" in rows[0][4]


def test_only_regular_files_are_read(tmp_path, search_path):
    os.mkfifo(tmp_path / "fifo.yaml")  # opening it would wait for a writer for ever
    (tmp_path / "folder.yaml").mkdir()
    imports.add_search_path("/dev")
    rows = found(archspec.check(str(spec(tmp_path, "[./fifo.yaml, ./folder.yaml, /dev/zero, /dev/null]"))))
    assert [r[:4] for r in rows] == [("net.yaml", 2, c, Code.IMPORT) for c in (11, 24, 39, 50)]
    assert all("is not a regular file" in r[4] for r in rows)


@pytest.mark.parametrize("fixture", ["alias_bomb.yaml", "deep_flow_list.yaml", "python_object_apply.yaml", "nul_bytes.yaml",
                                     "latin1.yaml", "recursive_alias.yaml", "binary_junk.yaml"])
def test_the_yaml_guards_apply_to_every_imported_file(tmp_path, fixture):
    shutil.copy(HOSTILE / fixture, tmp_path / "lib.yaml")
    report = archspec.check(str(spec(tmp_path, "[./lib.yaml]")))
    (where, *_), *_ = found(report)
    assert where == "lib.yaml" and not report.ok
    assert report.diagnostics[0].notes[-1] == f"imported at {tmp_path / 'net.yaml'}:2:11"
    with pytest.raises(SpecError):
        archspec.load(str(tmp_path / "net.yaml"))


def test_a_spec_and_its_imports_are_bounded_in_size_and_number(tmp_path):
    padding = "# " + "x" * 998 + "\n"
    for name in ("big1", "big2"):
        write(tmp_path / f"{name}.yaml", CONV_BN.replace("conv_bn", name) + padding * (MAX_BYTES // 2000 + 10))
    rows = found(archspec.check(str(spec(tmp_path, "[./big1.yaml, ./big2.yaml]"))))
    assert rows == [("net.yaml", 2, 24, Code.IMPORT, f"cannot import './big2.yaml': the spec and its imports are over "
                                                      f"the limit of {MAX_BYTES:,} bytes together")]
    chain = imports.MAX_FILES + 1
    for k in range(chain):
        write(tmp_path / "chain" / f"l{k}.yaml", f"archspec: 1\nimports: [./l{k + 1}.yaml]\nblocks: {{b{k}: {{layers: [relu]}}}}\n"
              if k + 1 < chain else "archspec: 1\nblocks: {}\n")
    report = archspec.check(str(spec(tmp_path, "[./chain/l0.yaml]", name="long.yaml")))
    assert [d.message for d in report.diagnostics] == [f"cannot import './l{chain - 1}.yaml': a spec may import at most "
                                                       f"{imports.MAX_FILES} files"]
