r"""Telemanom's error processing (Hundman et al., KDD 2018): smoothing, the nonparametric
dynamic threshold, and pruning. numpy only.

With prediction errors ``e_t = |y_t - ŷ_t|``:

1. **Smoothing** (EWMA, pandas' ``ewm(span=h, adjust=True)``)::

       e_s,t = Σ_{k≤t} (1-α)^{t-k} e_k / Σ_{k≤t} (1-α)^{t-k},   α = 2 / (h + 1)

   with ``h = batch_size · window_size · smoothing_perc`` = 70 · 30 · 0.05 = 105 steps. It
   is computed recursively (a numerator and a denominator), so a stream gets the same values.
2. **Windows**: the smoothed errors are cut into windows of ``window_size · batch_size``
   = 2100 steps that advance by ``batch_size`` = 70 (one window when the series is shorter).
3. **Threshold per window** ``ε = μ(e_s) + z σ(e_s)``, z from 2.5 to 12 in steps of 0.5,
   chosen to maximise::

       (Δμ/μ + Δσ/σ) / (|e_a| + |E_seq|²)

   where Δμ, Δσ are how much the mean and standard deviation of ``e_s`` fall when the values
   at or above ε are removed, ``e_a`` the steps at or above ε widened by ``error_buffer`` =
   100 steps each side, and ``E_seq`` their contiguous sequences (at most 5 sequences and
   under half the window, the paper's guard rails). The same is done for the mirrored errors
   ``2μ - e_s`` (errors that fall: a flat-lined signal the model suddenly predicts perfectly),
   as Telemanom's code does.
4. **Flags**: steps with ``e_s ≥ ε`` and above a ``floor`` widened by ``error_buffer``; in
   every window but the first only the newest ``batch_size`` steps are new. A window whose
   largest error is at or below the floor is not judged. Telemanom's floor is 5% of the
   values' 5-95 percentile range (values scaled to [-1, 1]); lstmkit's detector passes
   ``guard`` (2) times the mean smoothed error on the normal span instead, since a series the
   LSTM predicts well has tiny errors in absolute terms while its anomalies still stand out
   against its own normal error (with the absolute floor they were never flagged).
5. **Pruning**: the maxima of the flagged sequences, sorted descending, with the largest
   unflagged error appended: where the fall ``d_i = (m_i - m_{i+1}) / m_i`` from one to the
   next stays below ``p`` = 0.13 for it and every later one, those sequences are reclassified
   as normal (a sequence only slightly worse than the normal errors is no anomaly).

The defaults are Telemanom's ``config.yaml`` (batch_size 70, window_size 30, smoothing_perc
0.05, error_buffer 100, p 0.13; z in [2.5, 12)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ThresholdConfig:
    """Telemanom's defaults (Hundman et al. 2018, ``config.yaml``)."""

    batch_size: int = 70  # steps a window advances by
    window_size: int = 30  # batches per window: windows of 2100 steps
    smoothing_perc: float = 0.05  # EWMA span = batch_size * window_size * smoothing_perc = 105
    error_buffer: int = 100  # steps around a flagged error that join its sequence
    p: float = 0.13  # minimum fall between sequence maxima kept as anomalies (pruning)
    z_min: float = 2.5
    z_max: float = 12.0
    z_step: float = 0.5
    max_sequences: int = 5  # a threshold giving more sequences is not considered

    @property
    def span(self) -> int:
        return max(1, int(self.batch_size * self.window_size * self.smoothing_perc))


# ----------------------------------------------------------------------------- smoothing


class EWMA:
    """The smoothed error, one value at a time (equal to ``pandas.Series.ewm(span).mean()``)."""

    def __init__(self, span: int) -> None:
        self.decay = 1.0 - 2.0 / (span + 1.0)
        self.numerator = 0.0
        self.denominator = 0.0

    def update(self, error: float) -> float:
        self.numerator = self.decay * self.numerator + error
        self.denominator = self.decay * self.denominator + 1.0
        return self.numerator / self.denominator


def ewma(errors: np.ndarray, span: int) -> np.ndarray:
    """EWMA of ``errors`` (1-D) with span ``span``, as pandas' ``adjust=True`` mean."""
    smoother = EWMA(span)
    return np.array([smoother.update(float(e)) for e in np.asarray(errors, dtype=np.float64)])


def span_ladder(span: int, scales: int) -> tuple[int, ...]:
    """``scales`` EWMA spans from 1 step to ``span``, evenly spaced in log
    (``round(span^(k / (scales - 1)))``, k = 0..scales-1; equal spans once): 1, 3, 10, 33, 105
    for the default span and 5 scales; ``(span,)`` for one scale."""
    if scales < 1 or span < 1:
        raise ValueError(f"scales and span must be at least 1, got {scales} and {span}")
    if scales == 1:
        return (int(span),)
    return tuple(sorted({int(round(span ** (k / (scales - 1)))) for k in range(scales)}))


class ScaleScore:
    r"""The anomaly score over several time scales, one error at a time::

        score_t = max_s |e_s,t - m_s| / d_s

    where ``e_s,t`` is the EWMA of the errors with span ``s`` (one per span of the ladder),
    and ``m_s``, ``d_s`` that smoothed error's mean and standard deviation on the normal span.
    A one-step spike stands out at span 1, where a 105-step average dilutes it a
    hundredfold; a level shift or a changed rhythm, small at every step but lasting, stands
    out at the long spans, where single steps' noise averages away. Each scale is measured in
    its own normal spread, so the scales compare, and the absolute value scores errors that
    fall (a flat-lined signal predicted too well) as well as errors that rise."""

    def __init__(self, spans, means, stds) -> None:
        if not (len(spans) == len(means) == len(stds)) or not spans:
            raise ValueError("one mean and one standard deviation per span")
        self.smoothers = [EWMA(int(s)) for s in spans]
        self.means = [float(m) for m in means]
        self.stds = [max(float(d), 1e-12) for d in stds]

    def update(self, error: float) -> float:
        """Take the next error; return its score."""
        return max(abs(sm.update(error) - m) / d for sm, m, d in zip(self.smoothers, self.means, self.stds))


def scale_statistics(errors: np.ndarray, spans, normal: np.ndarray) -> tuple[list[float], list[float]]:
    """The mean and standard deviation, over the steps where ``normal`` holds, of the EWMA of
    ``errors`` at each span: the ``means`` and ``stds`` of :class:`ScaleScore`."""
    means, stds = [], []
    for span in spans:
        smoothed = ewma(errors, int(span))[np.asarray(normal, dtype=bool)]
        means.append(float(smoothed.mean()) if len(smoothed) else 0.0)
        stds.append(float(smoothed.std()) if len(smoothed) > 1 else 1.0)
    return means, stds


def scale_scores(errors: np.ndarray, score: ScaleScore) -> np.ndarray:
    """:meth:`ScaleScore.update` over ``errors`` (1-D), the stream's values exactly."""
    return np.array([score.update(float(e)) for e in np.asarray(errors, dtype=np.float64)])


# ----------------------------------------------------------------------------- thresholds


def _widen(indices: np.ndarray, buffer: int, n: int) -> np.ndarray:
    if len(indices) == 0:
        return indices
    offsets = np.arange(-buffer, buffer + 1)
    out = (indices[:, None] + offsets[None, :]).ravel()
    return np.unique(out[(out >= 0) & (out < n)])


def sequences(indices: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of sorted unique ``indices`` as inclusive ``(start, end)``."""
    if len(indices) == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.r_[indices[0], indices[breaks + 1]]
    ends = np.r_[indices[breaks], indices[-1]]
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def find_epsilon(e_s: np.ndarray, config: ThresholdConfig = ThresholdConfig(), *,
                 mean: float | None = None, std: float | None = None) -> float:
    """The threshold ε = μ + zσ of step 3 (the largest z, 12, when no z qualifies)."""
    mean = float(np.mean(e_s)) if mean is None else mean
    std = float(np.std(e_s)) if std is None else std
    best_z, best = config.z_max, -np.inf
    if mean <= 0 or std <= 0:
        return mean + best_z * std
    for z in np.arange(config.z_min, config.z_max, config.z_step):
        epsilon = mean + z * std
        below = e_s[e_s < epsilon]
        above = np.flatnonzero(e_s >= epsilon)
        flagged = _widen(above, config.error_buffer - 1, len(e_s))  # Telemanom: buffer 1..99 here
        if len(flagged) == 0 or len(below) == 0:
            continue
        n_seq = sum(1 for a, b in sequences(flagged) if a != b)
        score = ((mean - below.mean()) / mean + (std - below.std()) / std) / (n_seq ** 2 + len(flagged))
        if score >= best and n_seq <= config.max_sequences and len(flagged) < 0.5 * len(e_s):
            best, best_z = score, z
    return mean + best_z * std


def _worth_judging(e_s: np.ndarray, floor: float) -> bool:
    """The guard: a window is judged when its largest error passes ``floor``."""
    return bool(e_s.max() > floor)


def _window_flags(e_s: np.ndarray, floor: float, epsilon: float, config: ThresholdConfig,
                  first: bool, ignore: int, flagged_before: np.ndarray) -> tuple[np.ndarray, float]:
    """Step 4 for one window: the flagged indices and the largest unflagged error."""
    above = np.flatnonzero((e_s >= epsilon) & (e_s > floor))
    if len(above) == 0:
        return np.zeros(0, dtype=np.int64), 0.0
    flagged = _widen(above, config.error_buffer, len(e_s))
    flagged = flagged[flagged >= ignore] if first else flagged[flagged >= len(e_s) - config.batch_size]
    normal = np.setdiff1d(np.arange(len(e_s)), np.r_[flagged, flagged_before])
    return flagged, float(e_s[normal].max()) if len(normal) else 0.0


def prune(e_s: np.ndarray, flagged: np.ndarray, normal_max: float, p: float) -> np.ndarray:
    """Step 5: the flagged indices whose sequences survive pruning."""
    seqs = [s for s in sequences(flagged) if s[0] != s[1]]
    if not seqs:
        return np.zeros(0, dtype=np.int64)
    maxima = np.array([e_s[a:b + 1].max() for a, b in seqs])
    ordered = np.r_[np.sort(maxima)[::-1], normal_max]
    remove: list[int] = []
    for i in range(len(ordered) - 1):
        if ordered[i] > 0 and (ordered[i] - ordered[i + 1]) / ordered[i] < p:
            remove.extend(np.flatnonzero(maxima == ordered[i]).tolist())
        else:
            remove = []
    kept = [s for j, s in enumerate(seqs) if j not in set(remove)]
    if not kept:
        return np.zeros(0, dtype=np.int64)
    keep = np.concatenate([np.arange(a, b + 1) for a, b in kept])
    return flagged[np.isin(flagged, keep)]


def windows(n: int, config: ThresholdConfig) -> list[tuple[int, int]]:
    """The ``[start, end)`` windows of step 2 over ``n`` smoothed errors."""
    size = config.batch_size * config.window_size
    if n <= size:
        return [(0, n)]
    count = (n - size) // config.batch_size
    out = [(i * config.batch_size, size + i * config.batch_size) for i in range(count + 1)]
    out[-1] = (out[-1][0], n)
    return out


def dynamic_flags(e_s: np.ndarray, floor: float, config: ThresholdConfig = ThresholdConfig(),
                  ignore: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2-5 over a whole series: 0/1 flags ``(T,)`` and the threshold ε of the window
    each step was last judged in ``(T,)``. ``floor``: errors at or below it are never flagged
    (the guard of step 4); ``ignore``: steps at the start never flagged."""
    n = len(e_s)
    flags = np.zeros(n, dtype=np.int64)
    epsilons = np.full(n, np.nan)
    found = np.zeros(0, dtype=np.int64)
    for w, (start, end) in enumerate(windows(n, config)):
        window = e_s[start:end]
        mean, std = float(window.mean()), float(window.std())
        mirrored = mean + (mean - window)
        kept = []
        judged = _worth_judging(window, floor)
        for errors in (window, mirrored):
            epsilon = find_epsilon(errors, config, mean=mean, std=std)
            if errors is window:
                epsilons[start:end] = epsilon
            if not judged:
                continue
            flagged, normal_max = _window_flags(errors, floor, epsilon, config, w == 0,
                                                ignore, found - start)
            if len(flagged):
                kept.append(prune(errors, flagged, normal_max, config.p))
        if kept:
            found = np.unique(np.r_[found, np.concatenate(kept) + start])
    flags[found] = 1
    return flags, epsilons


def events(flags: np.ndarray, scores: np.ndarray) -> list[tuple[int, int, float]]:
    """One ``(start, end, peak score)`` per run of flagged steps (inclusive indices)."""
    return [(a, b, float(np.max(scores[a:b + 1]))) for a, b in sequences(np.flatnonzero(flags))]


__all__ = ["EWMA", "ScaleScore", "ThresholdConfig", "dynamic_flags", "events", "ewma", "find_epsilon", "prune",
           "scale_scores", "scale_statistics", "sequences", "span_ladder", "windows"]
