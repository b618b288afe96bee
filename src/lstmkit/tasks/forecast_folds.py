r"""Blocked cross-validation of the forecaster's ensemble (``validation="folds"``).

The training windows of every series, ordered by cut-off, are cut into K contiguous blocks
(folds), K the number of ensemble members. Member k trains on every window except those of
fold k and those whose horizon overlaps it:

    train_k = { i : |c_i - c_j| >= H  for every window j of fold k in the same series }

(c the cut-off, H the horizon: a kept window never shares a target step with a held-out
one). Every window is then forecast once by the member that did not see it, an out-of-fold
forecast, and the candidates of the combination (the LSTM, and the baselines, the fitted ones
refitted without the fold alike) are scored on all windows of the series' history rather
than on its most recent windows only. For window-to-horizon regressions this blocked
cross-validation is a sound estimate of the forecast error (Bergmeir, Hyndman & Koo 2018,
"A note on the validity of cross-validation for evaluating autoregressive time series
prediction"), and with every window scored the weights no longer hang on one stretch of the
series. The members that forecast are then trained again on every window (the folds only
weigh the combination: a member on (K-1)/K of the windows, less the gaps, forecasts worse on
short series).
"""

from __future__ import annotations

import numpy as np


def time_folds(series_index: np.ndarray, cutoff: np.ndarray, k: int) -> np.ndarray:
    """``(N,)`` fold 0..k-1 of every window: each series' windows, by cut-off, in k contiguous
    blocks of (nearly) equal size (the first blocks one window larger where it does not
    divide). A series with fewer than k windows fills the first folds only."""
    series_index = np.asarray(series_index)
    cutoff = np.asarray(cutoff)
    folds = np.zeros(len(cutoff), dtype=np.int64)
    for s in np.unique(series_index):
        rows = np.flatnonzero(series_index == s)
        rows = rows[np.argsort(cutoff[rows], kind="stable")]
        for fold, block in enumerate(np.array_split(rows, k)):
            folds[block] = fold
    return folds


def training_masks(series_index: np.ndarray, cutoff: np.ndarray, folds: np.ndarray, k: int,
                   horizon: int) -> np.ndarray:
    """``(k, N)`` bool: ``masks[f, i]`` when member f trains on window i, i.e. i is not in fold
    f and its cut-off is at least ``horizon`` steps from every cut-off of fold f in the same
    series (so no target step is shared with a held-out window)."""
    series_index = np.asarray(series_index)
    cutoff = np.asarray(cutoff)
    masks = np.ones((k, len(cutoff)), dtype=bool)
    for f in range(k):
        for s in np.unique(series_index[folds == f]):
            held = cutoff[(folds == f) & (series_index == s)]
            same = series_index == s
            near = np.abs(cutoff[:, None] - held[None, :]).min(axis=1) < horizon
            masks[f, same & near] = False
    return masks


def out_of_fold(predictions: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """``(N, ...)``: for every window, the prediction of the member that held its fold out,
    from the members' predictions ``(k, N, ...)``."""
    return predictions[folds, np.arange(predictions.shape[1])]
