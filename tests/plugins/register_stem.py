"""A --plugin file: importing it registers the op, as a user's own module would."""
import archspec
from archspec.plugins import Arg, Int
from plugin_layers import Stem

archspec.register_op(Stem, args=[Arg("width", Int(1), doc="output channels")], inputs={"in_channels": "c"})
