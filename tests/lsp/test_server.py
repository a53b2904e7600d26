"""`archspec lsp` driven by a real LSP client (pytest-lsp) over stdio: one server for the
module, as an editor keeps one. Expected values come from `archspec check` (its diagnostics
and its table's rows), not from the server's own code."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import archspec

ROOT = Path(__file__).resolve().parents[2]
INVALID = sorted((ROOT / "tests" / "fixtures" / "invalid").glob("*.yaml"))
HOSTILE = sorted(p for p in (ROOT / "tests" / "fixtures" / "hostile").iterdir() if p.is_file())
RESNET18 = Path(__file__).with_name("resnet18_blocks.yaml")
SMALL = Path(__file__).with_name("small.yaml")

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "archspec", "lsp"]))
async def client(lsp_client: LanguageClient):
    @lsp_client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def refresh(ls, params):
        lsp_client.refreshes = getattr(lsp_client, "refreshes", 0) + 1

    result = await lsp_client.initialize_session(lsp.InitializeParams(capabilities=client_capabilities("neovim@latest")))
    lsp_client.encoding = result.capabilities.position_encoding or lsp.PositionEncodingKind.Utf16
    yield
    await lsp_client.shutdown_session()


# ---- helpers --------------------------------------------------------------------------------
async def published(client: LanguageClient, uri: str, seconds: float = 20) -> list[lsp.Diagnostic]:
    """Wait for the diagnostics of `uri` (the caller pops them before the change it waits on)."""
    for _ in range(int(seconds / 0.01)):
        if uri in client.diagnostics:
            return list(client.diagnostics[uri])
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics published for {uri}")


async def open_text(client: LanguageClient, path: Path, text: str | None = None) -> tuple[str, list]:
    uri = path.resolve().as_uri()
    client.diagnostics.pop(uri, None)
    text = path.read_bytes().decode("utf-8", errors="replace") if text is None else text  # what an editor shows
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "yaml", 1, text)))
    return uri, await published(client, uri)


async def change(client: LanguageClient, uri: str, version: int, text: str) -> list:
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(version=version, uri=uri), [lsp.TextDocumentContentChangeWholeDocument(text)]))
    return await published(client, uri)


def close(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))


def doc(uri):
    return lsp.TextDocumentIdentifier(uri)


async def hover_text(client, uri, line, col) -> str:
    found = await client.text_document_hover_async(lsp.HoverParams(doc(uri), lsp.Position(line, col)))
    return found.contents.value if found else ""


async def hints(client, uri, lines: int = 200) -> dict[int, str]:
    found = await client.text_document_inlay_hint_async(lsp.InlayHintParams(doc(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(lines, 0))))
    return {h.position.line: h.label for h in found}


def where(text: str, needle: str, offset: int = 0, after: str = "") -> tuple[int, int]:
    """(line, col), from 0, of the first `needle` in `text` (after `after`), moved `offset` characters on."""
    k = text.index(needle, text.index(after) if after else 0) + offset
    return text.count("\n", 0, k), k - (text.rfind("\n", 0, k) + 1)


def rows(path) -> dict:
    return {row.name: row for row in archspec.check(str(path)).rows()}


# ---- diagnostics ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
async def test_diagnostics_are_where_archspec_check_puts_them(client, path):
    uri, found = await open_text(client, path)
    expected = archspec.check(str(path)).diagnostics
    assert [(d.range.start.line + 1, d.range.start.character + 1, d.message) for d in found] == \
        [(e.loc.line, e.loc.col, e.message) for e in expected]
    assert [[r.message for r in d.related_information or []] for d in found] == [e.notes for e in expected]
    assert all(d.source == "archspec" for d in found)
    severity = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}
    assert [d.severity for d in found] == [severity[e.severity] for e in expected]
    close(client, uri)


async def test_a_block_call_chain_note_points_at_the_call(client):
    path = ROOT / "tests" / "fixtures" / "invalid" / "add_shape_mismatch.yaml"
    uri, (found,) = await open_text(client, path)
    call = found.related_information[1]
    assert call.message.startswith("in block 'basic' called at") and (call.location.range.start.line, call.location.range.start.character) == (18, 4)
    close(client, uri)


# ---- hover, inlay hints, definition, symbols on a real spec --------------------------------
async def test_resnet18_hover_hints_definition_symbols(client):
    text = RESNET18.read_text()
    uri, found = await open_text(client, RESNET18)
    assert found == []
    table = rows(RESNET18)
    shown = await hints(client, uri)
    # every top-level item: the shape `archspec check --depth 1` prints for it
    top = text[text.index("\nlayers:"):]
    named = [row for row in archspec.check(str(RESNET18)).rows(depth=1) if f"id: {row.name}," in top]
    assert len(named) == 10
    for row in named:
        line, _ = where(text, f"id: {row.name},", after="\nlayers:")
        assert shown[line] == f"[{', '.join(map(str, row.shape))}]", row.name
    # an item of a block's body: each call's shape, bounded
    conv1 = where(text, "{id: conv1, conv2d: {out: $planes")[0]
    assert shown[conv1] == "[64, 56, 56] | [128, 28, 28] | [256, 14, 14] | …"
    body = await hover_text(client, uri, conv1, 20)
    assert "**conv2d** (op, conv)" in body and "expanded 8 times (per call" in body
    for call, params in (("layer1.0", "planes=64, stride=1"), ("layer2.0", "planes=128, stride=2"), ("layer4.1", "planes=512, stride=1")):
        row = table[f"{call}.conv1"]
        assert f"`{call}.conv1` ({params}): output `[{', '.join(map(str, row.shape))}]` · {row.params:,} params" in body
    # a block call: the block's totals over its copies
    line, col = where(text, "basic: {planes: 128")
    block = await hover_text(client, uri, line, col)
    layer2 = [r for n, r in table.items() if n.startswith("layer2.")]
    assert "**basic** (block): torchvision's BasicBlock" in block
    assert f"output `[128, 28, 28]` · {sum(r.params for r in layer2):,} params" in block and f"{len(layer2)} nodes" in block
    # an argument's doc
    assert "argument **kernel**: kernel size" in await hover_text(client, uri, *where(text, "kernel: 7"))
    # definitions: a block call, an id in from:, a $param in a block and at the top level
    assert await definition(client, uri, where(text, "basic: {planes: 64}")) == where(text, "basic:\n", 0)
    assert await definition(client, uri, where(text, "from: [bn2, downsample]", 7)) == where(text, "id: bn2", 4)
    assert await definition(client, uri, where(text, "stride: $stride", 9)) == where(text, "stride: 1}")
    assert await definition(client, uri, where(text, "linear: $num_classes", 9)) == where(text, "num_classes: 1000")
    # the outline: the block (with its body) and the top-level items, in order
    symbols = await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc(uri)))
    assert [s.name for s in symbols] == ["basic", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                                         "avgpool", "flatten", "fc"]
    assert [c.name for c in symbols[0].children][:5] == ["conv1", "bn1", "relu", "conv2", "bn2"]
    downsample = symbols[0].children[5]
    assert downsample.name == "downsample" and [c.name for c in downsample.children] == ["0", "1"]
    assert symbols[-1].detail == "linear [1000]"
    close(client, uri)


async def test_an_imported_block_is_defined_in_its_library(client):
    spec, library = ROOT / "specs" / "mobilenet_v2.yaml", ROOT / "archspec" / "library" / "torchvision.yaml"
    text = spec.read_text()
    uri, found = await open_text(client, spec)
    assert found == []
    target = await client.text_document_definition_async(lsp.DefinitionParams(doc(uri), lsp.Position(*where(text, "conv_bn_act: {out: 32"))))
    target = target[0] if isinstance(target, list) else target
    assert target.uri == library.resolve().as_uri()
    assert (target.range.start.line, target.range.start.character) == where(library.read_text(), "  conv_bn_act:\n", 2)
    assert "(block of torchvision.yaml): torchvision's Conv2dNormActivation" in await hover_text(client, uri, *where(text, "conv_bn_act: {out: 32"))
    close(client, uri)


async def test_a_library_file_is_checked_as_a_library(client, tmp_path):
    """Editing a block library shows its own mistakes, never "missing 'input'" (it has none)."""
    uri, found = await open_text(client, ROOT / "archspec" / "library" / "torchvision.yaml")
    assert found == []
    close(client, uri)
    lib = tmp_path / "lib.yaml"
    lib.write_text("archspec: 1\nblocks:\n  mlp:\n    layers: [{linear: {out: 8, bais: false}}]\n")
    uri, found = await open_text(client, lib)
    assert [(d.range.start.line, "bais" in d.message) for d in found] == [(3, True)]
    close(client, uri)


async def definition(client, uri, at) -> tuple[int, int] | None:
    found = await client.text_document_definition_async(lsp.DefinitionParams(doc(uri), lsp.Position(*at)))
    if found is None:
        return None
    found = found[0] if isinstance(found, list) else found
    return found.range.start.line, found.range.start.character


# ---- completion while typing ----------------------------------------------------------------
async def labels(client, uri, version, text, needle) -> list[str]:
    """Change the document to `text` and complete at the end of `needle` in it."""
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(version=version, uri=uri), [lsp.TextDocumentContentChangeWholeDocument(text)]))
    line, col = where(text, needle, len(needle))
    found = await client.text_document_completion_async(lsp.CompletionParams(doc(uri), lsp.Position(line, col)))
    return [item.label for item in (found.items if isinstance(found, lsp.CompletionList) else found or [])]


async def test_completion_of_ops_arguments_blocks_ids_and_params(client):
    text = SMALL.read_text()
    uri, found = await open_text(client, SMALL)
    assert found == []
    fc = "  - {id: fc, linear: $classes}\n"
    # half-typed items: none of these texts is YAML
    heads = await labels(client, uri, 2, text.replace(fc, fc + "  - {id: head, con"), "{id: head, con")
    assert {"conv2d", "concat", "conv_bn", "layers", "parallel"} <= set(heads)
    args = await labels(client, uri, 3, text.replace(fc, fc + "  - {conv2d: {out: 8, "), "{conv2d: {out: 8, ")
    assert "kernel" in args and "stride" in args and "out" not in args
    params = await labels(client, uri, 4, text.replace(fc, fc + "  - {conv_bn: {"), "{conv_bn: {")
    assert params == ["out", "stride"]
    ids = await labels(client, uri, 5, text.replace(fc, fc + "  - {add, from: [sum, "), "from: [sum, ")
    assert ids == ["fc", "pool", "sum", "skip", "down", "stem", "input"]  # innermost, nearest first
    inner = await labels(client, uri, 6, text.replace("      - relu\n", "      - {relu, from: "), "{relu, from: ")
    assert inner == ["bn", "conv", "input"]  # a block's body sees only its own ids
    dollars = await labels(client, uri, 7, text.replace("      - relu\n", "      - {dropout: $"), "{dropout: $")
    assert dollars[:2] == ["out", "stride"] and {"width", "classes"} <= set(dollars)
    # a block-style mapping, one argument per line
    block_style = await labels(client, uri, 8, text.replace(fc, fc + "  - maxpool2d:\n      kernel: 2\n      str"), "      str")
    assert "stride" in block_style and "kernel" not in block_style
    close(client, uri)


# ---- a change that breaks a spec, half-typed text, then the fix -------------------------------
async def test_break_then_fix_keeps_the_valid_part_and_recovers(client):
    text = SMALL.read_text()
    uri, _ = await open_text(client, SMALL)
    before = await hints(client, uri)
    stem, down, skip = (where(text, needle)[0] for needle in ("id: stem", "id: down", "- id: skip"))
    broken = text.replace("{out: 32, kernel: 1, stride: 2}", "{out: 32, kernel: 1, stride: 1}")
    found = await change(client, uri, 2, broken)
    assert [(d.range.start.line, d.message) for d in found] == \
        [(where(broken, "{id: sum")[0], "add: input shapes do not broadcast: down.2 is [32, 16, 16], skip is [32, 32, 32]: "
                                             "dim 2 is 16 vs 32, dim 3 is 16 vs 32; make each dim equal, or 1 in all inputs but one")]
    after = await hints(client, uri)
    assert (after[stem], after[down], after[skip]) == (before[stem], before[down], "[32, 32, 32]")  # the valid part keeps its shapes
    assert where(broken, "{id: sum")[0] not in after  # the failed item has none
    half = text.replace("  - {id: pool, adaptive_avgpool2d: {size: 1}}\n", "  - {id: pool, adaptive_avgpool2d: {size: \n")
    found = await change(client, uri, 3, half)
    assert [d.code for d in found] == ["yaml"]
    stale = await hints(client, uri)
    assert stale[stem] == before[stem]  # the last good shapes, on the lines that did not change
    assert where(half, "{id: pool")[0] not in stale
    assert await change(client, uri, 4, text) == []
    assert await hints(client, uri) == before
    close(client, uri)


async def test_yaml_that_is_not_a_spec_is_left_alone(client, tmp_path):
    workflow = tmp_path / "ci.yaml"
    uri, found = await open_text(client, workflow, "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [run: pytest]\n")
    assert found == []
    completion = await client.text_document_completion_async(lsp.CompletionParams(doc(uri), lsp.Position(4, 12)))
    assert not completion or not completion.items
    close(client, uri)


async def test_columns_are_in_the_clients_units(client, tmp_path):
    """A character outside the BMP is one column for `archspec check`, 2 UTF-16 or 4 UTF-8 units for the client."""
    path = tmp_path / "wide.yaml"
    text = 'archspec: 1\ninput: [4]\nlayers:\n  - {relu, if: "${\'\U0001F600\' != 1}", id: 7x}\n'
    uri, (found,) = await open_text(client, path, text)
    (expected,) = archspec.check(text).diagnostics
    before = text.splitlines()[expected.loc.line - 1][:expected.loc.col - 1]
    units = {"utf-8": len(before.encode("utf-8")), "utf-16": len(before.encode("utf-16-le")) // 2, "utf-32": len(before)}
    assert client.encoding in ("utf-8", "utf-16")  # the client offers both; not the trivial utf-32
    assert (found.range.start.line, found.range.start.character) == (expected.loc.line - 1, units[client.encoding])
    close(client, uri)


# ---- hostile text: every file answered, the server alive after all of them --------------------
async def test_hostile_corpus_is_answered_and_the_server_survives(client):
    for path in HOSTILE:
        uri, found = await open_text(client, path)
        assert all(d.range.start.line >= 0 for d in found), path.name
        assert isinstance(await hover_text(client, uri, 4, 10), str)
        await client.text_document_document_symbol_async(lsp.DocumentSymbolParams(doc(uri)))
        await client.text_document_inlay_hint_async(lsp.InlayHintParams(doc(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(50, 0))))
        close(client, uri)
    uri, found = await open_text(client, SMALL)
    assert found == [] and "**linear**" in await hover_text(client, uri, *where(SMALL.read_text(), "linear: $classes"))
    close(client, uri)
