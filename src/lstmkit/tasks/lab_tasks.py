r"""The long-term-dependency tasks of the lab, generated on the fly from a seed, and how
each is scored (see :mod:`lstmkit.tasks.lab` for the lab itself).

* ``adding``: input ``(L, 2)``, a random value in [0, 1] and a marker; two steps are marked,
  one in each half. Target: the sum of the two marked values. Always answering 1 scores
  MSE 1/6; *solved* is test MSE < 0.01.
* ``copy``: three symbols from an alphabet of 8, then L blanks and a delimiter; the network
  must then emit the three symbols in order. *Solved* is accuracy >= 0.99 on them. (Arjovsky
  et al. 2016 use ten symbols; remembering more symbols takes several times the training steps
  without testing a longer dependency, and the lab's budget is minutes on two cores. What makes
  the task hard for a plain RNN is the delay: over 10 blanks with five symbols a plain RNN
  solved some seeds, over 20 blanks with three it reached 0.97 on one seed of six (0.73 with
  batches of 128), over 30 it stayed at chance.)
* ``order``: two relevant symbols (X or Y) among distractors; the class is their order.
  *Solved* is accuracy >= 0.99.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

TASKS = ("adding", "copy", "order")
CELLS = ("rnn", "gru", "lstm")
COPY_SYMBOLS = 3  # symbols to remember in the copy task
COPY_ALPHABET = 8
#: The lengths of ``lstmkit lab --quick``.
QUICK_LENGTHS = {"adding": (10, 25), "copy": (5,), "order": (10, 25)}


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


def describe(task: str, x: torch.Tensor, y: torch.Tensor) -> list[str]:
    """What each sequence of a task's ``(x, y)`` asks, in words (``lstmkit inspect`` names the
    sequence it draws with it): the adding problem's marked steps and their sum, the copy
    task's symbols and where they are recalled, the temporal order's two symbols and their steps."""
    names = []
    for i in range(x.shape[0]):
        if task == "adding":
            marked = torch.nonzero(x[i, :, 1]).flatten().tolist()
            names.append("marked steps " + " and ".join(f"{t} ({float(x[i, t, 0]):.2f})" for t in marked)
                         + f", sum {float(y[i, 0]):.2f}")
        elif task == "copy":
            tokens = x[i].argmax(-1)
            letters = " ".join("abcdefgh"[int(v) - 1] for v in tokens[:COPY_SYMBOLS])
            recall = int(torch.nonzero(tokens == COPY_ALPHABET + 1).flatten()[0]) + 1
            names.append(f"symbols {letters} at steps 0-{COPY_SYMBOLS - 1}, recalled from step {recall}")
        else:
            tokens = x[i].argmax(-1)
            relevant = torch.nonzero((tokens == 4) | (tokens == 5)).flatten().tolist()
            names.append(", ".join(f"{'XY'[int(tokens[t]) - 4]} at step {t}" for t in relevant)
                         + f": class {['XX', 'XY', 'YX', 'YY'][int(y[i])]}")
    return names


def task_loss(spec: TaskSpec, prediction: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE, or the cross-entropy averaged over every scored step. Outputs at every step
    ``(N, L, C)`` go in as ``(N, C, L)``: the same mean, and with the copy task's 9 classes
    torch's kernel for that layout takes a third of the time of ``(N * L, C)`` rows (forward
    and backward at 64 x 36 rows: 0.19 against 0.54 ms, a tenth of a plain RNN's step)."""
    if not spec.classification:
        return nn.functional.mse_loss(prediction, y)
    if prediction.dim() == 3:
        return nn.functional.cross_entropy(prediction.transpose(1, 2), y)
    return nn.functional.cross_entropy(prediction.reshape(-1, prediction.shape[-1]), y.reshape(-1))


def task_metric(spec: TaskSpec, prediction: torch.Tensor, y: torch.Tensor) -> float:
    if not spec.classification:
        return float(nn.functional.mse_loss(prediction, y))
    if spec.every_step:  # score the recalled symbols only
        prediction, y = prediction[:, -COPY_SYMBOLS:], y[:, -COPY_SYMBOLS:]
    return float((prediction.argmax(-1) == y).float().mean())


def is_solved(spec: TaskSpec, metric: float, margin: float = 1.0) -> bool:
    """Whether ``metric`` meets the task's criterion; ``margin < 1`` asks for more (an MSE below
    ``margin * threshold``, an error rate ``1 - accuracy`` at most ``margin * (1 - threshold)``),
    so that a run stopped on its validation set is not left on the edge for the test set."""
    if margin == 1.0:
        return metric < spec.threshold if not spec.classification else metric >= spec.threshold
    if not spec.classification:
        return metric < margin * spec.threshold
    return 1.0 - metric <= margin * (1.0 - spec.threshold)
