r"""Time-series forecasting with an LSTM: ``lstmkit.Forecaster``.

The model reads a lookback window of L steps (the target, then any past and known-future
covariates) and forecasts the next H steps at once (a direct multi-horizon head):

* the target is log-transformed when every value is positive (``transform="auto"``) and
  standardised per series; inside the network each window is normalised again by its own
  mean μ and standard deviation σ, so the LSTM sees shapes, not levels;
* an lstmkit LSTM encodes the normalised window; its last hidden state h_L, with the
  known-future covariates over the horizon, feeds a linear head;
* the head's output is a correction to the seasonal-naive forecast in units of σ:
  ``ŷ_{L+k} = y_{L+k-m⌈k/m⌉} + σ · head(h_L, x_future)_k`` (m the season length, 1 when the
  series has none). The head starts at zero, so an untrained model is the seasonal-naive
  forecast and training learns what that baseline misses (trend, changing seasons) — the
  residual idea of ES-RNN (Smyl 2020) and N-BEATS;
* with quantiles q_1..q_Q the head gives every horizon step Q values trained with the pinball
  loss ``ρ_q(y - ŷ) = max(q (y - ŷ), (q - 1)(y - ŷ))``; the point forecast is the median
  (0.5 is always among the quantiles).

Training runs on the shared engine (:mod:`lstmkit.train`) for ``max_epochs``. The ensemble's
members cross-validate one another (``validation="folds"``, :mod:`lstmkit.tasks.forecast_folds`):
member k does not train on the k-th block of every series' windows (nor on the windows whose
horizon overlaps it), so every training window gets an out-of-fold forecast that weighs the
combination below. The out-of-fold loss after every epoch chooses the number of epochs
``e* = argmin_e ℓ_e`` (up to ``max_epochs``; the members' weights at ``e*`` give the out-of-fold
forecasts); then the members are trained again, from the same initial weights, on every
window for ``e*`` epochs, and those forecast (cross-validation's refit). With ``validation="recent"``, a single member, ``early_stopping=True`` (which
stops on held-out windows and flatters the LSTM there: off by default), or too few windows for
the folds, the most recent windows of each series are held out from every member instead,
with the windows whose horizon overlaps theirs (so no candidate is scored on steps it trained
on); once they have weighed the combination, the members are trained again on every window,
the most recent ones included, for as many epochs.

The default recipe, one for every series: an **ensemble** of ``ensemble`` such networks trained
together from different initial weights, alternating the lookback L and ``max(m, ⌈2L/3⌉)``,
their forecast the median over members (N-BEATS, the M4 winners); **combined** with in-house
baselines (naive, seasonal naive, drift, Theta, a linear model, an autoregression;
:mod:`lstmkit.tasks.forecast_combine`) weighted by their validation MASE in the data's units,
so that where the LSTM is unsure the forecast falls back toward the baselines that forecast
this data best. The weights are kept with the model (``Forecaster.combination``).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lstmkit.data import (
    SeriesScaler,
    SeriesArrays,
    TimeSeriesData,
    check_future_covariates,
    check_min_length,
    last_windows,
    make_windows,
    read_timeseries,
    windows_at,
)
from lstmkit.data.tables import to_steps
from lstmkit.errors import InputError, bad_value, param_ref
from lstmkit.tasks import forecast_combine as fc
from lstmkit.tasks import forecast_folds as ff
from lstmkit.tasks import forecast_metrics as fm
from lstmkit.tasks import forecast_statsforecast as fsf
from lstmkit.tasks.forecast_net import (ENCODERS, ForecastEnsemble, ForecastNet, ForecastNetConfig, baseline_season,
                                        encoder_windows, pinball_loss)
from lstmkit.tasks.base import EncoderView, Estimator, capture_encoder_input, dataclass_from_dict
from lstmkit.train import TrainingConfig, fit

KIND = "forecaster"
COMBINE = ("weights", "best", "none")
VALIDATION = ("folds", "recent")
FORECASTER_DEFAULT_DATA = "the bundled AirPassengers series"
#: the recent split keeps at least this many training windows per series before a gap
MIN_TRAIN_WINDOWS = 8


# ----------------------------------------------------------------------------- the estimator


@dataclass
class ForecasterParams:
    """The user's choices (all saved with the model)."""

    horizon: int | None = None  # None: the season length, or 6 without a season
    lookback: int | None = None  # None: 3 seasons or 3 horizons, fitted to the data
    quantiles: tuple[float, ...] = ()
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    transform: str = "auto"  # "auto" (log when all > 0), "log", "none"
    backend: str = "auto"
    cell: str = "lstm"  # the encoder: "lstm", "gru" or "rnn"
    ensemble: int = 5  # networks whose median is the LSTM forecast
    combine: str = "weights"  # with the baselines: "weights" (inverse validation MASE²), "best", "none"
    early_stopping: bool = False  # stop on the validation windows (patience); else train max_epochs
    validation: str = "folds"  # what weighs the combination: "folds" (blocked CV) or "recent" windows
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(max_epochs=100, learning_rate=1e-2, batch_size=32,
                                               patience=30)
    )

    def __post_init__(self) -> None:
        self.quantiles = tuple(sorted(float(q) for q in self.quantiles))
        for q in self.quantiles:
            if not 0.0 < q < 1.0:
                raise ValueError(f"quantiles must lie strictly between 0 and 1, got {q}")
        if self.transform not in ("auto", "log", "none"):
            raise ValueError(f"transform must be 'auto', 'log' or 'none', got {self.transform!r}")
        if self.validation not in VALIDATION:
            raise ValueError(f"validation must be one of {', '.join(map(repr, VALIDATION))}, got {self.validation!r}")
        if self.combine not in COMBINE:
            raise ValueError(f"combine must be one of {', '.join(map(repr, COMBINE))}, got {self.combine!r}")
        if isinstance(self.ensemble, bool) or int(self.ensemble) != self.ensemble or self.ensemble < 1:
            raise ValueError(f"ensemble must be a whole number >= 1, got {self.ensemble!r}")
        if self.cell not in ENCODERS:
            raise ValueError(f"cell must be one of {', '.join(map(repr, ENCODERS))}, got {self.cell!r}")
        for name in ("horizon", "lookback"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


@dataclass
class _DataSpec:
    """What the fitted model knows of its data (columns, frequency, scaling)."""

    time: str
    target: str
    id: str
    has_id: bool
    past_covariates: tuple[str, ...]
    future_covariates: tuple[str, ...]
    freq: str
    season_length: int
    log: bool
    scale: dict[str, dict[str, list[float]]]  # series id -> {"mean": [...], "std": [...]}
    nonnegative: bool = False  # no target value below 0: forecasts and quantiles are kept >= 0
    steps: bool = False  # the time column held step numbers: output gives step numbers, not times
    years: bool = False  # the time column held years as numbers: output gives years


@dataclass
class BacktestResult:
    metrics: dict[str, dict[str, float]]  # model -> metric -> value
    predictions: pd.DataFrame  # unique_id, ds, cutoff, y, lstm, naive, seasonal_naive, quantiles (+ AutoARIMA..)
    cutoffs: list  # the last time before each window (step numbers for step-numbered data)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # AutoARIMA, AutoETS: metrics, seconds
    baselines_skipped: list[str] = field(default_factory=list)  # one line per statsforecast model not run
    seconds: float = 0.0  # the forecaster's training and forecasts


class Forecaster(Estimator):
    """Train, backtest and forecast time series with an LSTM.

    >>> f = Forecaster(horizon=12).fit(lstmkit.data.load_air_passengers())
    >>> f.predict()            # the next 12 months: unique_id, ds, y_hat (+ quantile columns)
    >>> f.backtest(windows=3)  # rolling-origin backtest against naive, seasonal naive, AutoARIMA, AutoETS

    ``fit`` accepts a path (CSV or Parquet) or a DataFrame, one series or many in long format
    (``unique_id``, ``ds``, ``y`` by default; see :func:`lstmkit.data.read_timeseries`).
    """

    KIND = KIND
    Params = ForecasterParams
    NetConfig = ForecastNetConfig
    Net = ForecastNet

    def reset(self) -> None:
        self.members: list[ForecastNet] = []  # the ensemble; members[0] is self.net
        self.combination: dict[str, Any] | None = None  # weights and validation errors
        self.linear_coef: np.ndarray | None = None
        self.ar_coef: np.ndarray | None = None
        self.spec: _DataSpec | None = None
        self.scaler: SeriesScaler | None = None
        self.data: TimeSeriesData | None = None

    # --------------------------------------------------------------------- reading
    def read(self, data: Any = None, **read_kwargs) -> TimeSeriesData:
        """``data`` read and validated (see :func:`lstmkit.data.read_timeseries` for the keyword
        arguments: ``time``, ``target``, ``id``, ``past_covariates``, ``future_covariates``,
        ``freq``, ``fill``). Once fitted, the training data's columns and frequency are the
        defaults, and ``data=None`` is the training data itself."""
        if data is None:
            if self.data is None:
                raise InputError("give the data (this model was loaded without its training data)",
                                 param="data")
            return self.data
        if isinstance(data, TimeSeriesData):
            return data
        kwargs: dict[str, Any] = {}
        if self.spec is not None:
            spec = self.spec
            kwargs = dict(time=spec.time, target=spec.target, id=spec.id if spec.has_id else None,
                          past_covariates=spec.past_covariates, future_covariates=spec.future_covariates,
                          freq=spec.freq, season_length=spec.season_length)
        kwargs.update(read_kwargs)
        if "covariates" in kwargs:  # the short name the CLI and README use
            kwargs["past_covariates"] = kwargs.pop("covariates")
        return read_timeseries(data, **kwargs)

    @property
    def quantiles(self) -> tuple[float, ...]:
        """The head's quantiles: the user's, with the median always among them."""
        return tuple(sorted(set(self.params.quantiles) | {0.5}))

    def horizon_for(self, ts: TimeSeriesData) -> int:
        """The steps forecast for ``ts``: ``horizon``, else one season (6 without one)."""
        m = ts.season_length
        return int(self.params.horizon or (m if m > 1 else 6))

    def _sizes(self, ts: TimeSeriesData, usable: int) -> tuple[int, int]:
        """Horizon and lookback for ``ts`` when only ``usable`` steps of each may train."""
        m = ts.season_length
        horizon = self.horizon_for(ts)
        lookback = self.params.lookback
        if lookback is None:
            lookback = max(3 * m if m > 1 else 0, 3 * horizon, 8)
            # leave room for at least ~8 training windows in the shortest series
            shortest = min(ts.lengths().values())
            fitted = max(horizon, min(usable, shortest) - horizon - 8)
            lookback = max(min(lookback, fitted), min(m, fitted) if m > 1 else 1)
        return int(horizon), int(lookback)

    # --------------------------------------------------------------------- fitting
    def fit(self, data: Any, *, run_dir: str | Path | None = None,
            resume_from: str | Path | None = None, **read_kwargs) -> "Forecaster":
        """Train on every series of ``data`` (a path, a DataFrame or a :class:`TimeSeriesData`)."""
        ts = self.read(data, **read_kwargs)
        horizon, lookback = self._sizes(ts, min(ts.lengths().values()))
        self._fit(ts, horizon, lookback, end=None, run_dir=run_dir, resume_from=resume_from)
        return self

    def _fit(self, ts: TimeSeriesData, horizon: int, lookback: int, end: list[int] | None,
             run_dir: str | Path | None, resume_from=None) -> None:
        check_min_length(ts, lookback + horizon + 1, why=f"lookback {lookback} + horizon {horizon} + 1")
        self.data = ts
        self.spec = self._make_spec(ts, end)
        series = self.scaled_series(ts)
        # the initial weights come from the seed, not from whatever drew on torch's global
        # generator before (the first fit in a process and a resumed fit must start alike)
        m = ts.season_length

        def new_members() -> ForecastEnsemble:
            torch.manual_seed(self.params.training.seed)
            return ForecastEnsemble([self.build_net(ForecastNetConfig(
                n_past=len(ts.roles.past_covariates), n_future=len(ts.roles.future_covariates),
                lookback=lb, horizon=horizon, season_length=m,
                quantiles=self.quantiles, hidden_size=self.params.hidden_size,
                num_layers=self.params.num_layers, dropout=self.params.dropout,
                backend=self.params.backend, cell=self.params.cell,
            )) for lb in self._member_lookbacks(lookback, m)])

        members = new_members()
        windows = self._windows(series, lookback, horizon, end)
        folds = self._folds(windows, len(members), horizon)
        if folds is None:
            train, val = self._split(windows, horizon, len(series))
            masks = None
        else:
            train, val = windows, None
            folds, masks = folds
        for net in members:
            net.season = net.config.season_length = baseline_season(train, m, net.config.lookback)
        cfg = self.params.training
        loaders = [self._loader(w, shuffle=i == 0) if w is not None else None
                   for i, w in enumerate((train, val))]
        quantiles = torch.tensor(self.quantiles)

        def loss_on(trains_on):
            """The loss, each member's over the windows ``trains_on`` ``(M, N)`` gives it (all: None)."""
            trains_on = None if trains_on is None else torch.as_tensor(trains_on, dtype=torch.float32)

            def loss_fn(net, batch):
                x, x_future, y, index = batch
                return pinball_loss(net(x, x_future), y, quantiles, None if trains_on is None else trains_on[:, index])
            return loss_fn

        # the validation windows judge the combination; stopping early on them as well would
        # make the LSTM look better there than it is (and stops too soon on short series)
        epochs = _OutOfFoldEpochs(members, windows, folds, quantiles) if masks is not None else None
        self.fit_result = fit(members, loss_on(masks), loaders[0], loaders[1] if self.params.early_stopping else None,
                              cfg, run_dir, resume_from=resume_from, callbacks=[epochs] if epochs else None)
        if epochs is not None and epochs.best_state is not None:
            members.load_state_dict(epochs.best_state)  # the members as they were at the chosen epoch
        self.members = [net.eval() for net in members]
        self.net = self.members[0]
        combined = self.params.combine != "none"
        self.linear_coef = fc.fit_linear(train.x[..., 0], train.y) if combined else None
        self.ar_coef = fc.fit_ar(train.x[..., 0], train.y) if combined else None
        self.combination = self._weigh(val, m) if masks is None else self._weigh_folds(windows, folds, masks, m)
        if masks is not None:
            self.combination["epochs"] = epochs.best_epoch or cfg.max_epochs
            self.combination["out_of_fold_loss"] = [round(v, 6) for v in epochs.losses]  # per epoch
        elif val is not None:
            # the held-out windows are the most recent ones, which a forecast needs most
            self.combination["epochs"] = (self.fit_result.best_epoch or cfg.max_epochs) if self.params.early_stopping \
                else cfg.max_epochs
        if masks is not None or val is not None:
            # the validation only weighs the combination and chooses the epochs: the forecast
            # comes from members trained again, from the same initial weights, on every window
            # for the chosen number of epochs (as cross-validation refits on all the data once
            # it has chosen), and the fitted baselines likewise
            members = new_members()
            for net, held in zip(members, self.members):
                net.season = net.config.season_length = held.season
            fit(members, loss_on(None), self._loader(windows, shuffle=True), None,
                dataclasses.replace(cfg, max_epochs=self.combination["epochs"]), None)
            self.members = [net.eval() for net in members]
            self.net = self.members[0]
            if combined and val is not None:
                self.linear_coef = fc.fit_linear(windows.x[..., 0], windows.y)
                self.ar_coef = fc.fit_ar(windows.x[..., 0], windows.y)

    def _member_lookbacks(self, lookback: int, m: int) -> list[int]:
        """The members' lookbacks: L (the first, the longest) and, for every other member, a
        shorter one ``max(m, ⌈2L/3⌉)``; all L when the user chose the lookback."""
        short = max(m, math.ceil(2 * lookback / 3)) if self.params.lookback is None else lookback
        return [lookback if k % 2 == 0 or short >= lookback else short for k in range(self.params.ensemble)]

    def _weigh(self, val, m: int) -> dict[str, Any]:
        """The combination (weights, validation MASE per candidate, windows) from the
        validation windows ``val`` (None: no validation windows, the LSTM alone)."""
        if val is None or self.params.combine == "none":
            return {"weights": {"lstm": 1.0}, "validation_mase": {}, "windows": 0 if val is None else len(val)}
        network, _ = self._forecasts(val)
        candidates = {"lstm": network[..., self.quantiles.index(0.5)],
                      **fc.baselines(val.x[..., 0], val.y.shape[1], m, self.linear_coef, self.ar_coef)}
        ids = [val.ids[i] for i in val.series_index]
        return fc.weigh(candidates, val.y, val.x[..., 0], m, self.params.combine,
                        lambda a: self.scaler.inverse_target(ids, a[..., None].astype(np.float64))[..., 0])

    def _weigh_folds(self, windows, folds: np.ndarray, masks: np.ndarray, m: int) -> dict[str, Any]:
        """The combination from every training window's out-of-fold forecasts
        (:mod:`~lstmkit.tasks.forecast_folds`): the LSTM's by the member that held the window
        out, the fitted baselines' refitted without its fold, the others as they are."""
        if self.params.combine == "none":
            return {"weights": {"lstm": 1.0}, "validation_mase": {}, "windows": len(windows), "validation": "folds"}
        t = windows.to_torch()
        with torch.no_grad():
            out = _in_chunks(ForecastEnsemble(self.members).eval(), t).numpy().astype(np.float64)
        x, y = windows.x[..., 0].astype(np.float64), windows.y.astype(np.float64)
        candidates = {"lstm": ff.out_of_fold(out[..., self.quantiles.index(0.5)], folds),
                      **fc.baselines(x, y.shape[1], m, None, None)}
        for name, fit_one, apply in (("linear", fc.fit_linear, fc.linear), ("ar", fc.fit_ar, fc.ar)):
            forecast = np.empty_like(y)
            for k in range(len(masks)):
                held = folds == k
                forecast[held] = apply(x[held], fit_one(x[masks[k]], y[masks[k]]))
            candidates[name] = forecast
        ids = [windows.ids[i] for i in windows.series_index]
        out = fc.weigh(candidates, y, x, m, self.params.combine,
                       lambda a: self.scaler.inverse_target(ids, a[..., None].astype(np.float64))[..., 0])
        return {**out, "validation": "folds"}

    def _loader(self, windows, shuffle: bool):
        from torch.utils.data import DataLoader, TensorDataset

        t = windows.to_torch()
        dataset = TensorDataset(t["x"], t["x_future"], t["y"], torch.arange(len(windows)))
        generator = torch.Generator().manual_seed(self.params.training.seed)
        return DataLoader(dataset, batch_size=self.params.training.batch_size, shuffle=shuffle,
                          generator=generator)

    def _windows(self, series: list[SeriesArrays], lookback: int, horizon: int, end):
        windows = make_windows(series, lookback, horizon, end=end)
        if len(windows) == 0:
            raise InputError(f"{self.data.source}: no training window fits lookback {lookback} + horizon {horizon}")
        return windows

    def _folds(self, windows, k: int, horizon: int):
        """``(folds, masks)`` for ``validation="folds"`` (:mod:`~lstmkit.tasks.forecast_folds`),
        or None where it does not apply: one member, early stopping (which needs held-out
        windows), or too few windows (each member must keep half of them, each fold one)."""
        if self.params.validation != "folds" or k < 2 or self.params.early_stopping:
            return None
        folds = ff.time_folds(windows.series_index, windows.cutoff, k)
        masks = ff.training_masks(windows.series_index, windows.cutoff, folds, k, horizon)
        if np.bincount(folds, minlength=k).min() < 1 or masks.sum(axis=1).min() < len(windows) / 2:
            return None
        return folds, masks

    def _split(self, windows, horizon: int, n_series: int):
        """Training windows and the validation windows (the most recent cut-offs of every
        series). A training window whose horizon overlaps a validation window's (cut-off less
        than H before the series' first validation cut-off) would teach the fitted candidates
        the very steps they are scored on, so it is left out of both, as far as at least
        ``MIN_TRAIN_WINDOWS`` training windows per series remain (the latest ones go first)."""
        n_per_series = max(1, len(windows) // max(1, n_series))
        n_val = min(max(horizon, self.data.season_length, 6), n_per_series // 5)
        if n_val < 1:
            return windows, None
        is_val = np.zeros(len(windows), dtype=bool)
        is_gap = np.zeros(len(windows), dtype=bool)
        for index in np.unique(windows.series_index):
            rows = np.flatnonzero(windows.series_index == index)
            rows = rows[np.argsort(windows.cutoff[rows], kind="stable")]
            is_val[rows[-n_val:]] = True
            rest = rows[:-n_val] if len(rows) > n_val else rows[:0]
            first_val = windows.cutoff[rows[-n_val]] if len(rows) >= n_val else np.inf
            overlapping = int((windows.cutoff[rest] > first_val - horizon).sum())
            dropped = min(overlapping, max(0, len(rest) - MIN_TRAIN_WINDOWS))
            is_gap[rest[len(rest) - dropped:]] = True
        return _subset(windows, ~is_val & ~is_gap), _subset(windows, is_val)

    # --------------------------------------------------------------------- scaling
    def _make_spec(self, ts: TimeSeriesData, end: list[int] | None) -> _DataSpec:
        """What the model keeps of ``ts``: its columns and frequency, and the per-series
        scales (:class:`~lstmkit.data.SeriesScaler`) fitted on the first ``end[i]`` steps."""
        r = ts.roles
        self.scaler = SeriesScaler().fit_series(ts, end=end, transform=self.params.transform)
        # counts, sales, volumes: a series that never goes below zero is forecast so (the
        # decision, like the log's, reads every step)
        nonnegative = bool((ts.frame[r.target].to_numpy() >= 0).all())
        return _DataSpec(r.time, r.target, r.id, ts.has_id, r.past_covariates, r.future_covariates,
                         ts.freq, ts.season_length, self.scaler.log, self.scaler.to_lists(), nonnegative,
                         ts.steps, ts.years)

    def scaled_series(self, ts: TimeSeriesData) -> list[SeriesArrays]:
        """Every series of ``ts`` in the model's units: the target log-transformed (when the
        model uses a log) and standardised with its series' training mean and standard
        deviation, the covariates standardised likewise."""
        return self.scaler.transform_series(ts)

    # --------------------------------------------------------------------- predicting
    def _forecasts(self, windows) -> tuple[np.ndarray, np.ndarray]:
        """In the model's units: the LSTM ensemble's ``(N, H, Q)`` (median over members) and
        the final forecast ``(N, H, Q)`` (its median combined with the baselines, the other
        quantiles shifted alike)."""
        t = windows.to_torch()
        with torch.no_grad():
            out = _in_chunks(ForecastEnsemble(self.members).eval(), t).numpy().astype(np.float64)
        network = np.median(out, axis=0)  # (N, H, Q)
        weights = (self.combination or {}).get("weights", {"lstm": 1.0})
        if set(k for k, w in weights.items() if w > 0) <= {"lstm"}:
            return network, network
        median = network[..., self.quantiles.index(0.5)]
        candidates = {"lstm": median, **fc.baselines(windows.x[..., 0], median.shape[1], self.spec.season_length,
                                                     self.linear_coef, self.ar_coef)}
        point = fc.combine(candidates, weights)
        return network, network + (point - median)[..., None]

    def _run(self, windows) -> tuple[np.ndarray, np.ndarray]:
        """The final forecast and the LSTM ensemble's alone, ``(N, H, Q)`` each, in the data's
        units (the quantiles sorted: no crossing; at or above 0 where the training target
        never went below it)."""
        ids = [windows.ids[i] for i in windows.series_index]
        network, final = self._forecasts(windows)
        floor = 0.0 if self.spec.nonnegative else -np.inf
        return tuple(np.sort(np.maximum(self.scaler.inverse_target(ids, a), floor), axis=-1) for a in (final, network))

    def predict(self, data: Any = None, **read_kwargs) -> pd.DataFrame:
        """Forecast the next H steps after the end of every series of ``data`` (default: the
        training data). Columns: id (when the input had one), time, ``y_hat`` (the median),
        and ``y_q<q>`` per quantile (e.g. ``y_q0.1``)."""
        self.require_fitted()
        ts = self.read(data, **read_kwargs)
        c = self.net.config
        check_min_length(ts, c.lookback, why=f"the model's lookback {c.lookback}",
                         hint="give at least that much history")
        check_future_covariates(ts, c.horizon)
        series = self.scaled_series(ts)
        values, _ = self._run(last_windows(series, c.lookback, c.horizon))
        rows = []
        for s, forecast in zip(series, values):
            times = pd.date_range(s.times[-1], periods=c.horizon + 1, freq=ts.freq)[1:]
            rows.append(self._frame(s.id, times, forecast))
        return pd.concat(rows, ignore_index=True)

    def output_times(self, times):
        """``times`` as output writes them: the times, the step numbers where the training
        data was timed by steps (:func:`lstmkit.data.tables.to_steps`), or the years where it
        was timed by years written as numbers."""
        if self.spec.steps:
            return to_steps(times)
        if self.spec.years:
            return np.asarray(pd.DatetimeIndex(times).year, dtype=np.int64)
        return times

    def _frame(self, uid: str, times, forecast: np.ndarray) -> pd.DataFrame:
        spec = self.spec
        frame = pd.DataFrame({spec.time: self.output_times(times)})
        if spec.has_id:
            frame.insert(0, spec.id, uid)
        median = self.quantiles.index(0.5)
        frame["y_hat"] = forecast[:, median]
        for j, q in enumerate(self.quantiles):
            if q in self.params.quantiles:
                frame[f"y_q{q:g}"] = forecast[:, j]
        return frame

    # --------------------------------------------------------------------- backtesting
    def backtest(self, data: Any = None, *, windows: int = 3, stride: int | None = None,
                 run_dir: str | Path | None = None, baselines: bool = True, **read_kwargs) -> BacktestResult:
        """Rolling-origin backtest: train a fresh model on everything before the first
        cut-off, then forecast from each of ``windows`` cut-offs (``stride`` steps apart,
        default the horizon; the last forecast ends at the end of the data). The naive and
        seasonal-naive forecasts are scored on the same windows, and with ``baselines`` and
        statsforecast installed AutoARIMA and AutoETS, fitted on the same span, target only
        (:mod:`~lstmkit.tasks.forecast_statsforecast`). This estimator is left trained on the
        data before the first cut-off."""
        ts = self.read(data, **read_kwargs)
        if isinstance(windows, bool) or int(windows) != windows or windows < 1:
            raise bad_value("windows", "a whole number >= 1", windows)
        shortest = min(ts.lengths().values())
        horizon = self.horizon_for(ts)
        stride = stride or horizon
        first_cut = shortest - horizon - (windows - 1) * stride
        _, lookback = self._sizes(ts, first_cut)
        if first_cut < lookback + horizon + 1:
            fits = 0  # the most windows this series allows, with this horizon and stride
            for k in range(windows - 1, 0, -1):
                cut = shortest - horizon - (k - 1) * stride
                if cut >= self._sizes(ts, cut)[1] + horizon + 1:
                    fits = k
                    break
            lengths = ts.lengths()
            who = ("the series" if len(lengths) == 1 else
                   f"series {min(lengths, key=lambda u: (lengths[u], u))!r} (the shortest)")
            if fits:
                fix = f"use {param_ref('windows', fits)} (the most that fit)"
            else:
                fix = (f"use a shorter {param_ref('horizon')}, or {param_ref('windows', 0)} to forecast "
                       "without a backtest")
            raise InputError(
                f"{ts.source}: {who} has {shortest} steps, too few for {windows} "
                f"backtest window{'s' if windows != 1 else ''} of horizon {horizon} (stride {stride}) after lookback "
                f"{lookback} + horizon {horizon} + 1 steps of training; {fix}", param="windows"
            )
        lengths = ts.lengths()
        ends = [lengths[uid] - horizon - (windows - 1) * stride for uid in ts.ids]
        started = time.perf_counter()
        self._fit(ts, horizon, lookback, end=ends, run_dir=run_dir)
        series = self.scaled_series(ts)
        cutoffs = [[e + k * stride for k in range(windows)] for e in ends]
        w = windows_at(series, cutoffs, lookback, horizon)
        forecasts, network = self._run(w)
        seconds = time.perf_counter() - started
        raw = {s.id: s for s in ts.to_arrays()}
        m = ts.season_length
        sf, sf_seconds, skipped = fsf.backtest_models({u: raw[u].target for u in ts.ids}, dict(zip(ts.ids, cutoffs)),
                                                      horizon, m) if baselines else ({}, {}, [])
        frames = []
        for i in range(len(w)):
            uid = w.ids[w.series_index[i]]
            cut = int(w.cutoff[i])
            history = raw[uid].target[:cut]
            frame = self._frame(uid, raw[uid].times[cut:cut + horizon], forecasts[i])
            frame = frame.rename(columns={"y_hat": "lstm"})
            frame.insert(1 if self.spec.has_id else 0, "cutoff", self.output_times(raw[uid].times[cut - 1:cut])[0])
            frame["y"] = raw[uid].target[cut:cut + horizon]
            frame["lstm_only"] = network[i][:, self.quantiles.index(0.5)]
            frame["naive"] = fm.naive(history, horizon)
            frame["seasonal_naive"] = fm.seasonal_naive(history, horizon, m)
            for name, by_cut in sf.items():
                frame[name] = by_cut[(uid, cut)]
            frame["_id"] = uid
            frames.append(frame)
        predictions = pd.concat(frames, ignore_index=True)
        histories = {u: raw[u].target[:cs[0]] for u, cs in zip(ts.ids, cutoffs)}  # every series has its windows
        metrics = fm.score_backtest(predictions, histories, m, ("lstm", "lstm_only", "naive", "seasonal_naive"),
                                    self.params.quantiles)
        scored = fm.score_backtest(predictions, histories, m, list(sf)) if sf else {}
        predictions = predictions.drop(columns="_id")
        cut_times = sorted({raw[u].times[c - 1] for u, cs in zip(ts.ids, cutoffs) for c in cs})
        return BacktestResult(metrics, predictions, list(self.output_times(cut_times)),
                              {k: {**v, "seconds": sf_seconds[k]} for k, v in scored.items()}, skipped, seconds)

    # --------------------------------------------------------------------- inspecting
    def encoder_view(self, data=None, *, max_sequences: int = 512, max_chars: int = 2000) -> EncoderView:
        """Every lookback window of ``data`` (default: the bundled AirPassengers), as the
        encoder sees it (per-window normalised); at most ``max_sequences``, evenly spaced, the
        last window of every series always in."""
        from lstmkit.data import load_air_passengers

        self.require_fitted()
        if data is None:
            try:
                ts = self.read(load_air_passengers())
            except InputError:
                spec = self.spec
                trained = (f" (it reads the time column {spec.time!r} and the target {spec.target!r})"
                           if spec is not None else "")
                raise InputError(
                    f"without {param_ref('data')}, the bundled AirPassengers series (columns ds, y) is read, "
                    f"which does not fit this forecaster{trained}; give the data it was trained on",
                    param="data") from None
            source = FORECASTER_DEFAULT_DATA
        else:
            ts = self.read(data)
            source = str(data)
        c = self.net.config
        lookback = c.lookback
        check_min_length(ts, lookback, why=f"the model's lookback {lookback}",
                         hint="give at least that much history")
        series = self.scaled_series(ts)
        xs, labels, names, stride = encoder_windows(series, lookback, max_sequences)
        x = torch.as_tensor(xs, dtype=torch.float32)
        x_future = torch.zeros(x.shape[0], c.horizon, c.n_future)  # the head's input; not inspected
        inputs, _ = capture_encoder_input(self.net.encoder, lambda: self.net.eval()(x, x_future))
        notes = {"lookback": lookback, "window_stride": stride, "series": len(series)}
        return EncoderView(self.net.encoder, inputs, None, None, source, labels, names, notes)

    # --------------------------------------------------------------------- persistence
    def fitted_state(self) -> dict[str, Any]:
        return {"data": dataclasses.asdict(self.spec),
                "members": [dataclasses.asdict(net.config) for net in self.members[1:]],
                "combination": self.combination,
                "linear": None if self.linear_coef is None else self.linear_coef.tolist(),
                "ar": None if self.ar_coef is None else self.ar_coef.tolist()}

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The weights: the first member's as they are, member k's prefixed ``members.k.``."""
        out = dict(self.net.state_dict())
        for k, net in enumerate(self.members[1:], start=1):
            out.update({f"members.{k}.{name}": v for name, v in net.state_dict().items()})
        return out

    def load_state_tensors(self, weights: dict[str, torch.Tensor]) -> None:
        own = {k: v for k, v in weights.items() if not k.startswith("members.")}
        self.net.load_state_dict(own)
        for k, net in enumerate(self.members[1:], start=1):
            prefix = f"members.{k}."
            net.load_state_dict({n[len(prefix):]: v for n, v in weights.items() if n.startswith(prefix)})
        for net in self.members:
            net.eval()

    def restore_state(self, state: dict[str, Any]) -> None:
        self.spec = spec = dataclass_from_dict(_DataSpec, state["data"])
        self.scaler = SeriesScaler.from_lists(spec.scale, target=spec.target, past_covariates=spec.past_covariates,
                                              future_covariates=spec.future_covariates, log=spec.log)
        self.members = [self.net] + [self.build_net(c) for c in state.get("members", [])]
        self.combination = state.get("combination")
        linear = state.get("linear")
        self.linear_coef = None if linear is None else np.asarray(linear, dtype=np.float64)
        ar = state.get("ar")
        self.ar_coef = None if ar is None else np.asarray(ar, dtype=np.float64)


#: windows per forward pass where every window is forecast at once (the input projections of
#: a chunk, ``(L, chunk, 4H)`` floats, stay a few MB whatever the number of windows)
CHUNK = 4096


def _in_chunks(members: ForecastEnsemble, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """``members(x, x_future)`` ``(M, N, H, Q)`` over all N windows of ``t``, CHUNK at a time."""
    n = t["x"].shape[0]
    return torch.cat([members(t["x"][i:i + CHUNK], t["x_future"][i:i + CHUNK]) for i in range(0, max(n, 1), CHUNK)],
                     dim=1)


class _OutOfFoldEpochs:
    """A Lightning callback for the cross-validating members: after every epoch, the pinball
    loss of each member on the fold it does not train on (its out-of-fold windows), averaged
    over members, ``ℓ_e = (1/K) Σ_k mean_{i ∈ fold k} ρ(y_i - ŷ_{k,i})``; it keeps the epoch
    ``e* = argmin_e ℓ_e`` and the members' weights there (``best_state``). The refit on every
    window then trains for ``e*`` epochs: the number of epochs is chosen by cross-validation
    (too many overfit a short series, too few underfit a long one), as the weights are.
    Its record travels in the checkpoints, so a resumed run chooses as an uninterrupted one."""

    def __new__(cls, members, windows, folds: np.ndarray, quantiles: torch.Tensor):
        import lightning.pytorch as pl

        t = windows.to_torch()
        held_out = torch.as_tensor(folds[None, :] == np.arange(len(members))[:, None], dtype=torch.float32)

        class OutOfFoldEpochs(pl.Callback):
            def __init__(self) -> None:
                self.losses: list[float] = []
                self.best_epoch = 0
                self.best_state: dict[str, torch.Tensor] | None = None

            def on_train_epoch_end(self, trainer, module) -> None:
                was_training = members.training
                members.eval()
                with torch.no_grad():
                    loss = float(pinball_loss(_in_chunks(members, t), t["y"], quantiles, held_out))
                members.train(was_training)
                self.losses.append(loss)
                if self.best_epoch == 0 or loss < self.losses[self.best_epoch - 1]:
                    self.best_epoch = len(self.losses)
                    self.best_state = {k: v.detach().clone() for k, v in members.state_dict().items()}

            def state_dict(self) -> dict:
                return {"losses": list(self.losses), "best_epoch": self.best_epoch, "best_state": self.best_state}

            def load_state_dict(self, state: dict) -> None:
                self.losses = list(state["losses"])
                self.best_epoch = int(state["best_epoch"])
                self.best_state = state["best_state"]

        return OutOfFoldEpochs()


def _subset(windows, mask: np.ndarray):
    return dataclasses.replace(windows, x=windows.x[mask], x_future=windows.x_future[mask],
                               y=None if windows.y is None else windows.y[mask],
                               series_index=windows.series_index[mask], cutoff=windows.cutoff[mask])
