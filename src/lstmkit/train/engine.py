"""The one training engine every task shares: Lightning's Trainer with lstmkit's defaults.

What it adds to a task's network and data loaders:

* a progress bar with loss and ETA on a terminal, silence when output is not a terminal;
* gradient clipping (global norm 1.0 by default);
* early stopping on the validation loss, with the best weights restored at the end;
* checkpoints in ``RUN/checkpoints`` (``best.ckpt``, ``last.ckpt``): ``last.ckpt`` at every
  epoch end, every ``checkpoint_every`` minutes in the middle of an epoch, and when
  ``max_time`` ends; each written to a temporary name and renamed into place, so a run
  killed at any moment leaves the previous checkpoint or the new one, never a piece;
* resuming from a run directory's ``last.ckpt``, also from the middle of an epoch: the
  weights, the optimizer, the loops' progress and callbacks (Lightning's own checkpoint),
  plus what Lightning does not keep (see :class:`_ResumeState`): the position in the
  training data, the shuffling generators, the random states, the learning-rate schedule's
  clock, and what the network carries from batch to batch (``resume_state()``);
* a CSV log of the metrics per epoch in ``RUN/logs`` (and TensorBoard when installed);
* ``seed`` for repeatable numbers; ``devices``/``strategy`` for data-parallel training
  (``devices=2, strategy="ddp"`` runs two processes with gloo on CPU);
* a learning-rate schedule: ``"constant"``, or ``"cosine"`` with a linear warm-up, which
  anneals over whichever budget ends first, the epochs or the wall-clock ``max_time``::

      progress p = max(step / (max_epochs * batches), elapsed / max_time)
      lr = lr_max * min(1, (step + 1) / warmup_steps)
                  * (f + (1 - f) * (1 + cos(pi * p)) / 2)        f = final_lr_fraction

  Following the clock makes a time-budgeted run end at a low learning rate, whatever the
  machine's speed (and so two such runs differ slightly); without ``max_time`` it is
  deterministic.

Lightning is imported when a function here runs, never at import time of the package.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn


LR_SCHEDULES = ("constant", "cosine")
#: What the network holds when fit() returns: the best epoch's weights (by the validation loss, or
#: the training loss without a validation set), or the weights training ended with.
FINAL_WEIGHTS = ("best", "last")


def scheduled_learning_rate(config: "TrainingConfig", step: int, progress: float) -> float:
    """The learning rate at optimizer ``step`` when ``progress`` (0..1) of the budget is spent."""
    rate = config.learning_rate
    if config.warmup_steps:
        rate *= min(1.0, (step + 1) / config.warmup_steps)
    if config.lr_schedule == "cosine":
        f = config.final_lr_fraction
        rate *= f + (1.0 - f) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))
    return rate


@dataclass
class TrainingConfig:
    """How to train: the engine's knobs, saved with every model."""

    max_epochs: int = 300
    max_time: float | None = None  # minutes
    seed: int = 0
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    gradient_clip: float | None = 1.0
    patience: int = 30  # epochs without improvement of val_loss before stopping
    devices: int = 1
    strategy: str = "auto"
    progress: bool | None = None  # None: a bar when stderr is a terminal
    lr_schedule: str = "constant"  # or "cosine"
    warmup_steps: int = 0
    final_lr_fraction: float = 0.05  # cosine: the learning rate at the end, relative to the start
    checkpoint_every: float | None = 5.0  # minutes between mid-epoch checkpoints (None: epoch ends only); epoch-end
    # writes come at most every min(EPOCH_CHECKPOINT_SECONDS, this)
    final_weights: str = "best"  # "best": the best epoch's by the monitored loss; "last": the weights training ended with

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.final_weights not in FINAL_WEIGHTS:
            raise ValueError(f"final_weights must be one of {', '.join(FINAL_WEIGHTS)}, got {self.final_weights!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be 0 or more, got {self.warmup_steps}")
        if not 0.0 <= self.final_lr_fraction <= 1.0:
            raise ValueError(f"final_lr_fraction must lie in [0, 1], got {self.final_lr_fraction}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be at least 1, got {self.max_epochs}")
        if self.max_time is not None and self.max_time <= 0:
            raise ValueError(f"max_time must be a positive number of minutes, got {self.max_time}")
        if self.devices < 1:
            raise ValueError(f"devices must be at least 1, got {self.devices}")
        if self.checkpoint_every is not None and not self.checkpoint_every > 0:
            raise ValueError(f"checkpoint_every must be a positive number of minutes or None, "
                             f"got {self.checkpoint_every}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class FitResult:
    epochs: int  # epochs run in total (including those before a resume)
    best_val_loss: float | None
    best_epoch: int | None
    stopped_early: bool
    is_global_zero: bool  # False in the extra processes of a data-parallel run
    world_size: int = 1  # processes that trained together
    steps: int = 0  # optimizer steps taken in total


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (and the data-loader workers) for repeatable runs."""
    from lightning.pytorch import seed_everything as lightning_seed

    lightning_seed(seed, workers=True, verbose=False)


@contextmanager
def quiet_lightning() -> Iterator[None]:
    """Within the block, Lightning's banners and advice stay out of the output (errors still
    show); the logger levels and warning filters are restored afterwards."""
    import lightning.pytorch  # noqa: F401 - its import sets its loggers' levels: first, then ours

    names = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        with warnings.catch_warnings():
            for name in names:
                logging.getLogger(name).setLevel(logging.ERROR)
            for message in _LIGHTNING_ADVICE:
                warnings.filterwarnings("ignore", message=message)
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


_LIGHTNING_ADVICE = (
    ".*does not have many workers.*",
    ".*number of training batches.*",
    ".*`isinstance\\(treespec, LeafSpec\\)`.*",
    ".*LeafSpec.*",
    ".*barebones.*",
    ".*no `val_dataloader`.*",
    ".*dataloader is not resumable.*",  # ours is, by _ResumeState rather than a state_dict
    ".*exists and is not empty.*",  # a resumed run's checkpoints/ and logs/ (both kept)
)


@contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Within the block torch uses ``count`` threads (None: unchanged); restored afterwards."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _EpochMean:
    """The mean loss of an epoch, weighted by batch size: ``sum_b n_b L_b / sum_b n_b`` over
    the epoch's batches, summed over all processes in distributed training.

    Kept here rather than through ``LightningModule.log`` in every step: Lightning's per-call
    bookkeeping costs about a millisecond a step on the CPU, as much as a whole forward and
    backward pass of a small network, and its epoch mean is the same number."""

    def __init__(self) -> None:
        self.total: torch.Tensor | None = None
        self.count = 0

    def add(self, loss: torch.Tensor, batch_size: int) -> None:
        weighted = loss.detach() * batch_size
        self.total = weighted if self.total is None else self.total + weighted
        self.count += batch_size

    def log(self, module, name: str) -> None:
        """Log the mean as ``name`` (an epoch-level metric: the progress bar, the CSV log,
        the checkpoint and early-stopping monitors read it)."""
        total = self.total if self.total is not None else torch.zeros((), device=module.device)
        count = torch.tensor(float(self.count), device=total.device)
        if module.trainer.world_size > 1:
            # every rank calls this at the same epoch end, so the collective completes
            total = module.trainer.strategy.reduce(total, reduce_op="sum")
            count = module.trainer.strategy.reduce(count, reduce_op="sum")
        if float(count) > 0:
            # the value is the same on every rank now; sync_dist's mean of equal values keeps it
            # (and tells Lightning the metric is already the global one)
            module.log(name, total / count, prog_bar=True, sync_dist=True)


def _lightning_module_class():
    import lightning.pytorch as pl

    class LitTask(pl.LightningModule):
        """A task's network and loss inside Lightning: ``loss_fn(net, batch) -> scalar``."""

        def __init__(self, net: nn.Module, loss_fn: Callable, learning_rate: float,
                     weight_decay: float) -> None:
            super().__init__()
            self.net = net
            self.loss_fn = loss_fn
            self.learning_rate = learning_rate
            self.weight_decay = weight_decay
            # reset at each epoch's start; a run resumed mid-epoch starts without that hook
            self.train_loss = _EpochMean()
            self.val_loss = _EpochMean()

        def on_train_epoch_start(self) -> None:
            self.train_loss = _EpochMean()

        def training_step(self, batch, batch_idx):
            loss = self.loss_fn(self.net, batch)
            self.train_loss.add(loss, _batch_size(batch))
            return loss

        def on_train_epoch_end(self) -> None:
            self.train_loss.log(self, "train_loss")

        def on_validation_epoch_start(self) -> None:
            self.val_loss = _EpochMean()

        def validation_step(self, batch, batch_idx):
            loss = self.loss_fn(self.net, batch)
            self.val_loss.add(loss, _batch_size(batch))
            return loss

        def on_validation_epoch_end(self) -> None:
            self.val_loss.log(self, "val_loss")

        def configure_optimizers(self):
            # foreach: one call per operation over all the tensors, the same numbers as the
            # per-tensor loop torch takes on CPU by default, at half its cost (a small
            # classifier's step: 2.6 -> 1.3 ms of Adam)
            return torch.optim.Adam(self.net.parameters(), lr=self.learning_rate,
                                    weight_decay=self.weight_decay, foreach=True)

        def on_save_checkpoint(self, checkpoint) -> None:
            # what the network keeps across batches outside its weights (a language model's
            # carried state): saved beside the weights so a mid-epoch resume continues it
            if callable(getattr(self.net, "resume_state", None)):
                checkpoint["lstmkit_net_state"] = self.net.resume_state()

        def on_load_checkpoint(self, checkpoint) -> None:
            if "lstmkit_net_state" in checkpoint and callable(getattr(self.net, "restore_resume_state", None)):
                self.net.restore_resume_state(checkpoint["lstmkit_net_state"])

    return LitTask


def _schedule_callback(config: TrainingConfig):
    """A Lightning callback that sets the learning rate before every optimizer step."""
    import lightning.pytorch as pl

    class LearningRateSchedule(pl.Callback):
        """Its clock counts training time only; a checkpoint keeps the time spent so far, so
        a resumed run continues the schedule where it stopped instead of restarting it."""

        def __init__(self) -> None:
            self.started = time.monotonic()
            self.spent = 0.0  # seconds spent before this fit (restored from a checkpoint)

        def on_train_start(self, trainer, pl_module) -> None:
            self.started = time.monotonic() - self.spent

        def state_dict(self) -> dict:
            return {"elapsed_seconds": time.monotonic() - self.started}

        def load_state_dict(self, state_dict: dict) -> None:
            self.spent = float(state_dict.get("elapsed_seconds", 0.0))

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            step = trainer.global_step
            total = trainer.estimated_stepping_batches
            progress = step / total if total and math.isfinite(total) else 0.0
            if config.max_time is not None:
                progress = max(progress, (time.monotonic() - self.started) / (config.max_time * 60.0))
            rate = scheduled_learning_rate(config, step, progress)
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["lr"] = rate

    return LearningRateSchedule()


def _rng_states() -> dict[str, Any]:
    """The global random states (Python, NumPy, torch, CUDA) as they are now, in types that
    ``torch.load(weights_only=True)`` (Lightning's default) reads back: tensors, tuples, ints."""
    import random

    import numpy as np

    name, keys, pos, has_gauss, gauss = np.random.get_state()
    states = {"python": random.getstate(),
              "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    import random

    import numpy as np

    random.setstate(states["python"])
    name, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _loader_generators(loader) -> list[torch.Generator]:
    """The ``torch.Generator`` objects a DataLoader draws from when an epoch's iteration starts
    (its own, its sampler's, its batch sampler's sampler's, its dataset's), each once."""
    found: dict[int, torch.Generator] = {}
    batch_sampler = getattr(loader, "batch_sampler", None)
    owners = (loader, getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None),
              getattr(loader, "dataset", None))  # an iterable dataset that draws its own batches
    for owner in owners:
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator):
            found.setdefault(id(generator), generator)
    return list(found.values())


def _resume_state_callback():
    import lightning.pytorch as pl

    class _ResumeState(pl.Callback):
        """What a checkpoint needs besides Lightning's own state to resume exactly.

        Lightning 2.6 restores the weights, the optimizer, the callbacks and the loops'
        progress (epoch, and within it the batch index), but a plain DataLoader starts its
        epoch from the first batch again, a shuffling sampler's generator starts from its seed
        again, and no random state is kept. So every checkpoint also holds, from here:

        * ``epoch_start``: the random states the training loader's iteration of the current
          epoch began from (its generators, and the global ones that samplers without a
          generator draw from), captured each time the loader is iterated;
        * ``batches_done``: the batches of the current epoch already trained on;
        * ``now``: the global random states and the loader's generators at the checkpoint.

        On resume, the first iteration of the training loader (Lightning's first, right after
        the restore) puts these back: from a mid-epoch checkpoint it restores ``epoch_start``,
        starts the iteration (the same order of batches as before the stop), draws and drops
        ``batches_done`` batches, then restores ``now``; from a checkpoint that Lightning
        resumes at the next epoch (an epoch-end one, or the one written when ``max_time``
        stopped an epoch part-way, which Lightning counts as that epoch's end) it restores
        ``now`` and starts the next epoch. The training from there on is the uninterrupted
        run's, batch for batch (tests/train/test_resume.py). Lightning alone resumes at the
        right batch index but iterates the loader from its first batch with fresh random
        draws.
        """

        def __init__(self) -> None:
            self.trainer = None
            self.loader = None
            self.epoch_start: dict[str, Any] | None = None
            self.pending: dict[str, Any] | None = None

        def setup(self, trainer, pl_module, stage) -> None:
            self.trainer = trainer

        def iterate(self, loader, base_iter):
            """``iter(loader)`` for the wrapped training loader (see the class docstring)."""
            self.loader = loader
            pending, self.pending = self.pending, None
            generators = _loader_generators(loader)
            if pending is not None and not pending["finished"] and pending["batches_done"] > 0:
                _set_generator_states(generators, pending["epoch_start"]["generators"])
                _set_rng_states(pending["epoch_start"]["rng"])
            elif pending is not None:
                _set_generator_states(generators, pending["now"]["generators"])
                _set_rng_states(pending["now"]["rng"])
                pending = None
            self.epoch_start = {"generators": [g.get_state() for g in generators], "rng": _rng_states()}
            iterator = base_iter()
            if pending is not None:
                for _ in range(pending["batches_done"]):
                    next(iterator)
                _set_rng_states(pending["now"]["rng"])
            return iterator

        def state_dict(self) -> dict[str, Any]:
            if self.trainer is None or self.epoch_start is None:
                return {}
            trainer = self.trainer
            done = int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)
            epoch = trainer.fit_loop.epoch_progress.current
            # Lightning resumes a checkpoint whose epoch counts as processed (a stop by
            # max_time before the last batch, saved at the epoch's end hooks) at the next
            # epoch's first batch: then the data must start the next epoch too
            next_epoch = epoch.ready == epoch.started == epoch.processed
            generators = _loader_generators(self.loader) if self.loader is not None else []
            return {
                "batches_done": done,
                "finished": done >= trainer.num_training_batches or next_epoch,
                "epoch_start": self.epoch_start,
                "now": {"generators": [g.get_state() for g in generators], "rng": _rng_states()},
            }

        def load_state_dict(self, state_dict: dict[str, Any]) -> None:
            self.pending = dict(state_dict) if state_dict else None

    return _ResumeState()


def _set_generator_states(generators: list[torch.Generator], states: list) -> None:
    if len(generators) != len(states):
        return  # a different loader than the checkpoint's: nothing to line up
    for generator, state in zip(generators, states):
        generator.set_state(state)


def _resumable_loader(loader, keeper):
    """A shallow copy of the DataLoader ``loader`` whose iteration goes through ``keeper``
    (a :class:`_ResumeState`); other iterables are returned as they are.

    The copy is of a subclass of the loader's own class, made here, so Lightning still sees
    a DataLoader (and can rebuild it with a distributed sampler); the keeper is a class
    attribute, so such a rebuilt loader keeps it too.
    """
    import copy

    from torch.utils.data import DataLoader

    if not isinstance(loader, DataLoader):
        return loader
    base = type(loader)

    def __iter__(self):
        return type(self)._lstmkit_keeper.iterate(self, lambda: base.__iter__(self))

    cls = type(f"Resumable{base.__name__}", (base,), {"__iter__": __iter__, "_lstmkit_keeper": keeper})
    clone = copy.copy(loader)
    clone.__class__ = cls
    return clone


#: The least time between two epoch-end checkpoint writes (or ``checkpoint_every``, if
#: shorter). A write of a small model and its optimizer costs some 25 ms (pickling, fsync,
#: rename): at every epoch of a set of 50 series (GunPoint, 150 steps) 20 s of a 143 s fit.
EPOCH_CHECKPOINT_SECONDS = 30.0


def _epoch_checkpoint_callback(dirpath: Path, monitor: str, seconds: float, in_memory: bool = False):
    """Lightning's ModelCheckpoint (``best.ckpt`` by ``monitor``, and ``last.ckpt`` at every
    epoch end), writing at most once every ``seconds``: a save asked for sooner is kept in
    memory (a copy of the very checkpoint that would have been written then) and written at
    the next write, when training ends, or before a timed mid-epoch checkpoint. The files on
    disk are therefore always a checkpoint of a real moment of training, never more than
    ``seconds`` (plus the epoch under way) behind, and what training ends with is exactly what
    every-epoch saving would have left. The decision to write is rank 0's, broadcast, so all
    processes of a data-parallel run take part in the same writes.

    ``in_memory`` (a run in a temporary directory, one process: nothing can resume from it)
    writes nothing: the best epoch's weights are kept as a copy (``best_weights``,
    ``best_epoch``) and ``last.ckpt`` is skipped, the same choices without the copies of the
    optimizer's state and the disk (a WanderingSines fit wrote 47 GB of checkpoints so)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from lstmkit.train.snapshot import snapshot

    class EpochCheckpoint(ModelCheckpoint):
        def __init__(self) -> None:
            super().__init__(dirpath=dirpath, filename="best", monitor=monitor, mode="min", save_top_k=1,
                             save_last=True, enable_version_counter=False)
            self.written_at = -math.inf
            self.write_step: int | None = None  # the global step whose saves are being written
            self.pending: dict[str, dict] = {}  # file -> the checkpoint it is owed, in save order
            self.best_weights: dict[str, torch.Tensor] | None = None  # in_memory: the best epoch's
            self.best_epoch: int | None = None

        @property
        def state_key(self) -> str:
            # ModelCheckpoint's own key, so checkpoints written before and after read alike
            return super().state_key.replace(type(self).__qualname__, "ModelCheckpoint", 1)

        def _save_checkpoint(self, trainer, filepath: str) -> None:
            step = trainer.global_step
            if in_memory:
                if Path(filepath).name == "best.ckpt":  # a copy: the live weights move on
                    self.best_weights = {k: v.detach().clone()
                                         for k, v in trainer.lightning_module.state_dict().items()}
                    self.best_epoch = int(trainer.current_epoch)
                self._last_global_step_saved = step
                self._last_checkpoint_saved = filepath
                return
            write = self.write_step == step or time.monotonic() - self.written_at >= seconds
            if bool(trainer.strategy.broadcast(write)):
                # the saves of one epoch end (best, then last) are written together
                self.write_step = step
                self.pending.pop(filepath, None)
                self.flush(trainer)
                super()._save_checkpoint(trainer, filepath)
                self.written_at = time.monotonic()
                return
            checkpoint = trainer._checkpoint_connector.dump_checkpoint(self.save_weights_only)
            self.pending.pop(filepath, None)
            self.pending[filepath] = snapshot(checkpoint)  # the live weights move on
            self._last_global_step_saved = step
            self._last_checkpoint_saved = filepath

        def flush(self, trainer) -> None:
            """Write the checkpoints owed, oldest first."""
            while self.pending:
                filepath = next(iter(self.pending))
                trainer.strategy.save_checkpoint(self.pending.pop(filepath), filepath)
                trainer.strategy.barrier("lstmkit-epoch-checkpoint")
            self.written_at = time.monotonic()

        # last.ckpt at every epoch end, not only with a new best.ckpt (ModelCheckpoint's rule):
        # a stop loses at most the interval, and the end of training leaves its final state
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            super().on_train_epoch_end(trainer, pl_module)
            if self._should_save_on_train_epoch_end(trainer):
                self._save_last_too(trainer)

        def on_validation_end(self, trainer, pl_module) -> None:
            super().on_validation_end(trainer, pl_module)
            if not self._should_save_on_train_epoch_end(trainer):
                self._save_last_too(trainer)

        def _save_last_too(self, trainer) -> None:
            if not self._should_skip_saving_checkpoint(trainer):
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

        def on_train_end(self, trainer, pl_module) -> None:
            super().on_train_end(trainer, pl_module)
            self.flush(trainer)

        def on_exception(self, trainer, pl_module, exception) -> None:
            super().on_exception(trainer, pl_module, exception)
            if trainer.world_size == 1:  # (a collective write could wait forever on a failed rank)
                self.flush(trainer)

    return EpochCheckpoint()


def _timed_checkpoint_callback(path: Path, minutes: float, epoch_checkpoint=None):
    import lightning.pytorch as pl

    class _TimedCheckpoint(pl.Callback):
        """Writes ``path`` (``last.ckpt``) every ``minutes`` of training, between batches.

        Not after an epoch's last batch: the epoch-end checkpoint follows at once. The
        decision is rank 0's, broadcast, so every process of a data-parallel run saves
        together (a checkpoint is a collective step).
        """

        def __init__(self) -> None:
            self.last = time.monotonic()

        def on_train_start(self, trainer, pl_module) -> None:
            self.last = time.monotonic()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            due = time.monotonic() - self.last >= minutes * 60.0
            due = bool(trainer.strategy.broadcast(due))
            if not due or batch_idx + 1 >= trainer.num_training_batches or trainer.should_stop:
                return
            if epoch_checkpoint is not None:
                epoch_checkpoint.flush(trainer)  # an owed (older) last.ckpt must not follow this one
            trainer.save_checkpoint(path)
            self.last = time.monotonic()

    return _TimedCheckpoint()


def _atomic_checkpoint_io():
    """Lightning's checkpoint writer, writing to a temporary name renamed into place."""
    from lightning.pytorch.plugins import TorchCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
            import os

            from lstmkit.runs import atomic_path

            with atomic_path(path) as tmp:
                with open(tmp, "wb") as handle:
                    torch.save(checkpoint, handle)
                    handle.flush()
                    os.fsync(handle.fileno())

    return AtomicCheckpointIO()


def _batch_size(batch) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    return int(first.shape[0])


def fit(
    net: nn.Module,
    loss_fn: Callable[[nn.Module, Any], torch.Tensor],
    train_loader,
    val_loader,
    config: TrainingConfig,
    run_dir: str | Path | None,
    *,
    resume_from: str | Path | None = None,
    callbacks: list | None = None,
) -> FitResult:
    """Train ``net`` in place; at the end it holds the weights of the best epoch (by the
    validation loss, else by the training loss), or with ``config.final_weights="last"`` the
    weights training ended with.

    ``loss_fn(net, batch)`` returns the scalar loss of a batch. ``val_loader`` may be None
    (then there is no early stopping). ``resume_from`` is a
    run directory whose ``checkpoints/last.ckpt`` training continues from. ``callbacks`` are
    extra Lightning callbacks (a task's printed samples, say). ``run_dir=None`` trains in a
    temporary directory that is removed afterwards (logs are not kept; with one process no
    checkpoint is written, the best epoch's weights are kept in memory).
    """
    if run_dir is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="lstmkit-run-") as tmp:
            if config.devices == 1:  # nothing can resume from it: the best weights stay in memory
                with quiet_lightning():
                    return _fit(net, loss_fn, train_loader, val_loader, config, Path(tmp),
                                resume_from=resume_from, callbacks=callbacks, in_memory=True)
            return fit(net, loss_fn, train_loader, val_loader, config, tmp,
                       resume_from=resume_from, callbacks=callbacks)
    threads = None
    if config.devices > 1 and not torch.cuda.is_available():
        # N processes on the CPU share its cores: more threads than cores makes every
        # thread barrier spin (oneDNN's and the fused kernel's alike) and training crawls
        import os

        cores = os.cpu_count() or 1
        threads = max(1, cores // config.devices)
        if config.devices > cores and os.environ.get("LOCAL_RANK", "0") == "0":
            print(f"note: {config.devices} training processes on {cores} core(s): they share the cores, and "
                  f"each step waits for the slowest (fewer devices train faster here)", file=sys.stderr)
    with quiet_lightning(), cpu_threads(threads):
        return _fit(net, loss_fn, train_loader, val_loader, config, Path(run_dir),
                    resume_from=resume_from, callbacks=callbacks)


def shows_progress(progress: bool | None) -> bool:
    """Whether a training run shows its progress: ``progress`` where given, else (None) whether
    stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


def _fit(net, loss_fn, train_loader, val_loader, config: TrainingConfig, run_dir: Path, *,
         resume_from, callbacks, in_memory: bool = False) -> FitResult:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, TQDMProgressBar
    from lightning.pytorch.loggers import CSVLogger

    seed_everything(config.seed)
    progress = shows_progress(config.progress)
    monitor = "val_loss" if val_loader is not None else "train_loss"
    seconds = EPOCH_CHECKPOINT_SECONDS
    if config.checkpoint_every is not None:
        seconds = min(seconds, config.checkpoint_every * 60.0)
    checkpoint = _epoch_checkpoint_callback(run_dir / "checkpoints", monitor, seconds, in_memory)
    keeper = _resume_state_callback()
    callbacks = [checkpoint, keeper, *(callbacks or [])]
    if config.checkpoint_every is not None and not in_memory:
        callbacks.append(_timed_checkpoint_callback(run_dir / "checkpoints" / "last.ckpt",
                                                    config.checkpoint_every, checkpoint))
    for stale in (run_dir / "checkpoints").glob(".*.tmp"):
        stale.unlink(missing_ok=True)  # a checkpoint write cut short by a kill
    train_loader = _resumable_loader(train_loader, keeper)
    if config.lr_schedule != "constant" or config.warmup_steps:
        callbacks.append(_schedule_callback(config))
    early = None
    if val_loader is not None:
        early = EarlyStopping(monitor="val_loss", mode="min", patience=config.patience)
        callbacks.append(early)
    if progress:
        callbacks.append(TQDMProgressBar(refresh_rate=1))
    loggers: list = [CSVLogger(run_dir, name="logs", version="")]
    try:
        from lightning.pytorch.loggers import TensorBoardLogger
        import tensorboard  # noqa: F401

        loggers.append(TensorBoardLogger(run_dir, name="logs", version=""))
    except ImportError:
        pass
    max_time = None
    if config.max_time is not None:
        max_time = {"seconds": max(1, int(round(config.max_time * 60)))}
    trainer = pl.Trainer(
        accelerator="cpu" if not torch.cuda.is_available() else "auto",
        devices=config.devices,
        strategy=config.strategy,
        max_epochs=config.max_epochs,
        max_time=max_time,
        gradient_clip_val=config.gradient_clip,
        callbacks=callbacks,
        logger=loggers,
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        deterministic=True,
        default_root_dir=run_dir,
        plugins=[_atomic_checkpoint_io()],
    )
    lit = _lightning_module_class()(net, loss_fn, config.learning_rate, config.weight_decay)
    ckpt_path = None
    if resume_from is not None:
        ckpt_path = Path(resume_from) / "checkpoints" / "last.ckpt"
        if not ckpt_path.is_file():
            from lstmkit.errors import InputError

            raise InputError(f"{resume_from}: no checkpoint to resume from (expected {ckpt_path})")
        _check_resumable(ckpt_path, lit, resume_from)
        own = run_dir / "checkpoints" / "last.ckpt"
        if ckpt_path.resolve() != own.resolve():
            # continued in another directory: it starts with the checkpoint it continues, so
            # that it can be resumed in turn even when nothing is left to train (a finished run)
            import shutil

            from lstmkit.runs import atomic_path

            own.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(own) as tmp:
                shutil.copyfile(ckpt_path, tmp)
    log_path = run_dir / "logs" / "metrics.csv"
    earlier_log = log_path.read_text(encoding="utf-8") if ckpt_path and log_path.is_file() else None
    with warnings.catch_warnings():
        # continued in another directory, Lightning's best-checkpoint bookkeeping starts afresh
        # there (and says so in a warning the user cannot act on)
        warnings.filterwarnings("ignore", message=".*dirpath has changed.*")
        _fit_interruptible(trainer, lit, train_loader, val_loader, ckpt_path)
    if earlier_log is not None and trainer.is_global_zero:
        _merge_logs(earlier_log, log_path)

    best_path = checkpoint.best_model_path
    best_epoch = None
    if config.final_weights == "best" and checkpoint.best_weights is not None:
        net.load_state_dict({k.removeprefix("net."): v for k, v in checkpoint.best_weights.items()})
        best_epoch = checkpoint.best_epoch
    elif config.final_weights == "best" and best_path and Path(best_path).is_file():
        saved = torch.load(best_path, map_location="cpu", weights_only=False)
        net.load_state_dict({k.removeprefix("net."): v for k, v in saved["state_dict"].items()})
        best_epoch = int(saved["epoch"])
    if trainer.world_size > 1:
        # Lightning broadcasts rank 0's checkpoint folder, so every rank read rank 0's
        # best.ckpt above; with run_dir=None that folder is rank 0's temporary directory,
        # removed when rank 0 returns. Wait until all ranks have read it (without this,
        # another rank found it gone, or vanishing between is_file() and torch.load).
        trainer.strategy.barrier("lstmkit-best-weights-read")
    best_score = checkpoint.best_model_score
    return FitResult(
        epochs=trainer.current_epoch,
        best_val_loss=float(best_score) if best_score is not None and val_loader is not None else None,
        best_epoch=best_epoch,
        stopped_early=bool(early is not None and early.stopped_epoch > 0),
        is_global_zero=trainer.is_global_zero,
        world_size=trainer.world_size,
        steps=int(trainer.global_step),
    )


def _fit_interruptible(trainer, lit, train_loader, val_loader, ckpt_path) -> None:
    """``trainer.fit``, with Ctrl-C raised again as KeyboardInterrupt: Lightning answers it by
    writing nothing and calling ``sys.exit(1)`` (the exit status of a fault), with SIGINT left
    ignored. The checkpoints written before it stay, for ``--resume``."""
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT) if main_thread else None
    try:
        trainer.fit(lit, train_loader, val_loader, ckpt_path=str(ckpt_path) if ckpt_path else None)
    except SystemExit:
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        if main_thread and before is not None and signal.getsignal(signal.SIGINT) is not before:
            signal.signal(signal.SIGINT, before)


def _check_resumable(ckpt_path: Path, lit, resume_from) -> None:
    """Refuse a checkpoint whose weights are not this network's (another data set's channels
    or horizon, other options), naming the first that differs, before Lightning fails on it."""
    from lstmkit.errors import InputError

    try:
        saved = torch.load(ckpt_path, map_location="cpu", weights_only=False)["state_dict"]
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is the user's file, named
        raise InputError(f"{ckpt_path}: cannot be read as a checkpoint ({type(exc).__name__}: {exc})") from None
    ours = lit.state_dict()
    why = None
    for name, tensor in ours.items():
        if name not in saved:
            why = f"it has no {name.removeprefix('net.')!r}"
        elif tuple(saved[name].shape) != tuple(tensor.shape):
            why = (f"{name.removeprefix('net.')!r} is {tuple(saved[name].shape)} there and "
                   f"{tuple(tensor.shape)} here")
        if why:
            break
    if why is None and set(saved) - set(ours):
        why = f"it has {sorted(set(saved) - set(ours))[0].removeprefix('net.')!r}, which this network has not"
    if why is not None:
        raise InputError(f"{resume_from}: its checkpoint is of another network ({why}); resume with the data "
                         "and options that run was started with, or train anew without --resume")


def _merge_logs(earlier: str, path: Path) -> None:
    """Keep the epochs logged before a resume: Lightning's CSV logger starts the file anew."""
    import csv
    import io

    from lstmkit.runs import write_text

    new_rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))) if path.is_file() else []
    old_rows = list(csv.DictReader(io.StringIO(earlier)))
    first_new = min((int(r["epoch"]) for r in new_rows if r.get("epoch")), default=None)
    kept = [r for r in old_rows if first_new is None or int(r["epoch"]) < first_new]
    fields = list(dict.fromkeys([*(old_rows[0].keys() if old_rows else []),
                                 *(new_rows[0].keys() if new_rows else [])]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept + new_rows)
    write_text(path, buffer.getvalue())
