"""The two scopes of expansion: naming (module paths, numbered like nn.Sequential) and
reference (the ids `from:` can see), plus the frame that carries expression names."""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.compiler.ir import Ref


@dataclass
class Frame:
    """Where expansion stands: expression names, the block call chain (as notes), active blocks."""

    names: dict
    notes: tuple = ()
    blocks: tuple = ()


class Scope:
    """A module-path prefix; entries are named by id or by position, as in nn.Sequential."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.count = 0
        self.taken: dict[str, object] = {}

    def claim(self, local) -> str:
        position = self.count
        self.count += 1
        name = str(position) if local is None else str(local)
        if name in self.taken:
            raise KeyError(name)
        self.taken[name] = True
        return self.prefix + name

    def child(self, full_name: str) -> "Scope":
        return Scope(full_name + ".")


@dataclass
class Env:
    """The ids visible to `from:` in one layer list (lexical: enclosing lists are visible)."""

    input: Ref
    parent: "Env | None" = None
    ids: dict = field(default_factory=dict)

    def lookup(self, name):
        env = self
        while env is not None:
            if name in env.ids:
                return env.ids[name]
            env = env.parent
        if name == "input":
            return self.input
        return None

    def visible(self) -> list:
        names, env = ["input"], self
        while env is not None:
            names += list(env.ids)
            env = env.parent
        return names
