r"""Scoring anomaly detectors against 0/1 labels, the way the field now scores them (numpy only).

With labels ``y`` (1 = anomalous time step), a continuous score ``s`` (higher = more
anomalous) and flags ``f`` (0/1, a detector's decisions):

* :func:`vus_pr` — the **volume under the range-PR surface** (Paparrizos et al., VLDB 2022),
  the headline number. For every buffer length ``ℓ = 0..max_buffer`` the labels are widened by
  a soft margin of ``ℓ//2`` steps each side (``√(1 - d/ℓ)`` at distance ``d`` from the
  anomaly), 250 thresholds are sampled uniformly from the sorted scores, and at each one::

      TP = Σ_t ỹ_t · [s_t ≥ θ]     P = (Σ y + Σ ỹ) / 2
      recall = min(TP / P, 1) · (fraction of widened anomaly ranges hit at all)
      precision = TP / Σ_t [s_t ≥ θ]

  the area under that PR curve is averaged over ℓ. Insensitive to a small lag between the
  label and the score, and threshold-free. Equal to aeon's ``range_pr_vus_score``.
* :func:`pr_auc` — the area under the point-wise precision-recall curve (as scikit-learn's
  ``precision_recall_curve`` + ``auc``; equal to aeon's ``pr_auc_score``).
* :func:`range_precision`, :func:`range_recall`, :func:`range_f1` — Tatbul et al. (NeurIPS
  2018) for the flags, with aeon's defaults: flat positional bias, reciprocal cardinality
  ``γ = 1/(number of ranges overlapped)``, existence weight α = 0 for precision and 0.5 for
  recall::

      Precision_T = mean over predicted ranges P_i of  γ · |P_i ∩ R| / |P_i|
      Recall_T    = mean over real ranges R_j of  α·[R_j hit] + (1 - α) · γ · |R_j ∩ P| / |R_j|

* :func:`point_f1` — plain F1 over time steps (no adjustment);
* :func:`point_adjusted_f1` — F1 after *point adjustment*: a real anomaly range counts as
  wholly detected when any one of its steps is flagged. It inflates: Kim et al. (AAAI 2022)
  show a random score reaches a high point-adjusted F1; report it only beside the unadjusted.

Every function takes 1-D arrays of one length; ``y`` must hold 0/1 and at least one 1 (the
metrics are undefined otherwise: ``ValueError``).
"""

from __future__ import annotations

import numpy as np

#: thresholds sampled from the score for the range-PR curve (Paparrizos et al.'s constant)
N_THRESHOLDS = 250
#: largest buffer of the VUS surface (the paper's and aeon's default)
MAX_BUFFER = 500


def _check(y, s, what: str = "score") -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    s = np.asarray(s, dtype=np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"labels and {what} must be 1-D of one length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must hold only 0 and 1")
    if not y.any():
        raise ValueError("the labels hold no anomaly (no 1): the metrics are undefined")
    s = np.nan_to_num(s, nan=0.0, posinf=1.0, neginf=0.0)  # aeon's check_y conventions
    return y.astype(np.int64), s


def ranges(flags) -> np.ndarray:
    """The runs of 1s in ``flags`` as an ``(R, 2)`` array of inclusive ``[start, end]``."""
    f = np.asarray(flags) > 0
    edges = np.diff(np.r_[0, f.astype(np.int8), 0])
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1], axis=1)


# ----------------------------------------------------------------------------- VUS-PR


def _extend_labels(y: np.ndarray, buffer: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels widened by slopes of ``buffer//2`` each side, and the widened ranges."""
    if buffer <= 1:
        return y.astype(np.float64), ranges(y)
    soft = y.astype(np.float64)
    half, n = buffer // 2, len(y)
    for start, end in ranges(y):
        after = np.arange(end, min(end + half, n))
        soft[after] += np.sqrt(1 - (after - end) / buffer)
        before = np.arange(max(start - half, 0), start)
        soft[before] += np.sqrt(1 - (start - before) / buffer)
    soft = np.clip(soft, 0, 1)
    return soft, ranges(soft > 0)


def _thresholds(s: np.ndarray) -> np.ndarray:
    ordered = np.sort(s)[::-1]
    return ordered[np.linspace(0, len(ordered) - 1, N_THRESHOLDS, dtype=np.int_)]


def range_pr_auc(y, s, buffer: int) -> float:
    """Area under the range-PR curve of Paparrizos et al. for one buffer length."""
    y, s = _check(y, s)
    return _range_pr_auc(y, s, buffer, np.argsort(s, kind="stable"))


def _range_pr_auc(y: np.ndarray, s: np.ndarray, buffer: int, order: np.ndarray) -> float:
    soft, spans = _extend_labels(y, buffer)
    thresholds = _thresholds(s)
    ascending = s[order]
    # TP(θ) = Σ soft over s ≥ θ: a suffix sum in ascending score order
    suffix = np.r_[np.cumsum(soft[order][::-1])[::-1], 0.0]
    first = np.searchsorted(ascending, thresholds, side="left")  # first index with s ≥ θ
    tp = suffix[first]
    n_pred = len(s) - first
    positives = (y.sum() + soft.sum()) / 2
    peaks = np.array([s[a:b + 1].max() for a, b in spans])  # each range's highest score
    hit = (peaks[None, :] >= thresholds[:, None]).mean(axis=1)  # existence reward
    recall = np.minimum(tp / positives, 1) * hit
    precision = tp / n_pred
    recalls = np.r_[0.0, recall, 1.0]
    precisions = np.r_[1.0, precision]
    return float(np.sum((recalls[1:-1] - recalls[:-2]) * (precisions[1:] + precisions[:-1]) / 2))


def vus_pr(y, s, max_buffer: int = MAX_BUFFER) -> float:
    """Volume under the range-PR surface (mean of :func:`range_pr_auc` over buffers
    ``0..max_buffer``); 0.0 for a constant score, as aeon."""
    y, s = _check(y, s)
    if np.unique(s).size == 1:
        return 0.0
    order = np.argsort(s, kind="stable")
    return float(np.mean([_range_pr_auc(y, s, b, order) for b in range(max_buffer + 1)]))


# ----------------------------------------------------------------------------- AUC-PR


def pr_auc(y, s) -> float:
    """Area under the point-wise precision-recall curve (trapezoids, scikit-learn's curve)."""
    y, s = _check(y, s)
    if np.unique(s).size == 1:
        return 0.0
    order = np.argsort(s, kind="mergesort")[::-1]
    s_desc, y_desc = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_desc)), len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(y_desc)[last].astype(np.float64)
    fps = (last + 1) - tps
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]
    recall = np.r_[(tps / tps[-1])[::-1], 0.0]
    return float(abs(np.trapezoid(precision, recall)))


# ----------------------------------------------------------------------------- range-based P/R/F1


def _overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every range of ``a``: the steps it shares with ``b``'s ranges, and how many of
    ``b``'s ranges it touches."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a)), np.zeros(len(a), dtype=np.int64)
    lo = np.maximum(a[:, None, 0], b[None, :, 0])
    hi = np.minimum(a[:, None, 1], b[None, :, 1])
    size = np.clip(hi - lo + 1, 0, None)
    return size.sum(axis=1).astype(np.float64), (size > 0).sum(axis=1)


def _range_score(a: np.ndarray, b: np.ndarray, alpha: float) -> float:
    if len(a) == 0:
        return 0.0
    shared, touched = _overlaps(a, b)
    gamma = 1.0 / np.maximum(touched, 1)  # reciprocal cardinality
    overlap = gamma * shared / (a[:, 1] - a[:, 0] + 1)  # flat bias
    return float(np.mean(alpha * (touched > 0) + (1 - alpha) * overlap))


def range_precision(y, f, alpha: float = 0.0) -> float:
    """Tatbul et al.'s range precision of flags ``f`` (flat bias, reciprocal γ)."""
    y, f = _check(y, f, "flags")
    return _range_score(ranges(f), ranges(y), alpha)


def range_recall(y, f, alpha: float = 0.5) -> float:
    """Tatbul et al.'s range recall of flags ``f`` (flat bias, reciprocal γ, α = 0.5)."""
    y, f = _check(y, f, "flags")
    return _range_score(ranges(y), ranges(f), alpha)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def range_f1(y, f, p_alpha: float = 0.0, r_alpha: float = 0.5) -> float:
    """The harmonic mean of :func:`range_precision` and :func:`range_recall` (0.0 when the
    flags are constant, as aeon)."""
    y, f = _check(y, f, "flags")
    if np.unique(f).size == 1:
        return 0.0
    return _f1(range_precision(y, f, p_alpha), range_recall(y, f, r_alpha))


# ----------------------------------------------------------------------------- point F1


def point_f1(y, f) -> float:
    """F1 over time steps, no adjustment."""
    y, f = _check(y, f, "flags")
    f = f > 0
    tp = float(np.sum(f & (y == 1)))
    precision = tp / f.sum() if f.any() else 0.0
    return float(_f1(precision, tp / y.sum()))


def point_adjust(y, f) -> np.ndarray:
    """Flags after point adjustment: every real range with one flagged step wholly flagged."""
    y, f = _check(y, f, "flags")
    out = f > 0
    for a, b in ranges(y):
        if out[a:b + 1].any():
            out[a:b + 1] = True
    return out.astype(np.int64)


def point_adjusted_f1(y, f) -> float:
    """:func:`point_f1` after :func:`point_adjust` (inflated: see the module docstring)."""
    return point_f1(y, point_adjust(y, f))


# ----------------------------------------------------------------------------- all at once


def score_metrics(y, s, max_buffer: int = MAX_BUFFER) -> dict[str, float]:
    """The threshold-free metrics of a score: VUS-PR and AUC-PR."""
    return {"VUS-PR": vus_pr(y, s, max_buffer), "AUC-PR": pr_auc(y, s)}


def flag_metrics(y, f) -> dict[str, float]:
    """The metrics of flags: range P/R/F1, point F1 and point-adjusted F1."""
    return {
        "range_precision": range_precision(y, f),
        "range_recall": range_recall(y, f),
        "range_F1": range_f1(y, f),
        "point_F1": point_f1(y, f),
        "point_adjusted_F1": point_adjusted_f1(y, f),
    }


__all__ = [
    "MAX_BUFFER",
    "flag_metrics",
    "point_adjust",
    "point_adjusted_f1",
    "point_f1",
    "pr_auc",
    "range_f1",
    "range_pr_auc",
    "range_precision",
    "range_recall",
    "ranges",
    "score_metrics",
    "vus_pr",
]
