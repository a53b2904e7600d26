"""The language server: pygls wiring over stdio.

Every open and change of a spec schedules a check of its text (saved or not). Changes that
come faster than DEBOUNCE seconds apart are checked once; the check runs on a worker thread,
so hover, completion and the rest are answered from the last results while it runs. When it
finishes, its diagnostics are published and the client is asked to refresh its inlay hints.

Each document keeps three analyses: the newest (its diagnostics), the newest whose text was
YAML (names and places: completion, definition, symbols) and the newest that reached
expansion (shapes: hover, inlay hints). The last two are seen through a View, so a half-typed
line loses its hints while every unchanged line keeps them."""
from __future__ import annotations

import asyncio
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import attrs
from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from archspec import __version__
from archspec.errors import Code, Diagnostic, Loc
from archspec.lsp.analysis import Analysis, analyse
from archspec.lsp.completion import completions
from archspec.lsp.diagnostics import diagnostics
from archspec.lsp.hints import inlay_hints
from archspec.lsp.hover import hover
from archspec.lsp.navigation import definition, symbols
from archspec.lsp.view import View
from archspec.report import Report

DEBOUNCE = 0.03  # seconds of quiet before a change is checked (coalesces a burst of keystrokes)
WAIT_FOR_CHECK = 2.0  # longest an inlay-hint request waits for the check of the text it is about

log = logging.getLogger("archspec.lsp")


@dataclass
class Document:
    version: int | None = None
    newest: Analysis | None = None
    parsed: Analysis | None = None  # the newest whose text was YAML
    expanded: Analysis | None = None  # the newest that has a graph
    checked: asyncio.Event = field(default_factory=asyncio.Event)  # set when `newest` is of the current text
    task: asyncio.Task | None = None

    def keep(self, analysis: Analysis) -> None:
        self.newest = analysis
        if analysis.spec is not None:
            self.parsed = analysis
        if analysis.graph is not None:
            self.expanded = analysis
        self.checked.set()


class ArchspecServer(LanguageServer):
    def __init__(self):
        super().__init__("archspec", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.documents: dict[str, Document] = {}
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archspec-check")

    def schedule(self, uri: str, version: int | None) -> None:
        doc = self.documents.setdefault(uri, Document())
        doc.version = version
        doc.checked.clear()
        if doc.task is not None:
            doc.task.cancel()  # a check under way finishes on its thread; its result is dropped
        doc.task = asyncio.ensure_future(self.check(uri, doc))

    async def check(self, uri: str, doc: Document) -> None:
        await asyncio.sleep(DEBOUNCE)
        text_doc = self.workspace.get_text_document(uri)
        text, version = text_doc.source, text_doc.version
        analysis = await asyncio.get_running_loop().run_in_executor(self.checker, analyse_safely, text, file_name(uri))
        if self.documents.get(uri) is not doc or doc.version != version:
            return  # closed, or changed again: the newer check publishes
        doc.keep(analysis)
        found = [] if analysis.foreign else convert(diagnostics(analysis, uri), text_doc)
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, found, version=version))
        if _refresh_supported(self.client_capabilities):
            self.workspace_inlay_hint_refresh(None)

    def view(self, uri: str, which: str) -> tuple[View | None, object]:
        """A View of the document's `which` analysis ('parsed' or 'expanded') from its current text."""
        text_doc = self.workspace.get_text_document(uri)
        doc = self.documents.get(uri)
        analysis = getattr(doc, which) if doc is not None else None
        return (View(analysis, text_doc.source) if analysis is not None else None), text_doc


def analyse_safely(text: str, file: str) -> Analysis:
    """The check, and the indexes the features read, built off the event loop. A bug of
    archspec's becomes a diagnostic at the top of the spec instead of a dead server."""
    try:
        analysis = analyse(text, file)
        _ = analysis.items, analysis.spans, analysis.made  # built here, on the checker's thread
        return analysis
    except Exception as e:  # noqa: BLE001 - reported to the user and logged, never fatal
        log.exception("checking %s failed", file)
        problem = Diagnostic(Loc(file, 1, 1), Code.ERROR, f"archspec lsp: internal error while checking: {type(e).__name__}: {e}")
        return Analysis(text, file, Report.failed([problem], {file: text}))


def file_name(uri: str) -> str:
    """The name diagnostics use: the file's path, as `archspec check PATH` prints it; the URI for an unsaved buffer."""
    return to_fs_path(uri) or uri


def _refresh_supported(capabilities) -> bool:
    workspace = getattr(capabilities, "workspace", None)
    inlay = getattr(workspace, "inlay_hint", None)
    return bool(getattr(inlay, "refresh_support", False))


# ---- positions at the edge: the client's units (UTF-16 by default) <-> characters ---------------
def incoming(text_doc, position: lsp.Position) -> tuple[int, int]:
    p = text_doc.position_codec.position_from_client_units(text_doc.lines, position)
    return p.line, p.character


def convert(result, text_doc):
    """`result` with every Position in the client's units (nothing to do for ASCII text)."""
    if text_doc.source.isascii():
        return result
    codec, lines = text_doc.position_codec, text_doc.lines

    def walk(value):
        if isinstance(value, lsp.Position):
            return codec.position_to_client_units(lines, value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if attrs.has(type(value)):
            return attrs.evolve(value, **{f.name.lstrip("_"): walk(getattr(value, f.name)) for f in attrs.fields(type(value))})
        return value

    return walk(result)


# ---- the features -----------------------------------------------------------------------------
server = ArchspecServer()


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: ArchspecServer, params: lsp.DidOpenTextDocumentParams):
    ls.schedule(params.text_document.uri, params.text_document.version)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: ArchspecServer, params: lsp.DidChangeTextDocumentParams):
    ls.schedule(params.text_document.uri, params.text_document.version)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ArchspecServer, params: lsp.DidCloseTextDocumentParams):
    doc = ls.documents.pop(params.text_document.uri, None)
    if doc is not None and doc.task is not None:
        doc.task.cancel()
    ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(params.text_document.uri, []))


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
def on_hover(ls: ArchspecServer, params: lsp.HoverParams):
    view, text_doc = ls.view(params.text_document.uri, "expanded")
    view = view or ls.view(params.text_document.uri, "parsed")[0]
    return convert(hover(view, incoming(text_doc, params.position)), text_doc) if view else None


@server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions(resolve_provider=False))
async def on_inlay_hint(ls: ArchspecServer, params: lsp.InlayHintParams):
    doc = ls.documents.get(params.text_document.uri)
    if doc is not None:
        try:
            await asyncio.wait_for(doc.checked.wait(), WAIT_FOR_CHECK)
        except asyncio.TimeoutError:
            pass  # answer from the last results
    view, text_doc = ls.view(params.text_document.uri, "expanded")
    if view is None:
        return []
    r = params.range
    return convert(inlay_hints(view, r.start.line, r.end.line), text_doc)


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["$", "[", ",", " "]))
def on_completion(ls: ArchspecServer, params: lsp.CompletionParams):
    view, text_doc = ls.view(params.text_document.uri, "parsed")
    if view is not None and view.analysis.foreign:
        return None
    return lsp.CompletionList(is_incomplete=False, items=completions(view, list(text_doc.lines), incoming(text_doc, params.position)))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
def on_definition(ls: ArchspecServer, params: lsp.DefinitionParams):
    view, text_doc = ls.view(params.text_document.uri, "parsed")
    found = definition(view, incoming(text_doc, params.position), params.text_document.uri) if view else None
    return convert(found, text_doc) if found is not None and found.uri == params.text_document.uri else found  # another file's: in code points


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def on_symbols(ls: ArchspecServer, params: lsp.DocumentSymbolParams):
    view, text_doc = ls.view(params.text_document.uri, "parsed")
    return convert(symbols(view), text_doc) if view else []


def serve() -> None:
    """Serve over stdin/stdout until the client says exit. Anything printed goes to stderr:
    stdout carries the protocol."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    server.checker.submit(_warm)
    server.start_io(sys.stdin.buffer, out)


def _warm() -> None:
    """Load the op registry and the JSON Schema validators before the first spec arrives."""
    analyse("archspec: 1\ninput: [1]\nlayers: [relu]\n", "<warm-up>")
