"""The spec library: where the bundled specs are, a listing of a folder of specs, and new
specs (a starting template, or a copy of an existing spec under a new name)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from archspec.errors import ArchspecError

FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

TEMPLATE = """\
# A starting spec: a small convolutional classifier. Check it with `archspec check {file}`.
# Editor completion and validation: `archspec schema > archspec.schema.json`, then make this the first line:
#   # yaml-language-server: $schema=./archspec.schema.json
archspec: 1
name: {name}
doc: A small convolutional classifier (three conv-bn-relu stages); a starting point to edit.
input: [3, 32, 32]                 # one sample: channels, height, width
params:                            # override with --set width=64
  num_classes: 10
  width: 32
blocks:
  conv_bn_relu:
    doc: 3x3 convolution, batch norm, ReLU.
    params: {{out: required, stride: 1}}
    layers:
      - {{id: conv, conv2d: {{out: $out, kernel: 3, stride: $stride, padding: 1, bias: false}}}}
      - {{id: bn, batchnorm2d}}
      - {{relu: {{inplace: true}}}}
layers:
  - {{id: stem, conv_bn_relu: {{out: $width}}}}
  - {{id: stage1, conv_bn_relu: {{out: "${{width * 2}}", stride: 2}}}}
  - {{id: stage2, conv_bn_relu: {{out: "${{width * 4}}", stride: 2}}}}
  - {{adaptive_avgpool2d: 1}}
  - flatten
  - {{id: fc, linear: $num_classes}}   # in_features is inferred
"""


def bundled_dir() -> Path | None:
    """The specs that ship with archspec: archspec/specs when installed, specs/ in a source checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "specs", package.parent / "specs"):
        if candidate.is_dir() and any(candidate.rglob("*.yaml")):
            return candidate
    return None


def find(ref: str) -> Path:
    """A spec by path, or by its name in the bundled library ('resnet18', 'd2l/googlenet')."""
    path = Path(ref)
    if path.is_file():
        return path
    library = bundled_dir()
    if library is not None and not path.is_absolute():
        for candidate in (library / ref, library / f"{ref}.yaml"):
            if candidate.is_file():
                return candidate
    from archspec.diagnostics import did_you_mean

    known = [spec_id(p, library) for p in specs_in(library)] if library else []
    raise ArchspecError(f"no spec '{ref}': not a file, nor a bundled spec{did_you_mean(ref, known)}")


def specs_in(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.yaml"), key=lambda p: p.relative_to(folder).as_posix())


def spec_id(path: Path, folder: Path) -> str:
    """'d2l/googlenet' for specs/d2l/googlenet.yaml: how `find` and `archspec list` name it."""
    return path.relative_to(folder).with_suffix("").as_posix()


@dataclass
class Entry:
    """One row of `archspec list`."""

    spec: str
    path: str
    name: str
    doc: str
    ok: bool
    input: dict | None = None
    output: dict | None = None
    params: int | None = None
    macs: int | None = None
    errors: int = 0
    blocks: list | None = None  # a block library's blocks (it has no input or parameters of its own)

    def to_dict(self) -> dict:
        return dict(vars(self))


def listing(folder: Path) -> list[Entry]:
    """Check every spec under `folder` (recursively) and summarise it."""
    from archspec import check

    entries = []
    for path in specs_in(folder):
        report = check(str(path))
        name = report.spec.name if report.spec is not None else path.stem
        doc = report.spec.doc if report.spec is not None else ""
        entry = Entry(spec_id(path, folder), str(path), name, doc, report.ok, errors=len(report.diagnostics))
        if report.ok and report.is_library:
            entry.blocks = list(report.spec.data["blocks"])
        elif report.ok:
            entry.input = {k: list(v) for k, v in report.input_shapes.items()}
            entry.output = {k: list(v) for k, v in report.output_shapes.items()}
            entry.params, entry.macs = report.params, report.macs
        entries.append(entry)
    return entries


def template(name: str, file: str) -> str:
    """The text of a new spec called `name` (valid as written)."""
    return TEMPLATE.format(name=_scalar(name), file=file)


def renamed(text: str, name: str) -> str:
    """`text` with its top-level `name:` set to `name`, keeping every comment and the layout."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise ArchspecError("the spec is not a mapping")
    keys = {k.value: (k, v) for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    if "name" in keys:
        node = keys["name"][1]
        return text[: node.start_mark.index] + _scalar(name) + text[node.end_mark.index:]
    if root.flow_style or "archspec" not in keys:
        raise ArchspecError("cannot add a name to this spec: write `name:` in it first")
    value = keys["archspec"][1]
    end = text.find("\n", value.end_mark.index)
    end = len(text) if end < 0 else end + 1
    indent = " " * keys["archspec"][0].start_mark.column
    return text[:end] + ("" if text[:end].endswith("\n") else "\n") + f"{indent}name: {_scalar(name)}\n" + text[end:]


def _scalar(value: str) -> str:
    """A YAML scalar that reads back as the string `value` (quoted only when it must be)."""
    plain = yaml.safe_load(f"k: {value}") if value and ":" not in value and "#" not in value else None
    return value if isinstance(plain, dict) and plain.get("k") == value else yaml.safe_dump(value, default_style='"').strip()
