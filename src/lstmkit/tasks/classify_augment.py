r"""Time-warped copies of the training series, for sets with very few series per class.

With one or two series per class a network sees each class at one speed profile and learns
where its features happen to lie in those few series. A warped copy keeps the series' shape and
order of events and moves them a little in time (Um et al. 2017; Iwana & Uchida 2021 found time
warping among the augmentations that help small training sets most), so the networks learn the
class from several plausible timings of it.

A copy of a series ``x`` of ``L`` steps reads it along a smooth random warp::

    g_j ~ N(0, 1),  j = 1..K                      (K knots spread evenly over the steps)
    v_t = exp(s * interp(t; knots, g))            (the local speed, > 0)
    τ_t = (L - 1) (V_t - V_0) / (V_{L-1} - V_0),  V_t = Σ_{u <= t} v_u
    x'_t = interp(τ_t; 0..L-1, x)                 (every channel along the same τ)

``τ`` is increasing, starts at 0 and ends at ``L - 1``: the copy begins and ends where the series
does, has its length, and passes through every part of it in order. ``s`` sets how far a part can
move (s = 0: the series itself).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

WARP_KNOTS = 4  # K: the warp's speed changes smoothly between this many knots
WARP_STRENGTH = 0.1  # s: log-speed's scale (a part runs at 0.82-1.22x within two sd; 0.3 cost ArrowHead 0.07)


def warp_positions(length: int, rng: np.random.Generator, strength: float = WARP_STRENGTH,
                   knots: int = WARP_KNOTS) -> np.ndarray:
    """``τ`` (``(length,)``, float64): a smooth increasing map of the steps onto ``[0, length - 1]``
    with ``τ_0 = 0`` and ``τ_{L-1} = L - 1`` (the module's equations)."""
    if length < 3:
        return np.arange(length, dtype=np.float64)
    grid = np.arange(length, dtype=np.float64)
    at = np.linspace(0.0, length - 1.0, knots)
    speed = np.exp(strength * np.interp(grid, at, rng.normal(size=knots)))
    cumulative = np.cumsum(speed)
    return (cumulative - cumulative[0]) / (cumulative[-1] - cumulative[0]) * (length - 1.0)


def time_warp(seq: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``seq`` ``(L, C)`` read at the fractional ``positions`` ``(L,)`` by linear interpolation,
    every channel along the same positions; float32."""
    grid = np.arange(len(seq), dtype=np.float64)
    return np.stack([np.interp(positions, grid, seq[:, c]) for c in range(seq.shape[1])], axis=1).astype(np.float32)


def warped_copies(data, copies: int, seed: int, strength: float = WARP_STRENGTH):
    """``data`` with ``copies`` warped copies of every series after it (labels and ids kept, the
    ids suffixed ``~1..~copies``): ``len(data) * (1 + copies)`` series, the originals first and in
    their order. The draws come from ``numpy.random.default_rng(seed)`` alone."""
    if copies <= 0:
        return data
    rng = np.random.default_rng(seed)
    sequences = list(data.sequences)
    labels = list(data.labels)
    ids = list(data.ids)
    for c in range(1, copies + 1):
        for seq, label, name in zip(data.sequences, data.labels, data.ids):
            sequences.append(time_warp(seq, warp_positions(len(seq), rng, strength)))
            labels.append(label)
            ids.append(f"{name}~{c}")
    return replace(data, sequences=sequences, labels=np.asarray(labels, dtype=str), ids=np.asarray(ids, dtype=str))


WARP_SERIES_PER_CLASS = 10  # warp_copies=None: the typical class reaches about this many series
WARP_BELOW = 3  # warp_copies=None: copies where the median class has fewer training series than this


def warp_copies_for(warp_copies: int | None, data) -> int:
    """The W the networks train with on ``data``: ``warp_copies`` where given, else (None) where
    the median class has fewer than :data:`WARP_BELOW` training series (one: nothing can be held
    out, so no choice is made on held-out series and the networks see each class at one timing),
    ``ceil(WARP_SERIES_PER_CLASS / median) - 1`` (9 at one series per class, 4 at two), else 0.
    At two series per class 4 copies gained on 12 subsampled sets (0.783 -> 0.800) and lost on
    PigCVP, the real set of two per class (0.941 -> 0.909), where a held-out comparison on the
    selection's 2 folds sees the loss: there the copies are weighed before the model trains
    (:mod:`lstmkit.tasks.classify_copies`; benchmarks/README.md, "Warped copies at two training
    series per class")."""
    if warp_copies is not None:
        return int(warp_copies)
    _, counts = np.unique(np.asarray(data.labels), return_counts=True)
    median = float(np.median(counts))
    if median >= WARP_BELOW:
        return 0
    return int(np.ceil(WARP_SERIES_PER_CLASS / median)) - 1
