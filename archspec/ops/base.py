"""What an op is: typed arguments, its inputs' roles and its outputs, a pure-Python type rule
(shape, dtype, batch) over its inputs' types, parameter and MAC counts, a lazy torch build,
and its family and Python form for drawing and export. Nothing here imports torch."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from archspec.compiler.ir import Type  # noqa: F401 - the rules' input and output type

Shape = tuple  # a value's shape as the rules see it: per sample (batch excluded) for a batched
# value, (C, H, W), (features,), ...; the whole shape for a batch-free one

REQUIRED = object()
EXPR_SCHEMA = {"type": "string", "pattern": r"^\$"}


def or_expr(item: dict) -> dict:
    """The schema of a list element, which may be an expression as the whole value may: [$k, 1]."""
    return {"anyOf": [item, EXPR_SCHEMA]}
DTYPE_WORDS = {"float32": "a float", "int64": "an int64", "bool": "a bool"}


class ShapeRuleError(Exception):
    """Raised by an op's type or shape rule; the type pass adds the node and its location."""


class InputError(ShapeRuleError):
    """An input of a kind the op cannot take (an int value into conv2d, a batch-free one into
    flatten): the type pass names it, `conv2d: expects a float input, found int64 tokens [16]`."""

    def __init__(self, op: str, index: int, expected: str, found: str, shape: tuple):
        self.op, self.index, self.expected, self.found, self.shape = op, index, expected, found, tuple(shape)
        super().__init__(self.render(f"input {index}"))

    def render(self, label: str) -> str:
        return f"{self.op}: expects {self.expected} input, found {self.found} {label} {list(self.shape)}"


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
        from archspec.lang.pitfalls import tuple_hint

        return f"string {value!r}{tuple_hint(value)}"
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
        options = [item, {"type": "array", "items": or_expr(item), "minItems": self.dims, "maxItems": self.dims}, EXPR_SCHEMA]
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
        return {"anyOf": [{"type": "array", "items": or_expr({"type": "integer"}), "minItems": self.min_items}, EXPR_SCHEMA]}


class Ints(ArgType):
    """An integer or a non-empty list of them, normalized to a tuple (a reduction's dims, roll's shifts)."""

    name = "an integer or a non-empty list of integers"

    def check(self, value):
        if is_int(value):
            return (value,)
        if isinstance(value, (list, tuple)) and value and all(is_int(v) for v in value):
            return tuple(value)
        self.fail(value)

    def schema(self):
        return {"anyOf": [{"type": "integer"}, {"type": "array", "items": or_expr({"type": "integer"}), "minItems": 1}, EXPR_SCHEMA]}


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

    Inputs: `roles` name them in order; a `variadic` op (a merge) takes two or more values for
    its last role; `roles = ()` is an op with no input (a learnable tensor); `min_inputs`
    makes the last roles optional (attention's mask), and `input_roles(n)` names n inputs.
    Outputs: `outputs` names them; `n_outputs(a)` says how many a node has when its args decide
    (chunk's `n`). Output k of a node is `id.k` in `from:`, or `id.<name>` where the names
    differ (`lstm.h_n`).
    Types: `type(a, ts)` maps the inputs' Types to the output Type (or a tuple of Types, one per
    output). The default checks every input against `dtypes` and `batch_free` and calls the
    per-sample `shape(a, xs)`, which is all most ops write.
    The rest see shapes: `xs` is each input's shape (per sample for a batched value, the whole
    shape for a batch-free one) and `a` the node's args as `bind` leaves them.
    Torch: an op builds an nn.Module (`module`), or is a function of its inputs (`apply`, and
    `python` for the standalone Python export), or is a tensor of the model's state (`module`
    returns an nn.Parameter or nn.Buffer). Several outputs come back as a tuple (see `unpack`).
    `family` groups ops in `archspec ops` and colours them in `archspec graph`.
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = "other"
    args: ClassVar[tuple[Arg, ...]] = ()
    roles: ClassVar[tuple[str, ...]] = ("input",)
    variadic: ClassVar[bool] = False
    min_inputs: ClassVar[int | None] = None  # fewer inputs than roles: the last roles are optional
    outputs: ClassVar[tuple[str, ...]] = ("output",)
    dtypes: ClassVar[tuple[str, ...]] = ("float32",)  # the input dtypes the default type rule takes
    batch_free: ClassVar[bool] = False  # whether the default type rule takes batch-free inputs
    doc: ClassVar[str] = ""
    main_arg: ClassVar[str | None] = None  # the argument a bare scalar stands for: `linear: 10`

    # ---- types (pure Python) ---------------------------------------------------------------
    def type(self, a: dict, ts: list[Type]) -> Type | tuple[Type, ...]:
        """The output type(s) for inputs of types `ts`; raise ShapeRuleError (or InputError,
        which names the input) when they do not fit. The default: `check_inputs`, then an
        output of the first input's dtype, `shape(a, shapes)` for its shape, and a batch when
        any input has one."""
        self.check_inputs(ts)
        shape = tuple(self.shape(a, [t.shape for t in ts]))
        return Type(shape, ts[0].dtype if ts else "float32", any(t.batched for t in ts))

    def check_inputs(self, ts: list[Type]) -> None:
        """Refuse, naming it, an input whose dtype is not in `dtypes` or that is batch-free
        when the op is not `batch_free` (what the default `type` checks first)."""
        for k, t in enumerate(ts):
            if t.dtype not in self.dtypes:
                expected = " or ".join(DTYPE_WORDS[d] for d in self.dtypes)
                raise InputError(self.name, k, expected, t.dtype, t.shape)
            if not t.batched and not self.batch_free:
                raise InputError(self.name, k, "a batched", "batch-free", t.shape)

    def shape(self, a: dict, xs: list[Shape]) -> Shape:
        """The output's shape from the inputs' shapes (used by the default `type`)."""
        raise NotImplementedError

    def n_outputs(self, a: dict) -> int:
        """How many outputs a node with args `a` has (override where the args decide)."""
        return len(self.outputs)

    def bind(self, a: dict, ts: list[Type]) -> dict:
        """The args that params, macs, module, apply and python see: the node's args plus what
        the op must know of its inputs' types at run time (concat: which are batch-free)."""
        return a

    # ---- counts (pure Python) --------------------------------------------------------------
    def weights(self, a: dict, xs: list[Shape]) -> dict[str, tuple] | None:
        """The parameters of the op's module by name and shape, as torch names them
        (`{"weight": (out, in), "bias": (out,)}`): what `tie:` checks; None when the op does
        not say (then its parameters cannot be tied, and it gives `params` itself)."""
        return None

    def params(self, a: dict, xs: list[Shape]) -> int:
        """The parameter count: by default the sum of `weights`, else 0."""
        return sum(prod(shape) for shape in (self.weights(a, xs) or {}).values())

    def macs(self, a: dict, xs: list[Shape], out: Shape) -> int:
        """Multiply-accumulates per sample; `out` is the (first) output's shape."""
        return 0

    # ---- torch (imported inside these methods only) ----------------------------------------
    def module(self, a: dict, xs: list[Shape]):
        """The nn.Module for this node (its forward returns a tuple when there are several
        outputs), an nn.Parameter or nn.Buffer for a tensor of the model's state (registered
        at the node's path), or None when the op is a function (see `apply`)."""
        return None

    def constructor_keywords(self, a: dict, xs: list[Shape]) -> dict | None:
        """The keywords module() gives its torch.nn class, which the Python export writes as they
        are (nn.LSTM takes only *args, **kwargs, so they cannot be read back); None: the export
        reads them back from the built module."""
        return None

    def apply(self, a: dict, *xs):
        """Functional ops: compute the output (a tuple for several) from input tensors (traced by torch.fx)."""
        raise NotImplementedError(f"op {self.name} has neither module() nor apply()")

    def python(self, a: dict, xs: list[str]) -> str | None:
        """Functional ops: `apply` as a Python expression over the inputs' expressions `xs`,
        for the standalone Python export; None when the op has no such form. A state op
        (`module` returns a tensor) gives the expression that makes the tensor."""
        return None

    def sources(self) -> list:
        """Functions of archspec.layers that `python`'s text calls (a state op's filling
        function), whose source the standalone Python export copies into its file."""
        return []

    def unpack(self, a: dict, y, n: int) -> tuple:
        """The node's n outputs from what module() or apply() returned: y itself for one, its
        items for several. An op whose module nests them (nn.LSTM's (output, (h_n, c_n)))
        indexes deeper, and may call tensor methods (`y[1][0].transpose(0, 1)`, to put a batch
        first); `y` is a traced value, or a stand-in that writes the Python export's text, so
        index it and call methods on it only."""
        return (y,) if n == 1 else tuple(y[k] for k in range(n))

    # ---- naming ------------------------------------------------------------------------------
    def role(self, k: int) -> str:
        """The role of the k-th input."""
        return self.roles[min(k, len(self.roles) - 1)]

    def takes(self, n: int) -> bool:
        """Whether a non-variadic op takes n inputs."""
        low = len(self.roles) if self.min_inputs is None else self.min_inputs
        return low <= n <= len(self.roles)

    def input_roles(self, n: int) -> tuple[str, ...]:
        """The roles of a node's n inputs, in order (an op whose inputs mean something else by
        their count, as attention's packed qkv, says so here)."""
        return tuple(self.role(k) for k in range(n))

    def output_name(self, k: int) -> str:
        """The name of the k-th output."""
        return self.outputs[min(k, len(self.outputs) - 1)]

    def output_names(self, n: int) -> tuple[str, ...]:
        """The names that stand for a node's n outputs in `from:` (`lstm.h_n`) and in messages:
        the op's `outputs` when they name each apart, else none (split's parts are numbered)."""
        return self.outputs if len(set(self.outputs)) == len(self.outputs) == n else ()

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
