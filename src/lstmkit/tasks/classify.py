r"""Sequence classification (speech features included): ``lstmkit.Classifier``.

A sequence ``x_1..x_L`` (L may differ between sequences; C channels) is standardised per
channel (mean and standard deviation over the training set; or by its own mean and standard
deviation, ``scaling="auto"``, when that global scale would leave most training series nearly
flat, :func:`flat_share`; what that takes away, each series' level and scale, then comes back
as 2C channels constant in time, ``series_stats=True``, :func:`series_statistics`) and read
by an LSTM-FCN (Karim et al. 2017; see :mod:`lstmkit.tasks.classify_net`): a
(bidirectional) lstmkit LSTM with its true length (no padded noise enters the recurrence:
outputs past a sequence's end are zero and its final state is the one at its last real step),
pooled to one vector, beside a fully
convolutional branch (Conv1d 128/256/128, kernels 8/5/3, BatchNorm with its batch statistics
over the real steps of unequal-length batches, ``masked_norm=True``, ReLU, squeeze-and-excite,
global average over the real steps); both vectors, concatenated, map to class probabilities
by a softmax::

    h_1..h_S = LSTM(x_1..x_S)                    (S patches, below)
    z = [pool(h_1..h_S); GAP(FCN(x_1..x_L))]     pool: last, mean or attention
    p(class | x) = softmax(U z + b)

While training, the LSTM's pooled vector passes through dropout 0.8 before the head
(``lstm_dropout``, LSTM-FCN's own), so the head keeps learning from the convolutional
features after the LSTM alone has fitted the training set.
``conv_branch=False`` leaves the LSTM branch alone (the classifier before LSTM-FCN). By
default three such networks (``ensemble=3``), each from its own random start, are trained
together on the same batches and averaged in probability (a deep ensemble; on the small UCR
sets one network's test accuracy varied by up to 0.07 between seeds).

Where the training series' cross-validation (the selection of P, :mod:`lstmkit.tasks.classify_select`)
shows that each channel's 30 series features (the values' distribution, moments, autocorrelation,
spectrum and thirds: :func:`lstmkit.tasks.classify_baselines.series_features`) separate the classes
better than the networks learn from few series, the prediction mixes in their logistic regression
(:class:`lstmkit.tasks.classify_baselines.SummaryStatisticsModel`)::

    p(class | x) = (1 - w) p_networks(class | x) + w p_features(class | x),   w in {0, 0.25, 0.5}

(``summary_mix``; w = 0, the networks alone, unless a mixture's per-series held-out log-losses
beat the networks' beyond one standard error: ``classify_select.lowest_loss_beyond_noise``).
After w, by the same folds and rule, the logistic regression on each channel's standardised
values at fixed places of the series (:func:`lstmkit.tasks.classify_baselines.series_values`:
where a shape lies, in aligned series) may be mixed in too::

    p(class | x) = (1 - v) p_w(class | x) + v p_values(class | x),   v in {0, 0.25, 0.5}

(``values_mix``; v = 0 unless the folds show the mixture beyond one standard error).

Training (the defaults, one recipe for every data set): cross-entropy (``label_smoothing=e``:
against (1 - e) on the true class plus e / K on every class; ``None``, the default: 0, but 0.1
where the median class has 2 training series, fewer than the selection's 3 folds (it runs on 2
then, its networks at the same e), where the networks otherwise learn a class's two series by
heart with full confidence (:data:`lstmkit.tasks.classify_select.FEW_SERIES_LABEL_SMOOTHING`; with many
series per class 0.1 cost ArrowHead 0.044, benchmarks/README.md), Adam at 1e-3 with a
linear warm-up (50 steps) and a cosine decay to 5 %, batches of 16, gradient clipping, and a
budget of ``max_steps=1000`` optimizer steps whatever the data size (the epochs follow:
``min(max_epochs, ceil(max_steps / batches per epoch))``), so a set of 100 series and one of
2,400 get the same number of updates; ``max_epochs=300`` caps the smallest sets (48 series or
fewer, 3 batches or fewer: ArrowHead's 36 stop at 900 steps, UnitTest's 20 at 600). Where the
median class has a single training series (``warp_copies=None``), the networks train on every
series and 9 copies of it read along smooth random time warps of strength 0.1
(:mod:`lstmkit.tasks.classify_augment`): one series shows a class at one timing only, and
nothing can be held out to choose otherwise (ten sets at one series per class, seeds 0-2: 0.603 ->
0.684, MiniRocket 0.680; benchmarks/README.md, "Time-warped copies"); where it has two, on 4
copies, unless a 2-fold cross-validation on the training series says they cost
(:mod:`lstmkit.tasks.classify_copies`: 12 sets cut to two per class 0.783 -> 0.800, MiniRocket
0.788; PigCVP keeps its 0.941 where the copies alone give 0.909). With
``val_fraction=0`` (the default) every training series is used and the weights with the lowest
training loss are kept (as the published LSTM-FCN chose its models); ``val_fraction > 0`` holds out a stratified split for early
stopping on the validation loss instead.

Long sequences are first downsampled: with ``downsample=d`` every d consecutive time steps
become one, for both branches, in training and prediction alike. By default
(``downsample_mode="fold"``) they are folded: the block's d steps of C channels are laid side
by side as one step of d*C values, ``x'_j = [x_{jd}; x_{jd+1}; ..; x_{jd+d-1}]`` (the last
block filled by repeating the last step), so nothing is lost and the first convolution (a
kernel of 8 folded steps: 8d raw steps at stride d) can still see shapes finer than a block.
``downsample_mode="mean"`` averages the block instead (the previous default),
``x'_j = (1/|B_j|) Σ_{t∈B_j} x_t`` with ``B_j = {jd..min(jd+d, L)-1}``; averaging erased
detail finer than d steps (ACSF1, 1460 steps, d = 11, whose series repeat a pattern every 4
steps: seed 0, 0.800 averaged, 0.850 folded). The default picks
``d = max(1, round(median length / 128))``: series up to about 190 steps are read whole, a
251-step series in pairs, a 1460-step one in blocks of 11 (the convolutional branch's
receptive field, 14 steps, then spans a larger share of the series, and its cost falls by
about d). When the training series repeat a pattern with a period p of at most d steps
(``align_period=True``, the default; :func:`dominant_period`: the peak of their mean amplitude
spectrum, with a mean autocorrelation of at least 0.5 at lag p), d is made the multiple of p
nearest to median / 128, ``d = p * max(1, round(median / (128 p)))``, so that every block
starts at the same phase of the cycle and a folded step's channels always hold the same points
of it (ACSF1: p = 4, d = 12 instead of 11; seeds 0-2 0.900, 0.900, 0.890 against 0.840, 0.860,
0.870). Series whose strongest period is longer than a block keep round(median / 128), and so
does ``downsample_mode="mean"`` (averaging a block of whole periods would erase the pattern).
With d aligned to p and more than one member (``phase_member=True``, the default), the last
member reads the series as p channels, one per phase of the period,
``u_{j, i} = x_{jp + i}``, each standardised by its own mean and std within the series and
followed by its level and scale (:meth:`Classifier.phase_channels`), folded at d / p: where
the period's points are quantities written in turn at very different scales (ACSF1: one phase
nearly constant at the series' maximum, another moving by a hundredth of the spread), the
other members see the small ones flat and this one sees each at unit scale; their errors
differ, and the average gains (ACSF1, seeds 0-2, the members from separate fits: the folded
ensemble 0.89, 0.90, 0.87; a phase-reading one alone 0.86, 0.84, 0.83; two folded members
with one phase-reading 0.94, 0.92, 0.91).

``fold_scales`` makes the ensemble multi-resolution: member m reads blocks of
``d_m = max(1, round(d * s_m))`` steps (the scales taken in turn; with d aligned to a period p,
``d_m = p * max(1, round(d s_m / p))``; no member in fewer than about 16 blocks). By default
(None, :func:`automatic_fold_scales`) the members of a series read whole (d = 1, 64 steps or
more) read it in blocks of 1, 2 and 4 steps, unless a quick cross-validation on the training
series finds one network reading every step better than one reading blocks of 4 on both
held-out log-loss and accuracy, beyond one standard error (then every member reads every step:
:func:`lstmkit.tasks.classify_select.select_fold_scales`, the record
:attr:`Classifier.resolution_selection`); every member reads at d otherwise;
``(1, 0.5, 2)`` at d > 1 was measured and not adopted (see benchmarks/README.md). ``kernel_scales``
gives member m its own convolution widths, ``k_{m,j} = max(1, round(k_j s_m))``
(:func:`member_kernels`); by default (None) the three members read 8/5/3, 12/8/5 and 16/10/6
when the series are at least 64 (downsampled) steps long, and 8/5/3 alike below that
(:func:`automatic_kernel_scales`).

``conv_segments=P`` has the convolutional branch average its last block's features over P
equal parts of every series beside the global average
(:func:`lstmkit.tasks.classify_net.segment_means`), so that the head learns where a shape lies as
well as whether it occurs: a bell at the start of a series and one at its end have the same
global average. Whether the place matters is the data's to say: by default (None) P is 1 or 3,
and the parts' dropout in training (``segment_dropout``) 0 or 0.8, whichever of (1, 0), (3, 0),
(3, 0.8) a quick 3-fold cross-validation on the training series finds better in both held-out
log-loss and accuracy than the ones before it and better than P = 1 by more than one standard
error of the per-series log-loss differences, 1 on a tie (:mod:`lstmkit.tasks.classify_select`;
the record is :attr:`Classifier.segment_selection`). P = 3 for every set was measured and not adopted
(benchmarks/README.md): it took the generated BME from 0.631 to 0.769 and Tecator_disc from
0.930 to 0.961, and cost Covid3Month_disc 0.055 and PickupGestureWiimoteZ 0.013; on PigCVP
(folded, two training series per class, too few to cross-validate) 0.933 -> 0.721.
``segment_dropout`` drops the parts' averages in training as ``lstm_dropout`` does the LSTM's
vector (given with P = 3 for every set, 0.8: BME 0.769 -> 0.822, Covid3Month_disc level,
Tecator_disc 0.961 -> 0.884; None, the default: 0 with a P given, chosen beside P otherwise).

``conv_max=True`` has the convolutional branch give the global maximum of its last block's
features beside their global average (:class:`lstmkit.tasks.classify_net.ConvBranch`): whether a
shape occurs anywhere, which a short shape in a long noisy series moves by little in the average
(ShapeletSim, a 30-step shape in 500 steps of noise, 20 training series: 0.63 without it, 0.99
with). By default (None) it is the selection's fourth candidate, P = 1 with the maximum, whose
network reads the model's own block width (at twice the width the short shape blurs); given,
it holds for every candidate; with P given and no selection, it is off unless given.

``channel_bottleneck=B`` (128 by default; 0: never) maps the C channels of every raw time step
to B by one learned matrix before both branches where C > B
(:meth:`lstmkit.tasks.classify_net.ClassifierNet.project`, InceptionTime's bottleneck, a spatial
filter as for a sensor array): many channels (480 in the generated SensorArray, up to 1,345 in
UEA's sets) then cost the first convolution and the LSTM's input weights B per step instead of
C (SensorArray: 1.000 either way, in 1575 s against 2939 s). 128 is the first convolution's
number of filters, which already map every tap's C values to 128; below 129 channels, every set
measured here, nothing changes. The time steps folded into a block are left apart (mapping the folded d*C values jointly lost
WanderingSines' trend split: benchmarks/README.md, "A channel bottleneck").

``fold_offsets=n`` also reads a folded series (d > 1) from later starts:
view j drops the first ``o_j`` steps before folding (:func:`block_offsets`: ``o_j = round(j d / n)``,
whole periods when d is aligned, at most d views), the networks train on every view of every
series within the same step budget, and the predicted probabilities are averaged over the
views. Folding cuts a series at fixed places, so the convolutions are equivariant to shifts by
whole blocks only; the views give some of the raw steps' equivariance back. As a default for
every set it was measured and not adopted (benchmarks/README.md): ArrowHead (d = 2) gained on
every seed, ACSF1, OSULeaf, Watch and PigCVP did not. By default (None) it is 1, and
:data:`lstmkit.tasks.classify_select.MAX_FOLD_OFFSETS` (4) where the selection takes the
maximum's candidate on folded series: a short shape anywhere must be found at every phase of
the blocks, which 20 training series do not show the networks by themselves (ShapeletSim,
d = 4, seed 1: 0.906 from one offset, 1.000 from four); the selection's network for that
candidate reads one offset (with four there it was also taken where it cost test accuracy).

Long sequences are then read by the LSTM in patches: with ``patch=k`` each LSTM step sees k
consecutive time steps (k*C values, the last step repeated to fill the final patch), so a
150-step series is 15 LSTM steps of 10 values (as in PatchTST, Nie et al. 2023). The default
picks k so that the median sequence becomes about 16 steps (``patch_steps=16``; k = 1 for
short sequences such as speech frames). The convolutional branch reads every (downsampled) time step.
``patch="series"`` makes the longest training series one LSTM step (LSTM-FCN's dimension
shuffle, Karim et al. 2017: the gates read every value of a series at once, ``h =
LSTM(x_1..x_T as one input)``); re-running LSTM-FCN showed that view to carry its ArrowHead
figure (the FCN alone 0.771, with the one-step LSTM 0.823-0.886, seed 0), and in lstmkit it gains
ArrowHead 0.842 -> 0.872 (seeds 0-2) but costs OSULeaf 0.033, Tecator_disc 0.047 and PigCVP
0.933 -> 0.798 (2,000 values in one step from two series per class), so it is not the default (benchmarks/README.md, "LSTM-FCN re-run
here"). ``series_member=True`` gives that view to one member alone (the last not reading the
period's phases, :func:`series_member_index`; it needs patch=None and two or more members): ArrowHead +0.011
over seeds 0-2, PigCVP -0.005 and OSULeaf -0.021 (seed 0), so it is off too.

``values_branch`` puts that view *beside* both branches instead: every network gets a one-step
LSTM on the series' steps at Q fixed places (:func:`values_places`,
:meth:`lstmkit.tasks.classify_net.ClassifierNet.values_features`). Always on it gains ArrowHead
(0.874-0.891 on seeds 0-2) and costs OSULeaf 0.037 and PigCVP 0.13 (seed 0), where the values at
fixed places tell little; by default (None) each network gets it only where the selection's
weighing of the values' logistic regression takes a mixture (:mod:`lstmkit.tasks.classify_select`,
``wants_values_branch``), and then the values are not mixed in as well (``values_mix`` 0):
ArrowHead seeds 1, 2 and 4 (0.840 -> 0.874, 0.874, 0.880) and ItalyPowerDemand seed 2
(benchmarks/README.md, "The values branch").

``augment=F`` (off by default) trains on random windows of ``(1 - F)`` of every sequence
(window slicing, :func:`lstmkit.tasks.classify_net.slice_windows`); prediction reads whole
sequences. Where the place of a shape is the class a window drops the evidence: with the
current recipe F = 0.25 cost BME 0.16, Tecator_disc 0.14 and ItalyPowerDemand 0.025 (seed 0) for
+0.02 on ArrowHead and noise on PigCVP, so it stays off (benchmarks/README.md, "Screened, not
adopted").

``trend_window=W`` reads every standardised channel as two, its trend (a centred
moving average of W steps) and its detail around it (:func:`trend_split`): where the class lies
in a faster oscillation over a slow wander, such as a random walk several times its height
(benchmarks/generated_sets.py's WanderingSines), the networks otherwise fit the wander of each
training series and learn nothing that carries to new ones; MiniRocket's kernels, whose weights
sum to zero, never see a level. By default (None) it is a candidate of the selection of P
(:mod:`lstmkit.tasks.classify_select`): P = 1 read split at ``W = round(median length / 16)``,
a model of its own in the cross-validation, taken only where it beats the others on the
training series' held-out folds beyond one standard error; 0 keeps it off, W gives it
(benchmarks/README.md, "Long series over a random walk").

``mixup=α`` (:func:`lstmkit.tasks.classify_net.mix_batch`, Zhang et al. 2018) trains on every
batch mixed with a shuffled copy of itself, ``x' = λ x_i + (1 - λ) x_π(i)`` with
``λ ~ Beta(α, α)``, against the same mixture of the two cross-entropies; prediction reads the
series unmixed. It keeps a small training set's incidental cue (BME: the plate's sign) from
deciding the class alone (benchmarks/README.md, "Mixup"). ``mixup=(α_1, .., α_M)`` gives every
member its own α (:func:`lstmkit.tasks.classify_net.mix_members`: members at 0 read the batch
unmixed, all share one pairing), so members with and without it train on the same batches.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmkit.errors import InputError, param_ref
from lstmkit.tasks.base import EncoderView, Estimator, net_options
from lstmkit.tasks.classify_baselines import SummaryStatisticsModel
from lstmkit.tasks.classify_augment import WARP_STRENGTH, warp_copies_for, warped_copies
from lstmkit.tasks.classify_copies import select_warp_copies
from lstmkit.tasks.classify_select import (SUMMARY_MIX_FEATURES, VALUES_MIX_FEATURES, label_smoothing_for,
                                           progress_printer, select_conv_segments, select_fold_scales,
                                           selection_folds, wants_values_branch)
from lstmkit.tasks.classify_net import (POOLINGS, ClassifierEnsemble, ClassifierNetConfig, ClassifierNetOptions,
                                       mix_batch, mix_members, slice_windows)
from lstmkit.train import TrainingConfig, fit

KIND = "classifier"
DOWNSAMPLE_MODES = ("fold", "mean")
SCALINGS = ("auto", "global", "series")
#: A series (one channel of it) reaches the networks *nearly flat* under the global scale when
#: its standard deviation is below this share of the channel's standard deviation over all
#: training values.
FLAT_STD_RATIO = 0.1
#: ``scaling="auto"`` standardises every series by its own statistics when more than this share
#: of the training series (and channels) would be nearly flat under one global scale
#: (:func:`flat_share`).
FLAT_SERIES_SHARE = 0.5
#: ``patch=None``: the median (downsampled) series becomes about this many LSTM steps
#: (``patch_steps``; 4 measured, not adopted: benchmarks/README.md, "The LSTM's number of steps").
PATCH_STEPS = 16


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix
    (rows: true class, columns: predicted)."""
    k = len(classes)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    per_class = {}
    f1s = []
    for i, name in enumerate(classes):
        tp = matrix[i, i]
        predicted, actual = matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[str(name)] = {"precision": float(precision), "recall": float(recall),
                                "f1": float(f1), "support": int(actual)}
        if actual:
            f1s.append(f1)
    return {
        "accuracy": float(np.trace(matrix) / max(1, matrix.sum())),
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
        "classes": [str(c) for c in classes],
    }


@dataclass(kw_only=True)
class ClassifierParams(ClassifierNetOptions):
    """The user's choices (all saved with the model)."""

    downsample: int | None = None  # None: d = max(1, round(median length / 128)) steps made into one (aligned below)
    downsample_mode: str = "fold"  # fold: d steps of C channels become one step of d*C; mean: their average
    align_period: bool = True  # automatic d: a multiple of the series' dominant period when that is strong
    # d aligned to a period p (and more than one member): the last member reads the p phases of the
    # period as channels of their own, each standardised within its series (phase_channels)
    phase_member: bool = True
    scaling: str = "auto"  # global: one mean/std per channel; series: each series its own; auto: see fit
    series_stats: bool = True  # series scaled alone: their level and scale as constant channels
    fold_scales: tuple[float, ...] | None = None  # member m at max(1, round(d * s_m)); None: automatic_fold_scales
    # d > 1: train on and average over this many start offsets of the blocks; None: 1, or
    # MAX_FOLD_OFFSETS where the selection takes the maximum's candidate (classify_select)
    fold_offsets: int | None = None
    kernel_scales: tuple[float, ...] | None = None  # member m's conv kernels round(k * s_m); None: automatic_kernel_scales
    # None: the median (downsampled) sequence becomes about patch_steps LSTM steps; "series": the longest
    # training series is one LSTM step (LSTM-FCN's dimension shuffle: the gates read every value)
    patch: int | str | None = None
    patch_steps: int = PATCH_STEPS  # patch=None: the median series becomes about this many LSTM steps
    # patch=None and more than one member: the last member not reading the period's phases reads
    # the longest training series as one LSTM step (patch="series" for that member alone)
    series_member: bool = False
    # beside both branches, a one-step LSTM reading each series' steps at fixed places (values_places:
    # at most VALUES_BRANCH_COLUMNS values), LSTM-FCN's dimension shuffle; None: on where the
    # selection's weighing of the values takes a mixture (classify_select.wants_values_branch),
    # and then values_mix 0, else off
    values_branch: bool | None = None
    augment: float = 0.0  # window slicing: train on random windows of (1 - augment) of each sequence
    # W >= 2: every channel read as two, its detail around a centred moving average of W steps and
    # that average (trend_split: a slow wander apart from the faster shapes); 0: off; None: a
    # candidate of the selection when P is chosen (classify_select), else off
    trend_window: int | None = None
    # the weight w of the series features' logistic regression in the prediction, (1 - w)
    # p_networks + w p_features (classify_baselines.SummaryStatisticsModel); 0: the networks
    # alone; None: chosen from classify_select.SUMMARY_MIX_CHOICES on the selection's folds when P
    # is chosen, else 0
    summary_mix: float | None = None
    # the weight v of the values' logistic regression (each channel's standardised values at fixed
    # places, classify_baselines.series_values), mixed in after w: (1 - v) p_w + v p_values; 0:
    # never; None: chosen from classify_select.VALUES_MIX_CHOICES on the selection's folds when P
    # is chosen, else 0
    values_mix: float | None = None
    val_fraction: float = 0.0  # > 0: a stratified split for early stopping (else: lowest training loss)
    max_steps: int | None = 1000  # optimizer steps: max_epochs = min(max_epochs, ceil(max_steps / batches))
    # P parts of the series beside the conv branch's global average (or one P per member); None:
    # chosen from SEGMENT_CHOICES by a quick cross-validation on the training series (classify_select)
    conv_segments: int | tuple[int, ...] | None = None
    # dropout on the parts' averages (or one per member); None: 0 when P is given, chosen with P
    # when it is not (classify_select)
    segment_dropout: float | tuple[float, ...] | None = None
    # the conv branch's global maximum beside its average (or one per member); None: chosen with P
    # by the same cross-validation when P is (classify_select), else off
    conv_max: bool | tuple[bool, ...] | None = None
    # cross-entropy against (1 - e) one-hot + e / K (Szegedy et al. 2016); 0: the plain cross-entropy
    label_smoothing: float | None = None  # None: FEW_SERIES_LABEL_SMOOTHING where the median class has 2 series, else 0
    # mixup's α (Zhang et al. 2018, :func:`lstmkit.tasks.classify_net.mix_batch`), or one per
    # member (the others read the batch unmixed); 0: no mixing
    mixup: float | tuple[float, ...] = 0.0
    # W > 0: the networks train on every series and W time-warped copies of it
    # (:mod:`lstmkit.tasks.classify_augment`); the selection and the scaling read the series alone
    warp_copies: int | None = None  # None: classify_augment.warp_copies_for (9 / 4 where the median class has 1 / 2 series, else 0)
    warp_strength: float = WARP_STRENGTH  # s: the copies' log-speed scale (classify_augment.warp_positions)
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(max_epochs=300, learning_rate=1e-3, batch_size=16, patience=100,
                                               lr_schedule="cosine", warmup_steps=50))

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if not 0.0 <= self.lstm_dropout < 1.0:
            raise ValueError(f"lstm_dropout must lie in [0, 1), got {self.lstm_dropout}")
        if self.label_smoothing is not None and not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        alphas = self.mixup if isinstance(self.mixup, (tuple, list)) else (self.mixup,)
        if not alphas or any(isinstance(a, bool) or not isinstance(a, (int, float, np.floating, np.integer))
                             or not (a >= 0.0 and np.isfinite(a)) for a in alphas):
            raise ValueError(f"mixup must be a number >= 0 (0: off), or one per member, got {self.mixup!r}")
        if isinstance(self.mixup, (tuple, list)):
            self.mixup = _as_tuple(self.mixup, tuple(float(a) for a in alphas))
        if self.series_member and (self.ensemble < 2 or self.patch is not None):
            raise ValueError("series_member needs two or more members reading the length rule's patches "
                             f"(ensemble >= 2, patch None), got ensemble={self.ensemble}, patch={self.patch!r}")
        if self.values_branch is not None and not isinstance(self.values_branch, (bool, np.bool_)):
            raise ValueError(f"values_branch must be True, False or None (chosen), got {self.values_branch!r}")
        if self.warp_copies is not None and (isinstance(self.warp_copies, bool) or not isinstance(
                self.warp_copies, (int, np.integer)) or self.warp_copies < 0):
            raise ValueError(f"warp_copies must be a whole number >= 0, got {self.warp_copies!r}")
        if not 0.0 <= self.warp_strength <= 2.0:
            raise ValueError(f"warp_strength must lie in [0, 2], got {self.warp_strength}")
        if not 0.0 <= self.augment < 1.0:
            raise ValueError(f"augment must lie in [0, 1), got {self.augment}")
        w = self.trend_window
        if w is not None and (isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating))
                              or int(w) != w or w == 1 or w < 0):
            raise ValueError(f"trend_window must be a whole number of steps >= 2, 0 (off) or None (chosen), "
                             f"got {w!r}")
        if not 0.0 <= self.val_fraction < 0.5:
            raise ValueError(f"val_fraction must lie in [0, 0.5), got {self.val_fraction}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {self.scaling!r}")
        if self.downsample_mode not in DOWNSAMPLE_MODES:
            raise ValueError(f"downsample_mode must be one of {', '.join(DOWNSAMPLE_MODES)}, "
                             f"got {self.downsample_mode!r}")
        for name in ("fold_scales", "kernel_scales"):
            if getattr(self, name) is None:  # automatic
                continue
            scales = tuple(float(s) for s in getattr(self, name))
            if not scales or min(scales) <= 0 or not all(np.isfinite(scales)):
                raise ValueError(f"{name} must be one or more numbers > 0, got {scales!r}")
            setattr(self, name, _as_tuple(getattr(self, name), scales))
        for name in ("patch", "downsample"):
            p = getattr(self, name)
            if name == "patch" and p == SERIES_PATCH:
                continue
            if p is not None and (isinstance(p, bool) or isinstance(p, str) or int(p) != p or p < 1):
                also = ", 'series'" if name == "patch" else ""
                raise ValueError(f"{name} must be a whole number >= 1{also} or None (automatic), got {p!r}")
        k = self.patch_steps
        if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) or int(k) != k or k < 1:
            raise ValueError(f"patch_steps must be a whole number >= 1, got {k!r}")
        self.patch_steps = int(k)
        n = self.fold_offsets
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, float, np.integer, np.floating))
                              or int(n) != n or n < 1):
            raise ValueError(f"fold_offsets must be a whole number >= 1 or None (chosen), got {n!r}")
        segments = self.conv_segments if isinstance(self.conv_segments, (tuple, list)) else (self.conv_segments,)
        if self.conv_segments is None:  # chosen in fit
            segments = (1,)
        if not segments or any(isinstance(n, bool) or int(n) != n or n < 1 for n in segments):
            raise ValueError(f"conv_segments must be a whole number >= 1 (or one per member), "
                             f"got {self.conv_segments!r}")
        if isinstance(self.conv_segments, (tuple, list)):
            self.conv_segments = _as_tuple(self.conv_segments, tuple(int(n) for n in segments))
        if self.segment_dropout is not None:
            rates = self.segment_dropout if isinstance(self.segment_dropout, (tuple, list)) else (self.segment_dropout,)
            if not rates or any(isinstance(r, bool) or not 0.0 <= float(r) < 1.0 for r in rates):
                raise ValueError(f"segment_dropout must lie in [0, 1) (or one such number per member), "
                                 f"got {self.segment_dropout!r}")
            if isinstance(self.segment_dropout, (tuple, list)):
                self.segment_dropout = _as_tuple(self.segment_dropout, tuple(float(r) for r in rates))
        if (isinstance(self.channel_bottleneck, bool) or not isinstance(self.channel_bottleneck, (int, np.integer))
                or self.channel_bottleneck < 0):
            raise ValueError(f"channel_bottleneck must be a whole number >= 0 (0: none), got {self.channel_bottleneck!r}")
        self.channel_bottleneck = int(self.channel_bottleneck)
        if self.conv_max is not None:
            flags = self.conv_max if isinstance(self.conv_max, (tuple, list)) else (self.conv_max,)
            if not flags or any(not isinstance(f, (bool, np.bool_)) for f in flags):
                raise ValueError(f"conv_max must be True, False or None (chosen), or one bool per member, "
                                 f"got {self.conv_max!r}")
            if isinstance(self.conv_max, (tuple, list)):
                self.conv_max = _as_tuple(self.conv_max, tuple(bool(f) for f in flags))
            else:
                self.conv_max = bool(self.conv_max)
        for name in ("summary_mix", "values_mix"):
            w = getattr(self, name)
            if w is not None and (isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating))
                                  or not 0.0 <= float(w) <= 1.0):
                raise ValueError(f"{name} must lie in [0, 1] or be None (chosen), got {w!r}")
            if w is not None:
                setattr(self, name, float(w))
        m = self.max_steps
        if m is not None and (isinstance(m, bool) or int(m) != m or m < 1):
            raise ValueError(f"max_steps must be a whole number >= 1 or None (max_epochs alone), got {m!r}")
        self.conv_channels = _as_tuple(self.conv_channels, tuple(int(c) for c in self.conv_channels))
        self.conv_kernels = _as_tuple(self.conv_kernels, tuple(int(k) for k in self.conv_kernels))
        e = self.ensemble
        if isinstance(e, bool) or int(e) != e or e < 1:
            raise ValueError(f"ensemble must be a whole number >= 1, got {e!r}")
        if isinstance(self.mixup, tuple) and len(self.mixup) != int(e):
            raise ValueError(f"mixup must be one number, or one per member ({int(e)}), got {self.mixup!r}")
        if len(self.conv_channels) != len(self.conv_kernels) or not self.conv_channels:
            raise ValueError(f"conv_channels and conv_kernels must have the same (non-zero) length, "
                             f"got {self.conv_channels} and {self.conv_kernels}")
        if min(self.conv_channels) < 1 or min(self.conv_kernels) < 1:
            raise ValueError(f"conv_channels and conv_kernels must be >= 1, got {self.conv_channels} "
                             f"and {self.conv_kernels}")


def _as_tuple(given: Any, normalised: tuple) -> tuple:
    """``given`` itself when it already is the tuple ``normalised`` (scikit-learn's ``clone``
    checks that an option comes back as the very object it set), else ``normalised``."""
    return given if isinstance(given, tuple) and given == normalised else normalised


def downsample(seq: np.ndarray, d: int) -> np.ndarray:
    """``seq`` ``(L, C)`` averaged over blocks of ``d`` steps: ``(ceil(L / d), C)`` (the last
    block averages the steps it has)."""
    if d == 1:
        return seq
    starts = np.arange(0, len(seq), d)
    counts = np.minimum(starts + d, len(seq)) - starts
    return (np.add.reduceat(seq, starts, axis=0) / counts[:, None]).astype(seq.dtype)


PERIOD_STRENGTH = 0.5  # the autocorrelation at the dominant period above which folding aligns to it
PERIOD_SAMPLE = 512  # at most this many training series (evenly spaced) estimate the period,
PERIOD_VALUES = 4_000_000  # and at most about this many values (fewer series when they are long)


def dominant_period(sequences: Sequence[np.ndarray], length: int) -> tuple[int, float]:
    r"""The training series' dominant period p and its strength ρ.

    Every series (standardised, ``(L_i, C)``) is cut to ``M = length`` steps (a shorter one
    filled with its last value) and centred per channel; the amplitude spectrum averaged over
    series and channels, ``A(f) = mean_{i,c} |Σ_t z_{i,t,c} e^{-2πi f t / M}|``, peaks at
    ``f* = argmax_{f≥1} A(f)``, and ``p = round(M / f*)``. ``ρ`` is the mean over series and
    channels of the autocorrelation at lag p (``Σ_t z_t z_{t+p} / Σ_t z_t^2``), 0 when p ≥ M.
    (The FFT's strongest period, as TimesNet, Wu et al. 2023, finds the periods it folds by.)"""
    m = int(length)
    if m < 4:
        return m, 0.0
    n = max(1, min(PERIOD_SAMPLE, PERIOD_VALUES // (m * sequences[0].shape[1])))
    step = max(1, -(-len(sequences) // n))
    cut = [seq[:m] if len(seq) >= m else np.concatenate([seq, np.repeat(seq[-1:], m - len(seq), axis=0)])
           for seq in sequences[::step]]
    z = np.stack(cut).astype(np.float64)  # (N, M, C)
    z -= z.mean(axis=1, keepdims=True)
    amplitude = np.abs(np.fft.rfft(z, axis=1)).mean(axis=(0, 2))  # (M//2 + 1,)
    f = 1 + int(np.argmax(amplitude[1:]))
    p = max(1, int(np.floor(m / f + 0.5)))
    if p >= m:
        return p, 0.0
    energy = (z * z).sum(axis=1)  # (N, C)
    lagged = (z[:, :-p] * z[:, p:]).sum(axis=1)
    rho = np.where(energy > 0, lagged / np.where(energy > 0, energy, 1.0), 0.0)
    return p, float(rho.mean())


def automatic_downsampling(sequences: Sequence[np.ndarray], median: float, align_period: bool
                           ) -> tuple[int, int | None]:
    """The default block width d and the period it was aligned to (None: not aligned).

    ``d = max(1, round(median / 128))``; with ``align_period``, when the series have a strong
    dominant period shorter than that (:func:`dominant_period`: ``2 <= p <= d`` and ρ >= 0.5),
    ``d = p * max(1, round(median / (128 p)))``: every block then holds whole periods, each
    starting at the same phase, so a folded step's channel j*C + c is always the same point of
    the cycle (with d = 11 and a period of 4 the phase moves by 3 steps from block to block,
    and the convolutions see the pattern in four shifted versions)."""
    d = max(1, int(np.floor(median / 128 + 0.5)))
    if not align_period or d < 2:
        return d, None
    p, rho = dominant_period(sequences, int(median))
    if 2 <= p <= d and rho >= PERIOD_STRENGTH:
        return p * max(1, int(np.floor(median / (128 * p) + 0.5))), p
    return d, None


def member_downsampling(d: int, scales: Sequence[float], members: int, period: int | None = None,
                        max_width: int | None = None) -> list[int]:
    """Every member's block width: ``d_m = max(1, round(d * s_{m mod len(s)}))`` (half rounds
    up), or with d aligned to a ``period`` p, ``d_m = p * max(1, round(d s_m / p))`` (every
    member's blocks hold whole periods); with ``max_width``, at most ``max(d, max_width)`` (the
    default caller: median length / :data:`FOLD_MIN_STEPS`, so no member reads a series in
    fewer than about 16 blocks)."""
    widths = [d * scales[m % len(scales)] for m in range(members)]
    if period:
        out = [period * max(1, int(np.floor(w / period + 0.5))) for w in widths]
    else:
        out = [max(1, int(np.floor(w + 0.5))) for w in widths]
    if max_width is not None:
        cap = max(d, int(max_width))
        out = [min(w, cap if not period else max(period, cap - cap % period)) if w > d else w for w in out]
    return out


#: The ensemble members' block widths relative to d on series read whole (:func:`automatic_fold_scales`).
WHOLE_FOLD_SCALES = (1.0, 2.0, 4.0)
#: No member reads a series in fewer blocks than about this many (:func:`member_downsampling`'s cap).
FOLD_MIN_STEPS = 16


def automatic_fold_scales(d: int, median: float) -> tuple[float, ...]:
    """``fold_scales=None``: :data:`WHOLE_FOLD_SCALES` when the length rule reads the series
    whole (d = 1) and they are at least :data:`KERNEL_SCALES_MIN_STEPS` long, else every member
    at d.

    A convolution stack of kernels 8/5/3 (to 16/10/6) sees 14 to 30 consecutive steps: on a
    series of 100 smooth values (Tecator's near-infrared spectra) that is a local curvature,
    averaged over the series by the global pooling, while what tells the classes apart spans
    tens of wavelengths. Members reading blocks of 1, 2 and 4 steps see 14-30, 28-60 and 56-120
    steps at once, so the ensemble has the local and the broad view (Tecator_disc, seed 0: 0.884
    -> 0.953; every member at d = 4, or the widths 8/5/3, 16/10/6, 32/20/12: 0.953 too).
    Where the rule already folds (d > 1, series of 190 steps or more) the members keep d:
    coarser members cost ArrowHead (d = 2; members at 2/4/8, seed 0: 0.811 against 0.829) and
    ACSF1 (the multi-resolution screen in benchmarks/README.md).
    """
    return WHOLE_FOLD_SCALES if d == 1 and median >= KERNEL_SCALES_MIN_STEPS else (1.0,)


def block_offsets(d: int, views: int, period: int | None = None) -> list[int]:
    """The start offsets (in raw steps) at which a series is folded into blocks of ``d``:
    ``o_j = round(j d / n)`` for j < n = min(views, d), or with d aligned to a ``period`` p, the
    whole periods ``o_j = p round(j (d/p) / n)`` for j < n = min(views, d/p); ``[0]`` for d = 1.

    Folding cuts a series at fixed places, so a convolution over the folded steps is equivariant
    only to shifts by whole blocks: a pattern one raw step later lands in other channels. Training
    on the n offsets (the same series with its first o_j steps dropped) and averaging the
    predicted probabilities over them gives back some of the raw series' shift equivariance."""
    unit = period if period and d % period == 0 else 1
    slots = d // unit
    n = max(1, min(int(views), slots))
    return [unit * int(np.floor(j * slots / n + 0.5)) for j in range(n)]


#: The ensemble members' convolution widths relative to ``conv_kernels`` on series long enough
#: for them (:func:`automatic_kernel_scales`): 8/5/3, 12/8/5 and 16/10/6 with LSTM-FCN's kernels.
KERNEL_SCALES = (1.0, 1.5, 2.0)
#: The median length (in downsampled steps) from which the members' widths differ.
KERNEL_SCALES_MIN_STEPS = 64


SERIES_PATCH = "series"  # patch="series": the whole series one LSTM step (the dimension shuffle)
VALUES_BRANCH_COLUMNS = 512  # values_branch: at most this many values per series in its one step


def values_places(median: float, downsample: Sequence[int], folds: Sequence[int], channels: Sequence[int],
                  columns: int = VALUES_BRANCH_COLUMNS) -> tuple[int, ...]:
    """Q_m, member m's values branch's fixed places: the median series' steps at its block width
    d_m (every step of a median series), at most ``columns // (fold_m * C_m)`` so that one step
    holds at most ``columns`` values, and at least 1."""
    return tuple(max(1, min(int(-(-median // dm)), columns // max(1, int(f) * int(c))))
                 for dm, f, c in zip(downsample, folds, channels))


def member_patch(patch: int | str | None, median: float, longest: int, d: int, steps: int = PATCH_STEPS) -> int:
    """k, the time steps (of d raw steps each) per LSTM step for a member reading blocks of d:
    ``patch`` where given; ``"series"``: ``ceil(longest / d)``, the longest training series one
    LSTM step, so the LSTM's gates read every value of a series at once (LSTM-FCN's dimension
    shuffle, Karim et al. 2017; a longer test series takes a second step); None: about
    ``steps`` (``patch_steps``, :data:`PATCH_STEPS` = 16) LSTM steps for the median series,
    ``max(1, ceil(median / d) // steps)``."""
    if patch == SERIES_PATCH:
        return max(1, -(-int(longest) // d))
    if patch is not None:
        return int(patch)
    return max(1, int(-(-median // d)) // int(steps))


def series_member_index(series_member: bool, members: int, phase_member: bool) -> int | None:
    """The member that reads the longest training series as one LSTM step (``series_member``):
    the last one not reading the period's phases, so long as another member before it reads the
    series in patches (None otherwise)."""
    if not series_member:
        return None
    index = members - 1 - int(phase_member)
    return index if index >= 1 else None


def automatic_kernel_scales(steps: float) -> tuple[float, ...]:
    """``kernel_scales=None``: :data:`KERNEL_SCALES` when the series' median (downsampled)
    length is at least :data:`KERNEL_SCALES_MIN_STEPS`, else every member at the base widths.

    Members whose first layers see 14, 22 and 30 steps together, averaged in probability, match
    a short shape and a longer one alike: PigCVP's pressure pulses (2 training series per class)
    0.878 -> 0.929 over seeds 0-2, where one width of 16/10/6 for every member had cost ArrowHead,
    ACSF1, OSULeaf and Watch 0.013-0.032 and the mixture costs them at most 0.004 (means over
    seeds 0-2: ArrowHead 0.859 against 0.861, with less spread; OSULeaf 0.952 against 0.956;
    ACSF1 0.893 against 0.897; Watch 0.825 both). On 24-step series the wide members see nearly
    the whole series (UnitTest and MinimalChinatown lost one test series each), hence the floor of
    64 steps: twice the widest member's reach.
    """
    return KERNEL_SCALES if steps >= KERNEL_SCALES_MIN_STEPS else (1.0,)


def member_kernels(kernels: Sequence[int], scales: Sequence[float], members: int) -> tuple[tuple[int, ...], ...]:
    """Every member's convolution kernels: ``k_{m,j} = max(1, round(k_j * s_{m mod len(s)}))``
    (half rounds up)."""
    return tuple(tuple(max(1, int(np.floor(k * scales[m % len(scales)] + 0.5))) for k in kernels)
                 for m in range(members))


def flat_share(sequences: Sequence[np.ndarray]) -> float:
    r"""The share of the training series that one global scale leaves nearly flat.

    Over the pairs (series i, channel c) of the channels that are not constant over the whole
    set: the share with ``std(x_{i,·,c}) < FLAT_STD_RATIO * std(x_{·,·,c})``, the series' own
    standard deviation against the channel's over all training values. Raw recordings whose
    scale (or level) differs by orders of magnitude between series score high: PLAID's currents
    and Covid3Month's counts 0.82; sets already z-normalised one by one score 0, BasicMotions'
    motion sensors 0.16.
    """
    values = np.concatenate(sequences, axis=0)
    overall = values.std(axis=0)  # (C,)
    varying = overall > 1e-8
    if not varying.any():
        return 0.0
    own = np.stack([seq.std(axis=0) for seq in sequences])[:, varying]  # (N, C')
    return float(np.mean(own < FLAT_STD_RATIO * overall[varying]))


def trend_split(seq: np.ndarray, window: int) -> np.ndarray:
    r"""``seq`` ``(L, C)`` as ``(L, 2C)``: per channel its detail and its trend,

        trend_t = (1/W) Σ_{|s - t| <= W/2} x_s,     detail_t = x_t - trend_t

    (a centred moving average of W steps, W odd: W + 1 when even, the ends padded with the first
    and last values). The two sum to the series, so nothing is lost; read apart, a slow wander
    (a random walk under a faster oscillation) no longer dominates the channel the convolutions
    look for shapes in. Measured: benchmarks/README.md, "Long series over a random walk"."""
    half = int(window) // 2
    padded = np.concatenate([np.repeat(seq[:1], half, axis=0), seq, np.repeat(seq[-1:], half, axis=0)])
    sums = np.concatenate([np.zeros((1, seq.shape[1])), np.cumsum(padded, axis=0, dtype=np.float64)])
    trend = ((sums[2 * half + 1:] - sums[:len(seq)]) / (2 * half + 1)).astype(seq.dtype)
    return np.concatenate([seq - trend, trend], axis=1)


def standardise_series(seq: np.ndarray) -> np.ndarray:
    """``seq`` ``(L, C)`` less its own per-channel mean, over its own per-channel standard
    deviation (channels constant in it: shifted only)."""
    std = seq.std(axis=0)
    return (seq - seq.mean(axis=0)) / np.where(std > 1e-8, std, 1.0)


def series_statistics(seq: np.ndarray, channel_std: np.ndarray) -> np.ndarray:
    r"""What standardising ``seq`` ``(L, C)`` by its own statistics takes away: per channel c its
    scale and its level, ``(2C,)``::

        scale_c = log10(s_c / S_c)                  (clipped below at -6)
        level_c = arcsinh(m_c / max(s_c, 1e-6 S_c))

    with ``m_c``, ``s_c`` the series' own mean and standard deviation and ``S_c`` the channel's
    over all training values: the amplitude in decades of the channel's, and how far the series
    sits from zero in units of its own spread (arcsinh: linear near 0, logarithmic beyond, so
    levels that differ by decades stay comparable)."""
    floor = 1e-6 * channel_std
    std = seq.std(axis=0)
    scale = np.log10(np.maximum(std, floor) / channel_std)
    level = np.arcsinh(seq.mean(axis=0) / np.maximum(std, floor))
    return np.concatenate([scale, level]).astype(np.float32)


def fold(seq: np.ndarray, d: int) -> np.ndarray:
    """``seq`` ``(L, C)`` folded into blocks of ``d`` steps: ``(ceil(L / d), d*C)``, block j
    holding ``x_{jd}..x_{jd+d-1}`` side by side (the last block filled by repeating the last
    step). Nothing is lost: a network reading the folded series can still form any average."""
    if d == 1:
        return seq
    blocks = -(-len(seq) // d)
    filled = np.concatenate([seq, np.repeat(seq[-1:], blocks * d - len(seq), axis=0)])
    return filled.reshape(blocks, d * seq.shape[1])


class Classifier(Estimator):
    """Classify sequences with an LSTM-FCN (an LSTM branch beside a convolutional branch).

    >>> clf = Classifier().fit(train)            # SequenceData, or a path (.ts, .tsv, .arff, .csv, .parquet)
    >>> clf.predict(test); clf.predict_proba(test); clf.evaluate(test)["accuracy"]
    >>> clf.save("model/"); Classifier.load("model/")
    >>> Classifier().fit(X, y).score(X_test, y_test)   # arrays (n, channels, steps) as aeon's, labels y

    It is a scikit-learn estimator too (``get_params``/``set_params``, ``fit(X, y)``, ``predict``,
    ``predict_proba``, ``score``, ``classes_``), so ``sklearn.base.clone``, ``cross_val_score``
    and ``GridSearchCV`` take it: an option such as ``conv_segments`` can be chosen by
    cross-validation on the training set.
    """

    KIND = KIND
    _estimator_type = "classifier"  # scikit-learn < 1.6 reads this instead of __sklearn_tags__
    Params = ClassifierParams
    NetConfig = ClassifierNetConfig
    Net = ClassifierEnsemble

    def reset(self) -> None:
        self.patch = 1
        self.downsample = 1
        self.member_patch: list[int] = [1]  # k_m, d_m: every member's (member 0's are patch, downsample)
        self.member_offsets: list[list[int]] = [[0]]  # every member's start offsets (block_offsets)
        self.member_downsample: list[int] = [1]
        self.downsample_mode = "mean"
        self.period: int | None = None  # the dominant period the automatic d was aligned to
        self.phase_member = False  # the last member reads the period's phases as channels (phase_channels)
        self.phase_std: np.ndarray | None = None  # the phase channels' std over the training values (p*C)
        self.phase_stats_mean: np.ndarray | None = None  # their series_statistics' mean and std over the
        self.phase_stats_std: np.ndarray | None = None  # training series (None: series_stats off)
        self.classes: list[str] = []
        self.label_kind = "str"  # the type predict gives labels back in (fit's y's: label_kind)
        self.segment_selection: dict[str, Any] | None = None  # conv_segments=None: select_conv_segments' record
        self.trend_window: int | None = None  # the window the fitted model splits channels at (None: not split)
        self.summary_mix = 0.0  # the series features' weight in predict_proba (0: the networks alone)
        self.summary_model: SummaryStatisticsModel | None = None  # fitted where summary_mix > 0
        self.values_mix = 0.0  # the values' weight in predict_proba, after the features' (0: none)
        self.values_model: SummaryStatisticsModel | None = None  # fitted where values_mix > 0
        self.warp_copies = 0  # the W time-warped copies of every series the networks trained on
        self.label_smoothing = 0.0  # the e the networks trained with (label_smoothing, or None's choice)
        # fold_scales=None on series read whole: select_fold_scales' record
        self.resolution_selection: dict[str, Any] | None = None
        # warp_copies=None at two series per class: classify_copies.select_warp_copies' record
        self.copies_selection: dict[str, Any] | None = None
        self.channel_mean: np.ndarray | None = None
        self.channel_std: np.ndarray | None = None
        self.per_series = False  # every series standardised by its own statistics (else the channels')
        # series_statistics' mean and std over the training series: set when per_series and
        # series_stats, and then every series carries its standardised statistics as 2C channels
        self.stats_mean: np.ndarray | None = None
        self.stats_std: np.ndarray | None = None

    # --------------------------------------------------------------------- data
    @staticmethod
    def read(data, y=None, **kwargs):
        """``data`` as :class:`SequenceData`: one already, a file (``.ts``, ``.tsv``, ``.csv``,
        ``.parquet``) or DataFrame (:func:`read_sequences`, ``kwargs`` its options), or arrays
        ``X`` with labels ``y`` (:func:`sequences_from_arrays`; ``kwargs``: ``layout``, ``missing``)."""
        from lstmkit.data.sequence_arrays import sequences_from_arrays
        from lstmkit.data.sequences import SequenceData, read_sequences

        if isinstance(data, (SequenceData, str, Path, pd.DataFrame)):
            if y is not None:
                raise InputError(f"{getattr(data, 'source', data)}: y is for arrays; "
                                 "sequences read from a file or table carry their own labels")
            return data if isinstance(data, SequenceData) else read_sequences(data, **kwargs)
        return sequences_from_arrays(data, y, **kwargs)

    def tensors(self, data, d: int | None = None, k: int | None = None, offset: int = 0, phases: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised, downsampled, patched, zero-padded inputs ``(N, S_max, k*d*C)`` (folded;
        ``k*C`` averaged) and lengths ``(N,)`` in patches, at block width ``d`` and patch ``k``
        (default: member 0's, :attr:`downsample` and :attr:`patch`), each series read from its
        step ``offset`` on (a series that short keeps its last step). ``phases``: the series as
        :meth:`phase_channels` gives them, folded at ``d / p`` (``d`` and ``offset`` whole
        periods p of :attr:`period`), ``(N, S_max, k*(d/p)*W)``."""
        if data.n_channels != len(self.channel_mean):
            raise InputError(f"{data.source}: the sequences have {data.n_channels} channels; "
                             f"the model was trained on {len(self.channel_mean)}")
        k = self.patch if k is None else k
        d = self.downsample if d is None else d
        reduce = downsample if self.downsample_mode == "mean" else fold
        if phases:
            p = int(self.period)
            sequences = [fold(z[min(offset // p, len(z) - 1):], d // p)
                         for z in (self.phase_channels(seq) for seq in data.sequences)]
        else:
            sequences = [reduce(self.standardise(seq)[min(offset, len(seq) - 1):], d) for seq in data.sequences]
        width = sequences[0].shape[1]  # C, or d*C when folded
        steps = [-(-len(seq) // k) for seq in sequences]  # ceil(L / k)
        x = np.zeros((len(data), max(steps), k * width), dtype=np.float32)
        for i, seq in enumerate(sequences):
            filled = np.concatenate([seq, np.repeat(seq[-1:], steps[i] * k - len(seq), axis=0)])
            x[i, : steps[i]] = filled.reshape(steps[i], k * width)  # (L/k, k*C)
        return torch.from_numpy(x), torch.as_tensor(steps, dtype=torch.long)

    def standardise(self, seq: np.ndarray) -> np.ndarray:
        """One sequence ``(L, C)`` as the networks read it: standardised by its own statistics
        (:attr:`per_series`; then, with ``series_stats``, followed by its
        :func:`series_statistics`, standardised over the training series, as 2C channels
        constant in time: ``(L, 3C)``) or by the training set's per-channel mean and std; with
        ``trend_window`` each standardised channel split by :func:`trend_split` first (2C, or 4C
        with the statistics)."""
        window = self.trend_window
        if not self.per_series:
            z = (seq - self.channel_mean) / self.channel_std
            return z if window is None else trend_split(z, window)
        z = standardise_series(seq).astype(np.float32)
        z = z if window is None else trend_split(z, window)
        if self.stats_mean is None:
            return z
        stats = (series_statistics(seq, self.channel_std) - self.stats_mean) / self.stats_std
        return np.concatenate([z, np.broadcast_to(stats, (len(z), len(stats)))], axis=1)

    def phase_channels(self, seq: np.ndarray) -> np.ndarray:
        r"""One sequence ``(L, C)`` read as the p = :attr:`period` phases of its period, each a
        channel of its own: ``u_{j, i*C + c} = x_{jp + i, c}`` (:func:`fold` at p, ``(ceil(L/p),
        p*C)``), every phase channel standardised by its own mean and std within the series
        (:func:`standardise_series`), followed (with ``series_stats``) by its
        :func:`series_statistics` against :attr:`phase_std`, standardised over the training series,
        as 2pC channels constant in time: ``(ceil(L/p), W)``, W = :attr:`phase_width`.

        A series whose values repeat with a strong short period is often p quantities written in
        turn (ACSF1: four per period, one nearly constant at the series' maximum); folded at d the
        networks see them side by side, but at the series' one scale, where a phase that moves by
        a hundredth of another's spread is flat. Read this way, each phase's own movement is at
        unit scale and its level and spread are numbers beside it; the ensemble's other members
        keep the series' own scale, so the ensemble has both readings."""
        z = fold(np.asarray(seq, dtype=np.float32), int(self.period))
        scaled = standardise_series(z).astype(np.float32)
        if self.phase_stats_mean is None:
            return scaled
        stats = (series_statistics(z, self.phase_std) - self.phase_stats_mean) / self.phase_stats_std
        return np.concatenate([scaled, np.broadcast_to(stats.astype(np.float32), (len(z), len(stats)))], axis=1)

    @property
    def phase_width(self) -> int:
        """The channels :meth:`phase_channels` gives per phase step: pC, 3pC with the statistics."""
        return len(self.phase_std) * (1 if self.phase_stats_mean is None else 3)

    @property
    def input_channels(self) -> int:
        """The channels the networks read per (unfolded) step: C, or 2C split by ``trend_window``;
        2C more with the series' statistics."""
        c = len(self.channel_mean)
        return c * (1 if self.trend_window is None else 2) + (0 if self.stats_mean is None else 2 * c)

    @property
    def views(self) -> int:
        """How many start offsets every member reads a series at (:func:`block_offsets`)."""
        return max(len(o) for o in self.member_offsets)

    def member_tensors(self, data, view: int = 0):
        """The network's input: :meth:`tensors` when every member reads the same resolution,
        else a tuple of inputs and a tuple of lengths, one per member (at d_m, k_m); every member
        at its ``view``-th start offset (its offsets repeat when it has fewer)."""
        offsets = [o[view % len(o)] for o in self.member_offsets]
        if not self.net.multiresolution:
            return self.tensors(data, offset=offsets[0])
        last = len(self.member_downsample) - 1
        pairs = [self.tensors(data, d, k, o, phases=self.phase_member and m == last)
                 for m, (d, k, o) in enumerate(zip(self.member_downsample, self.member_patch, offsets))]
        return tuple(x for x, _ in pairs), tuple(lengths for _, lengths in pairs)

    # --------------------------------------------------------------------- training
    def fit(self, data, y=None, *, run_dir: str | Path | None = None, resume_from=None,
            **read_kwargs) -> "Classifier":
        """Train on labelled sequences: a file, a DataFrame or :class:`SequenceData`, or arrays
        ``X`` (``(n, steps)``, ``(n, channels, steps)``, or a list of sequences) with labels ``y``
        as scikit-learn takes them (:mod:`lstmkit.data.sequence_arrays`)."""
        from lstmkit.data.sequence_arrays import label_kind
        from lstmkit.data.sequences import check_trainable, stratified_split

        data = self.read(data, y, **read_kwargs)
        p = self.params
        check_trainable(data, min_per_class=2 if p.val_fraction > 0 else 1)  # one to learn (and one to validate)
        segments, segment_dropout, conv_max = p.conv_segments, p.segment_dropout, p.conv_max
        trend = int(p.trend_window) if p.trend_window else None  # None (not chosen) and 0: off
        copies, self.copies_selection = warp_copies_for(p.warp_copies, data), None
        if p.warp_copies is None and copies and selection_folds(data):  # two per class: the series may drop them
            self.copies_selection = select_warp_copies(self, data, copies)
            copies = self.copies_selection["chosen"]
        weighed = copies if self.copies_selection else None  # the selections' networks train as the model
        self.segment_selection = None
        if segments is None:  # the training series decide whether the parts' averages help
            self.segment_selection = select_conv_segments(self, data, warp_copies=weighed)
            segments = self.segment_selection["chosen"]
            segment_dropout = self.segment_selection.get("chosen_dropout", segment_dropout)
            if conv_max is None:  # given (one flag per member, say), it stays as given
                conv_max = self.segment_selection.get("chosen_max", conv_max)
            trend = self.segment_selection.get("chosen_trend", trend)
        self.trend_window = trend
        self.label_smoothing = label_smoothing_for(p.label_smoothing, data)
        self.summary_mix = float(p.summary_mix or 0.0)
        if p.summary_mix is None and self.segment_selection and self.segment_selection.get("summary_mix"):
            self.summary_mix = float(self.segment_selection["summary_mix"]["chosen"])
        self.summary_model = None
        self.values_mix = float(p.values_mix or 0.0)
        if p.values_mix is None and self.segment_selection and self.segment_selection.get("values_mix"):
            self.values_mix = float(self.segment_selection["values_mix"]["chosen"])
        self.values_model = None
        self.values_branch = bool(p.values_branch)
        if p.values_branch is None:
            self.values_branch = wants_values_branch(self.segment_selection)
            if self.values_branch and p.values_mix is None:  # the networks read the values: weighed once
                self.values_mix = 0.0
            if self.values_branch:  # the report says why, and the weight the model mixes in
                self.segment_selection["values_mix"].update(branch=True, applied=self.values_mix)
        segment_dropout = 0.0 if segment_dropout is None else segment_dropout
        conv_max = False if conv_max is None else conv_max
        self.classes = list(data.classes)
        self.label_kind = label_kind(y) if y is not None else "str"
        p, training = self.params, self.params.training
        median = float(np.median(data.lengths))
        d, self.period = self.block_width(data)
        if self.per_series and p.series_stats:  # set after d: constant channels carry no period
            stats = np.stack([series_statistics(seq, self.channel_std) for seq in data.sequences])
            self.stats_mean = stats.mean(axis=0)
            self.stats_std = np.where(stats.std(axis=0) > 1e-6, stats.std(axis=0), 1.0).astype(np.float32)
        fold_scales = p.fold_scales or automatic_fold_scales(d, median)
        self.resolution_selection = None
        if p.fold_scales is None and len(fold_scales) > 1 and p.ensemble > 1:  # the training series decide
            self.resolution_selection = select_fold_scales(self, data, segments, segment_dropout, fold_scales,
                                                           conv_max, self.trend_window, warp_copies=weighed)
            fold_scales = tuple(self.resolution_selection["chosen"])
        self.member_downsample = member_downsampling(d, fold_scales, p.ensemble, self.period,
                                                     max_width=int(median // FOLD_MIN_STEPS))
        self.downsample_mode = p.downsample_mode
        folds = [1 if self.downsample_mode == "mean" else dm for dm in self.member_downsample]
        self.phase_member = bool(p.phase_member and self.period and p.ensemble > 1 and self.downsample_mode == "fold"
                                 and all(dm % self.period == 0 for dm in self.member_downsample))
        longest = int(data.lengths.max())
        self.member_patch = [member_patch(p.patch, median, longest, dm, p.patch_steps) for dm in self.member_downsample]
        whole = series_member_index(p.series_member and p.patch is None, p.ensemble, self.phase_member)
        if whole is not None:
            self.member_patch[whole] = member_patch(SERIES_PATCH, median, longest, self.member_downsample[whole])
        self.downsample, self.patch = self.member_downsample[0], self.member_patch[0]
        self.phase_std = self.phase_stats_mean = self.phase_stats_std = None
        channels = None
        if self.phase_member:  # the last member reads phase_channels, folded at d_m / p
            phased = [fold(np.asarray(seq, dtype=np.float32), self.period) for seq in data.sequences]
            std = np.concatenate(phased, axis=0).std(axis=0)
            self.phase_std = np.where(std > 1e-8, std, 1.0).astype(np.float32)
            if p.series_stats:
                stats = np.stack([series_statistics(z, self.phase_std) for z in phased])
                self.phase_stats_mean = stats.mean(axis=0).astype(np.float32)
                self.phase_stats_std = np.where(stats.std(axis=0) > 1e-6, stats.std(axis=0), 1.0).astype(np.float32)
            folds[-1] //= self.period
            channels = tuple([self.input_channels] * (p.ensemble - 1) + [self.phase_width])
        multi = len(set(zip(self.member_downsample, self.member_patch))) > 1 or self.phase_member
        places = values_places(median, self.member_downsample, folds,
                               channels or [self.input_channels] * p.ensemble) if self.values_branch else 0
        scales = p.kernel_scales or automatic_kernel_scales(-(-median // self.downsample))
        kernels = member_kernels(p.conv_kernels, scales, p.ensemble)
        torch.manual_seed(training.seed)
        self.net = self.build_net(ClassifierNetConfig(
            n_channels=self.input_channels, fold=folds[0], n_classes=len(self.classes), patch=self.patch,
            member_folds=tuple(folds) if multi else None,
            member_patches=tuple(self.member_patch) if multi else None,
            member_kernels=kernels if len(set(kernels)) > 1 else None, member_channels=channels,
            values_places=places,
            **{**net_options(p, ClassifierNetOptions), "conv_segments": segments, "segment_dropout": segment_dropout,
               "conv_max": conv_max, "values_branch": self.values_branch}))
        offsets = p.fold_offsets or 1
        if p.fold_offsets is None and self.segment_selection is not None and d > 1:
            offsets = self.segment_selection.get("chosen_offsets", 1)  # the maximum's candidate: 4
        self.member_offsets = [block_offsets(dm, offsets, self.period) for dm in self.member_downsample]
        self.warp_copies = copies
        seen = warped_copies(data, self.warp_copies, seed=training.seed, strength=p.warp_strength)  # what the networks train on
        xs, ls = self.view_tensors(seen, multi)
        n, views = len(seen), self.views
        y = torch.as_tensor(seen.label_indices(self.classes), dtype=torch.long).repeat(views)
        val_loader = None
        if p.val_fraction > 0 and n >= 10:  # a series' views stay on one side of the split
            train_idx, val_idx = (np.concatenate([idx + j * n for j in range(views)])
                                  for idx in stratified_split(seen.labels, p.val_fraction, seed=training.seed))
            val_loader = self._loader([t[val_idx] for t in xs + ls], y[val_idx], shuffle=False)
        else:
            train_idx = np.arange(n * views)
        train_loader = self._loader([t[train_idx] for t in xs + ls], y[train_idx], shuffle=True)
        if p.max_steps is not None:  # the same number of optimizer steps for a small set and a large one
            epochs = -(-p.max_steps // max(1, len(train_loader)))
            training = dataclasses.replace(training, max_epochs=max(1, min(training.max_epochs, epochs)))

        def loss_fn(net, batch):  # the members' cross-entropies, summed: each member learns on its own
            *inputs, by = batch  # x_1..x_R, lengths_1..lengths_R, y (R = 1, or one per member)
            r = len(inputs) // 2
            bx, blen = list(inputs[:r]), list(inputs[r:])
            if net.training and p.augment > 0:  # each resolution its own random windows
                for i, k in enumerate(self.member_patch if multi else [self.patch]):
                    bx[i], blen[i] = slice_windows(bx[i], blen[i], k, p.augment)
            lam, lams, alphas = 1.0, None, p.mixup
            if net.training and max(alphas if isinstance(alphas, tuple) else (alphas,)) > 0:
                if not isinstance(alphas, tuple) or len(set(alphas)) == 1:  # one weight and pairing for all
                    bx, blen, lam, perm = mix_batch(bx, blen, max(alphas) if isinstance(alphas, tuple) else alphas)
                else:  # member m mixed at its own α_m (unmixed where 0), one pairing for all
                    if not multi:
                        bx, blen = bx * len(alphas), blen * len(alphas)
                    bx, blen, lams, perm = mix_members(bx, blen, alphas)
            if multi or lams is not None:
                logits = net.member_logits(bx, blen)  # (M, N, K)
            else:
                logits = net.member_logits(bx[0], blen[0])

            def cross_entropy(targets, reduction="sum"):
                return nn.functional.cross_entropy(logits.flatten(0, 1), targets.repeat(len(logits)),
                                                   reduction=reduction, label_smoothing=self.label_smoothing)

            if lams is not None:  # Σ_m λ_m CE_m(y) + (1 - λ_m) CE_m(y_π), each CE_m a mean over the batch
                own = cross_entropy(by, "none").view(len(logits), -1).mean(dim=1)
                paired = cross_entropy(by[perm], "none").view(len(logits), -1).mean(dim=1)
                weight = torch.tensor(lams, dtype=own.dtype)
                return (weight * own + (1.0 - weight) * paired).sum()
            if lam == 1.0:
                return cross_entropy(by) / len(by)
            return lam * cross_entropy(by) / len(by) + (1.0 - lam) * cross_entropy(by[perm]) / len(by)

        say = progress_printer(self.get_params())
        if say and (self.segment_selection or self.resolution_selection):  # after the choices' lines
            say(f"training the model: {p.ensemble} network{'s' if p.ensemble > 1 else ''}, "
                f"{training.max_epochs} epoch{'s' if training.max_epochs > 1 else ''} of {len(train_loader)} batches")
        self.fit_result = fit(self.net, loss_fn, train_loader, val_loader, training, run_dir,
                              resume_from=resume_from)
        self.net.eval()
        if self.summary_mix > 0:  # deterministic, no random draw: the networks' fit is the same either way
            self.summary_model = SummaryStatisticsModel(features=SUMMARY_MIX_FEATURES).fit(data, classes=self.classes)
        if self.values_mix > 0:  # likewise deterministic
            self.values_model = SummaryStatisticsModel(features=VALUES_MIX_FEATURES).fit(data, classes=self.classes)
        return self

    def block_width(self, data) -> tuple[int, int | None]:
        """Set the channels' statistics and the scaling from the training ``data`` and return the
        block width d and the period it is aligned to (None: not aligned), as :meth:`fit` finds
        them (:func:`automatic_downsampling`, unless ``downsample`` is given)."""
        p = self.params
        values = np.concatenate(data.sequences, axis=0)
        self.channel_mean = values.mean(axis=0).astype(np.float32)
        std = values.std(axis=0)
        self.channel_std = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        self.stats_mean = self.stats_std = None
        # when most series would reach the networks nearly flat under one global scale (raw
        # recordings whose scales differ by orders of magnitude), each is standardised alone
        self.per_series = p.scaling == "series" or (
            p.scaling == "auto" and flat_share(data.sequences) > FLAT_SERIES_SHARE)
        if p.downsample:
            return int(p.downsample), None
        scaled = [self.standardise(seq) for seq in data.sequences]
        # averaging whole periods would erase the pattern: the alignment is for folding alone
        return automatic_downsampling(scaled, float(np.median(data.lengths)),
                                      p.align_period and p.downsample_mode == "fold")

    def reads_phases(self, data) -> bool:
        """Whether a fit of these options on ``data`` gives its last member the period's phases
        (``phase_member``, more than one member, the blocks aligned to a period; read without a
        trend split). Sets the channels' statistics as :meth:`block_width` does."""
        p = self.params
        if not (p.phase_member and p.ensemble > 1 and p.downsample_mode == "fold"):
            return False
        self.trend_window = None
        return self.block_width(data)[1] is not None

    def view_tensors(self, data, multi: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every member's inputs and lengths over all :attr:`views`, view j's rows after view
        j - 1's (row ``i + j N`` is series i at its j-th offset), padded to one length."""
        per_view = [self.member_tensors(data, j) for j in range(self.views)]
        members = len(self.member_patch) if multi else 1
        xs, ls = [], []
        for r in range(members):
            x = [v[0][r] if multi else v[0] for v in per_view]
            steps = max(t.shape[1] for t in x)
            xs.append(torch.cat([nn.functional.pad(t, (0, 0, 0, steps - t.shape[1])) for t in x]))
            ls.append(torch.cat([v[1][r] if multi else v[1] for v in per_view]))
        return xs, ls

    def _loader(self, tensors: list[torch.Tensor], y: torch.Tensor, shuffle: bool):
        from torch.utils.data import DataLoader, TensorDataset

        return DataLoader(TensorDataset(*tensors, y), batch_size=self.training.batch_size,
                          shuffle=shuffle, generator=torch.Generator().manual_seed(self.training.seed))

    # --------------------------------------------------------------------- using it
    def predict_proba(self, data, **read_kwargs) -> np.ndarray:
        """Class probabilities ``(N, n_classes)``, columns in the order of ``classes``: the
        networks' mean, and with :attr:`summary_mix` w > 0 ``(1 - w) p_networks + w p_statistics``
        (the series features' logistic regression, :attr:`summary_model`; the summary
        statistics' in a model saved before them), then with :attr:`values_mix` v > 0
        ``(1 - v) p + v p_values`` (the values' logistic regression, :attr:`values_model`)."""
        self.require_fitted()
        data = self.read(data, **read_kwargs)
        proba = self._over_views(data, lambda x, lengths: torch.softmax(self.net(x, lengths), dim=-1), 0)
        if not self.summary_mix and not self.values_mix:
            return proba
        mixed = proba.astype(np.float64)
        if self.summary_mix:
            w = self.summary_mix
            mixed = (1.0 - w) * mixed + w * self.summary_model.predict_proba(data)
        if self.values_mix:
            v = self.values_mix
            mixed = (1.0 - v) * mixed + v * self.values_model.predict_proba(data)
        return mixed.astype(proba.dtype)

    def member_proba(self, data, **read_kwargs) -> np.ndarray:
        """Every member's own class probabilities ``(M, N, n_classes)`` (their mean over the
        members is :meth:`predict_proba`'s, up to rounding), averaged over the start offsets."""
        return self._over_views(
            data, lambda x, lengths: torch.softmax(self.net.member_logits(x, lengths), dim=-1), 1, **read_kwargs)

    def _over_views(self, data, head, axis: int, **read_kwargs) -> np.ndarray:
        """``head(x, lengths)`` over chunks of 256 series (joined on the series' ``axis``), its
        mean over the start offsets (one view where d = 1); the network in eval mode, no grad."""
        self.require_fitted()
        data = self.read(data, **read_kwargs)
        n = len(data)
        cut = ((lambda t, a: tuple(v[a:a + 256] for v in t)) if self.net.multiresolution
               else (lambda t, a: t[a:a + 256]))
        self.net.eval()
        proba = 0.0
        with torch.no_grad():
            for view in range(self.views):
                x, lengths = self.member_tensors(data, view)
                proba = proba + torch.cat([head(cut(x, a), cut(lengths, a)) for a in range(0, n, 256)], dim=axis)
        return (proba / self.views).numpy()

    @property
    def classes_(self) -> np.ndarray:
        """The classes in the order of :meth:`predict_proba`'s columns, in the type of the labels
        ``fit`` was given (text for files; scikit-learn's name)."""
        from lstmkit.data.sequence_arrays import labels_as

        self.require_fitted()
        return labels_as(self.classes, self.label_kind)

    def predict(self, data, **read_kwargs) -> np.ndarray:
        """The most probable class label of every sequence (text, or the type of fit's ``y``)."""
        proba = self.predict_proba(data, **read_kwargs)
        return self.classes_[proba.argmax(axis=1)]

    def score(self, data, y=None, **read_kwargs) -> float:
        """Accuracy on labelled sequences (a file, or arrays ``X`` and ``y``): the share whose
        most probable class is their label (a label the model never saw counts as wrong).
        scikit-learn's ``score``, so ``cross_val_score`` and ``GridSearchCV`` can choose options."""
        data = self.read(data, y, **read_kwargs)
        if data.labels is None:
            raise InputError(f"{data.source}: has no labels to score against")
        proba = self.predict_proba(data)
        predicted = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]
        return float(np.mean(predicted == np.asarray(data.labels, dtype=object)))

    def __sklearn_tags__(self):
        """scikit-learn's tags (>= 1.6): a classifier that needs ``y``, so its cross-validation
        splits are stratified."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags(three_d_array=True, allow_nan=True))

    def evaluate(self, data, y=None, **read_kwargs) -> dict[str, Any]:
        """Accuracy, macro-F1 and per-class precision and recall on labelled ``data`` (or arrays
        ``X`` and labels ``y``)."""
        data = self.read(data, y, **read_kwargs)
        if data.labels is None:
            raise InputError(f"{data.source}: has no labels to evaluate against")
        proba = self.predict_proba(data)
        return classification_report(data.label_indices(self.classes), proba.argmax(axis=1), self.classes)

    def predictions_frame(self, data) -> pd.DataFrame:
        """One row per sequence: id, true label (when known), predicted label, probabilities."""
        proba = self.predict_proba(data)
        frame = pd.DataFrame({"id": np.asarray(data.ids)})
        if data.labels is not None:
            frame["label"] = np.asarray(data.labels)
        frame["predicted"] = np.asarray(self.classes, dtype=object)[proba.argmax(axis=1)]
        for j, name in enumerate(self.classes):
            frame[f"p_{name}"] = proba[:, j]
        return frame

    def encoder_view(self, data=None, *, max_sequences: int = 512, max_chars: int = 2000) -> EncoderView:
        """The sequences of ``data`` (any file :meth:`read` takes), standardised and patched as
        the classifier reads them, with their lengths."""
        self.require_fitted()
        if data is None:
            raise InputError(f"a classifier needs {param_ref('data')} to inspect (a file of sequences, or "
                             "--dataset NAME for the test split of an aeon set)")
        data = self.read(data)
        padded, lengths = self.tensors(data)  # member 0's input: its encoder is the one shown
        with torch.no_grad():  # as the encoder reads it: through the channel bottleneck, where there is one
            padded = self.net.members[0].project(padded)
        return EncoderView(self.net.encoder, padded, None, lengths, str(data.source), None, None,
                           {"sequences": int(padded.shape[0]), "patch": self.patch,
                            "downsample": self.downsample})

    # --------------------------------------------------------------------- persistence
    def fitted_state(self) -> dict[str, Any]:
        return {"classes": self.classes, "label_kind": self.label_kind, "patch": self.patch, "downsample": self.downsample,
                "member_patch": list(self.member_patch), "member_downsample": list(self.member_downsample),
                "period": self.period, "member_offsets": [list(o) for o in self.member_offsets],
                "phase_member": self.phase_member,
                **{name: None if getattr(self, name) is None else getattr(self, name).tolist()
                   for name in ("phase_std", "phase_stats_mean", "phase_stats_std")},
                "trend_window": self.trend_window, "segment_selection": self.segment_selection,
                "resolution_selection": self.resolution_selection, "copies_selection": self.copies_selection,
                "downsample_mode": self.downsample_mode, "per_series": self.per_series,
                "stats_mean": None if self.stats_mean is None else self.stats_mean.tolist(),
                "stats_std": None if self.stats_std is None else self.stats_std.tolist(),
                "channel_mean": self.channel_mean.tolist(), "channel_std": self.channel_std.tolist(),
                "summary_mix": self.summary_mix,
                "summary_model": None if self.summary_model is None else self.summary_model.state(),
                "values_mix": self.values_mix, "values_branch": self.values_branch,
                "label_smoothing": self.label_smoothing, "warp_copies": self.warp_copies,
                "values_model": None if self.values_model is None else self.values_model.state()}

    def build_net(self, net_config) -> Any:
        """The ensemble; a config saved before ensembles (no ``ensemble`` key) is one network,
        one saved before ``masked_norm`` trained torch's BatchNorm (the same in eval), and one
        saved before ``channel_bottleneck`` read every channel itself."""
        if isinstance(net_config, dict) and "channel_bottleneck" not in net_config:
            net_config = {**net_config, "channel_bottleneck": 0}
            self.params.channel_bottleneck = 0
        if isinstance(net_config, dict) and "ensemble" not in net_config:
            net_config = {**net_config, "ensemble": 1}
        if isinstance(net_config, dict) and "masked_norm" not in net_config:
            net_config = {**net_config, "masked_norm": False}
            self.params.masked_norm = False
        return super().build_net(net_config)

    def load_state_tensors(self, weights: dict[str, Any]) -> None:
        """The network's weights; a model saved before ensembles (one net, no ``members.0.``
        prefix) loads as an ensemble of one."""
        if weights and not any(name.startswith("members.") for name in weights):
            weights = {f"members.0.{name}": value for name, value in weights.items()}
        self.net.load_state_dict(weights)

    def restore_state(self, state: dict[str, Any]) -> None:
        self.classes = list(state["classes"])
        self.label_kind = state.get("label_kind", "str")  # models saved before arrays: text
        self.segment_selection = state.get("segment_selection")
        self.resolution_selection = state.get("resolution_selection")  # None: saved before it, or none ran
        self.copies_selection = state.get("copies_selection")  # None: saved before it, or none ran
        self.summary_mix = float(state.get("summary_mix", 0.0))  # saved before the mixture: the networks alone
        summary = state.get("summary_model")
        self.summary_model = None if summary is None else SummaryStatisticsModel.from_state(summary)
        self.values_mix = float(state.get("values_mix", 0.0))  # saved before it: none
        self.values_branch = bool(state.get("values_branch", False))  # saved before it: none
        self.label_smoothing = float(state.get("label_smoothing", self.params.label_smoothing or 0.0))
        self.warp_copies = int(state.get("warp_copies", 0))  # saved before the copies: none
        values = state.get("values_model")
        self.values_model = None if values is None else SummaryStatisticsModel.from_state(values)
        # saved before the trend's choice: the window given, if any
        self.trend_window = state.get("trend_window", self.params.trend_window or None)
        if "segment_selection" not in state and self.params.conv_segments is None:
            self.params.conv_segments = self.net.config.conv_segments  # saved before the selection: P given
        self.patch = int(state["patch"])
        self.downsample = int(state.get("downsample", 1))  # models saved before downsampling: 1
        self.downsample_mode = state.get("downsample_mode", "mean")  # saved before folding: averages
        self.params.downsample_mode = self.downsample_mode
        self.params.ensemble = self.net.config.ensemble  # models saved before ensembles: 1
        m = int(self.net.config.ensemble)
        # models saved before multi-resolution ensembles: every member at (patch, downsample)
        self.member_patch = [int(k) for k in state.get("member_patch", [self.patch] * m)]
        self.member_downsample = [int(d) for d in state.get("member_downsample", [self.downsample] * m)]
        if "member_downsample" not in state:
            self.params.fold_scales = (1.0,)
        self.period = state.get("period")
        self.phase_member = bool(state.get("phase_member", False))  # saved before it: no member reads phases
        if "phase_member" not in state:
            self.params.phase_member = False
        self.phase_std, self.phase_stats_mean, self.phase_stats_std = (
            None if state.get(name) is None else np.asarray(state[name], dtype=np.float32)
            for name in ("phase_std", "phase_stats_mean", "phase_stats_std"))
        # models saved before the start offsets: each member at offset 0 alone
        self.member_offsets = [[int(o) for o in offsets] for offsets in state.get("member_offsets", [[0]] * m)]
        if "member_offsets" not in state:
            self.params.fold_offsets = 1
        if "period" not in state:  # saved before the period alignment: d was round(median / 128)
            self.params.align_period = False
        self.channel_mean = np.asarray(state["channel_mean"], dtype=np.float32)
        self.channel_std = np.asarray(state["channel_std"], dtype=np.float32)
        self.per_series = bool(state.get("per_series", False))  # saved before: the channels' scale
        if "per_series" not in state:
            self.params.scaling = "global"
        # saved before the series' statistics: series scaled alone carried none
        stats = [state.get("stats_mean"), state.get("stats_std")]
        self.stats_mean, self.stats_std = (None, None) if stats[0] is None else (
            np.asarray(stats[0], dtype=np.float32), np.asarray(stats[1], dtype=np.float32))
        if "stats_mean" not in state:
            self.params.series_stats = False
        if self.net.config.member_kernels is None and self.params.kernel_scales is None:
            self.params.kernel_scales = (1.0,)  # every member at conv_kernels (also saved before the option)
