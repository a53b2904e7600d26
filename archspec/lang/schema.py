"""The JSON Schema of the spec format, generated from the op registry, and validation
whose errors are mapped back to file:line:col with readable messages."""
from __future__ import annotations

import functools

from archspec.diagnostics import did_you_mean
from archspec.errors import Code, Diagnostic
from archspec.lang.pitfalls import split_message, split_tuples
from archspec.ops import merges, registry

COMBINATORS = ("layers", "parallel", "residual", "dense")
SHARE = "share"  # the item head that applies an earlier item's module again
ITEM_KEYS = ("id", "from", "repeat", "if", "inline", "merge", "trainable", "tie")
TOP_KEYS = ("archspec", "name", "doc", "imports", "input", "params", "blocks", "layers", "outputs", "train")
LIBRARY_KEYS = ("archspec", "doc", "imports", "blocks")
BLOCK_KEYS = ("params", "doc", "merge", "inputs", "outputs") + COMBINATORS
DTYPE_NAMES = ("float32", "int64", "bool")

EXPR = {"type": "string", "pattern": r"\$", "description": "an expression: $name or ${...}"}
HEAD_BODY = {"anyOf": [{"type": "null"}, {"type": "object"}]}  # a block call's params, or an unknown head's: expansion tells which
NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
HEAD_NAME = {"type": "string", "pattern": r"^\$?[A-Za-z_][A-Za-z0-9_]*$",  # `- relu`, or `- $act`: a param names it
             "description": "an op or block, or a $param that names one"}
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"  # a name, or one with dashes as torchvision's RegNet writes (block1-0)
REF_PATTERN = r"^[A-Za-z_0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$"  # a dotted path: layer1.0.conv1, split.1


def _int(minimum: int) -> dict:
    return {"anyOf": [{"type": "integer", "minimum": minimum}, EXPR]}


def _op_schema(op) -> dict:
    args = {arg.name: {**arg.type.schema(), "description": arg.doc} for arg in op.args}
    options: list = [{"type": "null"}, {"type": "object", "properties": args, "additionalProperties": False}]
    if op.main_arg:
        options.append(args[op.main_arg])
    return {"description": op.doc, "anyOf": options}


@functools.lru_cache(maxsize=1)
def spec_schema() -> dict:
    """The whole format as JSON Schema (draft 2020-12); `archspec schema` prints it."""
    ops = registry()
    items_ref = {"$ref": "#/$defs/layers"}
    branch = {"anyOf": [items_ref, {"$ref": "#/$defs/item"}]}
    body = {
        "layers": {**items_ref, "description": "a sub-list of items (a chain)"},
        "parallel": {"type": "array", "minItems": 1, "items": branch, "description": "branches fed with the same input, then merged"},
        "residual": {
            "type": "object", "required": ["body"], "additionalProperties": False,
            "properties": {"body": branch, "shortcut": branch},
            "description": "merge(body(x), shortcut(x)); the shortcut is the identity when omitted",
        },
        "dense": {
            "type": "object", "required": ["layers", "repeat"], "additionalProperties": False,
            "properties": {"layers": items_ref, "repeat": {"$ref": "#/$defs/repeat"}},
            "description": "repeat times: x = concat(x, layers(x))",
        },
        "merge": {"anyOf": [{"enum": list(merges())}, EXPR], "description": "how parallel branches or a residual are merged"},
    }
    item_props = {
        "id": {"$ref": "#/$defs/id"},
        "from": {"anyOf": [{"$ref": "#/$defs/ref"}, {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/ref"}}]},
        "repeat": {"$ref": "#/$defs/repeat"},
        "if": {"anyOf": [{"type": "boolean"}, EXPR]},
        "inline": {"type": "boolean"},
        "trainable": {"anyOf": [{"type": "boolean"}, EXPR], "description": "false: freeze the parameters made inside"},
        "tie": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string", "pattern": r"^[A-Za-z0-9_.]+$"},
                "description": "parameter -> the path of another item's parameter it is (wte.weight)"},
        SHARE: {**{"$ref": "#/$defs/ref"}, "description": "apply an earlier item's module again (one set of weights)"},
        **body,
        **{name: _op_schema(op) for name, op in sorted(ops.items())},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://archspec.dev/schema/v1.json",
        "title": "archspec spec",
        "description": "A neural network as a graph of layers, checked and compiled by archspec.",
        "type": "object",
        "required": ["archspec", "input", "layers"],
        "additionalProperties": False,
        "properties": {
            "archspec": {"const": 1, "description": "format version"},
            "name": {"type": "string"},
            "doc": {"type": "string"},
            "imports": {"type": "array", "items": {"type": "string", "minLength": 1},
                        "description": "block libraries: a bundled or --lib-path name (torchvision), or a .yaml file "
                                       "relative to this one"},
            "input": {"anyOf": [{"$ref": "#/$defs/shape"}, {"type": "object", "minProperties": 1, "propertyNames": NAME,
                                                            "additionalProperties": {"$ref": "#/$defs/typed_input"}}]},
            "params": {"type": "object", "propertyNames": NAME},
            "blocks": {"type": "object", "propertyNames": NAME, "additionalProperties": {"$ref": "#/$defs/block"}},
            "layers": items_ref,
            "outputs": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/ref"}},
            "train": {"type": "object", "description": "the default recipe of `archspec train`"},
        },
        "$defs": {
            "shape": {"type": "array", "minItems": 1, "items": _int(1)},
            "typed_input": {"anyOf": [{"$ref": "#/$defs/shape"}, {
                "type": "object", "required": ["shape"], "additionalProperties": False,
                "properties": {"shape": {"$ref": "#/$defs/shape"}, "dtype": {"anyOf": [{"enum": list(DTYPE_NAMES)}, EXPR]},
                               "range": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"anyOf": [{"type": "integer"}, EXPR]},
                                         "description": "int inputs: [low, high), the values example inputs take"}}}]},
            "id": {"anyOf": [{"type": "string", "pattern": ID_PATTERN}, {"type": "integer", "minimum": 0}]},
            "ref": {"anyOf": [{"$ref": "#/$defs/id"}, {"type": "string", "pattern": REF_PATTERN,
                                                       "description": "a dotted path: an entry inside a scope, or an output index"}]},
            "repeat": {"anyOf": [_int(0), {"type": "object", "required": ["times"], "additionalProperties": False,
                                           "properties": {"times": _int(0), "id": {"type": "string"}}}]},
            "layers": {"type": "array", "items": {"$ref": "#/$defs/item"}},
            "item": {"anyOf": [HEAD_NAME, {"type": "object", "minProperties": 1, "properties": item_props,
                                      "additionalProperties": HEAD_BODY}]},
            "block": {
                "type": "object", "additionalProperties": False,
                "properties": {"doc": {"type": "string"}, "params": {"type": "object", "propertyNames": NAME},
                               "inputs": {"type": "array", "minItems": 1, "items": NAME,
                                          "description": "names of the block's inputs (default: one, `input`)"},
                               "outputs": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/ref"},
                                           "description": "ids the call gives; the first goes down the chain"}, **body},
            },
        },
    }


@functools.lru_cache(maxsize=1)
def library_schema() -> dict:
    """A block library (a file that specs import): blocks, and the libraries they need."""
    spec = spec_schema()
    return {**spec, "$id": "https://archspec.dev/schema/library-v1.json", "title": "archspec block library",
            "description": "Blocks that archspec specs import with `imports:`.", "required": ["archspec", "blocks"],
            "properties": {key: spec["properties"][key] for key in LIBRARY_KEYS}}


@functools.lru_cache(maxsize=2)
def _validator(library: bool = False):
    import jsonschema

    schema = library_schema() if library else spec_schema()
    return jsonschema.validators.validator_for(schema)(schema)


@functools.lru_cache(maxsize=2)
def _fast_check(library: bool = False):
    """jsonschema-rs answers 'valid?' about a thousand times faster; jsonschema explains failures."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a platform without its wheel
        return lambda data: False
    return jsonschema_rs.validator_for(library_schema() if library else spec_schema()).is_valid


def validate(spec, library: bool = False) -> list[tuple[tuple, Diagnostic]]:
    """Every schema violation of a loaded spec (or block library) as (path, diagnostic), located and
    worded for people."""
    splits = [(path, spec.error(path, Code.YAML, split_message(path[-1], made, inside)),
               {spec.locate(path[:-1] + (k,), key=True) for k in made}) for path, made, inside in split_tuples(spec.data)]
    found: dict = {(d.loc, d.message): (path, d) for path, d, _ in splits}  # one problem for each split: not its pieces
    try:
        if not splits and _fast_check(library)(spec.data):
            return []
    except (ValueError, TypeError):  # jsonschema-rs takes only string keys; a spec may have `0:` or `true:` keys
        pass
    for error in _validator(library).iter_errors(spec.data):
        path, diag = _diagnose(spec, error)
        if diag is None:
            continue
        if any(path[:len(p)] == p or diag.loc in keys for p, _, keys in splits):
            continue
        found.setdefault((diag.loc, diag.message), (path, diag))
    # "missing 'layers'" says nothing new beside "unknown key 'layer' (did you mean 'layers'?)"
    suggested = " ".join(d.message for _, d in found.values())
    kept = [(p, d) for p, d in found.values() if not (d.code is Code.MISSING_KEY and f"(did you mean '{p[-1]}'?)" in suggested)]
    return sorted(kept, key=lambda pd: (pd[1].loc.line, pd[1].loc.col) if pd[1].loc else (0, 0))


def _deepest(error):
    """For anyOf errors, the alternative whose type matched explains the problem best."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        own = tuple(error.absolute_path)
        matched = [e for e in error.context
                   if not (tuple(e.absolute_path) == own and e.validator == "type")
                   and not (e.validator == "pattern" and _is_expr(e.schema))]
        if not matched:
            return error
        error = max(matched, key=lambda e: len(e.absolute_path))
    return error


def _diagnose(spec, error) -> tuple[tuple, Diagnostic | None]:
    error = _deepest(error)
    path = tuple(error.absolute_path)
    if error.schema == HEAD_BODY:  # expansion knows whether the key is a block (its params) or an unknown op
        return path, None
    diag = _describe_error(spec, error, path)
    if error.validator == "required":
        path += (next(k for k in error.validator_value if k not in error.instance),)
    return path, diag


def _describe_error(spec, error, path) -> Diagnostic:
    where = _where(path)
    value = error.instance
    v = error.validator
    if v == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in value if k not in allowed]
        key = extra[0] if extra else "?"
        context = f"{path[-1]}: " if path and isinstance(path[-1], str) and path[-1] in registry() else ""
        listing = did_you_mean(key, allowed) or (f" (expected one of: {', '.join(map(str, allowed))})" if len(allowed) < 12 else "")
        noun = "argument" if context else "key"
        return spec.error(path + (key,), Code.UNKNOWN_KEY, f"{context}unknown {noun} '{key}'{listing}", key=True)
    if v == "required":
        missing = [k for k in error.validator_value if k not in value]
        return spec.error(path, Code.MISSING_KEY, f"{where}missing required key '{missing[0]}'")
    if v == "const" and path == ("archspec",):
        return spec.error(path, Code.VERSION, f"unsupported format version {value!r}: expected 'archspec: 1'")
    if v in ("anyOf", "oneOf"):
        expected = _expected(error.schema)
        return spec.error(path, Code.TYPE, f"{where}expected {expected}, found {_describe(value)}")
    if v == "type":
        return spec.error(path, Code.TYPE, f"{where}expected {_type_word(error.validator_value)}, found {_describe(value)}")
    if v in ("minimum", "maximum"):
        return spec.error(path, Code.RANGE, f"{where}expected a value {'>=' if v == 'minimum' else '<='} {error.validator_value}, found {value!r}")
    if v == "enum":
        return spec.error(path, Code.CHOICE, f"{where}expected one of {', '.join(map(repr, error.validator_value))}, found {value!r}{did_you_mean(value, error.validator_value)}")
    if v == "pattern" and error.validator_value in (ID_PATTERN, REF_PATTERN):
        if path and path[-1] == "id":
            why = " (ids are not evaluated; repeat: {times: N, id: \"unit${i}\"} names copies by an expression)" if "$" in value else ""
            return spec.error(path, Code.BAD_ID, f"id {value!r} must be a name (letters, digits, _ and -) or a number{why}")
        why = " (references are not evaluated: write the id)" if "$" in value else ""
        return spec.error(path, Code.BAD_ID, f"{where}expected an id or a dotted path (a.b, split.1), found {_describe(value)}{why}")
    if v in ("minItems", "minProperties"):
        return spec.error(path, Code.EMPTY, f"{where}must not be empty")
    if v == "propertyNames":
        return spec.error(path, Code.BAD_NAME, f"{where}names must be identifiers (letters, digits, _): {error.message}")
    return spec.error(path, Code.SCHEMA, f"{where}{error.message}")


def _is_expr(schema: dict) -> bool:
    """Whether a schema alternative is the one for an expression ($name or ${...})."""
    return isinstance(schema, dict) and schema.get("type") == "string" and schema.get("pattern", "").lstrip("^") == r"\$"


def _where(path: tuple) -> str:
    """'conv2d: argument 'out': ' or ''key': ' for the last name in a path."""
    names = [p for p in path if isinstance(p, str)]
    if len(names) >= 2 and names[-2] in registry():
        return f"{names[-2]}: argument '{names[-1]}': "
    return f"'{names[-1]}': " if names else ""


def _type_word(t) -> str:
    words = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
             "array": "a list", "object": "a mapping", "null": "nothing"}
    if isinstance(t, list):
        return " or ".join(words.get(x, x) for x in t)
    return words.get(t, t)


def _expected(schema: dict) -> str:
    parts = []
    for option in schema.get("anyOf", schema.get("oneOf", [])):
        if "$ref" in option:
            ref = option["$ref"].rsplit("/", 1)[-1]
            parts.append({"layers": "a list of items", "item": "an item", "id": "an id", "shape": "a shape (list of sizes)",
                          "repeat": "a count", "ref": "an id or a dotted path (a.b, split.0)",
                          "typed_input": "a shape or {shape, dtype}"}.get(ref, ref))
        elif _is_expr(option):
            parts.append("an expression ($name or ${...})")
        elif "enum" in option:
            parts.append("one of " + ", ".join(map(repr, option["enum"])))
        elif "type" in option:
            word = _type_word(option["type"])
            if option.get("type") == "string" and "pattern" in option:
                word = "a name"
            parts.append(word)
    return " or ".join(dict.fromkeys(parts)) or "a valid value"


def _describe(value) -> str:
    from archspec.ops.base import describe

    return describe(value)
