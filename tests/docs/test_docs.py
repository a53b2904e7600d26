"""The docs' examples are specs that check: every ```yaml block of docs/*.md and README.md
whose first line (after comments) is `archspec: 1`. And the reference shows every construct
of the language in at least one such example."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

import archspec
from archspec import plugins
from archspec.lang.schema import BLOCK_KEYS, COMBINATORS, ITEM_KEYS, SHARE, TOP_KEYS
from archspec.ops import merges

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(ROOT.glob("docs/*.md")) + sorted(ROOT.glob("README.md"))


def blocks(page: Path, language: str = "yaml") -> list[tuple[int, str]]:
    """(line of the block's first line, text) for each ```language block."""
    fence = re.compile(rf"^ *```{language}[ \t]*\n(.*?)^ *```", re.M | re.S)
    text = page.read_text(encoding="utf-8")
    return [(text[: m.start(1)].count("\n") + 1, textwrap.dedent(m.group(1))) for m in fence.finditer(text)]


def plugin_setup(page: Path) -> str:
    """The page's Python that registers plugin ops, which its specs use."""
    return "\n".join(code for _, code in blocks(page, "python") if "register_op(" in code)


def is_spec(text: str) -> bool:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            return line == "archspec: 1"
    return False


EXAMPLES = [(page, line, text) for page in PAGES for line, text in blocks(page) if is_spec(text)]


@pytest.mark.parametrize("page, line, text", EXAMPLES, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in EXAMPLES])
def test_example_checks(page, line, text):
    with plugins.restoring():
        exec(compile(plugin_setup(page), str(page), "exec"), {"__name__": "docs_example"})
        report = archspec.check(text)
    problems = [f"{page.relative_to(ROOT)}:{line + d.loc.line - 1 if d.loc else line}: {d.message}" for d in report.diagnostics]
    assert report.ok, "\n".join(problems)


def walk(value, keys: set, strings: set) -> None:
    if isinstance(value, dict):
        keys.update(str(k) for k in value)
        for v in value.values():
            walk(v, keys, strings)
    elif isinstance(value, list):
        for v in value:
            walk(v, keys, strings)
    elif isinstance(value, str):
        strings.add(value)


def test_the_reference_has_an_example_of_every_construct():
    reference = ROOT / "docs" / "spec-language.md"
    examples = [yaml.safe_load(text) for page, _, text in EXAMPLES if page == reference]
    top, keys, strings = set(), set(), set()
    for data in examples:
        top.update(data)
        walk(data, keys, strings)
    raw = "\n".join(text for page, _, text in EXAMPLES if page == reference)
    assert set(TOP_KEYS) <= top
    assert set(ITEM_KEYS) | set(COMBINATORS) | set(BLOCK_KEYS) | {"body", "shortcut", "times", SHARE} <= keys
    assert set(merges()) | {"parameter", "buffer", "dtype", "range", "persistent", "init"} <= keys | strings
    assert any(isinstance(d.get("input"), dict) for d in examples), "named inputs"
    assert "required" in strings, "a required block param"
    for feature in ("$", "${", "${i", "input.c", "input.h", "if:", "inline: true", "[0]}", "min(", " if ", " else ",
                    "input.shape[-1]", "sum(", "log(", "all(", "${skip.c}", "backbone.d1.features", "trainable: false"):
        assert feature in raw, feature


def test_the_plugin_page_shows_what_check_prints():
    page = ROOT / "docs" / "plugins.md"
    ((_, spec),) = [b for b in blocks(page) if is_spec(b[1])]
    with plugins.restoring():
        exec(compile(plugin_setup(page), str(page), "exec"), {"__name__": "docs_example"})
        table = archspec.check(spec).table().splitlines()
    shown = [line.strip() for line in page.read_text().splitlines() if line.startswith("    se ") or line.startswith("    note:")]
    assert [line.split() for line in shown[:1]] == [line.split() for line in table if line.startswith("se ")]
    assert shown[1:] == table[-1:]


def test_the_examples_are_found():
    assert len(EXAMPLES) >= 10 and {p.name for p, _, _ in EXAMPLES} >= {"spec-language.md", "tutorial.md"}


def test_the_training_page_names_every_recipe_option():
    from archspec.train.recipe import OPTIONS

    text = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    assert [name for name in OPTIONS if f"`{name}`" not in text] == []
