"""The expression language of specs: `$name`, `${...}` and `"text${...}"`.

Expressions are parsed with Python's `ast` (parsing runs nothing) and evaluated by the
small interpreter below, which allows arithmetic, comparisons, conditionals, indexing
and a few functions, and nothing else: no attributes but `input.*`, no other calls, no
dunder names, bounded sizes. Python's eval is never used.
"""
from __future__ import annotations

import ast
import math
import operator
import re
import warnings
from dataclasses import dataclass

MAX_LENGTH = 1000
MAX_INT_BITS = 64
MAX_SEQUENCE = 10_000
MAX_STEPS = 10_000

WHOLE = re.compile(r"^\$\{(.*)\}$", re.S)
NAME = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
PIECE = re.compile(r"\$\{([^{}]*)\}")


class ExprError(Exception):
    """An expression that cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class InputShape:
    """What `input` means in an expression: the item's input value, its shape (batch excluded),
    its dtype and whether it has a batch dim."""

    shape: tuple
    dtype: str = "float32"
    batched: bool = True

    def attribute(self, name: str):
        s = self.shape
        if name == "shape":
            return list(s)
        if name == "rank":
            return len(s)
        if name in ("dtype", "batched"):
            return getattr(self, name)
        if name == "c" and len(s) >= 1:
            return s[0]
        if name == "w" and len(s) >= 2:
            return s[-1]
        if name == "h" and len(s) >= 3:
            return s[-2]
        if name == "d" and len(s) >= 4:
            return s[-3]
        if name in ("c", "h", "w", "d"):
            raise ExprError(f"input.{name} is not defined for an input of shape {list(s)} (input.shape[k] reads any dim)")
        raise ExprError(f"input has no attribute '{name}' (use c, h, w, d, shape, rank, dtype or batched)")


def _check_number(value):
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise ExprError(f"number too large (more than {MAX_INT_BITS} bits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExprError("result is not a finite number")
    if isinstance(value, complex):
        raise ExprError("result is not a real number")
    return value


def _pow(a, b):
    if isinstance(b, (int, float)) and isinstance(a, (int, float)) and a not in (0, 1, -1):
        if abs(b) * math.log2(max(abs(a), 2)) > MAX_INT_BITS + 1:
            raise ExprError(f"number too large: {a} ** {b}")
    return a**b


def _mod(a, b):
    if isinstance(a, str):
        raise ExprError("'%' formatting of text is not allowed: write text${...}")
    return a % b


def _round(number, ndigits=None):
    if ndigits is not None and not (isinstance(ndigits, int) and -MAX_INT_BITS <= ndigits <= MAX_INT_BITS):
        raise ExprError(f"round: digits must be an integer from -{MAX_INT_BITS} to {MAX_INT_BITS}, found {ndigits!r}")
    return round(number, ndigits)


SEQUENCES = (str, list, tuple)
BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: _mod, ast.Pow: _pow,
}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
SYMBOLS = {ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.MatMult: "@",
           ast.Invert: "~", ast.Is: "is", ast.IsNot: "is not"}
COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
def _sum(values, start=0):
    if isinstance(values, str) or isinstance(start, (str, list, tuple)):
        raise ExprError("sum adds numbers: sum([1, 2]) or sum(depths[:i])")
    return sum(values, start)


FUNCTIONS = {
    "min": min, "max": max, "int": int, "float": float, "round": _round, "abs": abs, "len": len,
    "ceil": math.ceil, "floor": math.floor, "sum": _sum, "any": any, "all": all,
    "log": math.log, "log2": math.log2, "exp": math.exp, "sqrt": math.sqrt,
}
CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "null": None, "None": None}


class _Evaluator:
    def __init__(self, names: dict):
        self.names = names
        self.steps = 0
        self.sizes: dict[int, tuple[object, int]] = {}  # id -> (list, size): lists never change here

    def eval(self, node):
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise ExprError("expression too complex")
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExprError(f"'{_describe(node)}' is not allowed in an expression")
        value = _check_number(method(node))
        if isinstance(value, SEQUENCES) and self.size(value) > MAX_SEQUENCE:
            raise ExprError(f"result too long (more than {MAX_SEQUENCE} items)")
        return value

    def size(self, value) -> int:
        """Items in a value with nested lists counted in full, so that a list repeating one
        big list is as large as it prints; stops counting past the limit."""
        if isinstance(value, str):
            return len(value)
        if not isinstance(value, (list, tuple)):
            return 1
        known = self.sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        total = len(value)
        for item in value:
            if isinstance(item, SEQUENCES):
                total += self.size(item)
                if total > MAX_SEQUENCE:
                    return total
        self.sizes[id(value)] = (value, total)
        return total

    def grown(self, op, a, b) -> int | None:
        """The size of `a op b` when it repeats or joins sequences, known before it is built."""
        if isinstance(op, ast.Mult):
            for seq, n in ((a, b), (b, a)):
                if isinstance(seq, SEQUENCES) and isinstance(n, int):
                    return self.size(seq) * max(n, 0)
        if isinstance(op, ast.Add) and isinstance(a, SEQUENCES) and isinstance(b, SEQUENCES):
            return self.size(a) + self.size(b)
        return None

    def _Expression(self, node):
        return self.eval(node.body)

    def _Constant(self, node):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
        raise ExprError(f"constant {node.value!r} is not allowed")

    def _Name(self, node):
        if node.id.startswith("__"):
            raise ExprError(f"name '{node.id}' is not allowed")
        if node.id in self.names:
            value = self.names[node.id]
            return value
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            raise ExprError(f"'{node.id}' is a function: call it, as in {node.id}(...)")
        from archspec.diagnostics import did_you_mean

        visible = [n for n in self.names if not isinstance(self.names[n], InputShape)] + ["input"] * ("input" in self.names)
        raise ExprError(f"unknown name '{node.id}'{did_you_mean(node.id, visible)}")

    def _Attribute(self, node):
        if node.attr.startswith("_"):
            raise ExprError(f"attribute '{node.attr}' is not allowed")
        base = self.eval(node.value)
        if not isinstance(base, InputShape):
            raise ExprError(f"attribute '.{node.attr}' is only allowed on input (input.c, input.h, ...)")
        return base.attribute(node.attr)

    def _BinOp(self, node):
        op = BINARY.get(type(node.op))
        if op is None:
            raise ExprError(f"operator '{_symbol(node.op)}' is not allowed")
        left, right = self.eval(node.left), self.eval(node.right)
        size = self.grown(node.op, left, right)
        if size is not None and size > MAX_SEQUENCE:
            raise ExprError(f"result too long (more than {MAX_SEQUENCE} items)")
        value = self._apply(op, left, right)
        if size is not None and isinstance(value, (list, tuple)):
            self.sizes[id(value)] = (value, size)
        return value

    def _UnaryOp(self, node):
        op = UNARY.get(type(node.op))
        if op is None:
            raise ExprError(f"operator '{_symbol(node.op)}' is not allowed")
        return self._apply(op, self.eval(node.operand))

    def _BoolOp(self, node):
        is_and = isinstance(node.op, ast.And)
        value = None
        for sub in node.values:
            value = self.eval(sub)
            if bool(value) != is_and:
                return value
        return value

    def _Compare(self, node):
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.eval(right_node)
            if type(op) not in COMPARE:
                raise ExprError(f"operator '{_symbol(op)}' is not allowed (compare with == or !=)")
            if not self._apply(COMPARE[type(op)], left, right):
                return False
            left = right
        return True

    def _IfExp(self, node):
        return self.eval(node.body) if self.eval(node.test) else self.eval(node.orelse)

    def _List(self, node):
        return [self.eval(e) for e in node.elts]

    _Tuple = _List

    def _Subscript(self, node):
        return self._apply(operator.getitem, self.eval(node.value), self.eval(node.slice))

    def _Slice(self, node):
        parts = [None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def _Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            raise ExprError(f"calling '{name}' is not allowed (functions: {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise ExprError("keyword arguments are not allowed in an expression")
        args = [self.eval(a) for a in node.args]
        return self._apply(FUNCTIONS[node.func.id], *args)

    @staticmethod
    def _apply(fn, *args):
        if any(isinstance(a, InputShape) for a in args):
            raise ExprError("input is a value: use input.c, input.h, input.w, input.shape or input.dtype")
        try:
            return fn(*args)
        except ExprError:
            raise
        except ZeroDivisionError:
            raise ExprError("division by zero") from None
        except (TypeError, ValueError, IndexError, KeyError, OverflowError) as e:
            raise ExprError(str(e)) from None


def _symbol(op) -> str:
    return SYMBOLS.get(type(op), type(op).__name__)


def _describe(node) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - only for a message
        return type(node).__name__


def evaluate(source: str, names: dict):
    """Evaluate the text of one expression (without `${}`) against `names`."""
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression too long ({len(source)} characters, at most {MAX_LENGTH})")
    try:
        with warnings.catch_warnings():  # Python's own SyntaxWarnings ("1if") would reach the user's terminal
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as e:
        raise ExprError(f"invalid expression: {e.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError("invalid expression: too deeply nested") from None
    try:
        return _Evaluator(names).eval(tree)
    except RecursionError:
        raise ExprError("expression too deeply nested") from None


def resolve(value, names: dict):
    """Evaluate a YAML value that may be `$name`, `${expr}`, `text${expr}`, or hold them."""
    if isinstance(value, str):
        if "$" not in value:
            return value
        if len(value) > MAX_LENGTH:
            raise ExprError(f"expression too long ({len(value)} characters, at most {MAX_LENGTH})")
        m = NAME.match(value)
        if m:
            return evaluate(m.group(1), names)
        m = WHOLE.match(value)
        if m and "${" not in m.group(1):
            return evaluate(m.group(1), names)
        if PIECE.search(value):
            return PIECE.sub(lambda p: _text(evaluate(p.group(1), names)), value)
        raise ExprError(f"'{value}' is not an expression: write $name or ${{...}}")
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, names) for k, v in value.items()}
    return value


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
