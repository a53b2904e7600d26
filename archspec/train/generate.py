"""`archspec generate`: continue a prompt with a trained language model, one token at a time.

There is no KV cache: each new token runs the model over the whole window (the last `context`
tokens), so a step costs one forward pass at the spec's context; `generate` measures it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from archspec.errors import ArchspecError
from archspec.train import checkpoint
from archspec.train.devices import resolve_device
from archspec.train.evaluate import trained_model
from archspec.train.recipe import Recipe
from archspec.train.text import Vocab

MAX_NEW_TOKENS = 100_000


@dataclass
class Generated:
    text: str  # the continuation only, decoded
    prompt_tokens: int  # after cropping to the context
    new_tokens: int
    seconds: float
    context: int
    step_ms: float  # one forward pass over a full window of `context` tokens: what each token costs at most

    @property
    def ms_per_token(self) -> float:
        return 1000 * self.seconds / max(self.new_tokens, 1)


@torch.no_grad()
def sample(module, ids: torch.Tensor, new_tokens: int, context: int, temperature: float = 1.0,
           top_k: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """`ids` (1-D) followed by `new_tokens` tokens, each drawn from the model's logits at the last
    position of the window: greedy at temperature 0, else softmax(logits / temperature) over the
    top_k most likely (all when None)."""
    for _ in range(new_tokens):
        logits = module(ids[-context:][None])[0, -1].float()
        if temperature == 0:
            nxt = logits.argmax()
        else:
            logits = logits / temperature
            if top_k is not None and top_k < logits.numel():
                kth = logits.topk(top_k).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)[0]
        ids = torch.cat([ids, nxt.view(1).to(ids.dtype)])
    return ids


def generate(spec_arg, ckpt_path, prompt: str, max_tokens: int = 200, temperature: float = 0.8,
             top_k: int | None = None, seed: int = 0, device: str = "cpu", params: dict | None = None) -> Generated:
    """Continue `prompt` with the language model a run trained (its spec, task and vocabulary)."""
    if not 0 <= max_tokens <= MAX_NEW_TOKENS:
        raise ArchspecError(f"--max-tokens {max_tokens}: expected 0 to {MAX_NEW_TOKENS:,}")
    if not (temperature >= 0 and temperature < float("inf")):
        raise ArchspecError(f"--temperature {temperature}: expected a finite number >= 0")
    if top_k is not None and top_k < 1:
        raise ArchspecError(f"--top-k {top_k}: expected a whole number >= 1")
    state = checkpoint.read(ckpt_path)
    recipe = Recipe.from_dict(state["recipe"])
    if recipe.task not in ("language_model", "auto"):
        raise ArchspecError(f"checkpoint {ckpt_path} is a {recipe.task} run; archspec generate continues text with "
                            "a language model (a run with task language_model, e.g. trained on text:stdlib)")
    info = trained_model(spec_arg, state, ckpt_path, recipe, params or {})
    if info.task.name != "language_model":
        raise ArchspecError(f"checkpoint {ckpt_path} trained spec {info.name!r} as {info.task.name}; archspec "
                            "generate needs a language model")
    vocab = Vocab.stored(state.get("vocab"), f"checkpoint {ckpt_path}")
    ids = vocab.encode(prompt, "--prompt")
    if len(ids) == 0:
        raise ArchspecError("--prompt is empty; give at least one character to continue")
    context = info.input_shape[0]
    ids = ids[-context:]  # a longer prompt: its last window
    where = resolve_device(device)
    module = info.module.to(where).eval()
    gen = torch.Generator(device=where).manual_seed(seed)
    start = time.perf_counter()
    out = sample(module, ids.to(where), max_tokens, context, temperature, top_k, gen)
    seconds = time.perf_counter() - start
    return Generated(vocab.decode(out[len(ids):].tolist()), len(ids), max_tokens, seconds, context,
                     step_ms(module, context, where))


@torch.no_grad()
def step_ms(module, context: int, device: torch.device, repeats: int = 5) -> float:
    """Milliseconds of one generation step at the full context (the median of a few, after a warm-up)."""
    window = torch.zeros(1, context, dtype=torch.long, device=device)
    times = []
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        module(window)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]
