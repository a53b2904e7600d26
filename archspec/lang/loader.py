"""YAML -> Spec: plain Python data plus the line and column of every key and value.

Locations live in a side table keyed by the path from the root (('layers', 3, 'conv2d',
'out')), so the data stays plain dicts and lists and JSON Schema errors, whose paths
have the same form, map straight back to lines. This is archspec's one YAML location
finder: a spec's, and any other YAML file's (`locate_in`).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from archspec.errors import ArchspecError, Code, Diagnostic, Loc, error_for
from archspec.lang.yaml_guard import check_events

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _BaseLoader


class _Loader(_BaseLoader):
    """libyaml's parser with a memo on the (pure-Python, regex-heavy) implicit tag resolver."""

    _resolved: dict = {}

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._resolved) < 100_000:
                self._resolved[key] = tag
        return tag

MAX_NODES = 100_000  # after alias expansion: refuses "billion laughs" within a second
MAX_DEPTH = 64
MAX_BYTES = 5_000_000

MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null")}


@dataclass
class Locations:
    """Where each key and value of a YAML document is, by its path from the root."""

    file: str
    values: dict = field(default_factory=dict)  # path -> Loc of the value
    keys: dict = field(default_factory=dict)  # path -> Loc of the mapping key that leads to it
    ends: dict = field(default_factory=dict)  # path -> Loc just past the value (what an editor highlights)

    def locate(self, path: tuple, key: bool = False) -> Loc:
        """The place of the value (or, with key=True, of the key) at `path`, or its nearest parent."""
        path = tuple(path)
        table = self.keys if key else self.values
        while path:
            if path in table:
                return table[path]
            if key and path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), Loc(self.file, 1, 1))


def locate_in(text: str, file: str) -> Locations:
    """The locations of any YAML text (a --config file, say), read with the spec's guards;
    text that is not YAML has none, and everything in it is placed at its start."""
    try:
        return parse_yaml(text, file)[1]
    except ArchspecError:
        return Locations(file)


@dataclass(frozen=True)
class SpecText:
    """A spec given as text under its file's name: an editor's unsaved buffer. Its diagnostics
    name `path`, as `archspec check` on the saved file would; the text is never taken for a path."""

    text: str
    path: str


@dataclass
class Spec:
    """A parsed spec: `data` is plain Python, `locations` says where each part of it is written."""

    data: dict
    text: str
    file: str
    path: str | None = None
    locations: Locations = None
    imported: dict = field(default_factory=dict)  # block name -> the library (a Spec) that defines it
    imported_at: dict = field(default_factory=dict)  # library file -> the `imports:` entry that first read it
    imported_texts: dict = field(default_factory=dict)  # library file -> its text

    def __post_init__(self):
        if self.locations is None:
            self.locations = Locations(self.file)

    def _get(self, key: str, kind: type):
        """A top-level value of the right type, or None (a broken spec may be any YAML)."""
        value = self.data.get(key) if isinstance(self.data, dict) else None
        return value if isinstance(value, kind) else None

    @property
    def name(self) -> str:
        return str(self._get("name", (str, int, float)) or (Path(self.path).stem if self.path else "spec"))

    @property
    def doc(self) -> str:
        return str(self._get("doc", (str, int, float)) or "")

    @property
    def params(self) -> dict:
        return dict(self._get("params", dict) or {})

    @property
    def train(self) -> dict:
        return dict(self._get("train", dict) or {})

    @property
    def blocks(self) -> dict:
        """The blocks a call may name: the spec's own and those it imports."""
        return {**{name: lib.data["blocks"][name] for name, lib in self.imported.items()}, **(self._get("blocks", dict) or {})}

    @property
    def is_library(self) -> bool:
        """A block library: a file of `blocks:` for specs to import, with no layers or input of its own."""
        return isinstance(self.data, dict) and "blocks" in self.data and not {"layers", "input", "inputs"} & self.data.keys()

    @property
    def sha256(self) -> str:
        """The digest of the spec's text and of every library it imports (a changed library changes the model)."""
        digest = hashlib.sha256(self.text.encode("utf-8"))
        for text in sorted(self.imported_texts.values()):
            digest.update(hashlib.sha256(text.encode("utf-8")).digest())
        return digest.hexdigest()

    @property
    def sources(self) -> dict[str, str]:
        return {**self.imported_texts, self.file: self.text}

    def locate(self, path: tuple, key: bool = False) -> Loc:
        """The place of the value (or, with key=True, of the key) at `path`, or its nearest parent;
        inside an imported block, in its library's file."""
        if len(path) >= 2 and path[0] == "blocks" and path[1] in self.imported and path[1] not in (self._get("blocks", dict) or {}):
            return self.imported[path[1]].locate(path, key)
        return self.locations.locate(path, key)

    def error(self, path: tuple, code: str, message: str, key: bool = False) -> Diagnostic:
        return Diagnostic(self.locate(path, key), code, message)


def read_source(spec) -> tuple[str, str, str | None]:
    """(text, display name, path) for a path, YAML text or a SpecText."""
    if isinstance(spec, SpecText):
        if len(spec.text) > MAX_BYTES:
            raise error_for([Diagnostic(Loc(spec.path, 1, 1), Code.TOO_LARGE,
                                        f"spec text is {len(spec.text):,} characters; the limit is {MAX_BYTES:,}")], {spec.path: ""})
        return spec.text, spec.path, spec.path
    if isinstance(spec, os.PathLike) or (
        isinstance(spec, str) and "\n" not in spec and (spec.endswith((".yaml", ".yml")) or os.path.isfile(spec))
    ):
        path = os.fspath(spec)

        def refuse(loc, code, message):  # the file could not be read: its text stands empty
            return error_for([Diagnostic(loc, code, message)], {path: ""})

        try:
            size = os.path.getsize(path)
            if size > MAX_BYTES:
                raise refuse(Loc(path, 1, 1), Code.TOO_LARGE, f"spec file is {size:,} bytes; the limit is {MAX_BYTES:,}")
            with open(path, "rb") as f:  # bounded: a device such as /dev/zero has no size
                raw = f.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                raise refuse(Loc(path, 1, 1), Code.TOO_LARGE, f"spec file is over the limit of {MAX_BYTES:,} bytes")
        except OSError as e:
            raise refuse(None, Code.IO, f"cannot read spec '{path}': {e.strerror or e}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
            raise refuse(Loc(path, line, col), Code.ENCODING, f"spec is not UTF-8 text (byte 0x{raw[e.start]:02x})") from None
        return text, path, path
    if not isinstance(spec, str):
        raise error_for([Diagnostic(None, Code.USAGE, f"a spec is a path or YAML text, not {type(spec).__name__}")])
    if len(spec) > MAX_BYTES:
        raise error_for([Diagnostic(None, Code.TOO_LARGE, f"spec text is {len(spec):,} characters; the limit is {MAX_BYTES:,}")])
    return spec, "<spec>", None


def parse_yaml(text: str, file: str) -> tuple[object, Locations]:
    """Compose YAML into nodes (keeping marks) and convert them to plain data plus locations."""
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise error_for([Diagnostic(Loc(file, line, 1), Code.YAML, "spec contains a NUL byte: this is not a text file")])
    try:
        check_events(text, file, MAX_DEPTH, MAX_NODES)
        root = yaml.compose(text, Loader=_Loader)
    except yaml.reader.ReaderError as e:
        before = text.encode("utf-8")[: e.position].decode("utf-8", "ignore")
        loc = Loc(file, before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
        raise error_for([Diagnostic(loc, Code.YAML, f"invalid YAML: {e.reason} (found {_char(e.character)})")]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = _inside(text, file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
        raise error_for([Diagnostic(loc, Code.YAML, f"invalid YAML: {e.problem or e.context}")]) from None
    except yaml.YAMLError as e:
        raise error_for([Diagnostic(Loc(file, 1, 1), Code.YAML, f"invalid YAML: {e}")]) from None
    except RecursionError:
        raise error_for([Diagnostic(Loc(file, 1, 1), Code.YAML, "YAML nested too deeply")]) from None
    converter = _Converter(file)
    data = converter.convert(root, ())
    return data, converter.locations


def _inside(text: str, file: str, line: int, col: int) -> Loc:
    """A place in the text: libyaml marks the end of a text without a final newline one line past it."""
    lines = text.splitlines() or [""]
    if line > len(lines):
        return Loc(file, len(lines), len(lines[-1]) + 1)
    return Loc(file, line, col)


def _char(character) -> str:
    return f"#x{character:04x}" if isinstance(character, int) else repr(character)


class _Converter:
    def __init__(self, file: str):
        self.file = file
        self.locations = Locations(file)
        self.count = 0
        self.scalars = yaml.SafeLoader("")
        self.cache: dict = {}  # (tag, text) -> value: specs repeat the same keys and numbers a lot

    def loc(self, node) -> Loc:
        return Loc(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node, code: str, message: str):
        raise error_for([Diagnostic(self.loc(node), code, message)])

    def convert(self, node, path: tuple):
        self.count += 1
        if self.count > MAX_NODES:
            self.fail(node, Code.TOO_LARGE, f"spec expands to more than {MAX_NODES:,} YAML nodes (an alias bomb?)")
        if len(path) > MAX_DEPTH:
            self.fail(node, Code.TOO_DEEP, f"spec is nested more than {MAX_DEPTH} levels deep")
        if node is None:
            return None
        self.locations.values.setdefault(path, self.loc(node))
        self.locations.ends.setdefault(path, Loc(self.file, node.end_mark.line + 1, node.end_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            if node.tag != MAP_TAG:
                self.fail(node, Code.YAML_TAG, f"YAML tag '{node.tag}' is not allowed in a spec")
            out = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.fail(key_node, Code.YAML, "YAML merge keys ('<<') are not supported in specs; use a block")
                if not isinstance(key_node, yaml.ScalarNode):
                    self.fail(key_node, Code.YAML, "a mapping key must be a plain name")
                key = self.scalar(key_node)
                if isinstance(key, float) or key is None:
                    key = key_node.value
                if key in out:
                    self.fail(key_node, Code.DUPLICATE_KEY, f"duplicate key '{key}'")
                self.locations.keys[path + (key,)] = self.loc(key_node)
                out[key] = self.convert(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != SEQ_TAG:
                self.fail(node, Code.YAML_TAG, f"YAML tag '{node.tag}' is not allowed in a spec")
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.scalar(node)

    def scalar(self, node):
        if node.tag not in SCALAR_TAGS:
            if node.tag.startswith("tag:yaml.org,2002:") and node.tag.rsplit(":", 1)[-1] in ("timestamp", "binary"):
                return node.value
            self.fail(node, Code.YAML_TAG, f"YAML tag '{node.tag}' is not allowed in a spec")
        key = (node.tag, node.value)
        if key not in self.cache:
            try:
                self.cache[key] = self.scalars.construct_object(node)
            except (ValueError, OverflowError) as e:  # e.g. an integer of more than 4,300 digits
                shown = node.value if len(node.value) <= 40 else f"{node.value[:40]}... ({len(node.value):,} characters)"
                self.fail(node, Code.YAML, f"cannot read {shown}: {e}")
        return self.cache[key]


def parse_spec(spec) -> tuple[Spec, list[tuple[tuple, Diagnostic]]]:
    """Read and parse a spec, and list its schema violations as (path, diagnostic)."""
    if isinstance(spec, Spec):
        return spec, []
    text, file, path = read_source(spec)
    try:
        data, locations = parse_yaml(text, file)
    except ArchspecError as e:
        e.sources = {file: text}
        raise
    if data is None:
        raise error_for([Diagnostic(Loc(file, 1, 1), Code.EMPTY, "spec is empty: expected a mapping with 'archspec: 1' and 'layers:'")], {file: text})
    loaded = Spec(data=data, text=text, file=file, path=path, locations=locations)
    from archspec.lang.imports import resolve_imports
    from archspec.lang.schema import validate

    return loaded, validate(loaded, library=loaded.is_library) + resolve_imports(loaded)


def load_spec(spec) -> Spec:
    """Read, parse and schema-validate a spec; raises SpecError listing every problem found."""
    loaded, problems = parse_spec(spec)
    if problems:
        raise error_for([d for _, d in problems], loaded.sources)
    return loaded
