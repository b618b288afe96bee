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

Training runs on the shared engine (:mod:`lstmkit.train`): the most recent windows of each
series are the validation split for early stopping.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmkit.data import (
    SeriesArrays,
    TimeSeriesData,
    check_future_covariates,
    check_min_length,
    last_windows,
    make_windows,
    read_timeseries,
    windows_at,
)
from lstmkit.errors import InputError
from lstmkit.nn import LSTM
from lstmkit.tasks import forecast_metrics as fm
from lstmkit.train import TrainingConfig, fit

KIND = "forecaster"


# ----------------------------------------------------------------------------- the network


@dataclass
class ForecastNetConfig:
    n_past: int
    n_future: int
    lookback: int
    horizon: int
    season_length: int  # the baseline's season: the data's, or 1 when naive fits it better
    quantiles: tuple[float, ...] = (0.5,)
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    backend: str = "auto"


class ForecastNet(nn.Module):
    """LSTM encoder + direct multi-horizon quantile head correcting the seasonal-naive forecast.

    Input ``x`` ``(N, L, 1 + P + F)`` (target first) and ``x_future`` ``(N, H, F)``, both in
    per-series standardised units; output ``(N, H, Q)`` in the same units.
    """

    def __init__(self, config: ForecastNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = LSTM(
            1 + c.n_past + c.n_future, c.hidden_size, c.num_layers, batch_first=True,
            dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend,
        )
        self.head = nn.Linear(c.hidden_size + c.horizon * c.n_future, c.horizon * len(c.quantiles))
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.season = c.season_length if 1 < c.season_length <= c.lookback else 1

    def baseline(self, target: torch.Tensor) -> torch.Tensor:
        """The seasonal-naive forecast ``(N, H)`` of target windows ``(N, L)``."""
        last_season = target[:, -self.season:]
        repeats = math.ceil(self.config.horizon / self.season)
        return last_season.repeat(1, repeats)[:, : self.config.horizon]

    def forward(self, x: torch.Tensor, x_future: torch.Tensor) -> torch.Tensor:
        target = x[..., 0]  # (N, L)
        mu = target.mean(dim=1, keepdim=True)  # (N, 1)
        sigma = target.std(dim=1, unbiased=False, keepdim=True).clamp_min(1e-2)  # (N, 1)
        normalised = torch.cat([((target - mu) / sigma).unsqueeze(-1), x[..., 1:]], dim=-1)
        output, _ = self.encoder(normalised)  # (N, L, hidden)
        features = torch.cat([output[:, -1], x_future.flatten(1)], dim=-1)
        correction = self.head(features).view(x.shape[0], self.config.horizon, -1)  # (N, H, Q)
        return self.baseline(target).unsqueeze(-1) + sigma.unsqueeze(-1) * correction


def pinball_loss(prediction: torch.Tensor, y: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean over samples, steps and quantiles of ``max(q e, (q - 1) e)``, ``e = y - ŷ``."""
    error = y.unsqueeze(-1) - prediction  # (N, H, Q)
    return torch.maximum(quantiles * error, (quantiles - 1) * error).mean()


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
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(max_epochs=150, learning_rate=1e-2, batch_size=32,
                                               patience=30)
    )


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


@dataclass
class BacktestResult:
    metrics: dict[str, dict[str, float]]  # model -> metric -> value
    predictions: pd.DataFrame  # unique_id, ds, cutoff, y, lstm, naive, seasonal_naive, quantiles
    cutoffs: list[pd.Timestamp]


class Forecaster:
    """Train, backtest and forecast time series with an LSTM.

    >>> f = Forecaster(horizon=12).fit(lstmkit.data.load_air_passengers())
    >>> f.predict()            # the next 12 months: unique_id, ds, y_hat (+ quantile columns)
    >>> f.backtest(windows=3)  # rolling-origin backtest against naive and seasonal naive

    ``fit`` accepts a path (CSV or Parquet) or a DataFrame, one series or many in long format
    (``unique_id``, ``ds``, ``y`` by default; see :func:`lstmkit.data.read_timeseries`).
    """

    def __init__(
        self,
        horizon: int | None = None,
        lookback: int | None = None,
        *,
        quantiles: Sequence[float] = (),
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        transform: str = "auto",
        backend: str = "auto",
        max_epochs: int = 150,
        max_time: float | None = None,
        learning_rate: float = 1e-2,
        batch_size: int = 32,
        patience: int = 30,
        seed: int = 0,
        devices: int = 1,
        strategy: str = "auto",
        progress: bool | None = None,
    ) -> None:
        quantiles = tuple(sorted(float(q) for q in quantiles))
        for q in quantiles:
            if not 0.0 < q < 1.0:
                raise ValueError(f"quantiles must lie strictly between 0 and 1, got {q}")
        if transform not in ("auto", "log", "none"):
            raise ValueError(f"transform must be 'auto', 'log' or 'none', got {transform!r}")
        for name, value in (("horizon", horizon), ("lookback", lookback)):
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        self.params = ForecasterParams(
            horizon=horizon, lookback=lookback, quantiles=quantiles, hidden_size=hidden_size,
            num_layers=num_layers, dropout=dropout, transform=transform, backend=backend,
            training=TrainingConfig(
                max_epochs=max_epochs, max_time=max_time, seed=seed, learning_rate=learning_rate,
                batch_size=batch_size, patience=patience, devices=devices, strategy=strategy,
                progress=progress,
            ),
        )
        self.net: ForecastNet | None = None
        self.spec: _DataSpec | None = None
        self.data: TimeSeriesData | None = None
        self.fit_result = None

    # --------------------------------------------------------------------- reading
    def read(self, data: Any, *, time: str = "ds", target: str = "y", id: str | None = None,
             covariates: Sequence[str] = (), future_covariates: Sequence[str] = (),
             freq: str | None = None, fill: str | None = None) -> TimeSeriesData:
        """Read and validate ``data`` (see :func:`lstmkit.data.read_timeseries`)."""
        return read_timeseries(data, time=time, target=target, id=id,
                               past_covariates=covariates, future_covariates=future_covariates,
                               freq=freq, fill=fill)

    @property
    def quantiles(self) -> tuple[float, ...]:
        """The head's quantiles: the user's, with the median always among them."""
        return tuple(sorted(set(self.params.quantiles) | {0.5}))

    def _sizes(self, ts: TimeSeriesData, usable: int) -> tuple[int, int]:
        """Horizon and lookback for ``ts`` when only ``usable`` steps of each may train."""
        m = ts.season_length
        horizon = self.params.horizon or (m if m > 1 else 6)
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
        ts = data if isinstance(data, TimeSeriesData) else self.read(data, **read_kwargs)
        horizon, lookback = self._sizes(ts, min(ts.lengths().values()))
        self._fit(ts, horizon, lookback, end=None, run_dir=run_dir, resume_from=resume_from)
        return self

    def _fit(self, ts: TimeSeriesData, horizon: int, lookback: int, end: list[int] | None,
             run_dir: str | Path | None, resume_from=None) -> None:
        check_min_length(ts, lookback + horizon + 1, why=f"lookback {lookback} + horizon {horizon} + 1")
        self.data = ts
        self.spec = self._make_spec(ts, end)
        series = self._scaled(ts)
        self.net = ForecastNet(ForecastNetConfig(
            n_past=len(ts.roles.past_covariates), n_future=len(ts.roles.future_covariates),
            lookback=lookback, horizon=horizon, season_length=ts.season_length,
            quantiles=self.quantiles, hidden_size=self.params.hidden_size,
            num_layers=self.params.num_layers, dropout=self.params.dropout,
            backend=self.params.backend,
        ))
        train, val = self._split(series, lookback, horizon, end)
        self.net.season = self.net.config.season_length = _baseline_season(train, ts.season_length, lookback)
        cfg = self.params.training
        loaders = [self._loader(w, shuffle=i == 0) if w is not None else None
                   for i, w in enumerate((train, val))]
        quantiles = torch.tensor(self.quantiles)

        def loss_fn(net, batch):
            x, x_future, y = batch
            return pinball_loss(net(x, x_future), y, quantiles)

        self.fit_result = fit(self.net, loss_fn, loaders[0], loaders[1], cfg, run_dir,
                              resume_from=resume_from)
        self.net.eval()

    def _loader(self, windows, shuffle: bool):
        from torch.utils.data import DataLoader, TensorDataset

        t = windows.to_torch()
        dataset = TensorDataset(t["x"], t["x_future"], t["y"])
        generator = torch.Generator().manual_seed(self.params.training.seed)
        return DataLoader(dataset, batch_size=self.params.training.batch_size, shuffle=shuffle,
                          generator=generator)

    def _split(self, series: list[SeriesArrays], lookback: int, horizon: int, end: int | None):
        """Training windows and the validation windows (the most recent cut-offs)."""
        windows = make_windows(series, lookback, horizon, end=end)
        if len(windows) == 0:
            raise InputError(f"{self.data.source}: no training window fits lookback {lookback} + horizon {horizon}")
        n_per_series = max(1, len(windows) // max(1, len(series)))
        n_val = min(horizon, n_per_series // 5)
        if n_val < 1:
            return windows, None
        is_val = np.zeros(len(windows), dtype=bool)
        for index in np.unique(windows.series_index):
            rows = np.flatnonzero(windows.series_index == index)
            latest = rows[np.argsort(windows.cutoff[rows])][-n_val:]
            is_val[latest] = True
        return _subset(windows, ~is_val), _subset(windows, is_val)

    # --------------------------------------------------------------------- scaling
    def _make_spec(self, ts: TimeSeriesData, end: list[int] | None) -> _DataSpec:
        r = ts.roles
        target = ts.frame[r.target].to_numpy()
        log = self.params.transform == "log" or (self.params.transform == "auto" and bool((target > 0).all()))
        if log and not (target > 0).all():
            row = int(np.argmax(target <= 0))
            raise InputError(f"{ts.source}: column {r.target!r} has a value <= 0 ({target[row]}), "
                             "which has no logarithm; use --transform none")
        scale = {}
        for i, s in enumerate(ts.to_arrays()):
            values = np.column_stack([_forward(s.target, log), s.past, s.future[: s.length]])
            values = values if end is None else values[: end[i]]
            mean = values.mean(axis=0)
            std = values.std(axis=0)
            std = np.where(std > 1e-8, std, 1.0)
            scale[s.id] = {"mean": mean.tolist(), "std": std.tolist()}
        return _DataSpec(r.time, r.target, r.id, ts.has_id, r.past_covariates, r.future_covariates,
                         ts.freq, ts.season_length, log, scale)

    def _scaled(self, ts: TimeSeriesData) -> list[SeriesArrays]:
        spec = self.spec
        out = []
        n_past = len(spec.past_covariates)
        for s in ts.to_arrays():
            if s.id not in spec.scale:
                raise InputError(f"{ts.source}: series {s.id!r} was not in the training data; "
                                 "the model has no scale for it")
            mean = np.asarray(spec.scale[s.id]["mean"])
            std = np.asarray(spec.scale[s.id]["std"])
            target = (_forward(s.target, spec.log) - mean[0]) / std[0]
            past = (s.past - mean[1:1 + n_past]) / std[1:1 + n_past]
            future = (s.future - mean[1 + n_past:]) / std[1 + n_past:]
            out.append(SeriesArrays(s.id, target, past, future, s.times))
        return out

    def _unscale(self, ids: Sequence[str], values: np.ndarray) -> np.ndarray:
        """Values ``(N, H, Q)`` in scaled units -> the target's units."""
        mean = np.array([self.spec.scale[i]["mean"][0] for i in ids])[:, None, None]
        std = np.array([self.spec.scale[i]["std"][0] for i in ids])[:, None, None]
        return _inverse(values * std + mean, self.spec.log)

    # --------------------------------------------------------------------- predicting
    def _require_fitted(self) -> None:
        if self.net is None:
            raise RuntimeError("this Forecaster is not fitted yet: call fit() or Forecaster.load()")

    def _run(self, windows) -> np.ndarray:
        t = windows.to_torch()
        with torch.no_grad():
            out = self.net.eval()(t["x"], t["x_future"]).numpy()
        ids = [windows.ids[i] for i in windows.series_index]
        return np.sort(self._unscale(ids, out.astype(np.float64)), axis=-1)  # no crossing

    def predict(self, data: Any = None, **read_kwargs) -> pd.DataFrame:
        """Forecast the next H steps after the end of every series of ``data`` (default: the
        training data). Columns: id (when the input had one), time, ``y_hat`` (the median),
        and ``y_q<q>`` per quantile (e.g. ``y_q0.1``)."""
        self._require_fitted()
        ts = self._resolve_data(data, read_kwargs)
        c = self.net.config
        check_min_length(ts, c.lookback, why=f"the model's lookback {c.lookback}",
                         hint="give at least that much history")
        check_future_covariates(ts, c.horizon)
        series = self._scaled(ts)
        values = self._run(last_windows(series, c.lookback, c.horizon))
        rows = []
        for s, forecast in zip(series, values):
            times = pd.date_range(s.times[-1], periods=c.horizon + 1, freq=ts.freq)[1:]
            rows.append(self._frame(s.id, times, forecast))
        return pd.concat(rows, ignore_index=True)

    def _frame(self, uid: str, times, forecast: np.ndarray) -> pd.DataFrame:
        spec = self.spec
        frame = pd.DataFrame({spec.time: times})
        if spec.has_id:
            frame.insert(0, spec.id, uid)
        median = self.quantiles.index(0.5)
        frame["y_hat"] = forecast[:, median]
        for j, q in enumerate(self.quantiles):
            if q in self.params.quantiles:
                frame[f"y_q{q:g}"] = forecast[:, j]
        return frame

    def _resolve_data(self, data, read_kwargs) -> TimeSeriesData:
        """``data`` validated: the training data when None, read with the training columns
        when this model is fitted."""
        if data is None:
            if self.data is None:
                raise ValueError("give the data (this model was loaded without its training data)")
            return self.data
        if isinstance(data, TimeSeriesData):
            return data
        if self.spec is None:
            return self.read(data, **read_kwargs)
        spec = self.spec
        kwargs = dict(time=spec.time, target=spec.target, id=spec.id if spec.has_id else None,
                      covariates=spec.past_covariates, future_covariates=spec.future_covariates,
                      freq=spec.freq)
        kwargs.update(read_kwargs)
        return self.read(data, **kwargs)

    # --------------------------------------------------------------------- backtesting
    def backtest(self, data: Any = None, *, windows: int = 3, stride: int | None = None,
                 run_dir: str | Path | None = None, **read_kwargs) -> BacktestResult:
        """Rolling-origin backtest: train a fresh model on everything before the first
        cut-off, then forecast from each of ``windows`` cut-offs (``stride`` steps apart,
        default the horizon; the last forecast ends at the end of the data). The naive and
        seasonal-naive forecasts are scored on the same windows. This estimator is left
        trained on the data before the first cut-off."""
        ts = self._resolve_data(data, read_kwargs)
        if isinstance(windows, bool) or int(windows) != windows or windows < 1:
            raise InputError(f"--backtest-windows: expected a whole number >= 1; got {windows!r}")
        shortest = min(ts.lengths().values())
        horizon = self.params.horizon or (ts.season_length if ts.season_length > 1 else 6)
        stride = stride or horizon
        first_cut = shortest - horizon - (windows - 1) * stride
        _, lookback = self._sizes(ts, first_cut)
        if first_cut < lookback + horizon + 1:
            raise InputError(
                f"{ts.source}: the shortest series has {shortest} steps, too few for {windows} "
                f"backtest windows of horizon {horizon} (stride {stride}) after lookback {lookback} "
                f"+ horizon {horizon} + 1 steps of training; use fewer --backtest-windows"
            )
        lengths = ts.lengths()
        ends = [lengths[uid] - horizon - (windows - 1) * stride for uid in ts.ids]
        self._fit(ts, horizon, lookback, end=ends, run_dir=run_dir)
        series = self._scaled(ts)
        cutoffs = [[e + k * stride for k in range(windows)] for e in ends]
        w = windows_at(series, cutoffs, lookback, horizon)
        forecasts = self._run(w)
        raw = {s.id: s for s in ts.to_arrays()}
        m = ts.season_length
        frames = []
        for i in range(len(w)):
            uid = w.ids[w.series_index[i]]
            cut = int(w.cutoff[i])
            history = raw[uid].target[:cut]
            frame = self._frame(uid, raw[uid].times[cut:cut + horizon], forecasts[i])
            frame = frame.rename(columns={"y_hat": "lstm"})
            frame.insert(1 if self.spec.has_id else 0, "cutoff", raw[uid].times[cut - 1])
            frame["y"] = raw[uid].target[cut:cut + horizon]
            frame["naive"] = fm.naive(history, horizon)
            frame["seasonal_naive"] = fm.seasonal_naive(history, horizon, m)
            frame["_id"] = uid
            frames.append(frame)
        predictions = pd.concat(frames, ignore_index=True)
        metrics = self._score(predictions, raw, m, w, horizon)
        predictions = predictions.drop(columns="_id")
        return BacktestResult(metrics, predictions, sorted({raw[u].times[c - 1] for u, cs in
                                                            zip(ts.ids, cutoffs) for c in cs}))

    def _score(self, predictions, raw, m, w, horizon) -> dict[str, dict[str, float]]:
        metrics: dict[str, dict[str, float]] = {}
        q_low, q_high = (min(self.params.quantiles), max(self.params.quantiles)) if self.params.quantiles else (None, None)
        for model in ("lstm", "naive", "seasonal_naive"):
            y, f = predictions["y"].to_numpy(), predictions[model].to_numpy()
            scaled_errors = []
            for uid, group in predictions.groupby("_id", sort=False):
                first_cut = int(w.cutoff[w.series_index == w.ids.index(uid)].min())
                q = fm.mase(group["y"], group[model], raw[uid].target[:first_cut], m)
                scaled_errors.append(q)
            metrics[model] = {
                "MAE": fm.mae(y, f), "RMSE": fm.rmse(y, f), "MAPE": fm.mape(y, f),
                "sMAPE": fm.smape(y, f), "MASE": float(np.nanmean(scaled_errors)),
            }
        if q_low is not None and q_low < 0.5 < q_high:
            lo, hi = predictions[f"y_q{q_low:g}"], predictions[f"y_q{q_high:g}"]
            metrics["lstm"]["coverage"] = fm.coverage(predictions["y"], lo, hi)
            metrics["lstm"]["nominal_coverage"] = q_high - q_low
        return metrics

    # --------------------------------------------------------------------- persistence
    def config_dict(self) -> dict[str, Any]:
        self._require_fitted()
        params = dataclasses.asdict(self.params)
        return {
            "kind": KIND,
            "params": params,
            "net": dataclasses.asdict(self.net.config),
            "encoder": self.net.encoder.config.to_dict(),
            "data": dataclasses.asdict(self.spec),
            "backends": dict(self.net.encoder.backend_counts),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (atomically) to ``directory``."""
        from lstmkit.runs import save_model

        save_model(directory, self.config_dict(), self.net.state_dict())
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> "Forecaster":
        """A Forecaster from a directory written by :meth:`save`, ready to :meth:`predict`."""
        from lstmkit.runs import load_model

        config, state = load_model(directory, KIND)
        try:
            params = dict(config["params"])
            training = TrainingConfig.from_dict(params.pop("training"))
            params["quantiles"] = tuple(params["quantiles"])
            self = cls.__new__(cls)
            self.params = ForecasterParams(training=training, **params)
            net_config = dict(config["net"])
            net_config["quantiles"] = tuple(net_config["quantiles"])
            self.net = ForecastNet(ForecastNetConfig(**net_config))
            self.net.load_state_dict(state)
            data = dict(config["data"])
            data["past_covariates"] = tuple(data["past_covariates"])
            data["future_covariates"] = tuple(data["future_covariates"])
            self.spec = _DataSpec(**data)
        except (KeyError, TypeError, RuntimeError) as exc:
            raise InputError(f"{directory}: the model files do not match this lstmkit ({exc})") from None
        self.net.eval()
        self.data = None
        self.fit_result = None
        return self


def _baseline_season(windows, season_length: int, lookback: int) -> int:
    """The season of the baseline the network corrects: the data's season when seasonal
    naive forecasts the training windows better than naive (lower MAE), else 1 (naive).
    A trending series without a real season (quarterly GDP, say) is better served by naive."""
    if season_length <= 1 or season_length > lookback:
        return 1
    target = windows.x[..., 0]  # (N, L)
    horizon = windows.y.shape[1]
    seasonal = np.tile(target[:, -season_length:], (1, math.ceil(horizon / season_length)))[:, :horizon]
    naive = np.repeat(target[:, -1:], horizon, axis=1)
    seasonal_error = np.abs(windows.y - seasonal).mean()
    naive_error = np.abs(windows.y - naive).mean()
    return season_length if seasonal_error <= naive_error else 1


def _forward(values: np.ndarray, log: bool) -> np.ndarray:
    return np.log(values) if log else values


def _inverse(values: np.ndarray, log: bool) -> np.ndarray:
    return np.exp(values) if log else values


def _subset(windows, mask: np.ndarray):
    return dataclasses.replace(
        windows, x=windows.x[mask], x_future=windows.x_future[mask],
        y=None if windows.y is None else windows.y[mask],
        series_index=windows.series_index[mask], cutoff=windows.cutoff[mask],
    )
