"""How soon does `archspec lsp` show a spec's diagnostics after an edit, beside running
`archspec check` on it in a fresh process (what an editor without the server would do)?

A warm server (started once, the spec open) gets a didChange; the time is until its
publishDiagnostics for that version arrives, debounce included. Each edit appends a comment,
so every change is checked in full. Specs: specs/resnet50.yaml and a generated 2,000-node
spec (benchmarks/check.py's generator). Target: under 100 ms for resnet50.
"""
from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from check import cold_seconds, generated_spec
from common import ROOT, print_table
from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

EDITS = 15


async def change_to_diagnostics(client: LanguageClient, published: dict, path: Path, text: str) -> float:
    """Median seconds from a didChange to the diagnostics of that version, over EDITS edits."""
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "yaml", 1, text)))
    await _wait(published, uri, 1)
    times = []
    for version in range(2, EDITS + 2):
        start = time.perf_counter()
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [lsp.TextDocumentContentChangeWholeDocument(f"{text}# edit {version}\n")]))
        found = await _wait(published, uri, version)
        times.append(time.perf_counter() - start)
        assert not found.diagnostics, found.diagnostics
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
    return statistics.median(times)


async def _wait(published: dict, uri: str, version: int):
    while (published.get(uri) is None) or published[uri].version != version:
        await asyncio.sleep(0.001)
    return published[uri]


async def measure(specs: dict[str, Path]) -> dict[str, float]:
    client = LanguageClient("benchmark", "1")
    published: dict = {}

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls, params):
        published[params.uri] = params

    await client.start_io(sys.executable, "-m", "archspec", "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    try:
        return {name: await change_to_diagnostics(client, published, path, path.read_text()) for name, path in specs.items()}
    finally:
        await client.shutdown_async(None)
        client.exit(None)
        await client.stop()


def main() -> None:
    from archspec.lsp.server import DEBOUNCE

    with tempfile.TemporaryDirectory() as tmp:
        chain = Path(tmp) / "chain2000.yaml"
        chain.write_text(generated_spec())
        specs = {"resnet50": ROOT / "specs" / "resnet50.yaml", "generated 2,000 nodes": chain}
        warm = asyncio.run(measure(specs))
        cold = {name: cold_seconds(["-m", "archspec", "check", str(path)], repeat=3) for name, path in specs.items()}
    rows = []
    for name in specs:
        rows.append([f"{name}: edit -> diagnostics, warm server", f"{warm[name]:.3f}", f"{cold[name] / warm[name]:.1f}x faster"])
        rows.append([f"{name}: archspec check (fresh process)", f"{cold[name]:.3f}", "1.00"])
    print_table(["what", "seconds", "ratio"], rows)
    print(f"(the server waits {DEBOUNCE * 1000:.0f} ms of quiet before it checks; target for resnet50: under 0.100 s)")


if __name__ == "__main__":
    main()
