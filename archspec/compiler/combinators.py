"""The bodies an item or a block may have: a sub-list, or a combinator that expands into
plain nodes plus a merge. Each takes the expander, its YAML body, the body's path, the
enclosing `from:` environment, the input value, the naming scope and the frame."""
from __future__ import annotations

from dataclasses import replace

from archspec.compiler.scope import Env
from archspec.errors import Code
from archspec.lang.expr import InputShape


def _branch(ex, body, path, env, x, scope, frame):
    """A branch is a list of items or a single item; it is fed with x in a fresh id list."""
    if isinstance(body, list):
        return ex.expand_list(body, path, Env(x, env), scope, frame)
    return ex.expand_list([body], path, Env(x, env), scope, frame, paths=[path])


def layers(ex, body, path, env, x, scope, frame, merge):
    if not isinstance(body, list):
        raise ex.fail(path, Code.TYPE, f"layers: expected a list of items, found {body!r}")
    return _branch(ex, body, path, env, x, scope, frame)


def parallel(ex, body, path, env, x, scope, frame, merge):
    if not isinstance(body, list) or not body:
        raise ex.fail(path, Code.TYPE, "parallel: expected a list of branches")
    outs = [_branch(ex, branch, path + (k,), env, x, scope, frame) for k, branch in enumerate(body)]
    if len(outs) == 1:
        return outs[0]
    return _merge(ex, merge, "concat", path, outs, scope, frame)


def residual(ex, body, path, env, x, scope, frame, merge):
    if not isinstance(body, dict) or "body" not in body:
        raise ex.fail(path, Code.TYPE, "residual: expected {body: [...], shortcut: [...]}")
    out = _branch(ex, body["body"], path + ("body",), env, x, scope, frame)
    short = _branch(ex, body["shortcut"], path + ("shortcut",), env, x, scope, frame) if body.get("shortcut") is not None else x
    return _merge(ex, merge, "add", path, [out, short], scope, frame)


def dense(ex, body, path, env, x, scope, frame, merge):
    """`repeat` times: x = concat(x, layers(x)); each copy is a scope holding its layers and its concat."""
    if not isinstance(body, dict) or "layers" not in body or "repeat" not in body:
        raise ex.fail(path, Code.TYPE, "dense: expected {layers: [...], repeat: N}")
    times, template = ex.repeat_count(body["repeat"], path, frame)
    for i in range(times):
        names = {**frame.names, "i": i, "input": InputShape(ex.shape(x))}
        local = ex.evaluate(template, path + ("repeat", "id"), names) if template else None
        copy = scope.child(ex.claim(scope, local, path))
        copy_frame = replace(frame, names={**frame.names, "i": i})
        y = layers(ex, body["layers"], path + ("layers",), env, x, copy, copy_frame, None)
        if ex.shape(y) is None:
            return y
        x = ex.merge(None, "concat", path, [x, y], copy, copy_frame)
        if ex.shape(x) is None:
            return x
    return x


def _merge(ex, kind, default, path, outs, scope, frame):
    if any(ex.shape(o) is None for o in outs):
        return ex.poison(path, outs, frame)
    return ex.merge(kind, default, path, outs, scope, frame)
