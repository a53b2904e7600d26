"""`archspec ops`, `list`, `new` and `diff`: finding your way around ops and specs.

Exit codes as in `archspec check`: 1 when a spec has errors, 2 for usage errors."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click

from archspec.cli.options import parse_pairs, plugin_option, set_option, spec_options
from archspec.table import table

WIDTH = 100  # the longest rule under a table's header

format_option = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                             help="Text for people or JSON for tools.")


# ---- archspec ops ----------------------------------------------------------------------------
@click.command()
@click.argument("name", required=False)
@plugin_option
@format_option
def ops(name, fmt):
    """List every op with its arguments and defaults, or describe op NAME.

    The list is generated from the op registry, plugin ops included.
    """
    from archspec.ops import registry

    known = registry()
    if name is not None and name not in known:
        from archspec.diagnostics import did_you_mean

        raise click.BadParameter(f"unknown op '{name}'{did_you_mean(name, known)}", param_hint="NAME")
    chosen = [known[name]] if name else sorted(known.values(), key=lambda op: (category(op) == "plugin", category(op)))
    if fmt == "json":
        described = [describe_op(op) for op in chosen]
        click.echo(json.dumps(described[0] if name else described, indent=2))
    elif name:
        click.echo(op_detail(known[name]))
    else:
        click.echo(op_listing(chosen))


def describe_op(op) -> dict:
    from archspec.plugins import origin

    return {
        "name": op.name, "doc": op.doc, "category": category(op),
        "inputs": "2+" if op.variadic else len(op.roles), "roles": list(op.roles), "outputs": list(op.outputs),
        "dtypes": list(op.dtypes), "batch_free": op.batch_free, "main_arg": op.main_arg,
        "args": [{"name": a.name, "type": a.type.name, "required": a.required,
                  **({} if a.required else {"default": _plain(a.default)}), "doc": a.doc} for a in op.args],
        "plugin": origin(op.name), "checked_by_forward": bool(getattr(op, "checked_by_forward", False)),
    }


def category(op) -> str:
    from archspec.plugins import origin

    return "plugin" if origin(op.name) else op.family


def signature(op) -> str:
    parts = [a.name if a.required else f"{a.name}={yaml_value(a.default)}" for a in op.args]
    return f"{op.name}({', '.join(parts)})"


def op_listing(chosen) -> str:
    groups: dict[str, list] = {}
    for op in chosen:
        groups.setdefault(category(op), []).append(op)
    lines = []
    for group, members in groups.items():
        lines += ["", f"{group}:"] if lines else [f"{group}:"]
        if group == "nn":  # a hundred torch.nn classes: their names, wrapped
            lines += ["  any layer class of torch.nn, with its own keyword arguments, checked by a forward pass",
                      "  on the meta device (`archspec ops nn.Conv2d` lists one's arguments):"]
            lines += textwrap.wrap(", ".join(op.name for op in members), WIDTH, initial_indent="    ", subsequent_indent="    ")
            continue
        for op in members:
            lines += [f"  {signature(op)}", f"      {op.doc}"]
    lines += ["", "`archspec ops NAME` describes one op; an op with a main argument also takes it alone: `linear: 10`."]
    return "\n".join(lines)


def op_detail(op) -> str:
    from archspec.plugins import origin

    count = "two or more (a merge)" if op.variadic else "none" if not op.roles else "one" if len(op.roles) == 1 else \
        f"{len(op.roles)}: {', '.join(op.roles)}"
    lines = [f"{op.name}: {op.doc}", f"inputs: {count}"]
    if op.outputs != ("output",):
        lines.append(f"outputs: {', '.join(op.outputs)}")
    if op.dtypes != ("float32",):
        lines.append(f"input dtypes: {', '.join(op.dtypes)}")
    if op.main_arg:
        lines.append(f"scalar form: `{op.name}: VALUE` sets {op.main_arg}")
    if origin(op.name):
        how = "checked by a forward pass on the meta device" if getattr(op, "checked_by_forward", False) else "own shape rule"
        lines.append(f"plugin: {origin(op.name)} ({how})")
    elif getattr(op, "checked_by_forward", False):
        lines.append("checked by a forward pass on the meta device")
    rows = [(a.name, a.type.name, "required" if a.required else yaml_value(a.default), a.doc) for a in op.args]
    lines += ["", *table(("argument", "type", "default", "meaning"), rows, width=WIDTH)] if rows else ["", "no arguments"]
    return "\n".join(lines)


# ---- archspec list ---------------------------------------------------------------------------
@click.command("list")
@click.argument("folder", metavar="[DIR]", required=False, type=click.Path(exists=True, file_okay=False))
@spec_options
@format_option
def list_specs(folder, fmt):
    """List the specs in DIR (default: the bundled spec library) with their docs and parameter counts.

    Every spec is checked; exits 1 when one of them has errors.
    """
    from archspec.speclib import bundled_dir, listing

    root = Path(folder) if folder else bundled_dir()
    if root is None:
        raise click.UsageError("no bundled specs found with this installation: give a DIR")
    entries = listing(root)
    if fmt == "json":
        click.echo(json.dumps({"folder": str(root), "specs": [e.to_dict() for e in entries]}, indent=2))
    else:
        rows = [(e.spec, _shapes(e.input) if e.input else "library" if e.ok else "?", _size(e), _cut(e.doc, 72))
                for e in entries]
        click.echo("\n".join(table(("spec", "input", "params", "doc"), rows, right=(False, False, True, False), width=WIDTH)))
    bad = [e for e in entries if not e.ok]
    for e in bad:
        click.echo(f"{e.path}: invalid: run `archspec check {e.path}` for the errors", err=True)
    sys.exit(1 if bad else 0)


def _size(entry) -> str:
    """The params column of `archspec list`: parameters, a library's blocks, or why there are none."""
    if not entry.ok:
        return f"invalid ({entry.errors} errors)"
    return f"{len(entry.blocks)} blocks" if entry.blocks is not None else f"{entry.params:,}"


# ---- archspec new ----------------------------------------------------------------------------
@click.command()
@click.argument("name")
@click.option("--from", "source", metavar="SPEC", help="Copy SPEC (a path, or a bundled spec such as d2l/googlenet) "
                                                       "under the new name.")
@click.option("-o", "--output", metavar="FILE", help="Where to write (default: NAME.yaml; '-' for standard output). "
                                                     "An existing file is never overwritten.")
@spec_options
def new(name, source, output):
    """Write a new spec called NAME: a small, valid starting network, or a copy of SPEC."""
    from archspec import check
    from archspec.errors import ArchspecError
    from archspec.speclib import FILE_NAME, renamed, template

    if not FILE_NAME.match(name):
        raise click.BadParameter("use letters, digits, '_', '-' and '.' (it also names the file)", param_hint="NAME")
    output = output or f"{name}.yaml"
    if source:
        path = _find(source, "--from")
        check(str(path)).require_model()
        try:
            text = renamed(path.read_text(encoding="utf-8"), name)
        except ArchspecError as e:
            raise click.ClickException(f"{path}: {e.diagnostics[0].message}") from None
    else:
        text = template(name, output if output != "-" else f"{name}.yaml")
    from archspec.lang.loader import SpecText

    result = check(SpecText(text, output if output != "-" else str(path) if source else f"{name}.yaml"))  # its imports as there
    if not result.ok or result.spec.name != name:  # a bug, not a user mistake: say so plainly
        raise click.ClickException(f"the new spec does not check (please report this): {result.diagnostics[:1]}")
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(output, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise click.ClickException(f"{output} exists; not overwriting it (choose another -o FILE)") from None
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    click.echo(f"wrote {output}: {name}, {result.params:,} parameters. Check it with: archspec check {output}")


# ---- archspec diff ---------------------------------------------------------------------------
@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@set_option
@click.option("--set-a", "sets_a", multiple=True, metavar="KEY=VALUE", help="Override a param of A only (repeatable).")
@click.option("--set-b", "sets_b", multiple=True, metavar="KEY=VALUE", help="Override a param of B only (repeatable).")
@spec_options
@format_option
def diff(a, b, sets, sets_a, sets_b, fmt):
    """Show what differs between specs A and B: nodes (by module path), shapes, parameters.

    A and B are paths or bundled specs; compare one spec with itself under other params with
    --set-a/--set-b. Exits 0 whatever the differences, 1 when a spec has errors.
    """
    from archspec import check
    from archspec.diff import diff as compare

    common = parse_pairs(sets)
    reports = []
    for ref, own, option in ((a, sets_a, "--set-a"), (b, sets_b, "--set-b")):
        path = _find(ref, "A" if option == "--set-a" else "B")
        reports.append((ref, check(str(path), **{**common, **parse_pairs(own, option)})))
    for _, report in reports:
        report.require_model()
    result = compare(reports[0][1], reports[1][1])
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    labels = [f"{ref} ({r.spec.name})" + (f" with {', '.join(s)}" if s else "")
              for (ref, r), s in zip(reports, (sets + sets_a, sets + sets_b))]
    from archspec.diagnostics import printable

    click.echo(printable(diff_text(result, labels)))


def diff_text(result, labels) -> str:
    lines = [f"A: {labels[0]}", f"B: {labels[1]}", ""]
    if result.identical:
        lines += ["no differences in nodes, shapes or parameters", ""]
    else:
        rows = []
        for c in result.changes:
            node = c.b if c.kind == "+" else c.a
            if c.kind == "~":
                op = node["op"] if "op" not in c.fields else f"{c.a['op']} -> {c.b['op']}"
                details = "; ".join(_field(k, old, new) for k, (old, new) in c.fields.items() if k != "op")
            else:
                op, details = node["op"], f"shape {yaml_value(node['shape'])}, {node['params']:,} params"
            rows.append((c.kind, c.name, op, details))
        lines += [*table(("", "node", "op", "A -> B" if any(c.kind == "~" for c in result.changes) else ""), rows, width=WIDTH), ""]
    t = result.totals()
    nodes = f"{t['nodes'][0]} -> {t['nodes'][1]} ({result.count('+')} added, {result.count('-')} removed, {result.count('~')} changed)"
    (pa, pb), (ma, mb) = t["params"], t["macs"]
    lines += [f"nodes:       {nodes}", f"parameters:  {pa:,} -> {pb:,} ({pb - pa:+,})",
              f"MACs:        {ma:,} -> {mb:,} ({mb - ma:+,})",
              f"output:      {_shapes(t['outputs'][0])} -> {_shapes(t['outputs'][1])}"]
    return "\n".join(lines)


def _field(key, old, new) -> str:
    if key == "args" and old.keys() == new.keys():
        return "args " + ", ".join(f"{k} {yaml_value(old[k])} -> {yaml_value(new[k])}" for k in old)
    if key == "params":
        return f"params {old:,} -> {new:,}"
    return f"{key} {yaml_value(old)} -> {yaml_value(new)}"


# ---- shared helpers --------------------------------------------------------------------------
def _find(ref: str, hint: str) -> Path:
    from archspec.errors import ArchspecError
    from archspec.speclib import find

    try:
        return find(ref)
    except ArchspecError as e:
        raise click.BadParameter(e.diagnostics[0].message, param_hint=hint) from None


def yaml_value(value) -> str:
    """A value as it is written in a spec: true, null, [3, 3], zeros."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def _shapes(shapes: dict) -> str:
    return ", ".join(yaml_value(v) if k == "input" or len(shapes) == 1 else f"{k} {yaml_value(v)}" for k, v in shapes.items())


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."
