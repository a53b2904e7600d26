"""What an op is: typed arguments, its inputs' roles, a pure-Python shape rule, parameter
and MAC counts, a lazy torch build, and its family and Python form for drawing and export.
Nothing here imports torch."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

Shape = tuple  # one sample's shape, batch excluded: (C, H, W), (features,), ...

REQUIRED = object()
EXPR_SCHEMA = {"type": "string", "pattern": r"^\$"}


class ShapeRuleError(Exception):
    """Raised by an op's shape rule; the shape pass adds the node and its location."""


class ArgType:
    """A kind of argument value: checks (and normalizes) an evaluated value."""

    name = "value"

    def check(self, value: Any) -> Any:
        """Return the normalized value or raise ValueError('expected ..., found ...')."""
        raise NotImplementedError

    def schema(self) -> dict:
        raise NotImplementedError

    def fail(self, value: Any):
        raise ValueError(f"expected {self.name}, found {describe(value)}")


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, (int, float)):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, (list, tuple)):
        return f"list {list(value)!r}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Int(ArgType):
    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum
        bounds = {None: "an integer", 0: "an integer >= 0", 1: "a positive integer"}
        self.name = bounds.get(minimum, f"an integer >= {minimum}")

    def check(self, value):
        if not is_int(value) or (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            self.fail(value)
        return value

    def schema(self):
        s: dict = {"type": "integer"}
        if self.minimum is not None:
            s["minimum"] = self.minimum
        return {"anyOf": [s, EXPR_SCHEMA]}


class Float(ArgType):
    def __init__(self, minimum: float | None = None, maximum: float | None = None):
        self.minimum, self.maximum = minimum, maximum
        if minimum is not None and maximum is not None:
            self.name = f"a number in [{minimum}, {maximum}]"
        elif minimum is not None:
            self.name = f"a number >= {minimum}"
        else:
            self.name = "a number"

    def check(self, value):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            self.fail(value)
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            self.fail(value)
        return float(value)

    def schema(self):
        s: dict = {"type": "number"}
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        return {"anyOf": [s, EXPR_SCHEMA]}


class Bool(ArgType):
    name = "true or false"

    def check(self, value):
        if not isinstance(value, bool):
            self.fail(value)
        return value

    def schema(self):
        return {"anyOf": [{"type": "boolean"}, EXPR_SCHEMA]}


class Choice(ArgType):
    def __init__(self, *choices: str):
        self.choices = choices
        self.name = "one of " + ", ".join(repr(c) for c in choices)

    def check(self, value):
        if value not in self.choices or isinstance(value, bool):
            from archspec.diagnostics import did_you_mean

            hint = did_you_mean(value, self.choices) if isinstance(value, str) else ""
            raise ValueError(f"expected {self.name}, found {describe(value)}{hint}")
        return value

    def schema(self):
        return {"anyOf": [{"enum": list(self.choices)}, EXPR_SCHEMA]}


class Size(ArgType):
    """An int, or a list of `dims` ints (one per spatial dim): kernel, stride, padding."""

    def __init__(self, dims: int, minimum: int = 1, words: tuple[str, ...] = ()):
        self.dims, self.minimum, self.words = dims, minimum, words
        lo = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        self.name = f"{lo} or a list of {dims}" if dims > 1 else lo
        if words:
            self.name += " or " + " or ".join(repr(w) for w in words)

    def check(self, value):
        if isinstance(value, str) and value in self.words:
            return value
        if is_int(value) and value >= self.minimum:
            return (value,) * self.dims
        if isinstance(value, (list, tuple)) and len(value) == self.dims and all(
            is_int(v) and v >= self.minimum for v in value
        ):
            return tuple(value)
        self.fail(value)

    def schema(self):
        item = {"type": "integer", "minimum": self.minimum}
        options = [item, {"type": "array", "items": item, "minItems": self.dims, "maxItems": self.dims}, EXPR_SCHEMA]
        if self.words:
            options.insert(0, {"enum": list(self.words)})
        return {"anyOf": options}


class IntList(ArgType):
    """A list of integers (reshape's shape, permute's dims)."""

    def __init__(self, minimum: int | None = None, min_items: int = 1):
        self.minimum, self.min_items = minimum, min_items
        self.name = "a list of integers"

    def check(self, value):
        if isinstance(value, (list, tuple)) and len(value) >= self.min_items and all(
            is_int(v) and (self.minimum is None or v >= self.minimum) for v in value
        ):
            return tuple(value)
        self.fail(value)

    def schema(self):
        return {"anyOf": [{"type": "array", "items": {"type": "integer"}, "minItems": self.min_items}, EXPR_SCHEMA]}


class Optional(ArgType):
    """Another type, or null (meaning 'not given', as torch's None)."""

    def __init__(self, inner: ArgType):
        self.inner = inner
        self.name = f"{inner.name} or null"

    def check(self, value):
        return None if value is None else self.inner.check(value)

    def schema(self):
        return {"anyOf": [{"type": "null"}, self.inner.schema()]}


@dataclass(frozen=True)
class Arg:
    name: str
    type: ArgType
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


class Op:
    """One primitive layer. Subclasses set `name`, `family`, `args`, `doc` and override the rules.

    `roles` name the inputs in order; a `variadic` op (a merge) takes two or more values
    for its last role. An op either builds an nn.Module (`module`) or is a function of its
    inputs (`apply`, and `python` for the standalone Python export). `family` groups ops in
    `archspec ops` and colours them in `archspec graph`.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = "other"
    args: ClassVar[tuple[Arg, ...]] = ()
    roles: ClassVar[tuple[str, ...]] = ("input",)
    variadic: ClassVar[bool] = False
    doc: ClassVar[str] = ""
    main_arg: ClassVar[str | None] = None  # the argument a bare scalar stands for: `linear: 10`

    def shape(self, a: dict, xs: list[Shape]) -> Shape:
        raise NotImplementedError

    def params(self, a: dict, xs: list[Shape]) -> int:
        return 0

    def macs(self, a: dict, xs: list[Shape], out: Shape) -> int:
        return 0

    def module(self, a: dict, xs: list[Shape]):
        """The nn.Module for this node, or None when the op is a function (see `apply`)."""
        return None

    def apply(self, a: dict, *xs):
        """Functional ops: compute the output from input tensors (traced by torch.fx)."""
        raise NotImplementedError(f"op {self.name} has neither module() nor apply()")

    def python(self, a: dict, xs: list[str]) -> str | None:
        """Functional ops: `apply` as a Python expression over the inputs' expressions `xs`,
        for the standalone Python export; None when the op has no such form."""
        return None

    def role(self, k: int) -> str:
        """The role of the k-th input."""
        return self.roles[min(k, len(self.roles) - 1)]

    @property
    def arg_map(self) -> dict[str, Arg]:
        return {arg.name: arg for arg in self.args}

    def check_args(self, given: dict) -> tuple[dict, list[tuple[str, str]]]:
        """Fill defaults and type-check evaluated args: (args, [(arg name or '', problem)])."""
        from archspec.diagnostics import did_you_mean

        out, problems = {}, []
        known = self.arg_map
        for key in given:
            if key not in known:
                hint = did_you_mean(key, known) or (f" (arguments: {', '.join(known)})" if known else " (it takes no arguments)")
                problems.append((key, f"{self.name}: unknown argument '{key}'{hint}"))
        for arg in self.args:
            if arg.name in given:
                try:
                    out[arg.name] = arg.type.check(given[arg.name])
                except ValueError as e:
                    problems.append((arg.name, f"{self.name}: argument '{arg.name}': {e}"))
            elif arg.required:
                problems.append(("", f"{self.name}: missing required argument '{arg.name}'"))
            else:
                out[arg.name] = arg.type.check(arg.default)
        return out, problems


def prod(values) -> int:
    return math.prod(int(v) for v in values)
