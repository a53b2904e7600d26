"""Expansion: blocks, repeats, combinators and expressions -> op nodes of the IR (a Graph).

Types are inferred as each node is added (archspec.compiler.infer), because expressions such
as `if: ${input.c != planes}` read the shape of the item's input. A failing item is reported
once and becomes an error node that keeps its id, so later items are still checked, an item
fed by a failed one is skipped without a word, and the graph still knows what the failed item
consumed (nothing looks unused because of an error).
"""
from __future__ import annotations

from dataclasses import replace

from archspec.compiler.blocks import block_args, block_inputs, call_block, takes_words
from archspec.compiler.infer import infer
from archspec.compiler.interface import add_inputs, resolve_params
from archspec.compiler.ir import ERROR, Graph, Ref
from archspec.compiler.items import split
from archspec.compiler.refs import Fail, reference
from archspec.compiler.scope import Env, Frame, Scope
from archspec.compiler.sharing import check_ties, resolve_ties, share
from archspec.diagnostics import did_you_mean
from archspec.errors import Code, Diagnostic, ResourceError
from archspec.lang.expr import ExprError, InputShape, resolve
from archspec.lang.schema import COMBINATORS, SHARE
from archspec.limits import Limits
from archspec.ops import merges, registry


class Expander:
    """Expands one spec into a Graph; problems are appended to `diagnostics`, the pipeline's one list."""

    def __init__(self, spec, overrides: dict, limits: Limits, schema_errors=(), diagnostics=None, bad_blocks=()):
        self.spec = spec
        self.schema_errors = [p for p in schema_errors if p[:1] == ("layers",) or p[2:3] in [(k,) for k in COMBINATORS]]
        self.bad_blocks = {p[1] for p in schema_errors if p[:1] == ("blocks",) and (len(p) < 4 or p[2] not in COMBINATORS)}
        self.bad_blocks |= set(bad_blocks)  # their problems are reported where they are; a call of one is skipped
        self.limits = limits
        self.blocks = spec.blocks
        self.ops = registry()
        self.heads = set(self.ops) | set(self.blocks) | set(COMBINATORS) | {SHARE}  # what may stand at an item's head
        self.graph = Graph(blocks={})
        self.scopes: dict[str, Ref] = {}  # module path of each sub-list, combinator or block call -> its value
        self.scope_inputs: dict[str, list[Ref]] = {}  # ... -> the values it was fed
        self.added = 0  # op and error nodes, against limits.max_nodes
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics
        self.overrides = overrides

    # ---- entry point -------------------------------------------------------------------
    def run(self) -> Graph:
        before = len(self.diagnostics)
        params = resolve_params(self.spec, self.overrides, self.diagnostics)
        inputs = add_inputs(self.spec, params, self.graph, self.diagnostics)
        self.graph.graph["params"] = params
        if len(self.diagnostics) > before:
            return self.graph  # no outputs: nothing to check further
        self.root_params = params
        first = next(iter(inputs.values()))
        env = Env(first, ids=dict(inputs) if isinstance(self.spec.data.get("input"), dict) else {})  # named inputs are ids
        last = self.expand_list(self.spec.data["layers"], ("layers",), env, Scope(), Frame(params))
        self.graph.graph["outputs"] = self.resolve_outputs(env, last)
        return self.graph

    def shape(self, value: Ref) -> tuple | None:
        """The value's shape; None when the item that made it failed."""
        return self.graph.shape_of(value)

    def seen(self, value: Ref) -> InputShape:
        """What `input` is in an expression about `value`: its shape, dtype and batch."""
        t = self.graph.type_of(value)
        return InputShape(t.shape, t.dtype, t.batched)

    def resolve_outputs(self, env: Env, last: Ref) -> list[Ref]:
        wanted = self.spec.data.get("outputs")
        if not wanted:
            return [last]
        outs = []
        for k, name in enumerate(wanted):
            try:
                outs.append(reference(self, name, env, ("outputs", k), "outputs"))
            except Fail as f:
                self.diagnostics.append(f.diagnostic)
                self.graph.graph.setdefault("spare", set()).update(v.node for v in f.consumed or [])  # the id meant
        return outs

    # ---- lists and items ---------------------------------------------------------------
    def expand_list(self, items, path, env: Env, scope: Scope, frame: Frame, paths=None) -> Ref:
        """A chain: each item takes the previous output unless it says `from:`."""
        prev = env.input
        for k, item in enumerate(items):
            item_path = paths[k] if paths else path + (k,)
            first = len(self.graph)
            try:
                prev = self.expand_item(item, item_path, env, prev, scope, frame)
            except Fail as f:  # reported (unless it was reported already) and skipped; its id stands for the failure
                if f.diagnostic is not None:
                    self.report(f.diagnostic, frame)
                prev = self.poison(item_path, [prev] if f.consumed is None else f.consumed, frame)
                if isinstance(item, dict) and isinstance(item.get("id"), (str, int)):
                    env.ids[item["id"]], env.paths[item["id"]] = prev, None
            self.graph.add_item(self.spec.locate(item_path), first, prev, scope.prefix)
        return prev

    def expand_item(self, item, path, env: Env, prev: Ref, scope: Scope, frame: Frame) -> Ref:
        """An item's value; Fail when it fails, silently (diagnostic None) when its problem is
        reported elsewhere: by the schema, at its block, or at the item its input came from."""
        if self.has_schema_error(path):
            raise Fail(None, self.failed_sources(item, path, env, prev, frame))
        try:
            head, body, mods = split(self, item, path, frame.names, lambda: self.input_rank(item, path, env, prev))
        except Fail as f:
            f.consumed = self.failed_sources(item, path, env, prev, frame)
            raise
        if head in self.bad_blocks:
            raise Fail(None, self.sources(mods, path, env, prev))
        if head in self.ops and not self.ops[head].roles and "from" in mods:
            raise self.fail(path + ("from",), Code.ARITY, f"{head} takes no input, found from:", key=True)
        sources = self.sources(mods, path, env, prev)
        if any(self.shape(s) is None for s in sources):
            try:
                if head in self.blocks:
                    block_args(self, head, body, path)  # what can be checked without the input
            except Fail as f:
                f.consumed = sources
                raise
            raise Fail(None, sources)
        if "trainable" in mods:
            frame = replace(frame, frozen=not self.flag(mods["trainable"], path + ("trainable",), frame.names))
        try:
            result = self.expand_item_from(head, body, mods, path, env, sources, scope, frame)
        except Fail as f:
            if f.consumed is None:
                f.consumed = sources
            raise
        if "id" in mods:
            own = None if mods.get("inline") is True else scope.prefix + str(mods["id"])
            env.ids[mods["id"]] = result
            env.paths[mods["id"]] = own if own in self.graph or own in self.scopes else None
        return result

    def failed_sources(self, item, path, env, prev, frame) -> list[Ref]:
        """What an item that could not be read (its keys broke the schema, or its head is unknown)
        reads, so that it does not look unused; an unknown id in its from: is a mistake of its own."""
        if not isinstance(item, dict) or "from" not in item or any(p[:len(path) + 1] == path + ("from",) for p in self.schema_errors):
            return [prev]
        try:
            return self.sources({"from": item["from"]}, path, env, prev)
        except Fail as f:
            self.report(f.diagnostic, frame)
            return f.consumed or []

    def input_rank(self, item, path, env, prev) -> int | None:
        """The rank of an item's input, when it can be told (for a suggestion)."""
        try:
            sources = self.sources({"from": item["from"]}, path, env, prev) if isinstance(item, dict) and "from" in item else [prev]
        except Fail:
            return None
        shape = self.shape(sources[0])
        return None if shape is None else len(shape)

    def has_schema_error(self, path) -> bool:
        """An item whose own keys broke the schema is skipped (its nested items are checked)."""
        n = len(path)
        return any(p[:n] == path and (len(p) - n < 2 or p[n] not in COMBINATORS) for p in self.schema_errors)

    def expand_item_from(self, head, body, mods, path, env, sources, scope, frame) -> Ref:
        names = {**frame.names, "input": self.seen(sources[0])}
        local = mods.get("id")
        if local is not None and str(local) in ("input",):
            raise self.fail(path + ("id",), Code.BAD_ID, "'input' is reserved: it names the list's input")
        if "repeat" in mods:
            return self.expand_repeat(head, body, mods, path, env, sources, scope, frame)
        if not self.keep(mods, path, names):
            return sources[0]  # a dropped item's id stands for its input
        return self.expand_head(head, body, mods, path, env, sources, scope, local, frame, mods.get("inline") is True)

    def expand_repeat(self, head, body, mods, path, env, sources, scope, frame) -> Ref:
        times, template = self.repeat_count(mods["repeat"], path, frame)
        local = mods.get("id")
        target = scope if local is None else scope.child(self.claim(scope, local, path))
        current = sources
        for i in range(times):  # each copy reads the previous copy's output, and the item's other from: values
            names = {**frame.names, "i": i, "input": self.seen(current[0])}
            if not self.keep(mods, path, names):
                continue
            name = self.evaluate(template, path + ("repeat", "id"), names) if template else None
            copy_frame = replace(frame, names={**frame.names, "i": i})
            current = [self.expand_head(head, body, mods, path, env, current, target, name, copy_frame, mods.get("inline") is True),
                       *sources[1:]]
            if self.shape(current[0]) is None:
                break
        if local is not None:
            self.scopes[target.prefix[:-1]] = current[0]
        return current[0]

    def expand_head(self, head, body, mods, path, env, sources, scope, local, frame, inline) -> Ref:
        if head in self.ops:
            ties = resolve_ties(self, mods["tie"], path, env) if "tie" in mods else {}
            return self.make_node(head, body, path, sources, scope, local, frame, ties)
        if head == SHARE:
            return share(self, body, mods, path, env, sources, scope, local, frame)
        takes = len(block_inputs(self.blocks[head])) if head in self.blocks else 1
        if len(sources) != takes:
            raise self.fail(path + ("from",), Code.ARITY, f"'{head}' takes {takes_words(head, self.blocks)}, found "
                            f"{len(sources)} in from:")
        child = scope if inline else scope.child(self.claim(scope, local, path))
        if head in COMBINATORS:
            result = self.expand_body(head, body, path, env, sources[0], child, frame, mods.get("merge"))
        else:
            result = call_block(self, head, body, path, sources, child, frame, inline)
        if not inline:
            self.scopes[child.prefix[:-1]] = result
            self.scope_inputs[child.prefix[:-1]] = list(sources)
        return result

    def expand_body(self, kind, body, path, env, x: Ref, scope, frame, merge) -> Ref:
        """layers / parallel / residual / dense, in an item or as a block's body."""
        from archspec.compiler import combinators

        return getattr(combinators, kind)(self, body, path + (kind,), env, x, scope, frame, merge)

    # ---- nodes -------------------------------------------------------------------------
    def make_node(self, op_name, body, path, sources, scope, local, frame, ties=None) -> Ref:
        """An op node; `sources` are its inputs (for an op without inputs, the chain's value, which
        only its expressions' `input` reads)."""
        op = self.ops[op_name]
        inputs = list(sources) if op.roles else []
        if op.variadic and len(inputs) < 2:
            raise self.fail(path, Code.ARITY, f"{op_name} merges two or more inputs: name them with from: [a, b]")
        if not op.variadic and op.roles and not op.takes(len(inputs)):
            low = len(op.roles) if op.min_inputs is None else op.min_inputs
            count = f"{low} to {len(op.roles)}" if low < len(op.roles) else str(low)
            takes = "one input" if len(op.roles) == 1 else f"{count} inputs ({', '.join(op.roles)})"
            raise self.fail(path + ("from",), Code.ARITY, f"{op_name} takes {takes}, found {len(inputs)} in from:")
        args = self.op_args(op, body, path + (op_name,), {**frame.names, "input": self.seen(sources[0])}, frame)
        name = self.claim(scope, local, path)
        return self.add_node(name, op, args, inputs, path, frame, **({"ties": ties} if ties else {}))

    def add_node(self, name, op, args, inputs, path, frame, **attributes) -> Ref:
        """Add op node `name` and infer its type (a failure is reported, the node an error node)."""
        loc = self.spec.locate(path)
        value = self.graph.add_op(name, op, args, inputs, loc, frame.notes, frozen=frame.frozen, **attributes)
        self.count(loc)
        problem = infer(self.graph, name)
        if problem:
            self.diagnostics.append(problem)
        elif attributes.get("ties"):
            problem = check_ties(self, name, path)
            if problem:
                self.graph.nodes[name]["kind"] = ERROR
                self.diagnostics.append(problem)
        return value

    def merge(self, kind, default, path, sources, scope, frame) -> Ref:
        """The merge node a combinator adds: concat/add/... of `sources`."""
        if kind is None:
            kind = default
        else:
            kind = self.evaluate(kind, path, frame.names)
            names = merges()
            if kind not in names:
                raise self.fail(path, Code.CHOICE, f"merge must be one of {', '.join(names)}, found {kind!r}{did_you_mean(kind, names)}")
        return self.make_node(kind, None, path, sources, scope, None, frame)

    def op_args(self, op, body, path, names, frame) -> dict:
        if body is None:
            given = {}
        elif isinstance(body, dict):
            given = {k: self.evaluate(v, path + (k,), names) for k, v in body.items()}
        elif op.main_arg:
            given = {op.main_arg: self.evaluate(body, path, names)}
        else:
            raise self.fail(path, Code.TYPE, f"{op.name}: expected a mapping of arguments, found {body!r}")
        args, problems = op.check_args(given)
        for arg, message in problems[1:]:
            self.report(self.spec.error(path + (arg,) if arg else path, Code.BAD_ARG, message, key=arg not in op.arg_map), frame)
        if problems:
            arg, message = problems[0]
            raise self.fail(path + (arg,) if arg else path, Code.BAD_ARG, message, key=arg not in op.arg_map)
        return args

    def count(self, loc) -> None:
        self.added += 1
        if self.added > self.limits.max_nodes:
            raise ResourceError([Diagnostic(loc, Code.TOO_MANY_NODES, f"spec expands to more than {self.limits.max_nodes:,} nodes (raise the limit with --max-nodes)")], self.spec.sources)

    def poison(self, path, sources, frame) -> Ref:
        """An error node for an item that failed: it keeps its inputs used, and its type unknown."""
        loc = self.spec.locate(path)
        self.added += 1
        return self.graph.add_error(f"<error at {loc}>", [s for s in sources if self.shape(s) is not None], loc, frame.notes)

    # ---- small helpers -----------------------------------------------------------------
    def sources(self, mods, path, env, prev) -> list[Ref]:
        if "from" not in mods:
            return [prev]
        wanted = mods["from"] if isinstance(mods["from"], list) else [mods["from"]]
        found, missing = [], None
        for k, name in enumerate(wanted):
            where = path + ("from", k) if isinstance(mods["from"], list) else path + ("from",)
            try:
                found.append(reference(self, name, env, where, "from"))
            except Fail as f:
                found += f.consumed or []
                missing = missing or f
        if missing:
            missing.consumed = found
            raise missing
        return found

    def keep(self, mods, path, names) -> bool:
        return "if" not in mods or self.flag(mods["if"], path + ("if",), names)

    def flag(self, value, path, names) -> bool:
        value = self.evaluate(value, path, names)
        if not isinstance(value, bool):
            raise self.fail(path, Code.TYPE, f"{path[-1]}: expected true or false, found {value!r}")
        return value

    def repeat_count(self, spec, path, frame) -> tuple[int, object]:
        times, template = (spec.get("times"), spec.get("id")) if isinstance(spec, dict) else (spec, None)
        where = path + ("repeat", "times") if isinstance(spec, dict) else path + ("repeat",)
        times = self.evaluate(times, where, frame.names)
        if not isinstance(times, int) or isinstance(times, bool) or times < 0:
            raise self.fail(where, Code.TYPE, f"repeat: expected a count >= 0, found {times!r}")
        if times > self.limits.max_repeat:
            raise self.fail(where, Code.TOO_MANY, f"repeat: {times:,} copies is over the limit of {self.limits.max_repeat:,} (raise it with --max-repeat)")
        return times, template

    def claim(self, scope: Scope, local, path) -> str:
        try:
            return scope.claim(local)
        except KeyError as e:
            raise self.fail(path + ("id",) if local is not None else path, Code.DUPLICATE_ID,
                            f"the name '{scope.prefix}{e.args[0]}' is already taken in this scope") from None

    def evaluate(self, value, path, names):
        try:
            return resolve(value, names)
        except ExprError as e:
            raise self.fail(path, Code.EXPR, f"bad expression: {e}") from None

    def fail(self, path, code, message, key=False) -> Fail:
        return Fail(self.spec.error(path, code, message, key=key))

    def report(self, diagnostic: Diagnostic, frame: Frame) -> None:
        diagnostic.notes = list(frame.notes) + diagnostic.notes
        self.diagnostics.append(diagnostic)
