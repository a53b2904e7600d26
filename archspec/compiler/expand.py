"""Expansion: blocks, repeats, combinators and expressions -> op nodes of the IR (a Graph).

Types are inferred as each node is added (archspec.compiler.infer), because expressions such
as `if: ${input.c != planes}` read the shape of the item's input. A failing item is reported
and becomes an error node, so later items are still checked and the graph still knows what
the failed item consumed.
"""
from __future__ import annotations

from dataclasses import replace

from archspec.compiler.infer import fits, infer
from archspec.compiler.ir import Graph, Ref, Type
from archspec.compiler.scope import Env, Frame, Scope
from archspec.diagnostics import did_you_mean
from archspec.errors import Code, Diagnostic, ResourceError
from archspec.lang.expr import ExprError, InputShape, resolve
from archspec.lang.schema import COMBINATORS, ITEM_KEYS
from archspec.limits import Limits
from archspec.ops import merges, registry
from archspec.ops.base import describe


class Fail(Exception):
    """One item's problem, already located."""

    def __init__(self, diagnostic: Diagnostic, consumed: list | None = None):
        self.diagnostic = diagnostic
        self.consumed = consumed  # the values the failed item read, so they don't look unused


class Expander:
    """Expands one spec into a Graph; problems are appended to `diagnostics`, the pipeline's one list."""

    def __init__(self, spec, overrides: dict, limits: Limits, schema_errors=(), diagnostics=None):
        self.spec = spec
        self.schema_errors = [p for p in schema_errors if p[:1] == ("layers",) or p[2:3] in [(k,) for k in COMBINATORS]]
        self.bad_blocks = {p[1] for p in schema_errors if p[:1] == ("blocks",) and (len(p) < 4 or p[2] not in COMBINATORS)}
        self.limits = limits
        self.blocks = spec.data.get("blocks") or {}
        self.ops = registry()
        self.heads = set(self.ops) | set(self.blocks) | set(COMBINATORS)  # what may stand at an item's head
        self.graph = Graph(blocks={})
        self.added = 0  # op and error nodes, against limits.max_nodes
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics
        self.overrides = overrides

    # ---- entry point -------------------------------------------------------------------
    def run(self) -> Graph:
        before = len(self.diagnostics)
        params = self.resolve_params()
        inputs = self.resolve_inputs(params)
        self.graph.graph["params"] = params
        if len(self.diagnostics) > before:
            return self.graph  # no outputs: nothing to check further
        self.root_params = params
        first = next(iter(inputs.values()))
        env = Env(first, ids=dict(inputs) if len(inputs) > 1 else {})
        last = self.expand_list(self.spec.data["layers"], ("layers",), env, Scope(), Frame(params))
        self.graph.graph["outputs"] = self.resolve_outputs(env, last)
        return self.graph

    def shape(self, value: Ref) -> tuple | None:
        """The value's shape; None when the item that made it failed."""
        return self.graph.shape_of(value)

    def resolve_params(self) -> dict:
        declared = self.spec.params
        for key in self.overrides:
            if key not in declared:
                hint = did_you_mean(key, declared) or (f" (params: {', '.join(declared)})" if declared else " (the spec declares no params)")
                self.diagnostics.append(Diagnostic(None, Code.UNKNOWN_PARAM, f"unknown param '{key}'{hint}"))
        names: dict = {}
        for key, default in declared.items():
            try:
                names[key] = self.overrides[key] if key in self.overrides else resolve(default, names)
            except ExprError as e:
                self.diagnostics.append(self.spec.error(("params", key), Code.EXPR, f"param '{key}': {e}"))
        return names

    def resolve_inputs(self, params: dict) -> dict[str, Ref]:
        raw = self.spec.data.get("input")
        named = raw if isinstance(raw, dict) else {"input": raw}
        out = {}
        for name, dims in named.items():
            base = ("input", name) if isinstance(raw, dict) else ("input",)
            shape = []
            for k, dim in enumerate(dims):
                try:
                    value = resolve(dim, params)
                except ExprError as e:
                    self.diagnostics.append(self.spec.error(base + (k,), Code.EXPR, str(e)))
                    continue
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    self.diagnostics.append(self.spec.error(base + (k,), Code.BAD_INPUT, f"input sizes must be positive integers, found {value!r}"))
                shape.append(value)
            if all(isinstance(d, int) and d >= 1 for d in shape) and not fits(shape):
                self.diagnostics.append(self.spec.error(base, Code.TOO_LARGE, "input shape has more than 2^63 - 1 elements, "
                                                        "more than a torch tensor can hold"))
            out[str(name)] = self.graph.add_input(str(name), Type(tuple(shape)), self.spec.locate(base))
        return out

    def resolve_outputs(self, env: Env, last: Ref) -> list[Ref]:
        wanted = self.spec.data.get("outputs")
        if not wanted:
            return [last]
        outs = []
        for k, name in enumerate(wanted):
            value = env.lookup(name)
            if value is None:
                self.diagnostics.append(self.spec.error(("outputs", k), Code.UNKNOWN_ID, f"outputs: unknown id '{name}'{did_you_mean(name, env.visible())}"))
            else:
                outs.append(value)
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
            except Fail as f:
                self.report(f.diagnostic, frame)
                prev = self.poison(item_path, [prev] if f.consumed is None else f.consumed, frame)
                if isinstance(item, dict) and isinstance(item.get("id"), (str, int)):
                    env.ids[item["id"]] = prev
            self.graph.add_item(self.spec.locate(item_path), first, prev, scope.prefix)
        return prev

    def expand_item(self, item, path, env: Env, prev: Ref, scope: Scope, frame: Frame) -> Ref:
        if self.has_schema_error(path):
            return self.poison(path, [prev], frame)  # already reported by the schema
        head, body, mods = self.split(item, path)
        if head in self.ops and not self.ops[head].roles and "from" in mods:
            raise self.fail(path + ("from",), Code.ARITY, f"{head} takes no input, found from:", key=True)
        sources = self.sources(mods, path, env, prev)
        if any(self.shape(s) is None for s in sources) or head in self.bad_blocks:
            return self.poison(path, sources, frame)
        try:
            result = self.expand_item_from(head, body, mods, path, env, sources, scope, frame)
        except Fail as f:
            if f.consumed is None:
                f.consumed = sources
            raise
        if "id" in mods:
            env.ids[mods["id"]] = result
        return result

    def has_schema_error(self, path) -> bool:
        """An item whose own keys broke the schema is skipped (its nested items are checked)."""
        n = len(path)
        return any(p[:n] == path and (len(p) - n < 2 or p[n] not in COMBINATORS) for p in self.schema_errors)

    def expand_item_from(self, head, body, mods, path, env, sources, scope, frame) -> Ref:
        names = {**frame.names, "input": InputShape(self.shape(sources[0]))}
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
        for i in range(times):
            names = {**frame.names, "i": i, "input": InputShape(self.shape(current[0]))}
            if not self.keep(mods, path, names):
                continue
            name = self.evaluate(template, path + ("repeat", "id"), names) if template else None
            copy_frame = replace(frame, names={**frame.names, "i": i})
            current = [self.expand_head(head, body, mods, path, env, current, target, name, copy_frame, mods.get("inline") is True)]
            if self.shape(current[0]) is None:
                break
        return current[0]

    def expand_head(self, head, body, mods, path, env, sources, scope, local, frame, inline) -> Ref:
        if head in self.ops:
            return self.make_node(head, body, path, sources, scope, local, frame)
        if len(sources) > 1:
            raise self.fail(path + ("from",), Code.ARITY, f"'{head}' takes one input, found {len(sources)} in from:")
        child = scope if inline else scope.child(self.claim(scope, local, path))
        if head in COMBINATORS:
            return self.expand_body(head, body, path, env, sources[0], child, frame, mods.get("merge"))
        return self.call_block(head, body, path, sources[0], child, frame, inline)

    def expand_body(self, kind, body, path, env, x: Ref, scope, frame, merge) -> Ref:
        """layers / parallel / residual / dense, in an item or as a block's body."""
        from archspec.compiler import combinators

        return getattr(combinators, kind)(self, body, path + (kind,), env, x, scope, frame, merge)

    def call_block(self, name, args, path, x: Ref, scope: Scope, frame: Frame, inline: bool = False) -> Ref:
        block, bpath = self.blocks[name], ("blocks", name)
        if name in frame.blocks or len(frame.blocks) >= self.limits.max_block_depth:
            chain = " -> ".join(frame.blocks + (name,))
            message = f"blocks call each other without end: {chain}" if name in frame.blocks else \
                f"blocks call blocks more than {self.limits.max_block_depth} deep: {chain}"
            raise self.fail(path + (name,), Code.RECURSION, message, key=True)
        if args is not None and not isinstance(args, dict):
            raise self.fail(path + (name,), Code.TYPE, f"block '{name}' takes a mapping of params, found {args!r}")
        args, declared = args or {}, block.get("params") or {}
        for key in args:
            if key not in declared:
                hint = did_you_mean(key, declared) or (f" (params: {', '.join(declared)})" if declared else " (it takes no params)")
                raise self.fail(path + (name, key), Code.UNKNOWN_PARAM, f"block '{name}': unknown param '{key}'{hint}", key=True)
        caller = {**frame.names, "input": InputShape(self.shape(x))}
        names = {**self.root_params, "input": InputShape(self.shape(x))}
        for key, default in declared.items():
            if key in args:
                names[key] = self.evaluate(args[key], path + (name, key), caller)
            elif default == "required":
                raise self.fail(path + (name,), Code.MISSING_PARAM, f"block '{name}': missing required param '{key}'", key=True)
            else:
                names[key] = self.evaluate(default, bpath + ("params", key), names)
        del names["input"]
        if not inline:
            self.graph.blocks[scope.prefix[:-1]] = (name, {k: names[k] for k in declared})
        note = f"in block '{name}' called at {self.spec.locate(path)} ({scope.prefix[:-1] or 'top level'})"
        inner = Frame(names, (note,) + frame.notes, frame.blocks + (name,))
        kind = next(k for k in COMBINATORS if k in block)
        return self.expand_body(kind, block[kind], bpath, Env(x), x, scope, inner, block.get("merge"))

    # ---- nodes -------------------------------------------------------------------------
    def make_node(self, op_name, body, path, sources, scope, local, frame) -> Ref:
        """An op node; `sources` are its inputs (for an op without inputs, the chain's value, which
        only its expressions' `input` reads)."""
        op = self.ops[op_name]
        inputs = list(sources) if op.roles else []
        if op.variadic and len(inputs) < 2:
            raise self.fail(path, Code.ARITY, f"{op_name} merges two or more inputs: name them with from: [a, b]")
        if not op.variadic and op.roles and len(inputs) != len(op.roles):
            takes = "one input" if len(op.roles) == 1 else f"{len(op.roles)} inputs ({', '.join(op.roles)})"
            raise self.fail(path + ("from",), Code.ARITY, f"{op_name} takes {takes}, found {len(inputs)} in from:")
        args = self.op_args(op, body, path + (op_name,), {**frame.names, "input": InputShape(self.shape(sources[0]))}, frame)
        name = self.claim(scope, local, path)
        loc = self.spec.locate(path)
        value = self.graph.add_op(name, op, args, inputs, loc, frame.notes)
        self.count(loc)
        problem = infer(self.graph, name)
        if problem:
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
    def split(self, item, path):
        """(head, body, modifiers) of an item; the head is an op, a block or a combinator."""
        if isinstance(item, str):
            item = {item: None}
        if not isinstance(item, dict):
            raise self.fail(path, Code.TYPE, f"expected an item (an op name or a mapping), found {item!r}")
        heads = [k for k in item if k not in ITEM_KEYS]
        if not heads:
            raise self.fail(path, Code.NO_OP, "this item has no op: expected an op, a block, or layers/parallel/residual/dense")
        for head in heads:
            if head not in self.heads:
                raise self.fail(path + (head,), Code.UNKNOWN_OP, f"unknown op or block '{head}'{did_you_mean(head, self.heads | set(ITEM_KEYS))}", key=True)
        if len(heads) > 1:
            raise self.fail(path + (heads[1],), Code.TWO_OPS, f"an item has one op or block, found '{heads[0]}' and '{heads[1]}' (put them in separate items)", key=True)
        head = heads[0]
        if "merge" in item and head not in ("parallel", "residual"):
            raise self.fail(path + ("merge",), Code.BAD_KEY, "merge: belongs to parallel or residual items", key=True)
        if item.get("inline") and (head in self.ops or "repeat" in item and "id" in item):
            raise self.fail(path + ("inline",), Code.BAD_KEY, "inline: applies to blocks, sub-lists and combinators (without repeat + id)", key=True)
        local = item.get("id")  # the schema reports one problem per item, so a bad id may get here
        if local is not None and (isinstance(local, bool) or not isinstance(local, (str, int))):
            raise self.fail(path + ("id",), Code.TYPE, f"id: expected a name or an integer, found {describe(local)}")
        return head, item[head], {k: item[k] for k in ITEM_KEYS if k in item}

    def sources(self, mods, path, env, prev) -> list[Ref]:
        if "from" not in mods:
            return [prev]
        wanted = mods["from"] if isinstance(mods["from"], list) else [mods["from"]]
        found, missing = [], None
        for k, name in enumerate(wanted):
            value = env.lookup(name) if isinstance(name, (str, int)) and not isinstance(name, bool) else None
            if value is not None:
                found.append(value)
            elif missing is None:
                where = path + ("from", k) if isinstance(mods["from"], list) else path + ("from",)
                missing = self.fail(where, Code.UNKNOWN_ID, f"from: unknown id '{name}'{did_you_mean(name, env.visible())} "
                                    "(from: names earlier items of this list or of an enclosing one)")
        if missing:
            missing.consumed = found
            raise missing
        return found

    def keep(self, mods, path, names) -> bool:
        if "if" not in mods:
            return True
        value = self.evaluate(mods["if"], path + ("if",), names)
        if not isinstance(value, bool):
            raise self.fail(path + ("if",), Code.TYPE, f"if: expected true or false, found {value!r}")
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
