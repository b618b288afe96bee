"""Forecast accuracy metrics, baselines and the rolling-origin backtest split.

Notation: ``y`` the actual values ``y_1 .. y_n`` of a forecast window, ``f`` the forecasts,
``e_t = y_t - f_t`` the errors, ``x_1 .. x_T`` the history (in-sample values) before the
window, ``m`` the season length. Every metric takes arrays of any (equal) shape and averages
over all their entries; NaN entries of ``y`` or ``f`` are not skipped (they give NaN).

=========  ==============================================================  =====================
metric     formula                                                          range
=========  ==============================================================  =====================
MAE        mean |e_t|                                                       0 .. inf
RMSE       sqrt(mean e_t^2)                                                 0 .. inf
MAPE       100 * mean_{t: y_t != 0} |e_t| / |y_t|                           percent, 0 .. inf
sMAPE      100 * mean 2 |e_t| / (|y_t| + |f_t|), a 0/0 term counts 0        percent, 0 .. 200
MASE       MAE / (1/(T-m) * sum_{t=m+1..T} |x_t - x_{t-m}|)                 0 .. inf (1: as good
                                                                            as seasonal naive
                                                                            in-sample)
coverage   mean [lower_t <= y_t <= upper_t]                                 fraction, 0 .. 1
=========  ==============================================================  =====================

numpy only.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lstmkit.errors import InputError, bad_value, param_ref

__all__ = [
    "coverage",
    "evaluate",
    "mae",
    "mape",
    "mase",
    "naive",
    "rmse",
    "rolling_origin",
    "score_backtest",
    "seasonal_naive",
    "smape",
]


def _pair(y: Sequence[float] | np.ndarray, f: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    f = np.asarray(f, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(f"actual and forecast differ in shape: {y.shape} and {f.shape}")
    if y.size == 0:
        raise ValueError("no values to score")
    return y.reshape(-1), f.reshape(-1)


def mae(y, f) -> float:
    """Mean absolute error: ``mean |y_t - f_t|``."""
    y, f = _pair(y, f)
    return float(np.mean(np.abs(y - f)))


def rmse(y, f) -> float:
    """Root mean squared error: ``sqrt(mean (y_t - f_t)^2)``."""
    y, f = _pair(y, f)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def mape(y, f) -> float:
    """Mean absolute percentage error, in percent.

    ``100 * mean |y_t - f_t| / |y_t|`` over the points where ``y_t != 0``: a zero actual has no
    percentage error, so it is left out of the mean (and out of its count). NaN when every
    actual is zero. Prefer sMAPE or MASE for series that touch zero.
    """
    y, f = _pair(y, f)
    keep = y != 0
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(y[keep] - f[keep]) / np.abs(y[keep])))


def smape(y, f) -> float:
    """Symmetric mean absolute percentage error, in percent, from 0 to 200.

    ``100 * mean 2 |y_t - f_t| / (|y_t| + |f_t|)``; a term where ``y_t = f_t = 0`` is a
    perfect forecast and counts 0 (it is not left out).
    """
    y, f = _pair(y, f)
    num = 2.0 * np.abs(y - f)
    den = np.abs(y) + np.abs(f)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    return float(100.0 * np.mean(terms))


def mase(y, f, history, m: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006).

    ``MAE(y, f) / q`` with ``q = 1/(T-m) * sum_{t=m+1..T} |x_t - x_{t-m}|``, the in-sample MAE
    of the seasonal naive forecast on the history ``x``. When the history has no more than
    ``m`` values, ``m`` falls back to 1 (naive). NaN when the history has fewer than 2
    values, or when ``q`` is 0 (a constant history), since the scale is then undefined.
    """
    y, f = _pair(y, f)
    x = np.asarray(history, dtype=np.float64).reshape(-1)
    m = int(m)
    if m < 1:
        raise ValueError(f"season length must be >= 1, got {m}")
    if len(x) <= m:
        m = 1
    if len(x) <= m:
        return float("nan")
    q = float(np.mean(np.abs(x[m:] - x[:-m])))
    if not q > 0:
        return float("nan")
    return float(np.mean(np.abs(y - f)) / q)


def coverage(y, lower, upper) -> float:
    """Fraction (0 to 1) of actuals inside their interval: ``mean [lower_t <= y_t <= upper_t]``.

    Compare it with the nominal level: a 90% interval should give about 0.9.
    """
    y, lo = _pair(y, lower)
    _, hi = _pair(y, upper)
    return float(np.mean((lo <= y) & (y <= hi)))


def naive(history, horizon: int) -> np.ndarray:
    """Naive forecast: the last value repeated, ``f_{T+h} = x_T`` for ``h = 1 .. horizon``."""
    x = np.asarray(history, dtype=np.float64).reshape(-1)
    if len(x) == 0:
        raise InputError("the naive forecast needs at least one value of history; got none")
    return seasonal_naive(x, horizon, 1)


def seasonal_naive(history, horizon: int, m: int):
    """Seasonal naive forecast: the value one season back, ``f_{T+h} = x_{T+h-m*ceil(h/m)}``.

    That is the last season repeated. With ``m = 1``, or a history shorter than ``m``, it is
    the naive forecast. ``history`` is one series (a sequence, returned as float64) or a batch
    of windows along the last axis, a numpy array or a torch tensor ``(..., T)`` (returned as
    ``(..., horizon)`` of the same kind): the one seasonal naive of the project, used by the
    backtest's baseline, the forecaster's network and its choice of season.
    """
    _check_horizon(horizon)
    m = int(m)
    if m < 1:
        raise ValueError(f"season length must be >= 1, got {m}")
    x = history if hasattr(history, "shape") and getattr(history, "ndim", 1) > 1 else \
        np.asarray(history, dtype=np.float64).reshape(-1)
    length = x.shape[-1]
    if m > length:
        m = 1
    index = length - m + np.arange(int(horizon)) % m  # the last season, repeated
    return x[..., index]


def _check_horizon(horizon: int) -> None:
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise bad_value("horizon", "a whole number >= 1", horizon)


def rolling_origin(
    n: int,
    horizon: int,
    windows: int = 1,
    stride: int | None = None,
    min_train: int = 1,
    name: str | None = None,
) -> list[int]:
    """Cut-offs of a rolling-origin backtest, in increasing order.

    A cut-off ``c`` means: fit (or look back) on ``x[:c]``, forecast and score ``x[c:c+horizon]``.
    The last window ends at the end of the series (``c = n - horizon``) and each earlier one
    starts ``stride`` steps before the next (default ``stride = horizon``: windows that touch
    but do not overlap)::

        c_k = n - horizon - stride * (windows - 1 - k),   k = 0 .. windows-1

    Args:
        n: length of the series.
        horizon: steps forecast in each window.
        windows: number of windows.
        stride: steps between consecutive cut-offs.
        min_train: the fewest steps of history the first window may have (e.g. the lookback).
        name: how to name the series in the error (e.g. ``"series 'A'"``).

    Raises:
        InputError: when ``n < min_train + horizon + stride * (windows - 1)``.
    """
    _check_horizon(horizon)
    for label, v in (("windows", windows), ("stride", stride if stride is not None else 1)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise bad_value(label, "a whole number >= 1", v)
    stride = int(horizon if stride is None else stride)
    need = int(min_train) + int(horizon) + stride * (int(windows) - 1)
    if n < need:
        who = name or "the series"
        fits = (n - int(min_train) - int(horizon)) // stride + 1 if n >= min_train + horizon else 0
        fix = (f"use {param_ref('windows', fits)} or fewer" if fits >= 1
               else f"use a shorter {param_ref('horizon')} or {param_ref('lookback')}")
        raise InputError(
            f"{who} has {n} time steps; a backtest of {windows} window{'s' if windows != 1 else ''} of "
            f"horizon {horizon} with stride {stride} after at least {min_train} of history needs {need}; {fix}"
        )
    return [int(n - horizon - stride * (windows - 1 - k)) for k in range(int(windows))]


def _mean_defined(values) -> float:
    """The mean of the defined (not NaN) values; NaN when none is (MASE of constant series,
    whose in-sample naive error is 0), without numpy's empty-slice warning."""
    values = np.asarray(values, dtype=float)
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def score_backtest(predictions, histories: dict, m: int, models, quantiles=()) -> dict[str, dict[str, float]]:
    """A backtest's metrics per model column of ``predictions`` (a DataFrame with ``y``, the
    model columns, ``_id`` and, with ``quantiles``, ``y_q<q>``): MAE, RMSE, MAPE and sMAPE over
    every row; MASE the mean over series of each series' MASE, scaled by its ``histories[id]``
    (the values before its first cut-off); coverage of the outermost quantiles for ``lstm``."""
    metrics: dict[str, dict[str, float]] = {}
    for model in models:
        y, f = predictions["y"].to_numpy(), predictions[model].to_numpy()
        scaled = [mase(g["y"], g[model], histories[uid], m) for uid, g in predictions.groupby("_id", sort=False)]
        metrics[model] = {"MAE": mae(y, f), "RMSE": rmse(y, f), "MAPE": mape(y, f), "sMAPE": smape(y, f),
                          "MASE": _mean_defined(scaled)}
    if quantiles and min(quantiles) < 0.5 < max(quantiles):
        q_low, q_high = min(quantiles), max(quantiles)
        lo, hi = predictions[f"y_q{q_low:g}"], predictions[f"y_q{q_high:g}"]
        metrics["lstm"]["coverage"] = coverage(predictions["y"], lo, hi)
        metrics["lstm"]["nominal_coverage"] = q_high - q_low
    return metrics


def evaluate(
    y,
    f,
    history,
    m: int = 1,
    lower=None,
    upper=None,
) -> dict[str, float]:
    """All the metrics of one forecast window as a dict (``coverage`` only with an interval)."""
    out = {
        "mae": mae(y, f),
        "rmse": rmse(y, f),
        "mape": mape(y, f),
        "smape": smape(y, f),
        "mase": mase(y, f, history, m),
    }
    if lower is not None and upper is not None:
        out["coverage"] = coverage(y, lower, upper)
    return out
