r"""The forecaster's in-house baselines and how its final forecast combines them with the LSTM.

Everything here works on windows in the model's units (the target log-transformed when the
model uses a log, and standardised per series): a batch ``x`` of lookback windows
``(N, L)``, ``x_L`` the last value, H the horizon, m the season length, ``h = 1..H``.

Baselines (numpy, vectorised over windows)::

    naive            ŷ_{L+h} = x_L
    seasonal_naive   ŷ_{L+h} = x_{L+h-m⌈h/m⌉}                      (only when 1 < m <= L)
    drift            ŷ_{L+h} = x_L + h (x_L - x_1) / (L - 1)
    theta            the Theta method as SES with drift (Hyndman & Billah 2003) on the
                     seasonally adjusted window a_t = x_t - s_t:
                     ŷ_{L+h} = ℓ_L + b/2 · (h - 1 + 1/α - (1-α)^L / α) + s_{L+h},
                     s the classical decomposition's seasonal indices (m > 1),
                     ℓ_t = α a_t + (1-α) ℓ_{t-1}, α from a grid by the in-window one-step
                     squared error, b the least-squares slope of a
    linear           a global direct linear model (ridge regression) on the window
                     normalised as the network sees it, z = (x - μ)/σ:
                     ŷ_{L+h} = x_L + σ (W^T [z, 1])_h,  W = (Z^T Z + λ I)^{-1} Z^T T,
                     T_h = (y_{L+h} - x_L)/σ over the training windows
    ar               a global direct autoregression on the window's differences, with drift
                     (ARIMA(p, 1, 0)'s form, p = L - 1, one model per horizon step):
                     ŷ_{L+h} = x_L + (V^T [Δx, 1])_h,  Δx_t = x_t - x_{t-1},
                     V by ridge regression (columns standardised, λ chosen by generalised
                     cross-validation, Golub, Heath & Wahba 1979), so it shrinks toward a
                     random walk with drift. No level term: the series are standardised over
                     their training span, so in-sample every series reverts to its mean by
                     construction, and a level term learns a pull back that trending series
                     do not have out of sample

Combination: on validation windows every candidate c (the LSTM ensemble ``lstm`` and the
baselines) is scored — with ``validation="folds"`` (the default) every training window,
forecast out of fold (:mod:`lstmkit.tasks.forecast_folds`), with ``"recent"`` the most
recent windows of the training data, which no member trained on — in the data's units by its MASE (:func:`window_mase`: each window's MAE
over the in-window MAE of the seasonal naive forecast, averaged over windows); the weights
(inverse squared error, Bates & Granger 1969) are

    w_c ∝ 1 / MASE_c²   for the candidates with MASE_c <= 2 · min_c' MASE_c',   0 for the rest,

normalised to sum to 1 (``combine="weights"``), or all the weight on the best candidate
(``combine="best"``). A candidate with no error at all takes all the weight (shared with any
other exact one). The final point forecast is ``Σ_c w_c ŷ_c`` (in the model's units); the
LSTM's quantiles are shifted by the same amount as its median.
"""

from __future__ import annotations

import numpy as np

from lstmkit.tasks import forecast_metrics as fm

#: the candidates besides the LSTM ensemble, in the order they are reported
BASELINES = ("naive", "seasonal_naive", "drift", "theta", "linear", "ar")
#: a candidate keeps weight while its validation MASE is at most this many times the best
WEIGHT_CUTOFF = 2.0
ALPHAS = np.linspace(0.05, 1.0, 20)
RIDGE = 1.0
SIGMA_FLOOR = 1e-2  # as the network's per-window σ


def naive(x: np.ndarray, horizon: int) -> np.ndarray:
    """``(N, H)``: the last value of each window ``x`` ``(N, L)``, repeated."""
    return np.repeat(x[:, -1:], horizon, axis=1)


def drift(x: np.ndarray, horizon: int) -> np.ndarray:
    """``(N, H)``: the line through the first and the last value of each window, extended."""
    slope = (x[:, -1] - x[:, 0]) / max(1, x.shape[1] - 1)
    return x[:, -1:] + slope[:, None] * np.arange(1, horizon + 1)[None, :]


def _slope(x: np.ndarray) -> np.ndarray:
    """Least-squares slope of each row of ``x`` against 0..L-1."""
    t = np.arange(x.shape[1], dtype=np.float64)
    t = t - t.mean()
    return (x - x.mean(axis=1, keepdims=True)) @ t / max(float(t @ t), 1e-12)


def seasonal_indices(x: np.ndarray, m: int) -> np.ndarray:
    """``(N, m)`` additive seasonal indices of each window by classical decomposition, position
    0 being the season position of the step after the window: the trend is the centred moving
    average over one season (2×m for even m), the index of a position the mean of ``x - trend``
    there, centred to sum to zero. Zeros when ``m <= 1`` or the window holds fewer than two
    seasons."""
    n, length = x.shape
    if m <= 1 or length < 2 * m:
        return np.zeros((n, max(m, 1)))
    kernel = np.ones(m) / m if m % 2 else np.r_[0.5, np.ones(m - 1), 0.5] / m
    half = len(kernel) // 2
    trend = np.stack([np.convolve(row, kernel, mode="valid") for row in x])  # steps half .. L-1-half
    detrended = x[:, half:length - half] - trend
    position = (np.arange(half, length - half) - length) % m
    index = np.stack([detrended[:, position == j].mean(axis=1) for j in range(m)], axis=1)
    return index - index.mean(axis=1, keepdims=True)


def theta(x: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """``(N, H)``: the Theta method (SES with drift b/2) on the seasonally adjusted window."""
    n, length = x.shape
    s = seasonal_indices(x, m)  # (N, m')
    period = s.shape[1]
    positions = (np.arange(length) - length) % period
    adjusted = x - s[:, positions]
    level = np.repeat(adjusted[:, :1], len(ALPHAS), axis=1)  # (N, A)
    sse = np.zeros_like(level)
    for t in range(1, length):
        error = adjusted[:, t:t + 1] - level
        sse += error ** 2
        level = level + ALPHAS[None, :] * error
    best = np.argmin(sse, axis=1)
    alpha = ALPHAS[best]
    level = level[np.arange(n), best]
    b = _slope(adjusted)
    h = np.arange(1, horizon + 1, dtype=np.float64)[None, :]
    trend = b[:, None] / 2.0 * (h - 1.0 + 1.0 / alpha[:, None] - (1.0 - alpha[:, None]) ** length / alpha[:, None])
    return level[:, None] + trend + s[:, np.arange(horizon) % period]


def _normalised(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sigma = np.maximum(x.std(axis=1), SIGMA_FLOOR)
    z = (x - x.mean(axis=1, keepdims=True)) / sigma[:, None]
    return np.concatenate([z, np.ones((len(x), 1))], axis=1), sigma


def fit_linear(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """``W`` ``(L + 1, H)`` of the ``linear`` baseline from training windows ``x`` ``(N, L)``
    and their targets ``y`` ``(N, H)`` (ridge regression, the bias not penalised)."""
    z, sigma = _normalised(x)
    target = (y - x[:, -1:]) / sigma[:, None]
    penalty = ridge * np.eye(z.shape[1])
    penalty[-1, -1] = 0.0
    return np.linalg.solve(z.T @ z + penalty, z.T @ target)


def linear(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``(N, H)``: the ``linear`` baseline with coefficients from :func:`fit_linear` (read on
    the last ``len(coef) - 1`` steps of each window)."""
    x = x[:, -(coef.shape[0] - 1):]
    z, sigma = _normalised(x)
    return x[:, -1:] + sigma[:, None] * (z @ coef)


RIDGE_GRID = np.logspace(-6, 1, 15)  # λ for ``ar``, in units of the largest squared singular value


def ridge_gcv(x: np.ndarray, y: np.ndarray, grid: np.ndarray = RIDGE_GRID) -> np.ndarray:
    """``(P + 1, H)``: ridge regression of ``y`` ``(N, H)`` on ``x`` ``(N, P)`` (columns
    standardised) with an unpenalised intercept (last row), λ = g · s_max² for the g of
    ``grid`` that minimises the
    generalised cross-validation score summed over outputs,
    ``GCV(λ) = N · ||Y - Ŷ_λ||² / (N - tr H_λ)²``, computed from one SVD of the centred x."""
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    x_scale = np.maximum(x.std(axis=0), 1e-8)
    xc, yc = (x - x_mean) / x_scale, y - y_mean
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    uty = u.T @ yc  # (r, H)
    n = len(x)
    scale = max(float(s[0]) ** 2, 1e-12) if len(s) else 1.0
    best, coef = np.inf, np.zeros((x.shape[1], y.shape[1]))
    base = float((yc ** 2).sum() - (uty ** 2).sum())  # the part of y outside x's column space
    for g in grid:
        shrink = s ** 2 / (s ** 2 + g * scale)
        rss = base + float((((1.0 - shrink)[:, None] * uty) ** 2).sum())
        dof = float(shrink.sum())
        if n - dof <= 0.5:
            continue
        score = n * rss / (n - dof) ** 2
        if score < best:
            best, coef = score, vt.T @ ((s / (s ** 2 + g * scale))[:, None] * uty)
    coef = coef / x_scale[:, None]
    return np.concatenate([coef, (y_mean - x_mean @ coef)[None, :]], axis=0)


def fit_ar(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``V`` ``(L, H)`` of the ``ar`` baseline from training windows ``x`` ``(N, L)`` and
    their targets ``y`` ``(N, H)``: :func:`ridge_gcv` of ``y - x_L`` on the window's
    differences."""
    return ridge_gcv(_ar_features(x), y - x[:, -1:])


def _ar_features(x: np.ndarray) -> np.ndarray:
    return np.diff(x, axis=1)


def ar(x: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``(N, H)``: the ``ar`` baseline with coefficients from :func:`fit_ar` (read on the last
    ``len(coef)`` steps of each window)."""
    x = x[:, -coef.shape[0]:]
    return x[:, -1:] + np.concatenate([_ar_features(x), np.ones((len(x), 1))], axis=1) @ coef


def baselines(x: np.ndarray, horizon: int, m: int, linear_coef: np.ndarray | None,
              ar_coef: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every baseline's ``(N, H)`` forecast of the windows ``x`` ``(N, L)`` (float64)."""
    x = np.asarray(x, dtype=np.float64)
    out = {"naive": naive(x, horizon)}
    if 1 < m <= x.shape[1]:
        out["seasonal_naive"] = fm.seasonal_naive(x, horizon, m)
    out["drift"] = drift(x, horizon)
    out["theta"] = theta(x, horizon, m)
    if linear_coef is not None and linear_coef.shape[0] - 1 <= x.shape[1]:
        out["linear"] = linear(x, linear_coef)
    if ar_coef is not None and ar_coef.shape[0] <= x.shape[1]:
        out["ar"] = ar(x, ar_coef)
    return out


def window_mase(y: np.ndarray, f: np.ndarray, history: np.ndarray, m: int) -> float:
    """Mean over windows of ``mean_h |y - f| / q``, ``q`` the mean absolute m-step difference
    of the window's own history ``(N, L)`` (1-step when m <= 1 or m >= L; windows with
    ``q = 0`` scaled by the mean of the others' q, or 1)."""
    m = m if 1 < m < history.shape[1] else 1
    q = np.mean(np.abs(history[:, m:] - history[:, :-m]), axis=1)
    positive = q > 0
    q = np.where(positive, q, q[positive].mean() if positive.any() else 1.0)
    return float(np.mean(np.mean(np.abs(y - f), axis=1) / q))


def combination_weights(errors: dict[str, float], how: str = "weights") -> dict[str, float]:
    """Weights (summing to 1) from each candidate's validation error (see the module docstring).

    ``how``: ``"weights"`` (inverse squared error among those within ``WEIGHT_CUTOFF`` times
    the best), ``"best"`` (the best one), ``"none"`` (the LSTM alone: ``{"lstm": 1}``)."""
    if how == "none" or not errors:
        return {"lstm": 1.0}
    names = [n for n in errors if np.isfinite(errors[n])]
    best = min(errors[n] for n in names)
    if best <= 1e-12:
        exact = [n for n in names if errors[n] <= 1e-12]
        return {n: (1.0 / len(exact) if n in exact else 0.0) for n in errors}
    if how == "best":
        winner = min(names, key=lambda n: errors[n])
        return {n: float(n == winner) for n in errors}
    raw = {n: (errors[n] ** -2 if n in names and errors[n] <= WEIGHT_CUTOFF * best else 0.0) for n in errors}
    total = sum(raw.values())
    return {n: v / total for n, v in raw.items()}


def weigh(candidates: dict[str, np.ndarray], y: np.ndarray, history: np.ndarray, m: int, how: str,
          data_units) -> dict:
    """The combination from validation windows: ``candidates`` (name -> ``(N, H)``), the
    actual ``y`` ``(N, H)`` and the windows ``history`` ``(N, L)``, all in the model's units;
    ``data_units`` maps such an array back to the data's units, where the candidates are
    scored (:func:`window_mase`). Returns ``{"weights", "validation_mase", "windows"}``."""
    y, history = data_units(y), data_units(history)
    errors = {n: window_mase(y, data_units(f), history, m) for n, f in candidates.items()}
    return {"weights": combination_weights(errors, how), "validation_mase": errors, "windows": int(len(y))}


def combine(forecasts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """``Σ_c w_c ŷ_c`` over the candidates with a weight (a candidate missing from
    ``forecasts``, e.g. seasonal naive on a window shorter than a season, gives its weight
    to the others in proportion)."""
    used = {n: w for n, w in weights.items() if w > 0 and n in forecasts}
    if not used:
        return forecasts["lstm"]
    total = sum(used.values())
    return sum(w / total * forecasts[n] for n, w in used.items())
