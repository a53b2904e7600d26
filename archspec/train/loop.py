"""The training loop: in-memory batches by tensor indexing, checkpoints, and fault handling.

Several processes (torchrun) plug in through archspec.train.distributed: dist.wrap() the model,
dist.shard() each global batch, dist.reduce_epoch() the metrics, dist.agree() on stopping; the
run folder is only handed to rank 0. With one process those calls change nothing.
"""
from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field

import torch

from archspec import errors
from archspec.errors import ArchspecError
from archspec.train import checkpoint, distributed as dist
from archspec.train.devices import autocast, grad_scaler
from archspec.train.optim import build_optimizer, build_scheduler
from archspec.train.recipe import Recipe
from archspec.train.transforms import Pipeline
from archspec.train.tuning import frozen_norms, param_groups


class Interrupted(errors.Interrupted):
    """Ctrl-C or SIGTERM during training, after a checkpoint of the exact position was saved."""

    def __init__(self, path, epoch: int, batch: int, signum: int = signal.SIGINT):
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        saved = f"checkpoint saved to {path}" if path is not None else "nothing saved (not the main process)"
        super().__init__(f"{how} in epoch {epoch + 1} after {batch} batches; {saved}")
        self.path = path


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """Independent seeds per epoch and purpose (0: shuffling, 1: augmentation)."""
    return (seed * 1_000_003 + epoch * 7_919 + stream) % (2**63)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, min_last: int = 2) -> list[torch.Tensor]:
    """The epoch's shuffled index batches; a final batch under min_last is dropped (batch norm cannot
    train on one sample: min_last is 2 per process)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(seed, epoch, 0)))
    batches = list(perm.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) < min_last:
        batches.pop()
    return batches


def on_device(batches: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Index batches moved where the data lives in one copy: indexing a GPU tensor with CPU
    indices would copy them at every step and stall the host until the GPU caught up."""
    if device.type == "cpu" or not batches:
        return batches
    return list(torch.cat(batches).to(device).split([len(b) for b in batches]))


class Batcher:
    """Turns index tensors into device batches: uint8 -> float, transforms, layout, reshape; a
    spec's int64 token input gets the ids as they are."""

    def __init__(self, pipeline, input_shape: tuple, device: torch.device, channels_last: bool, tokens: bool = False):
        self.pipeline, self.input_shape, self.device = pipeline, tuple(input_shape), device
        self.channels_last, self.tokens = channels_last, tokens

    @classmethod
    def for_data(cls, data, input_shape: tuple, recipe: Recipe, device: torch.device, tokens: bool = False) -> "Batcher":
        """Digits-style data (fit_to_input) is resized and channel-replicated to the spec's input."""
        fit = data.fit_to_input and len(input_shape) == 3
        pipeline = Pipeline(recipe.transforms, size=tuple(input_shape[1:]) if fit else None,
                            channels=input_shape[0] if fit else None)
        return cls(pipeline, input_shape, device, recipe.channels_last, tokens)

    def __call__(self, split, idx, train: bool = False, gen=None):
        x = split.x[idx].to(self.device, non_blocking=True)
        if self.tokens:  # text keeps its ids small (uint8) until a batch is taken
            return x.long(), split.y[idx].to(self.device, non_blocking=True).long()
        x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        y = split.y[idx].to(self.device, non_blocking=True).long()  # masks are stored as uint8
        masks = y.dim() == 3  # segmentation: crops and flips move the masks with their images
        x, moved = self.pipeline.pair(x, y if masks else None, train=train, gen=gen)
        y = moved if masks else y
        if tuple(x.shape[1:]) != self.input_shape:
            x = x.reshape(x.shape[0], *self.input_shape)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y


@torch.no_grad()
def evaluate(net, info, split, batcher: Batcher, loss_fn, amp: str, batch_size: int, passes: int = 0) -> dict:
    """The task's sums (archspec.train.tasks) over a split, in eval mode, summed over all processes;
    info.task.metrics() turns them into numbers. An empty split (a rank's share) gives zero sums.
    At least `passes` forward passes, the last ones on no samples (sharded ranks must all join each
    pass's weight gathering)."""
    task, device = info.task, batcher.device
    was_training = net.training
    net.eval()
    sums = task.sums(torch.zeros(0, *info.output_shape, device=device),
                     torch.zeros(0, *task.target_shape(info), dtype=torch.long, device=device),
                     torch.zeros((), device=device))
    for idx in torch.arange(len(split), device=split.x.device).split(batch_size):  # indices where the data is
        x, y = batcher(split, idx)
        with autocast(amp, device):
            out = net(x)
        out = out.float()
        for key, value in task.sums(out, y, loss_fn(out, y)).items():  # summed on the device: read once at the end
            sums[key] = sums[key] + value
    for _ in range(-(-len(split) // batch_size), passes):
        with autocast(amp, device):
            net(batcher(split, torch.arange(0, device=split.x.device))[0])
    net.train(was_training)
    return {key: dist.reduce_tensor(torch.as_tensor(value, device=device)) for key, value in sums.items()}


@dataclass
class Position:
    """Where training stands: completed epochs, global step, and progress inside the current epoch."""

    epoch: int = 0
    step: int = 0
    batch: int = 0
    partial: dict = field(default_factory=lambda: dict(EMPTY_PARTIAL))
    aug_state: torch.Tensor | None = None
    history: list = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"val_acc": -1.0, "epoch": 0})  # val_acc: the task's score (Task.score)


# An epoch's running sums: loss_sum and count over samples; correct out of targets (the task's
# scored predictions: samples, tokens or pixels); seconds spent training.
EMPTY_PARTIAL = {"loss_sum": 0.0, "correct": 0, "count": 0, "targets": 0, "seconds": 0.0}


class Trainer:
    def __init__(self, info, data, recipe: Recipe, device: torch.device, batcher: Batcher, run, progress, extra: dict):
        self.info, self.data, self.recipe, self.device = info, data, recipe, device
        self.batcher, self.run, self.progress, self.extra = batcher, run, progress, extra
        self.model = info.module.to(device)
        if recipe.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net, self.eval_net = dist.wrap(self.model, recipe, device)
        self.sharded = dist.sharded(recipe)
        self.val = dist.shard_split(data.val)
        self.steps_per_epoch = len(self._batches(0))
        self.optimizer = build_optimizer(param_groups(self.model, recipe.lr, recipe.lr_for), recipe)  # frozen ones stay put
        self.frozen_norms = frozen_norms(self.net)  # they keep their statistics too (SyncBatchNorm's copies under DDP)
        self.scheduler = build_scheduler(self.optimizer, recipe, self.steps_per_epoch)
        self.scaler = grad_scaler(recipe.amp, device)
        self.task = info.task
        self.loss_fn = self.task.make_loss(recipe)
        self.pos = Position()
        self._stop, self._signum = False, signal.SIGINT
        self.loss_weight = 1.0  # set per batch by dist.shard()
        self.log = None  # the run's loggers (archspec.train.loggers), set on rank 0 when --log asks

    # --- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict | None:
        """The checkpoint, on the process that writes it (None on the others). Under fsdp every process
        calls this: gathering the full weights takes them all."""
        if self.sharded:
            from archspec.train.sharding import full_state

            weights, optim = full_state(self.model, self.optimizer)
        elif self.run is not None:
            weights, optim = self.model.state_dict(), self.optimizer.state_dict()
        if self.run is None:
            return None
        p = self.pos
        return {"format": checkpoint.FORMAT, "model": weights, "optimizer": optim,
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": p.epoch, "step": p.step, "batch": p.batch, "partial": dict(p.partial),
                "aug_state": p.aug_state, "history": list(p.history), "best": dict(p.best),
                "rng": checkpoint.rng_state(), "spec": checkpoint.spec_record(self.info), **self.extra}

    def weights(self) -> dict:
        """The model's state_dict, whole on rank 0 (under fsdp every process calls this)."""
        if self.sharded:
            from archspec.train.sharding import full_weights

            return full_weights(self.model)
        return self.model.state_dict()

    def restore(self, state: dict, where) -> None:
        """Continue from a checkpoint (its fields already validated); what does not fit this run's
        model, optimizer or batches is refused with one line, never half-restored."""
        if state["batch"] > self.steps_per_epoch:
            raise ArchspecError(f"checkpoint {where}: it stopped after batch {state['batch']} of an epoch, but "
                                f"epochs here have {self.steps_per_epoch} batches")
        _same_layout("scheduler", self.scheduler.state_dict(), state["scheduler"], where)
        _same_layout("scaler", self.scaler.state_dict(), state["scaler"], where)
        try:
            _check_optimizer_state(state["optimizer"], [p for g in self.optimizer.param_groups for p in g["params"]],
                                   where)
            if self.sharded:
                from archspec.train.sharding import load_full

                load_full(self.model, self.optimizer, state["model"], state["optimizer"])
            else:
                self.model.load_state_dict(state["model"])
                self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            if state["aug_state"] is not None:
                torch.Generator().set_state(state["aug_state"])
            checkpoint.set_rng_state(state["rng"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as exc:
            first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            raise ArchspecError(f"checkpoint {where} does not fit this run: {first[:300]}") from None
        partial = {"targets": state["partial"]["count"], **state["partial"]}  # written before targets were counted
        self.pos = Position(state["epoch"], state["step"], state["batch"], partial,
                            state["aug_state"], list(state["history"]), dict(state["best"]))
        dist.localize(self.pos, self.recipe.seed)

    # --- the loop ----------------------------------------------------------------------------
    def fit(self) -> Position:
        """Train to the last epoch. The first Ctrl-C or SIGTERM stops after the step in flight and saves
        the exact position; a second one stops at once (a checkpoint write in flight still finishes)."""
        try:
            previous = {s: signal.signal(s, self._on_signal) for s in dist.STOP_SIGNALS}
        except ValueError:  # not the main thread: signal handling is the caller's business
            previous = {}
        try:
            while self.pos.epoch < self.recipe.epochs:
                self._epoch()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        return self.pos

    def _poll_stop(self) -> None:
        """Under torchrun the stop signals are polled (see distributed.session), and every rank agrees."""
        signum = dist.interrupted()
        if signum:
            self._signum = signum
        (self._stop,) = dist.agree(self._stop or bool(signum))

    def _on_signal(self, signum, frame):
        if self._stop:  # a second signal stops at once
            raise KeyboardInterrupt
        self._stop, self._signum = True, signum

    def _epoch(self) -> None:
        """One pass over the shuffled batches. Loss and accuracy stay on the device and are read back
        only every `check_every` steps (every step on the CPU, where reading is free), so a GPU is
        never stalled waiting for the host; a non-finite loss is still traced to its exact step."""
        r, p, acc = self.recipe, self.pos, self.pos.partial
        batches = on_device(self._batches(p.epoch), self.data.train.x.device)
        gen = torch.Generator().manual_seed(epoch_seed(dist.rank_seed(r.seed), p.epoch, 1))
        if p.batch and p.aug_state is not None:
            gen.set_state(p.aug_state)
        check_every = 1 if self.device.type == "cpu" else 32
        losses = torch.zeros(len(batches), dtype=torch.float64, device=self.device)
        loss_sum = torch.tensor(acc["loss_sum"], dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        targets = torch.zeros((), dtype=torch.long, device=self.device)
        first = p.batch
        self.progress.start_epoch()
        self.net.train()
        for norm in self.frozen_norms:
            norm.eval()
        lr = self.optimizer.param_groups[0]["lr"]
        start = time.perf_counter()
        for i in range(first, len(batches)):
            idx, self.loss_weight = dist.shard(batches[i])
            x, y = self.batcher(self.data.train, idx, train=True, gen=gen)
            lr = self.optimizer.param_groups[0]["lr"]
            out, loss = self._step(x, y)
            losses[i] = loss
            loss_sum += losses[i] * len(y)
            hit, scored = self.task.hits(out, y)
            correct += hit
            targets += scored
            acc["count"] += len(y)
            p.step, p.batch = p.step + 1, i + 1
            if self.log is not None and self.log.due(p.step):
                self.log.step(p.step, float(losses[i]), lr)
            self._poll_stop()  # all ranks stop at the same step
            if (i + 1) % check_every == 0 or i + 1 == len(batches) or self._stop:
                self._check_finite(losses, first, i)
            if self.progress.due(i + 1, len(batches)):
                seen = acc["seconds"] + time.perf_counter() - start
                self.progress.step(p.epoch + 1, i + 1, len(batches), float(loss_sum) / acc["count"],
                                   (acc["correct"] + int(correct)) / max(acc["targets"] + int(targets), 1),
                                   dist.world().size * acc["count"] / max(seen, 1e-9))
            if self._stop and i + 1 < len(batches):
                acc.update(loss_sum=float(loss_sum), correct=acc["correct"] + int(correct),
                           targets=acc["targets"] + int(targets), seconds=acc["seconds"] + time.perf_counter() - start)
                acc.update(dist.reduce_epoch(acc))  # the checkpoint holds all ranks' sums
                p.aug_state = gen.get_state()
                raise self._interrupt()
        acc.update(loss_sum=float(loss_sum), correct=acc["correct"] + int(correct),
                   targets=acc["targets"] + int(targets), seconds=acc["seconds"] + time.perf_counter() - start)
        self._end_epoch(lr)

    def _batches(self, epoch: int) -> list[torch.Tensor]:
        """The epoch's global batches (batch size x processes), each later shared by all ranks."""
        r = self.recipe
        return epoch_batches(len(self.data.train), dist.global_batch(r.batch_size), r.seed, epoch,
                             min_last=2 * dist.world().size)

    def _step(self, x, y):
        """One optimizer step; loss_weight scales this rank's mean loss to its share of the global batch."""
        r = self.recipe
        with autocast(r.amp, self.device):
            out = self.net(x)
        loss = self.loss_fn(out.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss if self.loss_weight == 1.0 else loss * self.loss_weight).backward()
        if r.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), r.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return out.detach(), loss.detach()

    def _check_finite(self, losses: torch.Tensor, first: int, last: int) -> None:
        """Raise for the first non-finite loss among steps first..last of this epoch (one host sync)."""
        window = dist.reduce_tensor(losses[first:last + 1])  # summed over ranks: any NaN or inf shows
        if bool(torch.isfinite(window).all()):
            return
        bad = int((~torch.isfinite(window)).nonzero()[0])
        if not dist.is_main():
            raise dist.Echo("rank 0 reports the non-finite loss")
        raise self._nonfinite(float(window[bad]), bad + first, self.pos.step - (last - first - bad))

    def _end_epoch(self, lr: float) -> None:
        r, p, task = self.recipe, self.pos, self.task
        acc = dist.reduce_epoch(p.partial)
        val = {"loss": None, "acc": None}
        start = time.perf_counter()
        if self.data.val is not None and len(self.data.val):
            val = task.metrics(evaluate(self.eval_net, self.info, self.val, self.batcher, self.loss_fn, r.amp,
                                        r.batch_size, dist.eval_passes(len(self.data.val), r.batch_size, r)))
        train_loss = acc["loss_sum"] / max(acc["count"], 1)
        record = {"epoch": p.epoch + 1, "step": p.step, "train_loss": train_loss,
                  "train_acc": acc["correct"] / max(acc["targets"], 1), **task.train_extras(train_loss),
                  **{f"val_{key}": value for key, value in val.items()},
                  "lr": lr, "seconds": round(acc["seconds"] + time.perf_counter() - start, 4),
                  "samples_per_s": acc["count"] / max(acc["seconds"], 1e-9)}
        p.history.append(record)
        p.epoch, p.batch, p.aug_state = p.epoch + 1, 0, None
        p.partial = dict(EMPTY_PARTIAL)
        score = task.score(record)
        is_best = p.best["epoch"] == 0 or score > p.best["val_acc"]
        if is_best:
            p.best = {"val_acc": score, "epoch": p.epoch}
        state = self.state()
        if self.run is not None:
            self.run.epoch_done(record, state, is_best)
        if self.log is not None:
            self.log.epoch(record)
        self.progress.end_epoch(record)
        self._poll_stop()
        if self._stop and p.epoch < r.epochs:
            raise self._interrupt(saved=True)

    def _interrupt(self, saved: bool = False) -> Interrupted:
        path, state = None, None if saved else self.state()
        if self.run is not None:
            path = self.run.last if saved else self.run.save_last(state)
        return Interrupted(path, self.pos.epoch, self.pos.batch, self._signum)

    def _nonfinite(self, value: float, i: int, global_step: int) -> ArchspecError:
        kept = (f"the last good checkpoint is {self.run.last} (epoch {self.pos.epoch})"
                if self.run is not None and self.pos.epoch else "no checkpoint was written yet")
        return ArchspecError(f"loss became {value} in epoch {self.pos.epoch + 1}, step {i + 1} "
                             f"(global step {global_step}); training stopped and {kept}. "
                             "Try a lower --lr, --grad-clip, or --amp off")


def _same_layout(name: str, fresh: dict, stored: dict, where) -> None:
    """A scheduler's or scaler's state has the keys and value types this run's would have
    (load_state_dict copies whatever it is given into the object's attributes)."""
    for key, value in stored.items():
        if key not in fresh:
            raise ArchspecError(f"checkpoint {where}: {name} state has an unknown entry {key!r}")
        if fresh[key] is not None and value is not None and type(value) is not type(fresh[key]) \
                and not (isinstance(fresh[key], float) and type(value) is int):
            raise ArchspecError(f"checkpoint {where}: {name} state {key!r} should be {type(fresh[key]).__name__}, "
                                f"found {type(value).__name__}")


def _check_optimizer_state(stored: dict, params: list, where) -> None:
    """Each per-parameter buffer (momentum, Adam's moments) has its parameter's shape; the step
    counters are scalars. torch would only fail on these at the next step, mid-epoch."""
    ids = [i for group in stored["param_groups"] for i in group.get("params", [])]
    if len(ids) != len(params) or not all(type(i) is int for i in ids):
        raise ArchspecError(f"checkpoint {where}: the optimizer state covers {len(ids)} parameters, "
                            f"the model has {len(params)}")
    shape = {i: tuple(p.shape) for i, p in zip(ids, params)}
    for i, buffers in stored["state"].items():
        if i not in shape or not isinstance(buffers, dict):
            raise ArchspecError(f"checkpoint {where}: optimizer state for an unknown parameter {i!r}")
        for key, t in buffers.items():
            ok = isinstance(t, torch.Tensor) and (tuple(t.shape) == shape[i] or (key == "step" and t.numel() == 1)) \
                and bool(torch.isfinite(t).all())
            if not ok:
                raise ArchspecError(f"checkpoint {where}: optimizer state {key!r} of parameter {i} does not fit "
                                    f"its shape {list(shape[i])} (or is not finite)")
