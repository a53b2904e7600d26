"""`--strategy fsdp`: the weights, gradients and optimizer state sharded over the processes with
torch's FSDP2 (fully_shard), while checkpoints keep holding the full, unsharded state.

Each process keeps 1/N of every parameter and its optimizer state; a block's full weights are
gathered just before it runs and freed after, and gradients are reduce-scattered instead of
all-reduced. Checkpoints are gathered to rank 0 in the format of a one-process run (the keys of the
unwrapped module, the optimizer's parameters numbered in order), so eval, export, --weights and a
resume in any number of processes read them unchanged.
"""
from __future__ import annotations

import torch
import torch.distributed as tdist
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict, get_optimizer_state_dict,
                                                     set_model_state_dict, set_optimizer_state_dict)
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard

from archspec.train.devices import AMP_DTYPES

GATHERED = StateDictOptions(full_state_dict=True, cpu_offload=True)  # the whole tensors, on rank 0's CPU only


def shard(model: torch.nn.Module, amp: str) -> None:
    """Shard `model` in place: each of its blocks (the emitted module's submodules) then the root,
    as the FSDP2 docs recommend, so one block's weights are gathered at a time.

    All processes start from rank 0's weights and buffers (--weights is read by rank 0 alone).
    Under --amp the gathered weights are in the low precision and gradients are reduced in fp32;
    batch norm keeps fp32 weights, like its fp32 running statistics (torch's CPU kernel wants both
    alike), and autocast still decides each op's precision as in one process.
    """
    for t in [*model.parameters(), *model.buffers()]:
        tdist.broadcast(t.detach(), src=0)
    low = MixedPrecisionPolicy(param_dtype=AMP_DTYPES[amp], reduce_dtype=torch.float32) if amp != "off" else None
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)] if low else []
    for norm in norms:
        fully_shard(norm, mp_policy=MixedPrecisionPolicy(param_dtype=torch.float32))
    for block in model.children():
        if block not in norms and any(p.numel() for p in block.parameters()):
            fully_shard(block, **_policy(low))
    fully_shard(model, **_policy(low))


def _policy(low) -> dict:
    return {"mp_policy": low} if low is not None else {}


def is_sharded(model: torch.nn.Module) -> bool:
    return isinstance(model, FSDPModule)


def full_weights(model: torch.nn.Module) -> dict:
    """The model's full state_dict on rank 0 (empty on the others); a collective."""
    return get_model_state_dict(model, options=GATHERED)


def full_state(model: torch.nn.Module, optimizer) -> tuple[dict | None, dict | None]:
    """(model state_dict, optimizer state_dict) as one process would have them, on rank 0; (None, None)
    on the others. A collective: every process calls it."""
    weights = full_weights(model)
    optim = get_optimizer_state_dict(model, optimizer, options=GATHERED)
    if tdist.get_rank() != 0:
        return None, None
    index = {name: i for i, name in enumerate(_names(model, optimizer))}
    return weights, {"state": {index[name]: buffers for name, buffers in optim.get("state", {}).items()},
                     "param_groups": [{**g, "params": [index[n] for n in g["params"]]} for g in optim["param_groups"]]}


def load_full(model: torch.nn.Module, optimizer, weights: dict, optim: dict) -> None:
    """Set a sharded model and its optimizer from a full checkpoint every process holds (each keeps its
    shard); the optimizer's numbered parameters are matched by position, as load_state_dict does."""
    names = _names(model, optimizer)
    set_model_state_dict(model, dict(weights), options=StateDictOptions(full_state_dict=True))
    by_name = {"state": {names[i]: buffers for i, buffers in optim["state"].items()},
               "param_groups": [{**g, "params": [names[i] for i in g["params"]]} for g in optim["param_groups"]]}
    set_optimizer_state_dict(model, optimizer, by_name, options=StateDictOptions(full_state_dict=True))


def _names(model: torch.nn.Module, optimizer) -> list[str]:
    """The optimizer's parameters by name, in the order optimizer.state_dict() numbers them."""
    name_of = {id(p): name for name, p in model.named_parameters()}
    return [name_of[id(p)] for group in optimizer.param_groups for p in group["params"]]
