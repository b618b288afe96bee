r"""Simple anomaly scores every LSTM detector must beat, scored on the same labels.

On a series ``x_t`` (``(T, K)``, standardised per channel; channels averaged):

* :func:`rolling_zscore` — ``|x_t - mean(x_{t-w..t-1})| / std(x_{t-w..t-1})``, the distance
  from the trailing window in its own standard deviations;
* :func:`seasonal_naive_error` — ``|x_t - x_{t-m}|``, the error of the seasonal-naive
  forecast (m: the period, :func:`estimate_period` when the data's frequency gives none);
* :func:`random_score` — uniform noise: the floor (VUS-PR near the anomaly rate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstmkit.data.seasonality import dominant_season


def _as_2d(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[:, None] if x.ndim == 1 else x


def rolling_zscore(x, window: int = 50) -> np.ndarray:
    """The trailing-window z-score (0 for the first step; windows grow up to ``window``)."""
    frame = pd.DataFrame(_as_2d(x))
    past = frame.shift(1).rolling(window, min_periods=2)
    z = (frame - past.mean()).abs() / past.std(ddof=0).clip(lower=1e-8)
    return np.nan_to_num(z.to_numpy()).mean(axis=1)


def seasonal_naive_error(x, period: int) -> np.ndarray:
    """``|x_t - x_{t-m}|`` averaged over channels (0 for the first m steps)."""
    x = _as_2d(x)
    period = max(1, int(period))
    out = np.zeros(len(x))
    if period < len(x):
        out[period:] = np.abs(x[period:] - x[:-period]).mean(axis=1)
    return out


def random_score(n: int, seed: int = 0) -> np.ndarray:
    """Uniform noise on [0, 1): what a detector that knows nothing scores."""
    return np.random.default_rng(seed).random(n)


def estimate_period(x, max_period: int = 1000) -> int:
    """The season of ``x`` (1-D) for the seasonal-naive baseline: among the lags 2..min(n/2,
    ``max_period``) whose autocorrelation (less the series' line) peaks above chance, the
    highest (:func:`lstmkit.data.seasonality.dominant_season`); 1 when none does (noise, a
    random walk, a trend)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if len(x) < 8:
        return 1
    return dominant_season([x], max_season=min(len(x) // 2, int(max_period)))


BASELINES = ("rolling_zscore", "seasonal_naive", "random")


def baseline_scores(x, period: int, seed: int = 0, window: int | None = None) -> dict[str, np.ndarray]:
    """Every baseline's score of one series ``x`` ``(T, K)``."""
    x = _as_2d(x)
    window = window or max(10, min(100, 2 * period if period > 1 else 50))
    return {
        "rolling_zscore": rolling_zscore(x, window),
        "seasonal_naive": seasonal_naive_error(x, period),
        "random": random_score(len(x), seed),
    }


__all__ = ["BASELINES", "baseline_scores", "estimate_period", "random_score", "rolling_zscore",
           "seasonal_naive_error"]
