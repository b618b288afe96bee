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
stratified cross-validation among the candidates ``(P, dropout, maximum)`` of
:data:`SEGMENT_CANDIDATES`, ``(1, 0), (3, 0), (3, 0.8)`` and P = 1 with the conv branch's global
maximum beside its average (``conv_max``: whether a shape occurs anywhere, which the average of a
long noisy series hides when the shape is short; with ``segment_dropout`` given, P = 1 and 3 at
that dropout and P = 1 with the maximum; with ``conv_max`` given, the others at it), and last
the first candidate with every channel read as its detail around a centred moving average of
``W = round(median length / 16)`` steps and that average (``trend_window``,
:func:`lstmkit.tasks.classify.trend_split`: a slow wander such as a random walk, which the
networks otherwise fit series by series, apart from the faster shapes; with ``trend_window``
given, every candidate reads it and none is added):

* the training series are dealt to ``K = SELECTION_FOLDS`` (3) stratified folds
  (:func:`lstmkit.data.sequence_data.stratified_folds`, shuffled with the model's seed); a class
  of a single series (the rarest of FiftyWords', WordSynonyms') is in every fold's training
  series and held out of none (:func:`held_out_series`);
* for each fold k, one ensemble with one network per candidate is trained on the other folds
  (trained together on the same batches, so they differ in the candidate alone), for
  ``SELECTION_STEPS`` (300) optimizer steps (or the model's own budget if smaller), at twice the
  block width the length rule gives (``fold_scales=(2,)``), with LSTM-FCN's kernels for all and
  one start offset, and scores the held-out fold; the maximum's candidate is one network of its
  own, trained after them on the same folds at the model's own block width (``MAX_FOLD_SCALE``:
  at twice the width the short shapes it is there to find blur), so the other three candidates'
  fits are the same with and without it (the model that takes it reads folded series, d > 1,
  from ``MAX_FOLD_OFFSETS`` (4) start offsets of the blocks, ``fold_offsets=None``); the trend's
  candidate reads other inputs, so it too is one network of its own, trained last on the same
  folds at twice the block width;
* every other training series is held out once; candidate c's held-out log-loss and accuracy
  over those N are

      ℓ_c = -(1/N) Σ_i log p_c(y_i | x_i),     a_c = (1/N) Σ_i [argmax_k p_c(k | x_i) = y_i];

* the candidates are weighed in order: the first (P = 1, the global average alone, LSTM-FCN's)
  is kept unless a later one c is better on both than the one chosen so far, ``a_c > a_best``
  (at least one more series right) and ``ℓ_c < ℓ_best``, **and** better than the first by more
  than the noise of the held-out series: with the paired per-series differences
  ``δ_i = -log p_c(y_i | x_i) + log p_1(y_i | x_i)``, their mean ``δ̄`` and standard error
  ``se(δ) = sd(δ) / √N``,

      δ̄ + se(δ) < 0

  (Breiman's one-standard-error rule, in favour of the simpler P = 1). Measured on the Zen 3:
  ACSF1 seed 2 took P = 3 by two series in 100 (``δ̄ = -0.018``, ``se = 0.066``) and lost 0.040
  on its test split (0.830 against 0.870); BME's P = 3 (``δ̄ ≈ -0.9``, ``se ≈ 0.25``) and Tecator_disc's (``-0.14``,
  ``0.02``) clear it by far (benchmarks/README.md, "A margin for the selection").

Where every class has 2 training series (PigCVP; any set cut to two per class), the folds
are 2 (:func:`selection_folds`: the largest class's count where that is below 3): each fold
network learns every class from its other series and scores the held-out one, and where the
median class has 2 (:func:`few_series`) every network, the selection's and the model's, trains
with label smoothing (:data:`FEW_SERIES_LABEL_SMOOTHING`), so the candidates and the mixtures are
judged on the probabilities the model will give (measured: ``bench_classify.py --shots 2``,
benchmarks/README.md, "A 2-fold selection where the rarest class has two series": 12 sets at two
series per class 0.731 -> 0.760, MiniRocket 0.774; PigCVP 0.934 -> 0.941). One rare class among
larger ones changes neither the folds nor the smoothing: its series are held out where it has
two, and where it has one they train every fold network and are not scored (``--rare-class``,
benchmarks/README.md, "A class of one training series"). Where fewer than two classes have two
series (one per class), the held-out scores would be one class's alone: P = 1 is kept
and the reason recorded. The selection costs 3 ensembles of 3 small networks, each
trained for at most 300 steps at half the resolution, and 3 networks at the model's resolution
for the maximum, which cost about as much as the other three together (measured on CBF, Zen 3:
189-211 s, about the model's own fit; more than the fit on the smallest sets, where per-step
costs dominate: UnitTest 251 s under load). Its result is saved with the model (``Classifier.segment_selection``) and printed by
``lstmkit classify``. With a time budget (``max_time``, minutes) the selection's networks take at
most half of it.

``summary_mix=None`` (the default): last, on the same folds, the chosen candidate's held-out
probabilities p_net are weighed against mixtures with those of a logistic regression on each
channel's 30 series features (:class:`lstmkit.tasks.classify_baselines.SummaryStatisticsModel`
on :func:`lstmkit.tasks.classify_baselines.series_features`: the summary statistics, moments,
autocorrelation, spectrum and thirds; computed once, fitted on the other folds),
``(1 - w) p_net + w p_features`` for w in :data:`SUMMARY_MIX_CHOICES`, w = 0 first, each larger
w taken where its per-series log-losses beat the weight taken so far by more than one standard
error (:func:`lowest_loss_beyond_noise`; accuracy does not vote on a weight): where such
features separate the classes better than the few training series let
the networks learn (seglearn's Watch, 14 series per exercise: the features alone 0.929 on its
test split against the networks' 0.810-0.833), the model's prediction mixes them in at the
chosen w (``Classifier.summary_mix``); elsewhere w = 0 and the model is the networks alone, the
same fit as without it.
Where the model's last member will read the period's phases (``phase_member``,
``Classifier.reads_phases``), p_net is ``((M - 1) p_chosen + p_phases) / M``, p_phases a
phase-reading network's held-out probabilities (one more two-network ensemble per fold, the
chosen candidate's beside it), so w is weighed against what the model's M members average:
the folded networks alone are weaker than that ensemble, and a weight taken against them is too
large for it (ACSF1: w = 0.25 cost a test series on five seeds of six).

``values_mix=None`` (the default): after w, on the same folds and by the same rule, that model's
held-out probabilities p_model = (1 - w) p_net + w p_features are weighed against mixtures
``(1 - v) p_model + v p_values`` for v in :data:`VALUES_MIX_CHOICES`, p_values a logistic
regression on each channel's standardised values at P fixed places of the series
(:func:`lstmkit.tasks.classify_baselines.series_values`, P the median length, at most 256 and 4096 / channels):
where a shape's *position* in aligned series tells the classes apart, which the networks' and
the features' averages over time mostly do not (ArrowHead, 36 training series: the values alone
0.789 on its test split; taken on seeds 1, 2 and 4 of five, 0.840 -> 0.857, 0.846, 0.869), the
prediction mixes them in at v (``Classifier.values_mix``); elsewhere v = 0 and the model's
prediction is the same as without it (benchmarks/README.md, "The values at fixed places").

``values_branch=None`` (the default): the same weighing of the values decides whether the model's
networks read them themselves, a one-step LSTM on each series' values at fixed places beside the
LSTM and convolutional branches (LSTM-FCN's dimension shuffle,
:meth:`lstmkit.tasks.classify_net.ClassifierNet.values_features`): on where that weighing takes
a mixture, v > 0 (:func:`wants_values_branch`), and then v = 0, the values read once, by the
networks; off elsewhere. Where the values do not help (OSULeaf: the branch always on cost 0.037 on seed 0's
test split, PigCVP 0.13 when on without the weighing), the networks stay as they were.

The members' resolution (``fold_scales=None`` on series read whole) is chosen after P by the
same folds and rule, two networks per fold: :func:`select_fold_scales`; with a time budget its
networks take at most a quarter of it, and the warped copies' weighing at two series per class
(:mod:`lstmkit.tasks.classify_copies`) a twentieth, so the model's own fit keeps at least a fifth.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import numpy as np
import torch

from lstmkit.tasks.classify_augment import warp_copies_for

#: The candidates ``(P, segment_dropout, conv_max)``, in the order the rule weighs them: the first
#: is kept unless a later one is better on both measures than the one chosen so far.
SEGMENT_CANDIDATES = ((1, 0.0, False), (3, 0.0, False), (3, 0.8, False), (1, 0.0, True))
#: The candidate numbers of parts, in the same order.
SEGMENT_CHOICES = tuple(p for p, _, _ in SEGMENT_CANDIDATES)
#: Stratified folds of the training series.
SELECTION_FOLDS = 3
#: Optimizer steps per selection network (the model's own ``max_steps`` when that is smaller).
SELECTION_STEPS = 300
#: The selection networks read blocks this many times wider than the length rule's (cheaper).
SELECTION_FOLD_SCALE = 2.0
#: ... but the maximum's candidate reads the model's own blocks: a short shape it is to find
#: blurs at twice the width (a shape in noise, 30 of 500 steps: test accuracy 0.67 at 2d, 0.99 at d).
MAX_FOLD_SCALE = 1.0
#: The model that takes the maximum's candidate reads series folded into blocks (d > 1) from this
#: many start offsets (``fold_offsets``, :func:`lstmkit.tasks.classify.block_offsets`): a short
#: shape anywhere falls at any phase of the blocks, and a few training series do not show every
#: phase (ShapeletSim, d = 4, seed 1: 0.906 from one offset, 1.000 from 4). The selection's network
#: for it reads one offset: with 4 there, it was also taken on OSULeaf seed 0 and Watch seed 2 and
#: cost them 0.017 and 0.048 on their test splits (benchmarks/README.md).
MAX_FOLD_OFFSETS = 4
#: The trend candidate (``trend_window=None``, left to the selection): P = 1 (or the first
#: candidate's P, dropout and maximum) with every channel read as its detail around a centred
#: moving average and that average (:func:`lstmkit.tasks.classify.trend_split`), the window a
#: sixteenth of the median length (8 blocks of the length rule's d = median / 128).
TREND_SHARE = 16
#: The weights of the series features' probabilities in the model's prediction, in the order
#: the rule weighs them (``summary_mix=None``): 0 (the networks alone) is kept unless a mixture is
#: better on both measures and beyond one standard error.
SUMMARY_MIX_CHOICES = (0.0, 0.25, 0.5)
#: The features of the logistic regression mixed in (``classify_baselines.FEATURE_SETS``): the 30
#: series features per channel (the summary statistics, moments, autocorrelation, spectrum and
#: thirds).
SUMMARY_MIX_FEATURES = "series"
#: The weights of the values' probabilities in the model's prediction (``values_mix=None``), in
#: the order the rule weighs them, after the series features' w: 0 (the model without them) is
#: kept unless a mixture's log-losses beat it beyond one standard error.
VALUES_MIX_CHOICES = (0.0, 0.25, 0.5)
#: The features of the second logistic regression mixed in: each channel's standardised values
#: at fixed places of the series (``classify_baselines.series_values``).
VALUES_MIX_FEATURES = "values"


#: Where the median class has 2 training series, fewer than :data:`SELECTION_FOLDS` (the selection
#: then runs on 2 or 3 folds, each network learning such a class from one series), the networks, the
#: selection's and the model's, train with label smoothing at this e (where ``label_smoothing`` is
#: left None): with so few series per class they otherwise learn each by heart with full
#: confidence, and a selection network's held-out log-loss then makes any mixture look better
#: (measured with two per class, ``bench_classify.py --shots 2`` on 12 sets, and on PigCVP). With
#: a single series per class (no selection runs) it is not taken: one series per class
#: (WarpedShapes' 30 classes) lost 0.05 with it on both seeds tried (benchmarks/README.md, "Few
#: training series per class").
FEW_SERIES_LABEL_SMOOTHING = 0.1


def selection_folds(data) -> int:
    """The stratified folds a selection on ``data`` uses: :data:`SELECTION_FOLDS`, or as many as
    the largest class has training series where that is fewer (2 at two series per class: each
    fold network learns every class from the other series of it). A class of a single series is
    trained on in every fold and never held out (:func:`held_out_series`); 0, and no selection
    runs, where fewer than two classes have series to hold out (one class's held-out series alone
    would judge the candidates on how sure they are of that class)."""
    counts = _class_counts(data)
    if int(np.sum(counts >= 2)) < 2:
        return 0
    return min(SELECTION_FOLDS, int(counts.max()))


def held_out_series(data) -> np.ndarray:
    """Whether the selection holds each training series of ``data`` out (and scores it): those of
    classes with two or more series; a class of one is in every fold's training series instead
    (held out, it would be a class its fold network never saw). bool, ``(N,)``."""
    labels = np.asarray(data.labels).astype(str)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return counts[inverse] >= 2


def few_series(data) -> bool:
    """Whether a selection runs on ``data`` and its typical class (the median count) has fewer
    training series than :data:`SELECTION_FOLDS`: the fold networks then learn most classes from
    one or two series, and every network trains with :data:`FEW_SERIES_LABEL_SMOOTHING`. One rare
    class among larger ones does not make the set few-series."""
    return selection_folds(data) > 0 and float(np.median(_class_counts(data))) < SELECTION_FOLDS


def label_smoothing_for(label_smoothing: float | None, data) -> float:
    """The e the networks train with on ``data``: ``label_smoothing`` where given, else
    :data:`FEW_SERIES_LABEL_SMOOTHING` where :func:`few_series`, else 0. The model's networks and
    the selection's train with the same e, so a candidate is judged as the model would train it."""
    if label_smoothing is not None:
        return float(label_smoothing)
    return FEW_SERIES_LABEL_SMOOTHING if few_series(data) else 0.0


def wants_values_branch(record: dict[str, Any] | None) -> bool:
    """``values_branch=None``'s rule on a selection's record: True where its weighing of the values
    (``record["values_mix"]``, :func:`select_values_mix`) takes a mixture, v > 0, by
    :func:`lowest_loss_beyond_noise` (the values at fixed places carry, beyond the noise of the
    held-out log-loss, what the model misses): there the networks read the values themselves and
    v = 0. False where no weighing ran (no selection, or a class of a single training series)."""
    mix = (record or {}).get("values_mix")
    return bool(mix) and float(mix.get("chosen", 0.0)) > 0.0


def shows_progress(params: dict[str, Any]) -> bool:
    """Whether a fit with these options shows its progress: ``progress=True``, or ``None`` (the
    default) with stderr a terminal, as the training's bar (:class:`lstmkit.train.TrainingConfig`)."""
    from lstmkit.train.engine import shows_progress as training_shows_progress

    return training_shows_progress(params.get("progress"))


def progress_printer(params: dict[str, Any]) -> Callable[[str], None] | None:
    """A function printing one line to stderr where :func:`shows_progress`, else None: the
    selections' networks run without a bar (minutes on long series), so they say what they do."""
    if not shows_progress(params):
        return None
    return lambda line: print(line, file=sys.stderr, flush=True)


def trend_candidate_window(median: float) -> int:
    """The trend candidate's window: ``W = max(2, round(median / TREND_SHARE))`` steps."""
    return max(2, int(np.floor(float(median) / TREND_SHARE + 0.5)))


def held_out_losses(proba: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per series, for class probabilities ``(N, K)`` and class indices ``y`` ``(N,)``:
    ``-log p(y_i)`` (probabilities floored at 1e-12) and whether ``y_i`` is the most probable
    class (bool)."""
    proba = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    picked = proba[np.arange(len(y)), y]
    return -np.log(np.maximum(picked, 1e-12)), proba.argmax(axis=1) == y


def held_out_scores(proba: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(log-loss, accuracy)``: the means of :func:`held_out_losses`."""
    losses, right = held_out_losses(proba, y)
    return float(np.mean(losses)), float(np.mean(right))


def paired_difference(losses: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """``(δ̄, se(δ))`` of the per-series differences ``δ_i = losses_i - reference_i``: their mean
    and its standard error ``sd(δ) / √N`` (0 for a single series)."""
    delta = np.asarray(losses, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    if len(delta) < 2:
        return float(delta.mean()), 0.0
    return float(delta.mean()), float(delta.std(ddof=1) / np.sqrt(len(delta)))


def choose(losses, right, choices=SEGMENT_CHOICES):
    """The first of ``choices`` unless a later one has a higher held-out accuracy *and* a lower
    log-loss than the one chosen so far, and its per-series losses beat the first's by more than
    one standard error (``δ̄ + se(δ) < 0``, :func:`paired_difference`): the simpler model wins ties,
    disagreements and differences within the noise. ``losses`` and ``right``: one row of
    per-series ``-log p(y_i)`` and of correctness per candidate, in the order of ``choices``."""
    return choices[first_unless_beaten(losses, right)]


def first_unless_beaten(losses, right) -> int:
    """:func:`choose`'s rule as the index of the candidate it takes."""
    losses = [np.asarray(row, dtype=np.float64) for row in losses]
    accuracy = [float(np.mean(row)) for row in right]
    best = 0
    for j in range(1, len(losses)):
        mean, se = paired_difference(losses[j], losses[0])
        if accuracy[j] > accuracy[best] and losses[j].mean() < losses[best].mean() and mean + se < 0:
            best = j
    return best


def lowest_loss_beyond_noise(losses) -> int:
    """The rule for a knob turned up step by step (the series features' weight w): the index of the
    first candidate, unless a later one's per-series log-losses beat those of the one taken so far
    by more than one standard error (``δ̄ + se(δ) < 0``, :func:`paired_difference`). Held-out
    accuracy does not vote here: a mixture moves every probability a little, which the log-loss
    weighs and a count of right answers on a few dozen series mostly cannot (Covid3Month_disc
    seed 1, 140 series: w = 0.25 cut the log-loss from 1.107 to 0.959 and w = 0.5 to 0.925, each
    beyond its standard error, at held-out accuracy 0.593 either way; :func:`choose`'s rule kept
    w = 0, test accuracy 0.672, this one takes 0.5, test 0.721). Where the networks are right and
    sure, any mixture raises the loss and w = 0 stays."""
    losses = [np.asarray(row, dtype=np.float64) for row in losses]
    best = 0
    for j in range(1, len(losses)):
        mean, se = paired_difference(losses[j], losses[best])
        if mean + se < 0:
            best = j
    return best


def candidates_for(segment_dropout, conv_max=None) -> list[tuple[int, float, bool]]:
    """The candidates ``(P, dropout, conv_max)``: :data:`SEGMENT_CANDIDATES` when the dropout and
    the maximum are left to the selection (None); with a dropout given, P = 1 and P = 3 at that
    dropout (and P = 1 with the maximum); with ``conv_max`` given, every candidate at it and none
    more."""
    if segment_dropout is None:
        pairs = [(int(p), float(r)) for p, r, m in SEGMENT_CANDIDATES if not m]
    else:
        pairs = [(p, float(segment_dropout)) for p in dict.fromkeys(SEGMENT_CHOICES)]
    if conv_max is not None:
        return [(p, r, bool(_first_member(conv_max))) for p, r in pairs]
    return [(p, r, False) for p, r in pairs] + [(pairs[0][0], pairs[0][1], True)]


def select_conv_segments(classifier, data, warp_copies: int | None = None) -> dict[str, Any]:
    """P (and the parts' dropout, when the options leave it None) for ``classifier`` (its options,
    unfitted) on the labelled :class:`SequenceData` ``data``, by the cross-validation of the module
    docstring. Returns the record saved with the model: ``chosen`` (P) and ``chosen_dropout``,
    ``choices`` and ``dropouts`` (the candidates' P and dropout), ``maxes`` and ``chosen_max`` (the
    conv branch's maximum), ``offsets`` and ``chosen_offsets`` (the start offsets of the blocks the
    model reads with the candidate: more than 1 for the maximum's candidate alone), ``folds``,
    ``unscored_classes`` (the classes of one series, trained on in every fold and not scored),
    ``log_loss`` and ``accuracy`` (one per candidate, in the order of ``choices``; None when skipped),
    ``difference`` (per candidate ``[δ̄, se(δ)]`` against the first, None for the first), ``skipped``
    (None, or why no cross-validation ran) and ``seconds``."""

    started = time.perf_counter()
    params = classifier.get_params()
    candidates = candidates_for(params["segment_dropout"], params["conv_max"])
    added = params["conv_max"] is None  # the maximum's candidate: at the model's resolution
    # the trend candidate, where the options leave it to the selection: the first one read split
    given_trend = params["trend_window"] or None  # 0: off
    added_trend = params["trend_window"] is None
    trends = [given_trend] * len(candidates)
    if added_trend:
        candidates.append(candidates[0])
        trends.append(trend_candidate_window(np.median(data.lengths)))
    choices, dropouts, maxes = ([c[j] for c in candidates] for j in range(3))
    # the model that takes the maximum's candidate added here reads the blocks from several starts
    max_offsets = int(params["fold_offsets"] or MAX_FOLD_OFFSETS)
    offsets = [max_offsets if added and m else 1 for m in maxes]  # (the trend's candidate: no maximum)
    record: dict[str, Any] = {"chosen": choices[0], "chosen_dropout": dropouts[0], "chosen_max": maxes[0],
                              "chosen_offsets": offsets[0], "chosen_trend": trends[0], "choices": choices,
                              "dropouts": dropouts, "maxes": maxes, "offsets": offsets, "trends": trends,
                              **_unscored_record(data, f"P = {choices[0]} kept")}
    folds = record["folds"]
    if not folds:
        return record
    seed = int(params["seed"])
    steps = _selection_steps(params)
    # the candidates at the block width twice the model's in one ensemble, the maximum's (added
    # where the options leave it to the selection) apart at the model's own width, the trend's
    # (added likewise) apart at twice it: it reads other inputs, so it is a model of its own, and
    # the others' fits are the same with and without it
    split = [added_trend and j == len(candidates) - 1 for j in range(len(candidates))]
    groups = [[j for j, m in enumerate(maxes) if not split[j] and (not added or not m)],
              [j for j, m in enumerate(maxes) if not split[j] and added and m],
              [j for j in range(len(candidates)) if split[j]]]
    # every candidate reads the series as the model's first members do (phase_member: off)
    common = {**params, "mixup": _first_member(params["mixup"]), "kernel_scales": (1.0,), "fold_offsets": 1,
              "phase_member": False, "series_member": False, "values_branch": bool(params.get("values_branch")),
              "label_smoothing": label_smoothing_for(params.get("label_smoothing"), data),  # as the model's
              "warp_copies": _copies(params, data, warp_copies),  # as the model's, not the fold's
              "max_steps": steps, "val_fraction": 0.0, "progress": False, "devices": 1, "strategy": "auto",
              # a time budget for the model (minutes) is shared: the selection's networks together
              # take at most half of it, each group its share by its networks
              "max_time": None if params["max_time"] is None
              else params["max_time"] / (2 * folds) / len(choices)}
    options = [{**common, "conv_segments": tuple(choices[j] for j in group),
                "segment_dropout": tuple(dropouts[j] for j in group), "conv_max": tuple(maxes[j] for j in group),
                "ensemble": len(group), "fold_scales": (scale,), "trend_window": trends[group[0]] or 0,
                "max_time": None if common["max_time"] is None else common["max_time"] * len(group)}
               for group, scale in zip(groups, (SELECTION_FOLD_SCALE, MAX_FOLD_SCALE, SELECTION_FOLD_SCALE))
               if group]
    say = progress_printer(params)
    if say:
        say(f"choosing the model on the training series: {folds}-fold cross-validation of "
            f"{len(choices)} candidate networks, {steps} steps each")
    proba = _cross_validated_proba(type(classifier), options, data, seed, say=say, folds=folds)
    proba = proba[np.argsort(groups[0] + groups[1] + groups[2])]  # back in the candidates' order
    best = _score(record, proba, data)
    summary_choice, values_choice = params.get("summary_mix", 0.0), params.get("values_mix", 0.0)
    weigh_values = values_choice is None or params.get("values_branch", False) is None  # the branch's rule reads it
    if summary_choice is None or weigh_values:  # left to the training series: weighed on the same folds
        networks, phases = proba[best], type(classifier)(**params).reads_phases(data)
        if phases:  # the model's last member reads the period's phases: weighed against both readings,
            # the chosen candidate's network and a phase-reading one, averaged as the model's members
            members = int(params["ensemble"])
            option = {**common, "conv_segments": choices[best], "segment_dropout": dropouts[best],
                      "conv_max": maxes[best], "ensemble": 2, "phase_member": True,
                      "fold_scales": (MAX_FOLD_SCALE if added and maxes[best] else SELECTION_FOLD_SCALE,),
                      "trend_window": trends[best] or 0,
                      "max_time": None if common["max_time"] is None else common["max_time"] * 2}
            if say:
                say("and a network reading the period's phases beside the chosen one, on the same folds")
            reader = _cross_validated_proba(type(classifier), [option], data, seed, say=say, folds=folds)[1]
            networks = ((members - 1) * networks + reader) / members
        w, model = summary_choice, networks
        if summary_choice is None:
            record["summary_mix"] = {**select_summary_mix(data, networks, seed, folds=folds),
                                     "phase_member": bool(phases)}
            w = record["summary_mix"]["chosen"]
        if weigh_values and w > 0:  # the values are weighed against the networks with the features at w
            model = (1.0 - w) * networks + w * held_out_model_proba(data, SUMMARY_MIX_FEATURES, seed, folds)
        if weigh_values:
            record["values_mix"] = {**select_values_mix(data, model, seed, folds=folds), "summary_mix": float(w),
                                    "phase_member": bool(phases)}
    record["chosen"], record["chosen_dropout"], record["chosen_max"] = choices[best], dropouts[best], maxes[best]
    record["chosen_offsets"], record["chosen_trend"] = offsets[best], trends[best]
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record


def select_summary_mix(data, proba: np.ndarray, seed: int, choices=SUMMARY_MIX_CHOICES,
                       folds: int = SELECTION_FOLDS) -> dict[str, Any]:
    """The weight w of the series features' probabilities (module docstring): ``proba``
    ``(N, K)``, the networks' held-out probabilities on the folds of ``seed``; the features'
    logistic regression fitted on each fold's complement scores that fold; w by
    :func:`lowest_loss_beyond_noise` (``rule``: ``"log_loss"``; records saved before it have no
    ``rule``: there w was chosen by :func:`choose`'s). Returns ``chosen``, ``rule``,
    ``features`` (:data:`SUMMARY_MIX_FEATURES`), ``choices``, ``log_loss``, ``accuracy`` and
    ``difference`` (per w, as :func:`_score`'s) and ``summary_alone`` (the features' own
    held-out ``[log-loss, accuracy]``)."""
    return select_mix(data, proba, held_out_model_proba(data, SUMMARY_MIX_FEATURES, seed, folds),
                      SUMMARY_MIX_FEATURES, choices)


def select_values_mix(data, proba: np.ndarray, seed: int, choices=VALUES_MIX_CHOICES,
                      folds: int = SELECTION_FOLDS) -> dict[str, Any]:
    """The weight v of the values' probabilities (module docstring): ``proba`` ``(N, K)``, the
    model's held-out probabilities on the folds of ``seed`` with the series features mixed in at
    the w already chosen; the logistic regression on each channel's standardised values at fixed
    places (:func:`lstmkit.tasks.classify_baselines.series_values`, at the points the whole
    training data gives) fitted on each fold's complement scores that fold; v by
    :func:`lowest_loss_beyond_noise`. The record has :func:`select_summary_mix`'s keys
    (``features``: :data:`VALUES_MIX_FEATURES`; ``summary_alone``: the values' own held-out
    ``[log-loss, accuracy]``)."""
    return select_mix(data, proba, held_out_model_proba(data, VALUES_MIX_FEATURES, seed, folds),
                      VALUES_MIX_FEATURES, choices)


def held_out_model_proba(data, features: str, seed: int, folds: int = SELECTION_FOLDS) -> np.ndarray:
    """``(N, K)`` float64, columns in ``data.classes`` order: every training series' probabilities
    from a :class:`lstmkit.tasks.classify_baselines.SummaryStatisticsModel` on ``features``
    fitted on the other folds of the selection's ``folds`` stratified folds of ``seed`` (the rows are
    computed once, at the whole data's points where ``features`` is ``"values"``)."""
    from lstmkit.tasks.classify_baselines import SummaryStatisticsModel

    classes = list(data.classes)
    fold_of = _fold_of(data, folds, seed)
    held_out = np.zeros((len(data), len(classes)), dtype=np.float64)
    rows = SummaryStatisticsModel(features=features).feature_rows(data)  # per series: once for the folds
    for k in range(folds):
        held, rest = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
        model = SummaryStatisticsModel(features=features).fit(data.subset(rest), classes=classes, rows=rows[rest])
        held_out[held] = model.predict_proba(None, rows=rows[held])
    return held_out


def select_mix(data, proba: np.ndarray, held_out: np.ndarray, features: str, choices) -> dict[str, Any]:
    """The weight of ``held_out`` (a logistic regression's held-out probabilities on
    ``features``) in ``(1 - w) proba + w held_out``, w from ``choices`` (the first kept) by
    :func:`lowest_loss_beyond_noise` on the per-series log-losses; the record of
    :func:`select_summary_mix`."""
    scored = held_out_series(data)  # a class of one series: trained on in every fold, never scored
    truth = data.label_indices(list(data.classes))[scored]
    held_out = np.asarray(held_out, dtype=np.float64)[scored]
    mixes = [(1.0 - w) * np.asarray(proba, dtype=np.float64)[scored] + w * held_out for w in choices]
    losses, right = zip(*(held_out_losses(m, truth) for m in mixes))
    return {"chosen": float(choices[lowest_loss_beyond_noise(losses)]), "rule": "log_loss",
            "features": features, "choices": [float(w) for w in choices],
            "log_loss": [round(float(np.mean(row)), 6) for row in losses],
            "accuracy": [round(float(np.mean(row)), 6) for row in right],
            "difference": [None] + [[round(v, 6) for v in paired_difference(row, losses[0])] for row in losses[1:]],
            "summary_alone": [round(v, 6) for v in held_out_scores(held_out, truth)]}


def describe_summary_mix(record: dict[str, Any]) -> str:
    """One line for the report: the series features' (or, in a record saved before them, the
    summary statistics'; or the values', :func:`select_values_mix`'s record) weight and its
    evidence, each weight's paired log-loss difference against 0 with its standard error."""
    values = record.get("features") == VALUES_MIX_FEATURES
    name = ("values at fixed places" if values else
            "series features" if record.get("features") == "series" else "summary statistics")
    symbol = "v" if values else "w"
    differences = record.get("difference") or [None] * len(record["choices"])
    cells = ", ".join(f"{symbol} = {w:g}: log-loss {loss:.3f}"
                      + ("" if d is None else
                         f" ({d[0]:+.3f} ± {d[1]:.3f} against {symbol} = {record['choices'][0]:g})")
                      + f", accuracy {acc:.3f}"
                      for w, loss, acc, d in zip(record["choices"], record["log_loss"], record["accuracy"],
                                                 differences))
    alone = record["summary_alone"]
    before = "the networks alone" if not values else (
        "the model without them" + (f", the series features at w = {record['summary_mix']:g}"
                                    if record.get("summary_mix") else ""))
    what = (f"{symbol} = {record['chosen']:g} of their logistic regression mixed into the prediction"
            if record["chosen"] else f"not mixed into the prediction ({symbol} = 0: {before})")
    if record.get("branch"):  # values_branch=None took the branch (wants_values_branch)
        applied = float(record.get("applied", 0.0))  # a weight given beside the branch (--values-mix)
        what = (f"read by every network's values branch " + ("instead of mixed in" if not applied else
                f"and mixed in at the {symbol} given") + f" ({symbol} = {applied:g}; the rule took "
                f"{symbol} = {record['chosen']:g})")
    how = "by the held-out log-loss on the same folds" if record.get("rule") == "log_loss" else "on the same folds"
    if record.get("phase_member"):
        how += ", against the networks' probabilities there with a phase-reading network's, averaged as the model's members"
    if values and record.get("summary_mix"):
        how += f", mixed with the series features' at w = {record['summary_mix']:g}"
    return (f"{name}: {what}, chosen {how} ({cells}; the {name} alone: "
            f"log-loss {alone[0]:.3f}, accuracy {alone[1]:.3f})")


#: The resolution candidates' stand-ins, in the order the rule weighs them: the multi-resolution
#: ensemble's coarsest member (its broad view is what the other members add), then every member
#: at d (``fold_scales=(1,)``).
RESOLUTION_STANDINS = (4.0, 1.0)


def select_fold_scales(classifier, data, segments, segment_dropout, scales, conv_max=False,
                       trend_window=None, warp_copies: int | None = None) -> dict[str, Any]:
    """``fold_scales=None`` on series read whole (:func:`lstmkit.tasks.classify.automatic_fold_scales`
    gives ``scales``, 1/2/4): keep the members at ``scales`` or read every member at full
    resolution (``(1,)``), by the same cross-validation and rule as the parts (:func:`choose`).

    Two networks per fold, trained together at the chosen P, dropout, maximum and trend window
    (``trend_window``, None: off): one reading blocks of
    ``max(scales)`` steps (the broad view the coarser members bring; Tecator_disc seed 0: every
    member at 4 scored 0.953 on its test split, as 1/2/4 did), one reading every step. The
    multi-resolution ensemble is kept unless the full-resolution network is better on both
    held-out measures and beyond one standard error of the paired log-losses. Measured (Zen 3,
    seed 0, held-out log-loss / accuracy, blocks of 4 against 1): BME 0.759 / 0.733 against
    0.300 / 0.867 (every member at 1: test 0.887 against 0.807), Tecator_disc 0.395 / 0.843
    against 0.561 / 0.773 (1/2/4 kept: test 0.977 against 0.884 for one resolution); GunPoint
    and CBF keep 1/2/4 (benchmarks/README.md, "One resolution or three").

    Returns the record saved with the model (:attr:`Classifier.resolution_selection`):
    ``chosen`` (the fold scales), ``choices``, ``standins``, ``folds``, ``unscored_classes``, ``log_loss``,
    ``accuracy``, ``difference``, ``skipped`` and ``seconds`` as :func:`select_conv_segments`'."""

    started = time.perf_counter()
    params = classifier.get_params()
    choices = [tuple(float(s) for s in scales), (1.0,)]
    standins = [float(max(scales)), 1.0]
    record: dict[str, Any] = {"chosen": choices[0], "choices": choices, "standins": standins,
                              **_unscored_record(data, f"fold scales {_scales(choices[0])} kept")}
    folds = record["folds"]
    if not folds:
        return record
    seed = int(params["seed"])
    steps = _selection_steps(params)
    options = {**params, "conv_segments": int(_first_member(segments)),
               "segment_dropout": float(_first_member(segment_dropout)), "conv_max": bool(_first_member(conv_max)),
               "trend_window": trend_window or 0, "mixup": _first_member(params["mixup"]),
               "ensemble": len(standins), "fold_scales": tuple(standins), "kernel_scales": (1.0,),
               "phase_member": False, "series_member": False, "values_branch": bool(params.get("values_branch")),
               "label_smoothing": label_smoothing_for(params.get("label_smoothing"), data), "fold_offsets": 1,
               "warp_copies": _copies(params, data, warp_copies),  # as the model's
               "max_steps": steps, "val_fraction": 0.0, "progress": False, "devices": 1,
               "strategy": "auto",
               # with a time budget (minutes), these networks together take at most a quarter of it
               "max_time": None if params["max_time"] is None else params["max_time"] / (4 * folds)}
    say = progress_printer(params)
    if say:
        say(f"choosing the members' resolution: {folds}-fold cross-validation of "
            f"{len(standins)} networks, {steps} steps each")
    proba = _cross_validated_proba(type(classifier), [options], data, seed, say=say, folds=folds)
    record["chosen"] = choices[_score(record, proba, data)]
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record


def _copies(params: dict[str, Any], data, warp_copies: int | None) -> int:
    """The warped copies a selection's networks train with: ``warp_copies`` where given (the
    model's count after :func:`lstmkit.tasks.classify_copies.select_warp_copies` weighed them),
    else the options' rule (:func:`lstmkit.tasks.classify_augment.warp_copies_for`)."""
    return warp_copies_for(params.get("warp_copies", 0), data) if warp_copies is None else int(warp_copies)


def _unscored_record(data, kept: str) -> dict[str, Any]:
    """A selection record's folds and scores before any fold ran: ``folds``, ``unscored_classes``,
    ``log_loss``, ``accuracy``, ``difference`` (None), ``skipped`` (None, or why no folds run on
    ``data`` and ``kept``, what is kept then) and ``seconds`` (0)."""
    folds = selection_folds(data)
    return {"folds": folds, "unscored_classes": _single_series_classes(data), "log_loss": None, "accuracy": None,
            "difference": None, "skipped": None if folds else _no_folds(data, kept), "seconds": 0.0}


def _no_folds(data, kept: str) -> str:
    """Why a selection on ``data`` ran no folds (:func:`selection_folds` 0), and what it kept."""
    held = int(np.sum(_class_counts(data) >= 2))
    return f"{'no class has' if held == 0 else 'only 1 class has'} two or more training series to hold out: {kept}"


def _class_counts(data) -> np.ndarray:
    """The number of training series of each class present in ``data``."""
    _, counts = np.unique(np.asarray(data.labels).astype(str), return_counts=True)
    return counts


def _fewest_per_class(data) -> int:
    """The number of training series of the rarest class."""
    return int(_class_counts(data).min())


def _single_series_classes(data) -> int:
    """The number of classes of ``data`` with a single training series."""
    return int(np.sum(_class_counts(data) < 2))


def _fold_of(data, folds: int, seed: int) -> np.ndarray:
    """Every training series' fold for the selection: the stratified folds of ``seed``
    (:func:`lstmkit.data.sequence_data.stratified_folds`), -1 (in every fold's training series,
    never held out) for a class of one series (:func:`held_out_series`)."""
    from lstmkit.data.sequence_data import stratified_folds

    fold_of = stratified_folds(data.labels, folds, seed=seed)
    fold_of[~held_out_series(data)] = -1
    return fold_of


def _unscored_note(record: dict[str, Any]) -> str:
    """``", k classes of a single series trained on in every fold and not held out"`` for a record
    whose selection left such classes out of its scores; ``""`` otherwise (records saved before
    have no ``unscored_classes``)."""
    unscored = int(record.get("unscored_classes") or 0)
    if not unscored:
        return ""
    return (f", {unscored} {'class' if unscored == 1 else 'classes'} of a single series trained on "
            f"in every fold and not held out")


def _selection_steps(params: dict[str, Any]) -> int:
    """:data:`SELECTION_STEPS`, or the model's own ``max_steps`` when that is smaller."""
    return SELECTION_STEPS if params["max_steps"] is None else min(int(params["max_steps"]), SELECTION_STEPS)


def _first_member(value):
    """A per-member option's first member's value (a tuple or list), else the value itself."""
    return value[0] if isinstance(value, (tuple, list)) else value


def _score(record: dict[str, Any], proba: np.ndarray, data) -> int:
    """Every candidate's held-out log-loss and accuracy and its paired per-series log-loss
    difference against the first (with its standard error) into ``record``, from the held-out
    probabilities ``(candidates, N, K)``; returns the index :func:`choose` takes."""
    scored = held_out_series(data)  # a class of one series: trained on in every fold, never scored
    truth = data.label_indices(list(data.classes))[scored]
    losses, right = zip(*(held_out_losses(proba[m][scored], truth) for m in range(len(proba))))
    record["log_loss"] = [round(float(np.mean(row)), 6) for row in losses]
    record["accuracy"] = [round(float(np.mean(row)), 6) for row in right]
    record["difference"] = [None] + [[round(v, 6) for v in paired_difference(row, losses[0])] for row in losses[1:]]
    return choose(losses, right, list(range(len(proba))))


def _cross_validated_proba(estimator, options: list[dict[str, Any]], data, seed: int,
                           say: Callable[[str], None] | None = None, folds: int = SELECTION_FOLDS) -> np.ndarray:
    """Every member's held-out class probabilities ``(members, N, K)``, the members of
    ``estimator(**options[0])`` first, then those of ``options[1]``..: for each of the
    ``folds`` stratified folds (:data:`SELECTION_FOLDS` unless given), each such estimator fitted
    on the others scores it
    (in turn, so the first's fits are the same with or without the later ones). torch's global
    generator is left as it was, so the model's own fit starts where it would have without the
    selection. ``say``, where given, is told each fold's end (``fold k/K: N s``)."""
    fold_of = _fold_of(data, folds, seed)
    members = sum(int(o["ensemble"]) for o in options)
    proba = np.zeros((members, len(data), len(data.classes)))
    rng_state = torch.random.get_rng_state()
    started = time.perf_counter()
    for k in range(folds):
        held = np.flatnonzero(fold_of == k)
        first = 0
        for group in options:
            model = estimator(**group).fit(data.subset(np.flatnonzero(fold_of != k)))
            count = int(group["ensemble"])
            proba[first:first + count, held] = model.member_proba(data.subset(held))  # subset keeps the class order
            first += count
        if say:
            say(f"  fold {k + 1}/{folds}: {time.perf_counter() - started:.0f} s")
    torch.random.set_rng_state(rng_state)
    return proba


def describe_resolution(record: dict[str, Any]) -> str:
    """One line for the report: the members' resolutions and the evidence."""
    chosen = _scales(record["chosen"])
    if record["skipped"]:
        return f"fold scales: {chosen} ({record['skipped']})"
    first = f"blocks of {record['standins'][0]:g}"
    cells = ", ".join(f"blocks of {s:g}: log-loss {loss:.3f}"
                      + ("" if diff is None else f" ({diff[0]:+.3f} ± {diff[1]:.3f} against {first})")
                      + f", accuracy {acc:.3f}"
                      for s, loss, acc, diff in zip(record["standins"], record["log_loss"], record["accuracy"],
                                                     record["difference"]))
    return (f"fold scales: {chosen} chosen by {record['folds']}-fold cross-validation on the training series"
            f"{_unscored_note(record)} ({cells}; {record['seconds']:.0f} s)")


def _scales(scales) -> str:
    return "/".join(f"{float(s):g}" for s in scales)


def describe(record: dict[str, Any]) -> str:
    """One line for the report: what was chosen and on what evidence."""
    if record["skipped"]:
        return f"conv segments: P = {record['chosen']} ({record['skipped']})"
    n = len(record["choices"])
    dropouts = record.get("dropouts") or [0.0] * n  # records saved before the dropout's choice
    maxes = record.get("maxes") or [False] * n  # records saved before the maximum's choice
    trends = record.get("trends") or [None] * n  # records saved before the trend's choice
    # records saved before the margin have no differences
    differences = record.get("difference") or [None] * n
    first = _candidate(record["choices"][0], dropouts[0], maxes[0], trends[0])
    cells = ", ".join(f"{_candidate(p, r, m, t)}: log-loss {loss:.3f}"
                      + ("" if diff is None else f" ({diff[0]:+.3f} ± {diff[1]:.3f} against {first})")
                      + f", accuracy {acc:.3f}"
                      for p, r, m, t, loss, acc, diff in zip(record["choices"], dropouts, maxes, trends,
                                                             record["log_loss"], record["accuracy"], differences))
    chosen = _candidate(record["chosen"], record.get("chosen_dropout", 0.0), record.get("chosen_max", False),
                        record.get("chosen_trend"))
    return (f"conv segments: {chosen} chosen by {record['folds']}-fold cross-validation "
            f"on the training series{_unscored_note(record)} ({cells}; {record['seconds']:.0f} s)")


def _candidate(segments: int, dropout: float, conv_max: bool = False, trend: int | None = None) -> str:
    return (f"P = {segments}" + (f" (dropout {dropout:g})" if segments > 1 and dropout > 0 else "")
            + (" with the maximum" if conv_max else "") + (f" split at a trend of {trend}" if trend else ""))
