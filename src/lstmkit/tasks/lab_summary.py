"""The lab's bookkeeping: a learning-rate sweep's choice among its probes, and the runs gathered
over seeds (runs solved, the final metric's mean and range, the median steps to solve, per
(cell, length))."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lstmkit.tasks.lab_tasks import TaskSpec


@dataclass
class Probe:
    """One short run of a learning-rate sweep: its validation metric and loss, and when (if)
    it solved."""

    learning_rate: float
    metric: float
    solved_at: int | None = None
    seconds: float = 0.0
    loss: float | None = None  # the training loss on the validation set
    steps: int | None = None  # the probe's budget (the second round's is longer)
    seeds: int = 1  # the seeds whose probes these figures are the mean of


def choose_learning_rate(probes: list[Probe], spec: TaskSpec) -> float:
    """The sweep's choice: the probe that solved the task in the fewest steps; if none solved,
    the lowest validation loss (when every probe has one), else the best validation metric
    (lowest MSE, highest accuracy); ties go to the smaller learning rate. Non-finite values (a
    diverged probe) rank last.

    The loss decides before the metric because short probes of a hard classification task
    (copy) all sit near chance accuracy, where the accuracy's ranking is noise while the
    cross-entropy already shows which rate learns."""
    if not probes:
        raise ValueError("choose_learning_rate needs at least one probe")
    by_loss = all(p.loss is not None for p in probes)

    def key(p: Probe):
        if by_loss:
            value = p.loss
        else:
            value = p.metric if spec.classification is False else -p.metric
        finite = math.isfinite(value)
        return (p.solved_at is None, p.solved_at or 0, not finite, value if finite else 0.0, p.learning_rate)

    return min(probes, key=key).learning_rate


def ranked(probes: list[Probe], spec: TaskSpec) -> list[float]:
    """The probes' learning rates, best first, by :func:`choose_learning_rate`'s order."""
    rest, order = list(probes), []
    while rest:
        best = choose_learning_rate(rest, spec)
        order.append(best)
        rest = [p for p in rest if p.learning_rate != best]
    return order


def not_told_apart(leader: list[Probe], runner_up: list[Probe], spec: TaskSpec) -> bool:
    r"""Whether the probes of two learning rates on the same seeds (``leader``: the better mean)
    leave their order in doubt: the leader did not solve on every seed, and the runner-up's value
    minus the leader's, seed by seed (``d_s``, the loss where every probe has one, else the
    metric, oriented so that lower is better), averages no more than its standard error:
    :math:`\bar d \le s_d / \sqrt{n}`, a paired t of at most 1.

    A run of the copy task sits at chance for a while and then leaves it, at a step that
    differs by hundreds from seed to seed (and with the float rounding); the mean of three
    probes then mixes runs that have left with runs that have not (with the kernels built for
    AVX2 the LSTM's 1e-2 had left on one seed of three at step 1000: mean loss 0.1570 against
    0.1574 at 3e-3, d_s = -0.018, +0.030, -0.011; at step 2000 it led, 0.098 against 0.120)."""
    if len(leader) < 2 or len(leader) != len(runner_up):
        return False
    if all(p.solved_at is not None for p in leader):
        return False
    by_loss = all(p.loss is not None for p in leader + runner_up)
    sign = 1.0 if by_loss or not spec.classification else -1.0

    def value(p: Probe) -> float:
        return p.loss if by_loss else sign * p.metric

    d = [value(r) - value(lead) for lead, r in zip(leader, runner_up)]
    if not all(math.isfinite(v) for v in d):
        return False
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in d) / (n - 1))
    return mean <= sd / math.sqrt(n)


#: Probes whose validation losses all lie within this fraction of the lowest were chosen between
#: by a hair (:func:`close_call`).
CLOSE_CALL = 0.01


def close_call(probes: list[Probe]) -> bool:
    """Whether a sweep's deciding probes (the rates compared on the most seeds) could not be
    told apart at all: none solved, and their losses lie within :data:`CLOSE_CALL` of the lowest
    (probed at length 400, the adding problem's LSTM probes read 0.1578-0.1579, all at the
    trivial answer: the rate chosen among them is a coin toss)."""
    most = max((p.seeds for p in probes), default=0)
    deciding = [p for p in probes if p.seeds == most]
    losses = [p.loss for p in deciding]
    if len(deciding) < 2 or any(p.solved_at is not None for p in deciding):
        return False
    if not all(loss is not None and math.isfinite(loss) for loss in losses) or min(losses) <= 0:
        return False
    return (max(losses) - min(losses)) / min(losses) <= CLOSE_CALL


@dataclass
class LabSummary:
    """One (cell, length) over its seeds: how many runs solved it, the final metric's mean and
    range, and the median number of steps among the runs that solved it."""

    cell: str
    length: int
    learning_rate: float
    runs: int
    solved: int
    metric: str
    mean_metric: float
    min_metric: float
    max_metric: float
    median_steps: float | None


def summarise(results: list) -> list[LabSummary]:
    """The seeds of each (cell, length) of ``results`` (:class:`lstmkit.tasks.lab.LabResult`)
    gathered into one :class:`LabSummary`, in first-seen order."""
    groups: dict[tuple[str, int], list] = {}
    for r in results:
        groups.setdefault((r.cell, r.length), []).append(r)
    rows = []
    for (cell, length), runs in groups.items():
        metrics = [r.final_metric for r in runs]
        steps = sorted(r.steps for r in runs if r.solved and r.steps is not None)
        median = None
        if steps:
            mid = len(steps) // 2
            median = float(steps[mid]) if len(steps) % 2 else (steps[mid - 1] + steps[mid]) / 2
        rows.append(LabSummary(cell, length, runs[0].learning_rate, len(runs), sum(r.solved for r in runs),
                               runs[0].metric, sum(metrics) / len(metrics), min(metrics), max(metrics), median))
    return rows


def results_json(config, results: list, sweeps: dict[str, dict] | None = None) -> dict:
    """What ``results.json`` holds: the config, the learning rates and sweeps, the summary and every run."""
    return {"config": {**asdict(config), "lengths": list(config.lengths), "cells": list(config.cells),
                       "learning_rates": list(config.learning_rates), "seeds": list(config.seeds)},
            "learning_rates": {cell: s["learning_rate"] for cell, s in (sweeps or {}).items()},
            "sweeps": sweeps or {},
            "summary": [asdict(row) for row in summarise(results)],
            "results": [asdict(r) for r in results]}
