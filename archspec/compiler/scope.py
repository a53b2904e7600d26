"""The two scopes of expansion: naming (module paths, numbered like nn.Sequential) and
reference (the ids `from:` can see, and the module path each stands for, which dotted
references walk into), plus the frame that carries expression names."""
from __future__ import annotations

from dataclasses import dataclass, field

from archspec.compiler.ir import Ref


@dataclass
class Frame:
    """Where expansion stands: expression names, the block call chain (as notes), active blocks."""

    names: dict
    notes: tuple = ()
    blocks: tuple = ()
    frozen: bool = False  # inside `trainable: false`: the parameters made here are frozen


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
    paths: dict = field(default_factory=dict)  # id -> the module path of its item (None: none of its own)

    def lookup(self, name):
        return self.find(name)[0]

    def find(self, name) -> tuple[Ref | None, str | None]:
        """(the value, the module path of the item) an id names here or in an enclosing list."""
        env = self
        while env is not None:
            if name in env.ids:
                return env.ids[name], env.paths.get(name)
            env = env.parent
        if name == "input":
            return self.input, None
        return None, None

    def visible(self) -> list:
        names, env = ["input"], self
        while env is not None:
            names += list(env.ids)
            env = env.parent
        return names
