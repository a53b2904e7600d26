"""archspec's language server (`archspec lsp`): the check's diagnostics, shapes, completion and
navigation in the editor. server.py is the pygls wiring; the other modules are pure functions
from an analysis (a spec's text and its check) and a position to what the editor shows."""
