"""take: entries of a table at the positions an int64 index value holds, along one dim
(`table[index]` for dim 0): Swin's relative position bias read at its index buffer, a learned
position table read at token positions. numpy.take's rule: the dim is replaced by the
index's whole shape."""
from __future__ import annotations

from archspec.compiler.ir import DTYPES, Type
from archspec.ops import register
from archspec.ops.base import Arg, InputError, Int, Op, ShapeRuleError
from archspec.ops.index import index_text
from archspec.ops.reshape import value_dim


@register
class Take(Op):
    name = "take"
    family = "index"
    doc = ("Entries of a table along a dim at an int64 index's values, the dim replaced by the index's shape "
           "(table[index] for dim 0; numpy.take): from: [table, index].")
    roles = ("table", "index")
    main_arg = "dim"
    args = (Arg("dim", Int(), 0, "the table's dim the index reads (a batched table's batch is dim 0; "
                                 "default 0: the rows of a batch-free table)"),)

    def type(self, a, ts):
        table, index = ts
        if table.dtype not in DTYPES:
            raise InputError(self.name, 0, "a float, int64 or bool", table.dtype, table.shape)
        if index.dtype != "int64":
            raise InputError(self.name, 1, "an int64", index.dtype, index.shape)
        d = value_dim(self.name, a["dim"], table)
        if index.batched and (table.batched or d != 0):
            raise ShapeRuleError(f"{self.name}: a batched index {list(index.shape)} reads the rows (dim 0) of a "
                                 f"batch-free table only, found {'a batched table' if table.batched else f'dim {d}'}")
        shape = table.shape[:d] + tuple(index.shape) + table.shape[d + 1 :]
        return Type(shape, table.dtype, table.batched or index.batched)

    def bind(self, a, ts):
        """`at`: the dim's position in the tensor torch sees (counting a batch)."""
        return {**a, "at": value_dim(self.name, a["dim"], ts[0]) + ts[0].batched}

    def apply(self, a, table, index):
        return table[(slice(None),) * a["at"] + (index,)]

    def python(self, a, xs):
        return xs[0] + index_text(a["at"], xs[1])
