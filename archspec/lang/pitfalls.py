"""YAML that reads otherwise than its writer meant, told as such. YAML has no tuples: in a flow
mapping, `{kernel: (1, 7)}` is split at the comma into the value '(1' and a key '7)', which
would otherwise be reported as a bad value and an unknown key."""
from __future__ import annotations

import re

TUPLE = re.compile(r"\(([^()]*,[^()]*)\)")


def split_tuples(data, path=()):
    """(path of the value, the keys the split made, the tuple's inside) for each `key: (a, b)`
    that a flow mapping split at its commas."""
    if isinstance(data, list):
        for k, value in enumerate(data):
            yield from split_tuples(value, path + (k,))
    elif isinstance(data, dict):
        keys = list(data)
        for j, key in enumerate(keys):
            value = data[key]
            if isinstance(value, str) and value.lstrip().startswith("(") and ")" not in value:
                made = []
                for later in keys[j + 1:]:
                    if data[later] is not None:
                        break
                    made.append(later)
                    if str(later).rstrip().endswith(")"):
                        inside = ", ".join([value.strip()[1:].strip()] + [str(k).strip() for k in made])
                        yield path + (key,), made, inside[:-1].strip()
                        break
            else:
                yield from split_tuples(value, path + (key,))


def split_message(key, made: list, inside: str) -> str:
    keys, many = ", ".join(f"'{k}'" for k in made), len(made) > 1
    return (f"{key}: YAML has no tuples: it split ({inside}) at the comma{'s' if many else ''} into the value "
            f"'({inside.split(',')[0].strip()}' and the key{'s' if many else ''} {keys}; write a list, [{inside}]")


def tuple_hint(text: str) -> str:
    """' (YAML has no tuples: write a list, [1, 7])' for a string such as '(1, 7)'."""
    m = TUPLE.fullmatch(text.strip())
    return f" (YAML has no tuples: write a list, [{m.group(1).strip()}])" if m else ""
