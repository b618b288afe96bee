r"""The long-term-memory lab: can a cell carry information across L steps?

The documents' central claim is that a plain RNN loses long-term dependencies to vanishing
gradients while the LSTM's gated cell state keeps them. The lab measures it on the synthetic
tasks of Hochreiter & Schmidhuber (1997) and later work, generated on the fly from a seed:

* ``adding`` — input ``(L, 2)``: a random value in [0, 1] and a marker; exactly two steps are
  marked, one in each half. Target: the sum of the two marked values. Always answering 1
  scores MSE 1/6 ≈ 0.167; *solved* is test MSE < 0.01.
* ``copy`` — ten symbols from an alphabet of 8, then L blanks and a delimiter; the network
  must then emit the ten symbols in order (Arjovsky et al. 2016). *Solved* is accuracy
  >= 0.99 on the ten recalled symbols.
* ``order`` — the temporal-order task: a sequence of random distractors holds two relevant
  symbols, each X or Y, one in [10 %, 20 %) of the sequence and one in [50 %, 60 %); the class
  is their order (XX, XY, YX, YY). *Solved* is accuracy >= 0.99.

For every (cell, length) a network is trained on a fixed budget of steps (the shared engine:
one "epoch" is ``eval_every`` steps, followed by an evaluation on a fixed test set), and the
lab records whether and when it was solved, the final metric, and the gradient-through-time
curve ``‖∂L/∂h_t‖`` (:func:`lstmkit.gradient_through_time`) at initialisation and after
training.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from lstmkit.nn import GRU, LSTM, RNN
from lstmkit.nn.bptt import gradient_through_time
from lstmkit.tasks.base import EncoderView, Estimator
from lstmkit.train import TrainingConfig, fit

TASKS = ("adding", "copy", "order")
CELLS = ("rnn", "gru", "lstm")
COPY_SYMBOLS = 10  # symbols to remember in the copy task
COPY_ALPHABET = 8


@dataclass(frozen=True)
class TaskSpec:
    name: str
    input_size: int
    output_size: int
    classification: bool
    every_step: bool  # outputs at every step (copy) or only at the last (adding, order)
    threshold: float  # solved when the metric is below (regression) or above (accuracy) this
    metric: str


SPECS = {
    "adding": TaskSpec("adding", 2, 1, False, False, 0.01, "mse"),
    "copy": TaskSpec("copy", COPY_ALPHABET + 2, COPY_ALPHABET + 1, True, True, 0.99, "accuracy"),
    "order": TaskSpec("order", 8, 4, True, False, 0.99, "accuracy"),
}


def adding_problem(batch: int, length: int, generator: torch.Generator):
    """``x`` ``(N, L, 2)``: values and markers; ``y`` ``(N, 1)``: the sum of the marked values."""
    if length < 2:
        raise ValueError("the adding problem needs length >= 2")
    values = torch.rand(batch, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (batch,), generator=generator)
    second = torch.randint(half, length, (batch,), generator=generator)
    markers = torch.zeros(batch, length)
    rows = torch.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values[rows, first] + values[rows, second]).unsqueeze(1)
    return torch.stack([values, markers], dim=-1), y


def copy_task(batch: int, length: int, generator: torch.Generator):
    """``x`` ``(N, 2S + L, A + 2)`` one-hot (symbols 1..A, blank 0, delimiter A+1);
    ``y`` ``(N, 2S + L)`` class per step: blank until the last S steps, which repeat the
    first S symbols."""
    s, a = COPY_SYMBOLS, COPY_ALPHABET
    total = 2 * s + length
    symbols = torch.randint(1, a + 1, (batch, s), generator=generator)
    tokens = torch.zeros(batch, total, dtype=torch.long)
    tokens[:, :s] = symbols
    tokens[:, s + length - 1] = a + 1  # the delimiter: "now recall"
    y = torch.zeros(batch, total, dtype=torch.long)
    y[:, -s:] = symbols
    return nn.functional.one_hot(tokens, a + 2).float(), y


def temporal_order(batch: int, length: int, generator: torch.Generator):
    """``x`` ``(N, L, 8)`` one-hot over {a, b, c, d, X, Y, B, E}; ``y`` ``(N,)`` in 0..3 for
    XX, XY, YX, YY."""
    if length < 10:
        raise ValueError("the temporal-order task needs length >= 10")
    tokens = torch.randint(0, 4, (batch, length), generator=generator)  # distractors a..d
    tokens[:, 0] = 6  # B
    tokens[:, -1] = 7  # E
    t1 = torch.randint(max(1, length // 10), max(2, length // 5), (batch,), generator=generator)
    t2 = torch.randint(length // 2, max(length // 2 + 1, 3 * length // 5), (batch,), generator=generator)
    first = torch.randint(0, 2, (batch,), generator=generator)
    second = torch.randint(0, 2, (batch,), generator=generator)
    rows = torch.arange(batch)
    tokens[rows, t1] = 4 + first
    tokens[rows, t2] = 4 + second
    return nn.functional.one_hot(tokens, 8).float(), 2 * first + second


GENERATORS: dict[str, Callable] = {"adding": adding_problem, "copy": copy_task, "order": temporal_order}


@dataclass
class LabNetConfig:
    task: str
    cell: str
    hidden_size: int = 64


class LabNet(nn.Module):
    """A one-layer recurrent cell and a linear read-out (at the last step, or every step)."""

    def __init__(self, config: LabNetConfig) -> None:
        super().__init__()
        self.config = config
        spec = SPECS[config.task]
        layer = {"rnn": RNN, "gru": GRU, "lstm": LSTM}[config.cell]
        kwargs = {"forget_bias": 1.0} if layer is LSTM else {}
        self.encoder = layer(spec.input_size, config.hidden_size, batch_first=True, **kwargs)
        self.head = nn.Linear(config.hidden_size, spec.output_size)
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.encoder(x)  # (N, L, H)
        return self.head(output if self.spec.every_step else output[:, -1])


def task_loss(spec: TaskSpec, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if not spec.classification:
        return nn.functional.mse_loss(prediction, y)
    return nn.functional.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), y.reshape(-1))


def task_metric(spec: TaskSpec, prediction: torch.Tensor, y: torch.Tensor) -> float:
    if not spec.classification:
        return float(nn.functional.mse_loss(prediction, y))
    if spec.every_step:  # score the recalled symbols only
        prediction, y = prediction[:, -COPY_SYMBOLS:], y[:, -COPY_SYMBOLS:]
    return float((prediction.argmax(-1) == y).float().mean())


def is_solved(spec: TaskSpec, metric: float) -> bool:
    return metric < spec.threshold if not spec.classification else metric >= spec.threshold


class _Batches(torch.utils.data.IterableDataset):
    """``steps`` fresh batches per epoch, from a generator seeded once."""

    def __init__(self, task: str, length: int, batch: int, steps: int, seed: int) -> None:
        self.task, self.length, self.batch, self.steps = task, length, batch, steps
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        for _ in range(self.steps):
            yield GENERATORS[self.task](self.batch, self.length, self.generator)


@dataclass
class LabResult:
    task: str
    cell: str
    length: int
    solved: bool
    steps: int | None  # training steps until the first evaluation that met the criterion
    metric: str
    final_metric: float
    baseline_metric: float  # the metric of the trivial answer (mean target / majority class)
    gradient_at_init: list[float] = field(default_factory=list)  # ‖∂L/∂h_t‖, t = 0..L-1
    gradient_trained: list[float] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class LabConfig:
    """The grid of one lab run: a task, the lengths and the cells, and each cell's budget."""

    task: str = "adding"
    lengths: tuple[int, ...] = (25, 50, 100, 200)
    cells: tuple[str, ...] = CELLS
    hidden_size: int = 64
    batch_size: int = 64
    max_steps: int = 1500
    eval_every: int = 100
    test_size: int = 1000
    learning_rate: float = 3e-3
    seed: int = 0


@dataclass
class LabParams:
    """One cell on one task at one length, and its training budget (saved with the model)."""

    task: str = "adding"
    cell: str = "lstm"
    length: int = 50
    hidden_size: int = 64
    max_steps: int = 1500
    eval_every: int = 100
    test_size: int = 1000
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(learning_rate=3e-3, batch_size=64, gradient_clip=1.0,
                                               progress=False))

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")


class LabModel(Estimator):
    """One recurrent cell trained on one long-dependency task (the data is generated).

    >>> m = LabModel(task="adding", cell="lstm", length=100).fit()
    >>> m.evaluate()["solved"]
    """

    KIND = "lab"
    Params = LabParams
    NetConfig = LabNetConfig
    Net = LabNet

    def reset(self) -> None:
        self.solved_at: int | None = None

    @property
    def spec(self) -> TaskSpec:
        return SPECS[self.params.task]

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The fixed test set ``(x, y)`` of the task at the model's length (its own seed)."""
        p = self.params
        generator = torch.Generator().manual_seed(p.training.seed + 10_000)
        return GENERATORS[p.task](p.test_size, p.length, generator)

    def gradient_curve(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        """‖∂L/∂h_t‖ for t = 0..L-1, for the loss at the last step on ``(x, y)``."""
        spec, net = self.spec, self.net

        def loss_at_last_step(h_last):
            prediction = net.head(h_last)
            if spec.every_step:  # the last recalled symbol
                return nn.functional.cross_entropy(prediction, y[:, -1])
            return task_loss(spec, prediction, y)

        return gradient_through_time(net.encoder, x, loss_fn=loss_at_last_step).hidden_state[:, 0].tolist()

    def build(self) -> "LabModel":
        """The untrained network (seeded), ready for :meth:`gradient_curve` or :meth:`fit`."""
        p = self.params
        torch.manual_seed(p.training.seed)
        self.net = self.build_net(LabNetConfig(task=p.task, cell=p.cell, hidden_size=p.hidden_size))
        self.solved_at = None
        return self

    def fit(self, data=None, *, run_dir: str | Path | None = None) -> "LabModel":
        """Train on freshly generated batches (``data`` must be None: the task makes its own),
        evaluating on the test set every ``eval_every`` steps and stopping once solved."""
        if data is not None:
            raise ValueError("the lab generates its data; call fit() without data")
        p = self.params
        if self.net is None:
            self.build()
        x_test, y_test = self.test_set()

        def loss_fn(model, batch):
            x, y = batch
            return task_loss(self.spec, model(x), y)

        callback = _SolvedStop(self, x_test, y_test)
        training = dataclasses.replace(p.training, max_epochs=math.ceil(p.max_steps / p.eval_every))
        train = torch.utils.data.DataLoader(
            _Batches(p.task, p.length, training.batch_size, p.eval_every, training.seed), batch_size=None)
        self.fit_result = fit(self.net, loss_fn, train, None, training, run_dir, callbacks=[callback])
        self.net.eval()
        return self

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The network's outputs for task inputs ``x`` ``(N, L, I)``."""
        self.require_fitted()
        with torch.no_grad():
            return self.net.eval()(x)

    def evaluate(self, data=None) -> dict:
        """The task's metric on its test set (or on ``data = (x, y)``), and whether it is solved."""
        x, y = self.test_set() if data is None else data
        metric = task_metric(self.spec, self.predict(x), y)
        return {self.spec.metric: metric, "solved": is_solved(self.spec, metric)}

    def encoder_view(self, data=None, *, max_sequences: int = 512, max_chars: int = 2000) -> EncoderView:
        """The first ``max_sequences`` sequences of the test set, as the encoder reads them."""
        self.require_fitted()
        x, _ = self.test_set() if data is None else data
        x = x[:max_sequences]
        return EncoderView(self.net.encoder, x, source=f"the {self.params.task} task's test set "
                           f"(length {self.params.length})", notes={"task": self.params.task})

    def fitted_state(self) -> dict:
        return {"solved_at": self.solved_at}

    def restore_state(self, state: dict) -> None:
        self.solved_at = state.get("solved_at")


def run_cell(config: LabConfig, cell: str, length: int, run_dir: str | Path) -> LabResult:
    """Train one cell at one length on the task; returns its record."""
    import time

    started = time.perf_counter()
    model = LabModel(task=config.task, cell=cell, length=length, hidden_size=config.hidden_size,
                     max_steps=config.max_steps, eval_every=config.eval_every, test_size=config.test_size,
                     learning_rate=config.learning_rate, batch_size=config.batch_size, seed=config.seed)
    model.build()
    x_test, y_test = model.test_set()
    baseline = _baseline_metric(model.spec, y_test)
    gradient_at_init = model.gradient_curve(x_test[:64], y_test[:64])
    model.fit(run_dir=run_dir)
    final = model.evaluate((x_test, y_test))
    spec = model.spec
    return LabResult(
        task=config.task, cell=cell, length=length, solved=final["solved"] or model.solved_at is not None,
        steps=model.solved_at, metric=spec.metric, final_metric=final[spec.metric], baseline_metric=baseline,
        gradient_at_init=gradient_at_init, gradient_trained=model.gradient_curve(x_test[:64], y_test[:64]),
        seconds=round(time.perf_counter() - started, 2),
    )


def _baseline_metric(spec: TaskSpec, y: torch.Tensor) -> float:
    if not spec.classification:
        return float(((y - 1.0) ** 2).mean())  # always answer 1 (the mean of the sum)
    y = y[:, -COPY_SYMBOLS:] if spec.every_step else y
    return float(torch.bincount(y.reshape(-1)).max() / y.numel())  # the majority class


class _SolvedStop:
    """Evaluate on the test set every epoch; stop the run once the task is solved."""

    def __new__(cls, model: LabModel, x_test, y_test):
        import lightning.pytorch as pl

        class SolvedStop(pl.Callback):
            def on_train_epoch_end(self, trainer, module):
                net = model.net
                was_training = net.training
                net.eval()
                with torch.no_grad():
                    metric = task_metric(model.spec, net(x_test), y_test)
                net.train(was_training)
                module.log("test_metric", metric)
                if is_solved(model.spec, metric) and model.solved_at is None:
                    model.solved_at = (trainer.current_epoch + 1) * model.params.eval_every
                    trainer.should_stop = True

        return SolvedStop()


def run_lab(config: LabConfig, run_dir: str | Path, progress: Callable[[LabResult], None] | None = None) -> list[LabResult]:
    """Every (cell, length) of the config, in order; checkpoints and logs under ``run_dir``."""
    if config.task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {config.task!r}")
    results = []
    for length in config.lengths:
        for cell in config.cells:
            result = run_cell(config, cell, length, Path(run_dir) / "train" / f"{cell}-{length}")
            results.append(result)
            if progress is not None:
                progress(result)
    return results


def results_json(config: LabConfig, results: list[LabResult]) -> dict:
    return {"config": {**asdict(config), "lengths": list(config.lengths), "cells": list(config.cells)},
            "results": [asdict(r) for r in results]}
