"""Imports of block libraries: `imports: [torchvision, ./blocks.yaml]` makes the blocks of
other YAML files callable in a spec.

A bare name is a library looked up in the search path (folders given with --lib-path, then
archspec's bundled library, archspec/library/); a name with a `/` or a .yaml suffix is a
file relative to the importing file. Every file is read with the spec's own guards (size,
depth, aliases, tags), must be a regular file inside the importing spec's folder tree or a
search folder (symbolic links are followed before the test), and is located in its own
file: an error in an imported block points into the library, with the chain of imports as
notes. Blocks share one namespace: a name defined twice is an error, as is a cycle of imports.
"""
from __future__ import annotations

import functools
import os
import re
import stat
from dataclasses import replace
from pathlib import Path

from archspec.diagnostics import did_you_mean
from archspec.errors import ArchspecError, Code, Diagnostic, Loc
from archspec.lang.loader import MAX_BYTES, Spec, parse_yaml, read_source

BUNDLED = Path(__file__).resolve().parent.parent / "library"
MAX_FILES = 64  # files one spec may import, all levels together
MAX_CACHED = 1_000_000  # characters of a library kept parsed between checks
LIBRARY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")

_search_path: list[Path] = []


def add_search_path(folder) -> None:
    """Let specs import the libraries in `folder` by name (what --lib-path does), before the bundled ones."""
    path = Path(folder)
    if not path.is_dir():
        raise ArchspecError(f"library path '{folder}' is not a folder")
    if path not in _search_path:
        _search_path.append(path)


def search_path() -> list[Path]:
    """The folders bare library names are looked up in, in order."""
    return [*_search_path, BUNDLED]


def bundled_libraries() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.yaml"))


def resolve_imports(spec: Spec) -> list[tuple[tuple, Diagnostic]]:
    """Read every library `spec` imports (and those they import) into spec.imported, and list the
    problems as (path, diagnostic): a path under ("imports", k) stops the check, one under
    ("blocks", name) marks only that block broken, as schema problems do."""
    if not isinstance(spec.data, dict) or not spec.data.get("imports"):
        return []
    return _Resolver(spec).run()


class _Resolver:
    def __init__(self, root: Spec):
        self.root = root
        own = [Path(root.path).parent] if root.path else []
        self.allowed = [_real(p) for p in own + search_path() if p.is_dir() or p == BUNDLED]
        self.loaded: dict[str, Spec | None] = {}  # real path -> its library (None: it could not be read)
        self.visited: dict[str, dict] = {}  # real path -> the blocks it imports
        self.problems: list[tuple[tuple, Diagnostic]] = []
        self.size = len(root.text.encode("utf-8"))
        self.own = root.data.get("blocks") if isinstance(root.data.get("blocks"), dict) else {}

    def run(self) -> list[tuple[tuple, Diagnostic]]:
        found = self.visit(self.root, (_real(self.root.path),) if self.root.path else (), ())
        for name, lib in found.items():
            if name in self.own:
                self.fail(("blocks", name), self.root.locate(("blocks", name), key=True), Code.DUPLICATE_ID,
                          f"block '{name}' is also defined at {lib.locate(('blocks', name), key=True)}, which this "
                          "spec imports: rename one")
            else:
                self.root.imported[name] = lib
        return self.problems

    def visit(self, owner: Spec, stack: tuple, chain: tuple) -> dict[str, Spec]:
        """The blocks `owner` imports (with the libraries that define them); `stack` holds the real
        paths of the files importing it, `chain` the import entries that led here."""
        entries = owner.data.get("imports") if isinstance(owner.data, dict) else None
        found: dict[str, Spec] = {}
        for k, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, str):
                continue  # the schema says what is wrong
            where = owner.locate(("imports", k))
            real = self.find(entry, owner, where, chain)
            if real is None:
                continue
            if real in stack:
                names = [os.path.basename(p) for p in stack[stack.index(real):] + (real,)]
                self.fail(("imports", k), where, Code.CYCLE, f"imports form a cycle: {' -> '.join(names)}", chain)
                continue
            lib = self.read(real, entry, where, chain)
            if lib is None:
                continue
            if real not in self.visited:
                self.visited[real] = self.visit(lib, stack + (real,), chain + (where,))
            inner = self.visited[real]
            blocks = lib.data.get("blocks") if isinstance(lib.data.get("blocks"), dict) else {}
            for name, defined_in in [*inner.items(), *((n, lib) for n in blocks)]:
                first = found.get(name)
                if first is not None and first is not defined_in:
                    self.fail(("imports", k), defined_in.locate(("blocks", name), key=True), Code.DUPLICATE_ID,
                              f"block '{name}' is defined twice: here and at {first.locate(('blocks', name), key=True)}, "
                              "both imported: rename one")
                else:
                    found[name] = defined_in
        return found

    def find(self, entry: str, owner: Spec, where: Loc, chain) -> str | None:
        """The real path of the file `entry` names, checked to lie where imports may read."""
        if entry.endswith((".yaml", ".yml")) or "/" in entry or os.sep in entry:
            if owner.path is None:
                return self.refuse(where, chain, f"cannot import '{entry}': a spec given as text has no folder, "
                                   "so it imports libraries by name only")
            candidates = [Path(owner.path).parent / entry]
        elif LIBRARY_NAME.match(entry):
            candidates = [folder / f"{entry}.yaml" for folder in search_path()]
        else:
            return self.refuse(where, chain, f"cannot import '{entry}': a library name is letters, digits, _ and - "
                               "(a file is a path ending in .yaml)")
        present = next((c for c in candidates if os.path.lexists(c)), None)
        if present is None:
            known = {n for folder in search_path() for n in (p.stem for p in folder.glob("*.yaml"))}
            looked = ", ".join(str(c) for c in candidates)
            hint = did_you_mean(entry, known) if LIBRARY_NAME.match(entry) else ""
            return self.refuse(where, chain, f"cannot import '{entry}': no such file (looked for {looked}){hint}")
        real = _real(present)
        if not any(_inside(real, root) for root in self.allowed):
            return self.refuse(where, chain, f"cannot import '{entry}': {real} is outside the spec's folder and the "
                               "library path (add its folder with --lib-path)")
        try:
            if not stat.S_ISREG(os.stat(real).st_mode):
                return self.refuse(where, chain, f"cannot import '{entry}': {real} is not a regular file")
        except OSError as e:
            return self.refuse(where, chain, f"cannot import '{entry}': {e.strerror or e}")
        return real

    def read(self, real: str, entry: str, where: Loc, chain) -> Spec | None:
        """The parsed library at `real` (read once), its own problems located in it."""
        if real in self.loaded:
            return self.loaded[real]
        self.loaded[real] = None
        if len(self.loaded) > MAX_FILES:
            return self.refuse(where, chain, f"cannot import '{entry}': a spec may import at most {MAX_FILES} files")
        notes = chain + (where,)
        try:
            text, _, _ = read_source(Path(real))
            file = _shown(real)
            self.size += len(text.encode("utf-8"))
            if self.size > MAX_BYTES:
                return self.refuse(where, chain, f"cannot import '{entry}': the spec and its imports are over the "
                                   f"limit of {MAX_BYTES:,} bytes together")
            self.root.imported_texts[file] = text
            data, locations, problems = _parsed(text, file, real)
        except ArchspecError as e:
            for d in e.diagnostics:
                self.fail(("imports",), d.loc or where, d.code, d.message, notes)
            return None
        lib = Spec(data=data, text=text, file=file, path=real, locations=locations)
        for path, d in problems:
            self.problems.append((path if path[:1] == ("blocks",) and len(path) > 2 else ("imports",),
                                  _noted(replace(d, notes=list(d.notes)), notes)))
        self.root.imported_at.setdefault(file, where)
        self.loaded[real] = lib if isinstance(data, dict) else None
        return self.loaded[real]

    def refuse(self, where: Loc, chain, message: str) -> None:
        self.fail(("imports",), where, Code.IMPORT, message, chain)
        return None

    def fail(self, path, where: Loc, code, message: str, chain=()) -> None:
        self.problems.append((path, _noted(Diagnostic(where, code, message), chain)))


def _parsed(text: str, file: str, real: str):
    """(data, locations, schema problems) of a library's text: parsed once while it is unchanged,
    as an editor's server checks the same spec, and so its libraries, on every keystroke."""
    return _parse_library(text, file, real) if len(text) <= MAX_CACHED else _parse_library.__wrapped__(text, file, real)


@functools.lru_cache(maxsize=16)
def _parse_library(text: str, file: str, real: str):
    from archspec.lang.schema import validate

    data, locations = parse_yaml(text, file)
    return data, locations, validate(Spec(data=data, text=text, file=file, path=real, locations=locations), library=True)


def import_chain(spec: Spec, file: str) -> list[str]:
    """'imported at FILE:LINE:COL' notes from a library file up to the spec."""
    notes, seen = [], set()
    while file in spec.imported_at and file not in seen:
        seen.add(file)
        where = spec.imported_at[file]
        notes.append(f"imported at {where}")
        file = where.file
    return notes


def note_imports(spec: Spec, diagnostics: list[Diagnostic]) -> None:
    """Add the chain of imports to every diagnostic located in an imported file."""
    for d in diagnostics:
        if d.loc is not None and d.loc.file in spec.imported_at:
            chain = import_chain(spec, d.loc.file)
            if not any(n in d.notes for n in chain):
                d.notes += chain


def _noted(d: Diagnostic, chain) -> Diagnostic:
    d.notes += [f"imported at {where}" for where in reversed(chain)]
    return d


def _shown(real: str) -> str:
    """How diagnostics name a library file: relative to the working folder when inside it."""
    here = os.getcwd()
    return os.path.relpath(real, here) if _inside(real, here) else real


def _real(path) -> str:
    return os.path.realpath(path)


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # another drive on Windows
        return False
