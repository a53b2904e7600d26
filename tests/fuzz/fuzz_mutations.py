"""Hypothesis strategies that break valid specs: delete, duplicate, retype, misspell and
swap keys and values in the data, and throw YAML junk into the text."""
from __future__ import annotations

import copy

from hypothesis import strategies as st

from fuzz_specs import to_yaml, valid_specs

JUNK_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.sampled_from([0, -1, 10**6, 2**70, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["relu", "conv2d", "$width", "${width}", "${input.c * 2}", "${1/0}", "${input.zz}", "$nope", "input",
                     "${().__class__}", "n1", "layers", "required", "${i}", "concat", "${'a' * 20000}", "layer${i + 1}"]),
    st.lists(st.integers(-2, 9), max_size=4), st.dictionaries(st.sampled_from(["out", "kernel", "x", "id", "layers"]),
                                                              st.integers(-1, 9), max_size=2),
)
YAML_JUNK = st.sampled_from(list(":[]{}-#&*!|>'\"%@`,?\t\n ") + ["- ", ": ", "\n  ", "&a ", "*a", "!!python/none", "---\n",
                                                                    "<<: ", "\\u0000", "é", "\x85", "\ufeff", "${", "}"])


def paths(value, path=()):
    """Every (path, value) inside a nested dict/list, the root included."""
    out = [(path, value)]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, path + (k,))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            out += paths(v, path + (k,))
    return out


def parent_of(root, path):
    node = root
    for part in path[:-1]:
        node = node[part]
    return node


def misspell(draw, word: str) -> str:
    if not word:
        return "x"
    i = draw(st.integers(0, len(word) - 1))
    how = draw(st.sampled_from(["drop", "double", "swap", "replace", "case"]))
    if how == "drop":
        return word[:i] + word[i + 1:] or "x"
    if how == "double":
        return word[:i] + word[i] + word[i:]
    if how == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if how == "case":
        return word.swapcase()
    return word[:i] + draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz_0")) + word[i + 1:]


def mutate_once(draw, spec: dict) -> None:
    """One structural edit at a drawn place, in place."""
    inner = [(p, v) for p, v in paths(spec) if p]
    path, value = draw(st.sampled_from(inner))
    parent, last = parent_of(spec, path), path[-1]
    how = draw(st.sampled_from(["delete", "duplicate", "retype", "misspell_key", "misspell_value", "swap", "wrap"]))
    if how == "delete":
        del parent[last]
    elif how == "duplicate":
        if isinstance(parent, list):
            parent.insert(last, copy.deepcopy(value))
        else:
            parent[misspell(draw, str(last))] = copy.deepcopy(value)
    elif how == "retype":
        parent[last] = draw(JUNK_VALUES)
    elif how == "misspell_key" and isinstance(parent, dict):
        parent[misspell(draw, str(last))] = parent.pop(last)
    elif how == "misspell_value" and isinstance(value, str):
        parent[last] = misspell(draw, value)
    elif how == "swap":
        other_path, other = draw(st.sampled_from(inner))
        if other_path[: len(path)] != path and path[: len(other_path)] != other_path:
            parent[last], parent_of(spec, other_path)[other_path[-1]] = copy.deepcopy(other), copy.deepcopy(value)
    elif how == "wrap":
        parent[last] = draw(st.sampled_from([[value], {"layers": [value]}, {"parallel": [value]}, {str(value)[:10]: value}]))


def mutate_text(draw, text: str) -> str:
    """Junk at the YAML level: insert, delete, duplicate a line, or cut the text short."""
    how = draw(st.sampled_from(["insert", "delete", "line", "truncate", "indent"]))
    i = draw(st.integers(0, len(text)))
    if how == "insert":
        return text[:i] + draw(YAML_JUNK) + text[i:]
    if how == "delete":
        return text[:i] + text[i + draw(st.integers(1, 10)):]
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    k = draw(st.integers(0, len(lines) - 1))
    if how == "line":
        return "".join(lines[:k] + [lines[k]] + lines[k:])
    if how == "indent":
        return "".join(lines[:k] + [draw(st.sampled_from([" ", "  ", "\t", ""])) + lines[k].lstrip(" ")] + lines[k + 1:])
    return text[:i]


@st.composite
def broken_specs(draw):
    """YAML text of a valid spec after one to four edits of its data and maybe of its text."""
    spec = copy.deepcopy(draw(valid_specs(max_items=4))[0])
    for _ in range(draw(st.integers(1, 4))):
        mutate_once(draw, spec)
    try:
        text = to_yaml(spec)
    except Exception:  # noqa: BLE001 - a drawn value YAML cannot write (never the case for JUNK_VALUES)
        text = str(spec)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        text = mutate_text(draw, text)
    return text
