r"""``warp_copies=None`` where the median class has two training series: the time-warped copies
(:mod:`lstmkit.tasks.classify_augment`) are the default there, and the training series can take
them away.

With two series per class the networks see each class at two timings. Warped copies of every
series (:func:`lstmkit.tasks.classify_augment.warp_copies_for`: W = 4 at two per class) showed them
more: on 12 sets cut to two training series per class (``screen_options.py --shots 2 --split-seed
S --seeds S``, S = 0-2) test accuracy rose from 0.783 to 0.800 (MiniRocket 0.788; with the copies
ahead of it on every seed, without them on one of three). On PigCVP, the real set of two per
class (52 pigs' central venous pressure, the class the pig), they cost 0.941 -> 0.909: there a
class is likely told by an animal's own fine details, which a warp blurs into its neighbours'.

A 2-fold selection can run at two per class (:func:`lstmkit.tasks.classify_select.selection_folds`),
so the copies are weighed on the same folds before anything else: for each fold, two networks of
the selection's first candidate (P = 1, LSTM-FCN's, or the options' given parts, maximum and trend)
are trained on the other fold, one with the W copies and one without, and score the held-out
series (per series ``-log p(y_i)`` and whether the most probable class is ``y_i``).

The copies are kept unless the networks without them are better on both measures:

* a lower mean held-out log-loss, and
* more held-out series right beyond one standard error of the paired differences
  ``e_i = [right without] - [right with]``: ``ē - se(e) > 0``, ``se(e) = sd(e) / √N``.

The second condition is on accuracy, not on the log-loss as the other selections' rule
(:func:`lstmkit.tasks.classify_select.first_unless_beaten`): at 52 classes and one series each to
learn from, the 300-step fold networks' log-losses (about 2.2 with label smoothing) moved by less
than their noise while their accuracy fell by 13 series of 104 on every seed (PigCVP seeds 0-2,
held-out accuracy 0.663 / 0.663 / 0.654 without against 0.538 / 0.538 / 0.519 with; the test
split's 0.938 / 0.938 / 0.947 against 0.909 / 0.918 / 0.899). A single series more right is never
beyond the noise (one discordant series of N gives ``ē = se(e) = 1/N``), so on sets of a few
classes (4 to 18 held-out series: the 12 subsampled sets, 36 fits) the copies were kept every time
and their gain stands.

The record (``Classifier.copies_selection``, printed by ``lstmkit classify``): ``chosen`` (W or
0), ``choices`` ``[W, 0]``, ``log_loss`` and ``accuracy`` (per choice), ``difference`` (the
log-losses' ``[δ̄, se]`` without against with), ``accuracy_difference`` (``[ē, se(e)]``),
``folds`` and ``seconds``. It costs 2 networks per fold of at most 300 steps (about a minute on
the 12 sets on a Zen 3 core, 80 s on PigCVP).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from lstmkit.tasks.classify_select import (SELECTION_FOLD_SCALE, _cross_validated_proba, _first_member,
                                           _selection_steps, candidates_for, held_out_losses, held_out_series,
                                           label_smoothing_for, paired_difference, progress_printer,
                                           selection_folds)


def copies_unless_beaten(losses, right) -> int:
    """The rule of the module docstring on the held-out per-series log-losses and correctness of
    ``[with the copies, without]``: 0 (keep the copies) unless the second has the lower mean
    log-loss and its paired accuracy gain exceeds one standard error; then 1."""
    with_copies, without = (np.asarray(row, dtype=np.float64) for row in losses)
    gain, se = paired_difference(np.asarray(right[1], dtype=np.float64), np.asarray(right[0], dtype=np.float64))
    return int(without.mean() < with_copies.mean() and gain - se > 0)


def select_warp_copies(classifier, data, copies: int) -> dict[str, Any]:
    """Keep or drop the ``copies`` (> 0) warped copies for ``classifier`` (its options, unfitted) on
    the labelled ``data``, by the module docstring's cross-validation and rule; the record."""
    started = time.perf_counter()
    params = classifier.get_params()
    folds = selection_folds(data)
    record: dict[str, Any] = {"chosen": int(copies), "choices": [int(copies), 0], "folds": folds, "log_loss": None,
                              "accuracy": None, "difference": None, "accuracy_difference": None, "seconds": 0.0}
    if not folds:  # nothing to hold out: the copies stay
        return record
    # per-member options given: the first member's, as the selections' networks read them
    segments, dropout, conv_max = candidates_for(_first_member(params["segment_dropout"]), params["conv_max"])[0]
    if params["conv_segments"] is not None:  # given: the networks read the parts as the model will
        segments = int(_first_member(params["conv_segments"]))
    common = {**params, "conv_segments": segments, "segment_dropout": dropout, "conv_max": conv_max,
              "trend_window": params["trend_window"] or 0, "mixup": _first_member(params["mixup"]),
              "ensemble": 1, "fold_scales": (SELECTION_FOLD_SCALE,), "kernel_scales": (1.0,), "fold_offsets": 1,
              "phase_member": False, "series_member": False, "values_branch": bool(params.get("values_branch")),
              "label_smoothing": label_smoothing_for(params.get("label_smoothing"), data),
              "max_steps": _selection_steps(params), "val_fraction": 0.0, "progress": False, "devices": 1,
              "strategy": "auto",
              # with a time budget (minutes), these networks together take at most a twentieth of it
              "max_time": None if params["max_time"] is None else params["max_time"] / (20 * 2 * folds)}
    say = progress_printer(params)
    if say:
        say(f"weighing {copies} warped copies of every series: {folds}-fold cross-validation of "
            f"2 networks, {common['max_steps']} steps each")
    options = [{**common, "warp_copies": int(copies)}, {**common, "warp_copies": 0}]
    proba = _cross_validated_proba(type(classifier), options, data, int(params["seed"]), say=say, folds=folds)
    scored = held_out_series(data)
    truth = data.label_indices(list(data.classes))[scored]
    losses, right = zip(*(held_out_losses(proba[m][scored], truth) for m in range(2)))
    record["log_loss"] = [round(float(np.mean(row)), 6) for row in losses]
    record["accuracy"] = [round(float(np.mean(row)), 6) for row in right]
    record["difference"] = [round(v, 6) for v in paired_difference(losses[1], losses[0])]
    record["accuracy_difference"] = [round(v, 6) for v in paired_difference(
        np.asarray(right[1], dtype=np.float64), np.asarray(right[0], dtype=np.float64))]
    record["chosen"] = record["choices"][copies_unless_beaten(losses, right)]
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record


def describe_copies(record: dict[str, Any]) -> str:
    """One line for the report: the copies kept or dropped, and the evidence."""
    copies = record["choices"][0]
    verdict = f"{copies} warped copies of every series " + ("kept" if record["chosen"] else "dropped")
    if record["log_loss"] is None:
        return f"{verdict} (no series to hold out)"
    (with_loss, without_loss), (with_acc, without_acc) = record["log_loss"], record["accuracy"]
    gain, se = record["accuracy_difference"]
    return (f"{verdict} by {record['folds']}-fold cross-validation on the training series (with them: log-loss "
            f"{with_loss:.3f}, accuracy {with_acc:.3f}; without: log-loss {without_loss:.3f}, accuracy "
            f"{without_acc:.3f}, {gain:+.3f} ± {se:.3f}; {record['seconds']:.0f} s)")
