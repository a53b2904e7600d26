"""One mistake, one error: a single mistake put into any item of a bundled spec gives exactly
one diagnostic, of the mistake's own kind: no cascade (ids reported unknown, values reported
unused, items after it reported again) and nothing missing."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import archspec
from archspec.compiler.blocks import body_items
from archspec.errors import Code
from archspec.ops import registry

ROOT = Path(__file__).resolve().parents[2]
SPECS = ["resnet18", "d2l/resnet18", "d2l/googlenet", "d2l/densenet"]  # residual, parallel and dense blocks (their own, not imported)


def _head(item, names):
    return next((k for k in item if k in names), None) if isinstance(item, dict) else None


def unknown_arg(item, spec):
    head = _head(item, registry())
    return head and {**item, head: {**(item[head] if isinstance(item[head], dict) else {}), "bogus": 1}}, Code.UNKNOWN_KEY


def misspelled_op(item, spec):
    head = _head(item, registry())
    return head and {("x" + k if k == head else k): v for k, v in item.items()}, Code.UNKNOWN_OP


def bad_expression(item, spec):
    head = _head(item, registry())
    args = item.get(head) if head else None
    return isinstance(args, dict) and args and {**item, head: {**args, next(iter(args)): "$nope"}}, Code.EXPR


def kernel_too_large(item, spec):
    head = _head(item, ("conv2d", "maxpool2d", "avgpool2d"))
    return head and isinstance(item[head], dict) and {**item, head: {**item[head], "kernel": 999}}, Code.SHAPE


def misspelled_from(item, spec):
    wanted = item.get("from") if isinstance(item, dict) else None
    typo = [f"{wanted[0]}x", *wanted[1:]] if isinstance(wanted, list) else f"{wanted}x"
    return wanted is not None and {**item, "from": typo}, Code.UNKNOWN_ID


def misspelled_param(item, spec):
    block = _head(item, spec.get("blocks") or {})
    args = item.get(block) if block else None
    first = next(iter(args)) if isinstance(args, dict) and args else None
    return first and {**item, block: {(f"{k}x" if k == first else k): v for k, v in args.items()}}, Code.UNKNOWN_PARAM


MISTAKES = [unknown_arg, misspelled_op, bad_expression, kernel_too_large, misspelled_from, misspelled_param]


def mutants(spec: dict):
    owners = [({"layers": spec["layers"]}, ())] + [(b, ("blocks", n)) for n, b in (spec.get("blocks") or {}).items()]
    for owner, path in owners:
        for item, item_path in list(body_items(owner, path)):
            item = {item: None} if isinstance(item, str) else item
            for mistake in MISTAKES:
                changed, code = mistake(item, spec)
                if changed:
                    broken = copy.deepcopy(spec)
                    parent = broken
                    for part in item_path[:-1]:
                        parent = parent[part]
                    parent[item_path[-1]] = changed
                    yield f"{item_path} {mistake.__name__}", broken, code


@pytest.mark.parametrize("name", SPECS)
def test_one_mistake_gives_one_error_of_its_kind(name):
    spec = yaml.safe_load((ROOT / "specs" / f"{name}.yaml").read_text())
    tried = 0
    for what, broken, code in mutants(spec):
        found = [(d.code, d.message) for d in archspec.check(yaml.safe_dump(broken, sort_keys=False)).diagnostics]
        assert [c for c, _ in found] == [code], (what, found)
        tried += 1
    assert tried >= 20
