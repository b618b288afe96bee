"""AutoARIMA and AutoETS (statsforecast) beside the forecaster, on the same backtest.

A forecasting user compares an LSTM against exactly these tools, so ``Forecaster.backtest``
(and the ``lstmkit forecast`` table) scores them on the same windows as the LSTM when the
optional package statsforecast is installed (``pip install statsforecast``, or the
``benchmarks`` extra); ``benchmarks/bench_forecast.py`` runs them through the same functions.

The protocol, the same as the LSTM's: for every series with cut-offs ``c_1 < .. < c_K`` (the
LSTM's), each model is fitted **once** on ``y[:c_1]`` (the LSTM's training span) with the
data's season length m, and forecasts H steps from every cut-off ``c_k`` reading the history
``y[:c_k]`` without refitting (statsforecast's ``fit``, then ``predict`` at ``c_1`` and
``forward(y[:c_k], h=H)``: the fitted parameters applied to the longer history). A model that
cannot be fitted that way (e.g. a multiplicative ETS on a series with zeros) is refitted at each
cut-off instead. The models read the target only, never covariates.

* AutoARIMA (Hyndman & Khandakar 2008): the seasonal ARIMA(p,d,q)(P,D,Q)_m chosen by a
  stepwise search on the AICc, the differencing orders d and D by unit-root tests;
* AutoETS: the exponential-smoothing state-space model (error, trend, season each none,
  additive or multiplicative) with the smallest AICc; statsforecast drops the season when
  m > 24.

Seasonal ARIMA's search grows with m: with m above :data:`MAX_ARIMA_SEASON` (minutely or
secondly data) AutoARIMA is skipped, and said so.

numpy only at import; statsforecast is imported when a model runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import numpy as np

__all__ = ["MAX_ARIMA_SEASON", "MODELS", "backtest_models", "run_statsforecast", "statsforecast_models"]

MODELS = ("AutoARIMA", "AutoETS")  # the ones the backtest adds
MAX_ARIMA_SEASON = 52  # weekly data's season; longer ones make the seasonal search take hours
INSTALL = "pip install statsforecast"


def statsforecast_models(m: int, names: Iterable[str] = ("AutoARIMA", "AutoETS", "SeasonalNaive")
                         ) -> dict[str, Callable[[], object]]:
    """Factories of statsforecast's models with season length ``m``, by name (imports
    statsforecast: ``ImportError`` when it is missing)."""
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive

    make = {"AutoARIMA": lambda: AutoARIMA(season_length=m), "AutoETS": lambda: AutoETS(season_length=m),
            "SeasonalNaive": lambda: SeasonalNaive(season_length=m)}
    return {name: make[name] for name in names}


def run_statsforecast(make, y: np.ndarray, cuts: list[int], horizon: int) -> dict[int, np.ndarray]:
    """``{cut-off: forecast of y[c:c+horizon]}``: the model ``make()`` fitted once on
    ``y[:cuts[0]]``, forecasting from every cut-off with ``forward`` (the fitted parameters
    applied to the longer history); refitted at each cut-off when that fails."""
    y = np.asarray(y, dtype=np.float64)
    model = make()
    try:
        model.fit(y=y[:cuts[0]])
        out = {cuts[0]: np.asarray(model.predict(h=horizon)["mean"], dtype=np.float64)}
        for c in cuts[1:]:
            out[c] = np.asarray(model.forward(y=y[:c], h=horizon)["mean"], dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - e.g. ETS on a series with zeros: refit at each cut-off
        logging.getLogger(__name__).info("%s: %s; refitting at each cut-off", type(model).__name__, exc)
        out = {c: np.asarray(make().forecast(y=y[:c], h=horizon)["mean"], dtype=np.float64) for c in cuts}
    return out


def backtest_models(targets: dict[str, np.ndarray], cuts: dict[str, list[int]], horizon: int, m: int,
                    names: Iterable[str] = MODELS):
    """Run the statsforecast models ``names`` on every series' target ``targets[id]`` from its
    cut-offs ``cuts[id]`` (increasing), with season length ``m``.

    Returns ``(forecasts, seconds, skipped)``: ``forecasts[name][(id, cut-off)]`` the H
    forecasts, ``seconds[name]`` the wall time of its fits and forecasts over all series, and
    ``skipped`` one line per model that did not run, saying why (every model's, when
    statsforecast cannot be imported). A model that fails on any series is skipped as a whole.
    """
    names = list(names)
    try:
        makers = statsforecast_models(m, names)
    except ImportError as exc:
        missing = "statsforecast is not installed" if (exc.name or "statsforecast").startswith("statsforecast") \
            else f"statsforecast cannot be imported ({exc})"
        return {}, {}, [f"{' and '.join(names)} skipped: {missing} ({INSTALL} to get them)"]
    forecasts: dict[str, dict[tuple[str, int], np.ndarray]] = {}
    seconds: dict[str, float] = {}
    skipped: list[str] = []
    for name, make in makers.items():
        if name == "AutoARIMA" and m > MAX_ARIMA_SEASON:
            skipped.append(f"AutoARIMA skipped: season length {m} is too long for seasonal ARIMA's search "
                           f"(at most {MAX_ARIMA_SEASON})")
            continue
        started = time.perf_counter()
        try:
            out = {(uid, c): f for uid, y in targets.items()
                   for c, f in run_statsforecast(make, y, cuts[uid], horizon).items()}
        except Exception as exc:  # noqa: BLE001 - a failing baseline must not lose the model's backtest
            skipped.append(f"{name} skipped: it failed ({type(exc).__name__}: {exc})")
            continue
        forecasts[name] = out
        seconds[name] = time.perf_counter() - started
    return forecasts, seconds, skipped
