"""The compiler: expansion of a loaded spec into the IR (one networkx graph, see ir), the
passes that store their results on its nodes (types and shapes, counts, graph checks), and
emission to torch.fx. `pipeline` runs them in order; everything but `emit` is torch-free."""
