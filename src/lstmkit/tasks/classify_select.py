r"""``conv_segments=None`` (the default): the number of parts P, and their dropout, chosen on the
training series.

Whether the place of a shape decides the class is a property of the data: in BME a bell at the
start of a series and one at its end are two classes, and the convolutional branch's global
average cannot tell them apart; with P = 3 it also averages over the series' begin, middle and
end (:func:`lstmkit.tasks.classify_net.segment_means`). Where place does not matter the parts
give the head more to memorise (measured: benchmarks/README.md, "The series' begin, middle and
end"); where it does, with few training series the head can memorise through the parts too, and
dropout on them in training (``segment_dropout``, as LSTM-FCN's on the LSTM's vector) helps on
some sets (BME) and hurts on others (Tecator_disc). So the training series decide, by a quick
stratified cross-validation among the candidates ``(P, dropout)`` of :data:`SEGMENT_CANDIDATES`,
``(1, 0), (3, 0), (3, 0.8)`` (with ``segment_dropout`` given, P = 1 and 3 at that dropout):

* the training series are dealt to ``K = SELECTION_FOLDS`` (3) stratified folds
  (:func:`lstmkit.data.sequence_data.stratified_folds`, shuffled with the model's seed);
* for each fold k, one ensemble with one network per candidate is trained on the other folds
  (trained together on the same batches, so they differ in the candidate alone), for
  ``SELECTION_STEPS`` (300) optimizer steps (or the model's own budget if smaller), at twice the
  block width the length rule gives (``fold_scales=(2,)``), with LSTM-FCN's kernels for all and
  one start offset, and scores the held-out fold;
* every training series is held out once; candidate c's held-out log-loss and accuracy over
  all N of them are

      ℓ_c = -(1/N) Σ_i log p_c(y_i | x_i),     a_c = (1/N) Σ_i [argmax_k p_c(k | x_i) = y_i];

* the candidates are weighed in order: the first (P = 1, the global average alone, LSTM-FCN's)
  is kept unless a later one is better on both than the one chosen so far, ``a_c > a_best``
  (at least one more series right) and ``ℓ_c < ℓ_best``.

A class with fewer than K training series (PigCVP: two per class) cannot be cross-validated:
P = 1 is kept and the reason recorded. The selection costs 3 ensembles of 3 small networks, each
trained for at most 300 steps at half the resolution (about 0.5-1 of the model's own fit on
sets of 30 series or more; more than the fit on the smallest sets, where per-step costs
dominate). Its result is saved with the model (``Classifier.segment_selection``) and printed by
``lstmkit classify``. With a time budget (``max_time``, minutes) the selection's networks take at
most half of it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

#: The candidates ``(P, segment_dropout)``, in the order the rule weighs them: the first is kept
#: unless a later one is better on both measures than the one chosen so far.
SEGMENT_CANDIDATES = ((1, 0.0), (3, 0.0), (3, 0.8))
#: The candidate numbers of parts, in the same order.
SEGMENT_CHOICES = tuple(p for p, _ in SEGMENT_CANDIDATES)
#: Stratified folds of the training series.
SELECTION_FOLDS = 3
#: Optimizer steps per selection network (the model's own ``max_steps`` when that is smaller).
SELECTION_STEPS = 300
#: The selection networks read blocks this many times wider than the length rule's (cheaper).
SELECTION_FOLD_SCALE = 2.0


def held_out_scores(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(log-loss, accuracy)`` of class probabilities ``(N, K)`` for class indices ``y`` ``(N,)``:
    ``-(1/N) Σ log p(y_i)`` (probabilities floored at 1e-12) and the share whose most probable
    class is ``y_i``."""
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    picked = proba[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.maximum(picked, 1e-12)))), float(np.mean(proba.argmax(axis=1) == y))


def choose(log_loss: list[float], accuracy: list[float], choices=SEGMENT_CHOICES) -> int:
    """The first of ``choices`` unless a later one has a higher accuracy *and* a lower log-loss
    than the one chosen so far (the simpler model wins ties and disagreements); the scores are
    listed in the order of ``choices``."""
    best = 0
    for j in range(1, len(choices)):
        if accuracy[j] > accuracy[best] and log_loss[j] < log_loss[best]:
            best = j
    return int(choices[best])


def candidates_for(segment_dropout) -> list[tuple[int, float]]:
    """The candidates ``(P, dropout)``: :data:`SEGMENT_CANDIDATES` when the dropout is left to the
    selection (None); with a dropout given, P = 1 and P = 3 at that dropout."""
    if segment_dropout is None:
        return [(int(p), float(r)) for p, r in SEGMENT_CANDIDATES]
    return [(p, float(segment_dropout)) for p in dict.fromkeys(SEGMENT_CHOICES)]


def select_conv_segments(classifier, data) -> dict[str, Any]:
    """P (and the parts' dropout, when the options leave it None) for ``classifier`` (its options,
    unfitted) on the labelled :class:`SequenceData` ``data``, by the cross-validation of the module
    docstring. Returns the record saved with the model: ``chosen`` (P) and ``chosen_dropout``,
    ``choices`` and ``dropouts`` (the candidates' P and dropout), ``folds``, ``log_loss`` and
    ``accuracy`` (one per candidate, in the order of ``choices``; None when skipped), ``skipped``
    (None, or why no cross-validation ran) and ``seconds``."""
    from lstmkit.data.sequence_data import stratified_folds

    started = time.perf_counter()
    params = classifier.get_params()
    candidates = candidates_for(params["segment_dropout"])
    choices, dropouts = [p for p, _ in candidates], [r for _, r in candidates]
    record: dict[str, Any] = {"chosen": choices[0], "chosen_dropout": dropouts[0], "choices": choices,
                              "dropouts": dropouts, "folds": SELECTION_FOLDS,
                              "log_loss": None, "accuracy": None, "skipped": None, "seconds": 0.0}
    _, counts = np.unique(np.asarray(data.labels).astype(str), return_counts=True)
    if counts.min() < SELECTION_FOLDS:
        record["skipped"] = (f"a class has {int(counts.min())} training series, fewer than the "
                             f"{SELECTION_FOLDS} folds: P = {choices[0]} kept")
        return record
    seed = int(params["seed"])
    steps = SELECTION_STEPS if params["max_steps"] is None else min(int(params["max_steps"]), SELECTION_STEPS)
    options = {**params, "conv_segments": tuple(choices), "segment_dropout": tuple(dropouts), "ensemble": len(choices),
               "fold_scales": (SELECTION_FOLD_SCALE,), "kernel_scales": (1.0,), "fold_offsets": 1,
               "max_steps": steps, "val_fraction": 0.0, "progress": False, "devices": 1, "strategy": "auto",
               # a time budget for the model (minutes) is shared: the selection's networks together
               # take at most half of it
               "max_time": None if params["max_time"] is None else params["max_time"] / (2 * SELECTION_FOLDS)}
    fold_of = stratified_folds(data.labels, SELECTION_FOLDS, seed=seed)
    truth = data.label_indices(list(data.classes))
    proba = np.zeros((len(choices), len(data), len(data.classes)))
    rng_state = torch.random.get_rng_state()
    for k in range(SELECTION_FOLDS):
        held = np.flatnonzero(fold_of == k)
        model = type(classifier)(**options).fit(data.subset(np.flatnonzero(fold_of != k)))
        proba[:, held] = model.member_proba(data.subset(held))  # subset keeps the class order
    torch.random.set_rng_state(rng_state)
    scores = [held_out_scores(proba[m], truth) for m in range(len(choices))]
    record["log_loss"] = [round(loss, 6) for loss, _ in scores]
    record["accuracy"] = [round(acc, 6) for _, acc in scores]
    best = choose(record["log_loss"], record["accuracy"], list(range(len(choices))))
    record["chosen"], record["chosen_dropout"] = choices[best], dropouts[best]
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record


def describe(record: dict[str, Any]) -> str:
    """One line for the report: what was chosen and on what evidence."""
    if record["skipped"]:
        return f"conv segments: P = {record['chosen']} ({record['skipped']})"
    dropouts = record.get("dropouts") or [0.0] * len(record["choices"])  # records saved before the dropout's choice
    cells = ", ".join(f"{_candidate(p, r)}: log-loss {loss:.3f}, accuracy {acc:.3f}"
                      for p, r, loss, acc in zip(record["choices"], dropouts, record["log_loss"], record["accuracy"]))
    chosen = _candidate(record["chosen"], record.get("chosen_dropout", 0.0))
    return (f"conv segments: {chosen} chosen by {record['folds']}-fold cross-validation "
            f"on the training series ({cells}; {record['seconds']:.0f} s)")


def _candidate(segments: int, dropout: float) -> str:
    return f"P = {segments}" + (f" (dropout {dropout:g})" if segments > 1 and dropout > 0 else "")
