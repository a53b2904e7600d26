"""archspec's own nn.Modules: building blocks that torch.nn does not have, which ops build and
export writes out (as timm keeps its layers). Every op archspec has today builds a torch.nn
class or is a function of its inputs, so none lives here yet; drop path is the first to come."""
