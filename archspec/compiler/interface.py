"""What a spec declares around its layers: its params (defaults, then overrides) and its
inputs, each a shape or a typed declaration `{shape: [...], dtype: int64, range: [0, $vocab]}`,
added to the graph as typed input nodes. Problems go to the pipeline's diagnostics list."""
from __future__ import annotations

from dataclasses import replace

from archspec.compiler.infer import fits
from archspec.compiler.ir import DTYPES, Graph, Ref, Type
from archspec.diagnostics import did_you_mean
from archspec.errors import Code, Diagnostic
from archspec.lang.expr import ExprError, resolve
from archspec.ops.base import is_int

INT_RANGE = (0, 2)  # the values example int inputs take unless the spec says: valid indices of any table


def resolve_params(spec, overrides: dict, diagnostics: list) -> dict:
    declared = spec.params
    for key in overrides:
        if key not in declared:
            hint = did_you_mean(key, declared) or (f" (params: {', '.join(declared)})" if declared else " (the spec declares no params)")
            diagnostics.append(Diagnostic(None, Code.UNKNOWN_PARAM, f"unknown param '{key}'{hint}"))
    names: dict = {}
    for key, default in declared.items():
        try:
            names[key] = overrides[key] if key in overrides else resolve(default, names)
        except ExprError as e:
            diagnostics.append(spec.error(("params", key), Code.EXPR, f"param '{key}': {e}"))
    return names


def override_inputs(spec, shapes, diagnostics: list):
    """The spec with other input shapes (`archspec check --input`): `shapes` is one shape for a
    one-input spec, or {input name: shape}; a typed input keeps its dtype and range."""
    if spec.is_library:
        diagnostics.append(Diagnostic(None, Code.USAGE, "--input: a block library has no input of its own; check a "
                                      "spec that calls its blocks at that shape"))
        return spec
    raw = spec.data.get("input")
    named = raw if isinstance(raw, dict) else {"input": raw}
    if not isinstance(shapes, dict):
        if len(named) > 1:
            diagnostics.append(Diagnostic(None, Code.USAGE, f"--input: the spec has {len(named)} inputs ({', '.join(map(str, named))}): "
                                          "give each shape with its name (--input NAME=3,224,224)"))
            return spec
        shapes = {next(iter(named)): shapes}
    new = dict(named)
    for name, shape in shapes.items():
        if name not in named:
            diagnostics.append(Diagnostic(None, Code.USAGE, f"--input {name}=...: the spec has no input '{name}' (its inputs: "
                                          f"{', '.join(map(str, named))}){did_you_mean(name, named)}"))
        elif not isinstance(shape, (list, tuple)) or not shape or not all(is_int(d) and d >= 1 for d in shape):
            diagnostics.append(Diagnostic(None, Code.USAGE, f"--input {name}=...: a shape is one or more positive "
                                          f"integers, found {shape!r}"))
        else:
            declared = named[name]
            new[name] = {**declared, "shape": list(shape)} if isinstance(declared, dict) else list(shape)
    return replace(spec, data={**spec.data, "input": new if isinstance(raw, dict) else new["input"]})


def add_inputs(spec, params: dict, graph: Graph, diagnostics: list) -> dict[str, Ref]:
    """One typed input node per declared input; `range` (int inputs: the values example inputs
    are drawn from, high excluded) is kept on the node."""
    raw = spec.data.get("input")
    named = raw if isinstance(raw, dict) else {"input": raw}
    out = {}
    for name, declared in named.items():
        base = ("input", name) if isinstance(raw, dict) else ("input",)
        typed = isinstance(declared, dict)
        where = base + ("shape",) if typed else base
        shape = _shape(spec, declared.get("shape") if typed else declared, where, params, diagnostics)
        dtype = _value(spec, declared.get("dtype", "float32"), base + ("dtype",), params, diagnostics) if typed else "float32"
        if dtype is not None and dtype not in DTYPES:
            diagnostics.append(spec.error(base + ("dtype",), Code.CHOICE, f"dtype must be one of {', '.join(DTYPES)}, found {dtype!r}"))
        low_high = _range(spec, declared, base, dtype, params, diagnostics) if typed else None
        if all(is_int(d) and d >= 1 for d in shape) and not fits(shape):
            diagnostics.append(spec.error(where, Code.TOO_LARGE, "input shape has more than 2^63 - 1 elements, "
                                          "more than a torch tensor can hold"))
        ref = graph.add_input(str(name), Type(tuple(shape), dtype if dtype in DTYPES else "float32"), spec.locate(base))
        if dtype == "int64":
            graph.nodes[ref.node]["range"] = low_high or INT_RANGE
        out[str(name)] = ref
    return out


def _shape(spec, dims, where, params, diagnostics) -> list:
    shape = []
    for k, dim in enumerate(dims if isinstance(dims, list) else []):
        value = _value(spec, dim, where + (k,), params, diagnostics)
        if value is None:
            continue
        if not is_int(value) or value < 1:
            diagnostics.append(spec.error(where + (k,), Code.BAD_INPUT, f"input sizes must be positive integers, found {value!r}"))
        shape.append(value)
    return shape


def _range(spec, declared, base, dtype, params, diagnostics):
    if "range" not in declared:
        return None
    where = base + ("range",)
    if dtype != "int64":
        diagnostics.append(spec.error(where, Code.BAD_KEY, f"range: applies to int64 inputs, this one is {dtype}", key=True))
        return None
    low, high = (_value(spec, v, where + (k,), params, diagnostics) for k, v in enumerate(declared["range"]))
    if not (is_int(low) and is_int(high) and low < high):
        diagnostics.append(spec.error(where, Code.BAD_INPUT, f"range: expected [low, high] integers with low < high "
                                      f"(high excluded), found [{low!r}, {high!r}]"))
        return None
    return low, high


def _value(spec, value, where, params, diagnostics):
    try:
        return resolve(value, params)
    except ExprError as e:
        diagnostics.append(spec.error(where, Code.EXPR, str(e)))
        return None
