"""The lab's runs gathered over seeds: runs solved, the final metric's mean and range, and the
median steps to solve, per (cell, length)."""

from __future__ import annotations

from dataclasses import dataclass


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
