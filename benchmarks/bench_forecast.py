"""Forecast quality: lstmkit's ``Forecaster`` defaults beside statsforecast and Darts.

One command (issue 11, item 1)::

    python benchmarks/bench_forecast.py --quick            # a few minutes on 2 cores
    python benchmarks/bench_forecast.py                    # every data set, 3 seeds
    python benchmarks/bench_forecast.py --datasets nile,lynx --seeds 0,1,2 --origins 3 --json out.json

Needs the optional ``benchmarks`` extra (``pip install -e '.[benchmarks]'``: statsforecast,
statsmodels, aeon; Darts optional). A model whose package is missing is left out and said so.

Protocol, the same for every model
----------------------------------
For each data set, each horizon H and each series of length n, the cut-offs are
``forecast_metrics.rolling_origin(n, H, windows=origins, stride=S)`` (the last window ends at
the end of the series). Every model is fitted **once**, on the values before the first cut-off,
and then forecasts H steps from every cut-off ``c`` reading the history ``y[:c]`` without
refitting (lstmkit: ``Forecaster.backtest``; statsforecast: ``fit`` then ``forward``; Darts:
``fit`` then ``predict(series=y[:c])``). Each window ``y[c:c+H]`` is scored with

* MASE: MAE over the window / the in-sample MAE of the seasonal naive forecast on ``y[:c]``
  with the data set's season length m (``forecast_metrics.mase``);
* sMAPE and MAPE (percent, ``forecast_metrics.smape`` / ``mape``).

A data set's number is the mean over its windows (all series, cut-offs and horizons); the
summary is the geometric mean over data sets of each model's MASE divided by AutoARIMA's. The
lstmkit column (its final forecast) is the mean over seeds, the spread the range over seeds;
``lstm_only`` is the same fitted models' LSTM ensemble without the baselines it is combined with.

Darts' own example protocol (its RNN notebook, AirPassengers): fit on the series up to
1959-01, forecast 6 months from each of the 19 origins 1959-01 .. 1960-07 (retrain=False),
score the 6th step of each forecast with MAPE. Beside it, the long-horizon protocol of issue 11:
AirPassengers, one origin, three seasons ahead (fit on 1949-01 .. 1957-12, forecast 1958-01 ..
1960-12), MAPE over the 36 months.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lstmkit.tasks import forecast_metrics as fm  # noqa: E402
# statsforecast's models and protocol (fit once, forward from each cut-off), shared with
# Forecaster.backtest's AutoARIMA / AutoETS rows
from lstmkit.tasks.forecast_statsforecast import run_statsforecast, statsforecast_models  # noqa: E402

# ----------------------------------------------------------------------------- data


@dataclass
class Dataset:
    name: str
    load: Callable[[], pd.DataFrame]  # long format: unique_id, ds, y
    horizons: tuple[int, ...]
    quick_horizons: tuple[int, ...] = ()
    stride: int | None = None  # None: the rule in ``stride_for``
    note: str = ""


def _one(frame: pd.DataFrame, uid: str) -> pd.DataFrame:
    out = frame[["ds", "y"]].copy()
    out.insert(0, "unique_id", uid)
    return out


def _yearly(values, start: int, uid: str) -> pd.DataFrame:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    ds = pd.date_range(f"{start}-01-01", periods=len(values), freq="YS")
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": values})


def _aeon_quiet(name: str):
    import aeon.datasets as d

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(getattr(d, name)(), dtype=np.float64).reshape(-1)


def load_air_passengers():
    from lstmkit.data import load_air_passengers

    return _one(load_air_passengers(), "AirPassengers")


def load_nile():
    from lstmkit.data.datasets import load_nile

    return _one(load_nile(), "Nile")


def load_sunspots():
    from lstmkit.data.datasets import load_sunspots

    return _one(load_sunspots(), "sunspots")


def load_shampoo():
    # aeon's ShampooSales: 36 monthly sales, 1901-01 .. 1903-12 (Makridakis, Wheelwright & Hyndman)
    y = _aeon_quiet("load_shampoo_sales")
    return pd.DataFrame({"unique_id": "ShampooSales", "ds": pd.date_range("1901-01-01", periods=len(y), freq="MS"),
                         "y": y})


def load_lynx():
    # aeon's Lynx: annual Canadian lynx trappings 1821 .. 1934 (a ~10-year cycle, no calendar season)
    return _yearly(_aeon_quiet("load_lynx"), 1821, "Lynx")


M1_MIN_LENGTH = 25


def load_m1_yearly():
    """aeon's m1_yearly_dataset (181 yearly series of the M1 competition); the series with at
    least ``M1_MIN_LENGTH`` values (71 of them), so that 3 origins of horizon 6 leave every
    model some history; one global lstmkit model across them."""
    import aeon
    from aeon.datasets import load_from_tsf_file

    path = Path(aeon.__file__).parent / "datasets" / "data" / "m1_yearly_dataset" / "m1_yearly_dataset.tsf"
    frame, _ = load_from_tsf_file(str(path))
    parts = []
    for _, row in frame.iterrows():
        values = np.asarray(row["series_value"], dtype=np.float64)
        if len(values) >= M1_MIN_LENGTH:
            parts.append(_yearly(values, 1900 if row["start_timestamp"].year < 1900 else row["start_timestamp"].year,
                                 str(row["series_name"])))
    return pd.concat(parts, ignore_index=True)


def load_elnino():
    # statsmodels' elnino: monthly sea surface temperature, 1950 .. 2010 (732 months)
    import statsmodels.api as sm

    data = sm.datasets.elnino.load_pandas().data
    y = data.drop(columns="YEAR").to_numpy(dtype=np.float64).reshape(-1)
    return pd.DataFrame({"unique_id": "elnino", "ds": pd.date_range("1950-01-01", periods=len(y), freq="MS"), "y": y})


def load_us_gdp():
    from lstmkit.data.datasets import load_us_gdp

    return _one(load_us_gdp(), "US GDP")


def _macrodata(column: str, uid: str) -> pd.DataFrame:
    # statsmodels' macrodata: US quarterly series, 1959Q1 .. 2009Q3 (203 quarters)
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range("1959-01-01", periods=len(data), freq="QS"),
                         "y": data[column].to_numpy(dtype=np.float64)})


def load_us_unemp():
    return _macrodata("unemp", "US unemployment rate")


def load_us_realinv():
    return _macrodata("realinv", "US real investment")


def load_elec_equip():
    # statsmodels' elec_equip: euro-area electrical equipment orders index, monthly 1995-01 ..
    # 2016-05 (the 2008-09 fall in it)
    from statsmodels.datasets.elec_equip import data

    frame = data.load().data
    return pd.DataFrame({"unique_id": "elec_equip", "ds": pd.date_range(frame.index[0], periods=len(frame), freq="MS"),
                         "y": frame.iloc[:, 0].to_numpy(dtype=np.float64)})


def load_co2():
    # statsmodels' co2 (Mauna Loa, weekly 1958 .. 2001) as monthly means, the 59 missing weeks
    # left out of the means
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()
    return pd.DataFrame({"unique_id": "co2", "ds": monthly.index, "y": monthly.to_numpy(dtype=np.float64)})


def load_pbs():
    # aeon's PBS_dataset: monthly scripts of one Australian PBS drug, 1991-07 .. 2008-06; small
    # counts with zeros (intermittent)
    y = _aeon_quiet("load_PBS_dataset")
    return pd.DataFrame({"unique_id": "PBS", "ds": pd.date_range("1991-07-01", periods=len(y), freq="MS"), "y": y})


DATASETS = {
    d.name: d
    for d in [
        Dataset("air_passengers", load_air_passengers, (1, 12, 36), (1, 12),
                note="bundled; the same series as aeon's Airline"),
        Dataset("shampoo", load_shampoo, (1, 6), (1, 6), note="aeon ShampooSales, 36 months"),
        Dataset("nile", load_nile, (1, 6, 10), (1, 6), note="bundled"),
        Dataset("lynx", load_lynx, (1, 6, 12), (1, 6), note="aeon Lynx"),
        Dataset("sunspots", load_sunspots, (1, 6, 22), note="bundled, yearly"),
        Dataset("us_gdp", load_us_gdp, (1, 4, 12), note="statsmodels macrodata, quarterly"),
        Dataset("elnino", load_elnino, (1, 12, 36), note="statsmodels elnino, monthly"),
        Dataset("m1_yearly", load_m1_yearly, (1, 6), stride=1,
                note=f"aeon m1_yearly_dataset, the series with >= {M1_MIN_LENGTH} values"),
        # held out: added after the default recipe was fixed, to check it on data it was not chosen on
        Dataset("elec_equip", load_elec_equip, (1, 12, 36), note="statsmodels elec_equip, monthly (held out)"),
        Dataset("co2", load_co2, (1, 12, 36), note="statsmodels co2, monthly means (held out)"),
        Dataset("pbs", load_pbs, (1, 12), note="aeon PBS_dataset, monthly counts (held out)"),
        Dataset("us_unemp", load_us_unemp, (1, 4, 12), note="statsmodels macrodata unemp, quarterly (held out)"),
        Dataset("us_realinv", load_us_realinv, (1, 4, 12), note="statsmodels macrodata realinv, quarterly (held out)"),
    ]
}
QUICK = ("air_passengers", "shampoo", "nile", "lynx")


def season_length(frame: pd.DataFrame) -> int:
    """The season length lstmkit infers from the data's frequency (used by every model)."""
    from lstmkit.data import read_timeseries

    return int(read_timeseries(frame, id="unique_id").season_length)


def stride_for(horizon: int, m: int, fixed: int | None = None) -> int:
    """Steps between cut-offs: one step for H = 1 would give nearly identical windows, so
    H = 1 and short horizons step by min(H, m) (or H), long horizons by one season (or 6)."""
    if fixed is not None:
        return fixed
    if horizon == 1:
        return max(1, m // 2) if m > 1 else 2
    return min(horizon, m if m > 1 else 6)


# ----------------------------------------------------------------------------- scoring


def score_window(y, f, history, m: int) -> dict[str, float]:
    """The scores of one forecast window: MASE (scale from ``history`` with season ``m``),
    sMAPE and MAPE. The one scoring function of the benchmark, for every model."""
    return {"MASE": fm.mase(y, f, history, m), "sMAPE": fm.smape(y, f), "MAPE": fm.mape(y, f)}


def aggregate(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each score over windows (NaN windows, e.g. a constant history, left out)."""
    out = {}
    for key in ("MASE", "sMAPE", "MAPE"):
        values = np.array([r[key] for r in rows], dtype=np.float64)
        values = values[np.isfinite(values)]
        out[key] = float(values.mean()) if len(values) else float("nan")
    return out


def geometric_mean(values) -> float:
    values = np.asarray(list(values), dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.mean(np.log(values)))) if len(values) else float("nan")


# ----------------------------------------------------------------------------- models


def cutoffs_for(frame: pd.DataFrame, horizon: int, origins: int, stride: int) -> dict[str, list[int]]:
    return {uid: fm.rolling_origin(len(g), horizon, windows=origins, stride=stride, min_train=2, name=uid)
            for uid, g in frame.groupby("unique_id", sort=False)}


def run_lstmkit(frame: pd.DataFrame, horizon: int, origins: int, stride: int, seed: int,
                cuts: dict[str, list[int]], columns=("lstm", "lstm_only")) -> dict[str, dict[tuple[str, int], np.ndarray]]:
    """``Forecaster`` with its defaults (only horizon and seed set), through its own backtest:
    per backtest column (``lstm``: its forecast; ``lstm_only``: its LSTM ensemble without the
    baselines), ``{(series, cut-off): forecast}``."""
    from lstmkit.tasks.forecast import Forecaster

    f = Forecaster(horizon=horizon, seed=seed, progress=False)
    result = f.backtest(frame, windows=origins, stride=stride, id="unique_id", baselines=False)  # run here
    pred = result.predictions
    out = {col: {} for col in columns}
    for uid, g in frame.groupby("unique_id", sort=False):
        times = pd.DatetimeIndex(g["ds"])
        p = pred[pred["unique_id"] == uid]
        for c in cuts[uid]:
            rows = p[p["cutoff"] == times[c - 1]].sort_values("ds")
            if len(rows) != horizon:
                raise RuntimeError(f"{uid}: lstmkit's backtest has no forecast from cut-off {times[c - 1]}")
            for col in columns:
                out[col][(uid, c)] = rows[col].to_numpy(dtype=np.float64)
    return out


def darts_model(seed: int, epochs: int = 300):
    """Darts' RNN notebook's model (AirPassengers section), checkpoints off."""
    from darts.models import RNNModel

    return RNNModel(model="LSTM", hidden_dim=20, dropout=0, batch_size=16, n_epochs=epochs,
                    optimizer_kwargs={"lr": 1e-3}, random_state=seed, training_length=20,
                    input_chunk_length=14, force_reset=True, save_checkpoints=False,
                    pl_trainer_kwargs={"enable_progress_bar": False, "enable_model_summary": False,
                                       "logger": False, "accelerator": "cpu"})


def _darts_covariates(times: pd.DatetimeIndex, freq: str, extra: int):
    """The notebook's covariates: the year (scaled) and the month one-hot, far enough ahead."""
    from darts.dataprocessing.transformers import Scaler
    from darts.utils.timeseries_generation import datetime_attribute_timeseries

    index = pd.date_range(times[0], periods=len(times) + extra, freq=freq)
    year = Scaler().fit_transform(datetime_attribute_timeseries(index, attribute="year", one_hot=False))
    if freq.startswith("M"):
        return year.stack(datetime_attribute_timeseries(year, attribute="month", one_hot=True))
    return year


def run_darts(g: pd.DataFrame, cuts: list[int], horizon: int, seed: int, freq: str) -> dict[int, np.ndarray]:
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler

    series = TimeSeries.from_times_and_values(pd.DatetimeIndex(g["ds"]), g["y"].to_numpy(np.float64), freq=freq)
    cov = _darts_covariates(pd.DatetimeIndex(g["ds"]), freq, horizon + 1)
    scaler = Scaler()
    train = scaler.fit_transform(series[:cuts[0]])
    model = darts_model(seed)
    model.fit(train, future_covariates=cov, verbose=False)
    out = {}
    for c in cuts:
        pred = model.predict(horizon, series=scaler.transform(series[:c]), future_covariates=cov, verbose=False)
        out[c] = scaler.inverse_transform(pred).values().reshape(-1).astype(np.float64)
    return out


# ----------------------------------------------------------------------------- the benchmark


@dataclass
class Result:
    # dataset -> model -> horizon -> list of per-window score dicts; lstmkit per seed as "lstmkit@s"
    windows: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)  # dataset -> model -> seconds (all horizons)
    series: dict = field(default_factory=dict)  # dataset -> number of series


def run_dataset(ds: Dataset, horizons, origins: int, seeds, models: list[str], result: Result, log) -> None:
    frame = ds.load()
    m = season_length(frame)
    freq = pd.infer_freq(pd.DatetimeIndex(frame[frame["unique_id"] == frame["unique_id"].iloc[0]]["ds"]))
    groups = {uid: g.reset_index(drop=True) for uid, g in frame.groupby("unique_id", sort=False)}
    sf = statsforecast_models(m) if "statsforecast" in models else {}
    store = result.windows.setdefault(ds.name, {})
    secs = result.seconds.setdefault(ds.name, {})
    result.series[ds.name] = len(groups)
    log(f"{ds.name}: {len(groups)} series, lengths {min(map(len, groups.values()))}..{max(map(len, groups.values()))}, "
        f"season {m}, horizons {list(horizons)}, {origins} origins")

    def add(model: str, h: int, uid: str, c: int, f: np.ndarray) -> None:
        y = groups[uid]["y"].to_numpy(np.float64)
        store.setdefault(model, {}).setdefault(h, []).append(score_window(y[c:c + h], f, y[:c], m))

    for h in horizons:
        stride = stride_for(h, m, ds.stride)
        cuts = cutoffs_for(frame, h, origins, stride)
        for name, make in sf.items():
            t = time.perf_counter()
            for uid, g in groups.items():
                for c, f in run_statsforecast(make, g["y"].to_numpy(np.float64), cuts[uid], h).items():
                    add(name, h, uid, c, f)
            secs[name] = secs.get(name, 0.0) + time.perf_counter() - t
        if "lstmkit" in models:
            for seed in seeds:
                t = time.perf_counter()
                both = run_lstmkit(frame, h, origins, stride, seed, cuts)
                for name, col in (("lstmkit", "lstm"), ("lstm_only", "lstm_only")):
                    for (uid, c), f in both[col].items():
                        add(f"{name}@{seed}", h, uid, c, f)
                secs.setdefault("lstmkit (per seed)", []).append(time.perf_counter() - t)
                log(f"  {ds.name} H={h} lstmkit seed {seed}: {time.perf_counter() - t:.1f} s")
        if "darts" in models and len(groups) == 1:
            for seed in seeds:
                t = time.perf_counter()
                uid, g = next(iter(groups.items()))
                for c, f in run_darts(g, cuts[uid], h, seed, freq).items():
                    add(f"darts@{seed}", h, uid, c, f)
                secs.setdefault("darts (per seed)", []).append(time.perf_counter() - t)
                log(f"  {ds.name} H={h} darts seed {seed}: {time.perf_counter() - t:.1f} s")


def summarise(result: Result, seeds) -> dict:
    """Per data set and model: MASE, sMAPE, MAPE (lstmkit/darts: mean over seeds, with the
    range of MASE over seeds); and each model's geometric mean of MASE relative to AutoARIMA."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for dname, models in result.windows.items():
        row: dict[str, dict[str, float]] = {}
        per_seed: dict[str, list[dict[str, float]]] = {}
        for model, by_h in models.items():
            scores = aggregate([w for ws in by_h.values() for w in ws])
            base = model.split("@")[0]
            if "@" in model:
                per_seed.setdefault(base, []).append(scores)
            else:
                row[base] = scores
        for base, runs in per_seed.items():
            mase = [r["MASE"] for r in runs]
            row[base] = {k: float(np.mean([r[k] for r in runs])) for k in ("MASE", "sMAPE", "MAPE")}
            row[base]["MASE_min"], row[base]["MASE_max"] = float(min(mase)), float(max(mase))
            row[base]["seeds"] = len(runs)
        table[dname] = row
    relative: dict[str, float] = {}
    spread: dict[str, tuple[float, float]] = {}
    names = sorted({k for row in table.values() for k in row})
    for model in names:
        ratios = [row[model]["MASE"] / row["AutoARIMA"]["MASE"] for row in table.values()
                  if model in row and "AutoARIMA" in row]
        relative[model] = geometric_mean(ratios)
    for model in ("lstmkit", "darts"):
        by_seed = []
        for seed in seeds:
            ratios = []
            for dname, models in result.windows.items():
                key = f"{model}@{seed}"
                if key in models and "AutoARIMA" in models:
                    s = aggregate([w for ws in models[key].values() for w in ws])["MASE"]
                    ratios.append(s / table[dname]["AutoARIMA"]["MASE"])
            if ratios:
                by_seed.append(geometric_mean(ratios))
        if by_seed:
            spread[model] = (min(by_seed), max(by_seed))
    return {"datasets": table, "relative_mase_geomean": relative, "relative_mase_geomean_seed_range": spread}


def mape_over_runs(values: list[float], label: str, log) -> dict[str, float]:
    """A protocol's row: the mean MAPE over runs (seeds), its range and the number of runs,
    logged as ``label``."""
    row = {"MAPE": float(np.mean(values)), "MAPE_min": float(min(values)), "MAPE_max": float(max(values)),
           "seeds": len(values)}
    log(f"  {label}: MAPE {row['MAPE']:.2f} % ({', '.join(f'{v:.2f}' for v in values)})")
    return row


def darts_protocol(seeds, models: list[str], log, quick: bool = False) -> dict[str, dict[str, float]]:
    """Darts' RNN example protocol on AirPassengers: every model fitted on 1949-01 .. 1959-01,
    6-step forecasts from the 19 origins 1959-01 .. 1960-07 (the first forecast starts at
    1959-01, as Darts' ``historical_forecasts(start=1959-01, retrain=False)`` does), the 6th
    step of each scored with MAPE."""
    from lstmkit.data import load_air_passengers

    df = load_air_passengers()
    y = df["y"].to_numpy(np.float64)
    start = int(np.flatnonzero(df["ds"] == pd.Timestamp("1959-01-01"))[0])  # 120
    fit_end = start + 1  # the training split includes 1959-01 (split_after)
    h = 6
    cuts = list(range(start, len(y) - h + 1))  # 19 origins
    actual = np.array([y[c + h - 1] for c in cuts])
    out: dict[str, dict[str, float]] = {}

    def score(name, preds_by_seed):
        values = [fm.mape(actual, np.array([p[c][h - 1] for c in cuts])) for p in preds_by_seed]
        out[name] = mape_over_runs(values, f"darts protocol {name}", log)

    if "statsforecast" in models:
        for name, make in statsforecast_models(12).items():
            model = make()
            model.fit(y=y[:fit_end])
            score(name, [{c: np.asarray(model.forward(y=y[:c], h=h)["mean"]) for c in cuts}])
    if "lstmkit" in models:
        from lstmkit.tasks.forecast import Forecaster

        runs = []
        for seed in seeds:
            t = time.perf_counter()
            f = Forecaster(horizon=h, seed=seed, progress=False).fit(df.iloc[:fit_end])
            runs.append({c: f.predict(df.iloc[:c])["y_hat"].to_numpy(np.float64) for c in cuts})
            log(f"  darts protocol lstmkit seed {seed}: {time.perf_counter() - t:.1f} s")
        score("lstmkit", runs)
    if "darts" in models:
        from darts import TimeSeries
        from darts.dataprocessing.transformers import Scaler

        series = TimeSeries.from_dataframe(df, time_col="ds", value_cols="y", freq="MS")
        cov = _darts_covariates(pd.DatetimeIndex(df["ds"]), "MS", 1000 - len(df))
        runs = []
        # Darts' own seed first; --quick runs that one only (300 epochs take minutes on 2 cores)
        for seed in ((42,) if quick else (42, *[s for s in seeds if s != 42])):
            t = time.perf_counter()
            scaler = Scaler()
            train = scaler.fit_transform(series[:fit_end])
            model = darts_model(seed)
            model.fit(train, future_covariates=cov, verbose=False)
            hist = model.historical_forecasts(scaler.transform(series), future_covariates=cov,
                                              start=pd.Timestamp("1959-01-01"), forecast_horizon=h,
                                              retrain=False, verbose=False)
            sixth = scaler.inverse_transform(hist).values().reshape(-1)
            runs.append({c: np.r_[np.full(h - 1, np.nan), v] for c, v in zip(cuts, sixth)})
            log(f"  darts protocol darts seed {seed}: {time.perf_counter() - t:.1f} s")
        score("darts", runs)
    return out


def long_horizon_protocol(seeds, models: list[str], log) -> dict[str, dict[str, float]]:
    """AirPassengers from one origin, three seasons ahead: every model fitted on the first
    108 months, its 36-month forecast scored with MAPE over all 36 (lstmkit: its own backtest
    with one window, so the fit and forecast are those a user gets)."""
    from lstmkit.data import load_air_passengers

    df = load_air_passengers()
    y = df["y"].to_numpy(np.float64)
    h = 36
    cut = len(y) - h
    out: dict[str, dict[str, float]] = {}

    def score(name, forecasts):
        out[name] = mape_over_runs([fm.mape(y[cut:], f) for f in forecasts], f"long-horizon protocol {name}", log)

    if "statsforecast" in models:
        for name, make in statsforecast_models(12).items():
            model = make()
            model.fit(y=y[:cut])
            score(name, [np.asarray(model.predict(h=h)["mean"])])
    if "lstmkit" in models:
        from lstmkit.tasks.forecast import Forecaster

        runs = []
        for seed in seeds:
            result = Forecaster(horizon=h, seed=seed, progress=False).backtest(df, windows=1, baselines=False)
            runs.append(result.predictions["lstm"].to_numpy(np.float64))
        score("lstmkit", runs)
    return out


def available_models(requested: list[str]) -> tuple[list[str], list[str]]:
    have = {"lstmkit": True, "statsforecast": importlib.util.find_spec("statsforecast") is not None,
            "darts": importlib.util.find_spec("darts") is not None}
    return [m for m in requested if have[m]], [m for m in requested if not have[m]]


def seconds_per_series(result: Result) -> dict[str, dict[str, float]]:
    """Per data set and model: wall seconds per series, every horizon together (lstmkit and
    Darts: one seed's fit and forecasts, the mean over seeds; statsforecast: its fits and
    forecasts)."""
    out: dict[str, dict[str, float]] = {}
    for dname, by_model in result.seconds.items():
        n = max(1, result.series.get(dname, 1))
        row = {}
        for model, value in by_model.items():
            if isinstance(value, list):  # one entry per horizon and seed
                horizons = len(next(iter(result.windows[dname].values()), {})) or 1
                row[model.split(" ")[0]] = float(np.sum(value) / max(1, len(value) // horizons)) / n
            else:
                row[model] = float(value) / n
        out[dname] = row
    return out


def print_seconds(per_series: dict[str, dict[str, float]]) -> None:
    models = [m for m in ("lstmkit", "darts", "AutoARIMA", "AutoETS", "SeasonalNaive")
              if any(m in row for row in per_series.values())]
    print("\nwall seconds per series, every horizon (lstmkit, darts: per seed)")
    print(f"{'data set':<16}" + "".join(f"{m:>15}" for m in models))
    for dname, row in per_series.items():
        print(f"{dname:<16}" + "".join(f"{row.get(m, float('nan')):>15.2f}" for m in models))


def print_report(summary: dict, protocol: dict | None, long_horizon: dict | None, seeds, elapsed: float) -> None:
    order = ["lstmkit", "lstm_only", "darts", "AutoARIMA", "AutoETS", "SeasonalNaive"]
    models = [m for m in order if any(m in row for row in summary["datasets"].values())]
    for metric in ("MASE", "sMAPE", "MAPE"):
        print(f"\n{metric} (mean over windows; lstmkit/darts: mean over seeds {','.join(map(str, seeds))})")
        print(f"{'data set':<16}" + "".join(f"{m:>15}" for m in models) + "   best")
        for dname, row in summary["datasets"].items():
            cells = [row.get(m, {}).get(metric, float("nan")) for m in models]
            # MAPE has no value on a series with zeros (PBS): no best there
            best = models[int(np.nanargmin(cells))] if np.isfinite(cells).any() else "-"
            text = "".join(f"{v:>15.3f}" for v in cells)
            print(f"{dname:<16}{text}   {best}")
    print("\nlstmkit MASE range over seeds:")
    for dname, row in summary["datasets"].items():
        if "lstmkit" in row:
            print(f"  {dname:<16}{row['lstmkit']['MASE_min']:.3f} .. {row['lstmkit']['MASE_max']:.3f}")
    print("\ngeometric mean over data sets of MASE / AutoARIMA's MASE (below 1: better than AutoARIMA)")
    for m in models:
        rel = summary["relative_mase_geomean"].get(m, float("nan"))
        extra = ""
        if m in summary["relative_mase_geomean_seed_range"]:
            lo, hi = summary["relative_mase_geomean_seed_range"][m]
            extra = f"   (seeds: {lo:.3f} .. {hi:.3f})"
        print(f"  {m:<15}{rel:.3f}{extra}")
    print("\nwhere a baseline beats lstmkit (MASE, mean over seeds):")
    any_win = False
    for dname, row in summary["datasets"].items():
        if "lstmkit" not in row:
            continue
        ours = row["lstmkit"]["MASE"]
        winners = [f"{m} {row[m]['MASE']:.3f}" for m in models if m not in ("lstmkit", "lstm_only") and m in row
                   and row[m]["MASE"] < ours]
        if winners:
            any_win = True
            print(f"  {dname}: lstmkit {ours:.3f} loses to " + ", ".join(winners))
    if not any_win:
        print("  nowhere")
    if protocol:
        print("\nDarts' example protocol (AirPassengers, fit to 1959-01, 19 origins, 6th step, MAPE %):")
        for name, row in protocol.items():
            print(f"  {name:<28}{row['MAPE']:>7.2f}   (range {row['MAPE_min']:.2f} .. {row['MAPE_max']:.2f}, "
                  f"{row['seeds']} run{'s' if row['seeds'] != 1 else ''})")
    if long_horizon:
        print("\nLong-horizon protocol (AirPassengers, fit to 1957-12, one origin, 36 months, MAPE %):")
        for name, row in long_horizon.items():
            print(f"  {name:<28}{row['MAPE']:>7.2f}   (range {row['MAPE_min']:.2f} .. {row['MAPE_max']:.2f}, "
                  f"{row['seeds']} run{'s' if row['seeds'] != 1 else ''})")
    print(f"\nwall time {elapsed / 60:.1f} min")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=None,
                        help=f"comma-separated, from {', '.join(DATASETS)} (default: all; --quick: {', '.join(QUICK)})")
    parser.add_argument("--seeds", default=None, help="lstmkit (and Darts) seeds (default 0,1,2; --quick: 0,1)")
    parser.add_argument("--origins", type=int, default=3, help="rolling origins per series and horizon (default 3)")
    parser.add_argument("--models", default="lstmkit,statsforecast,darts",
                        help="which to run (default all installed; --quick leaves Darts to its own protocol)")
    parser.add_argument("--no-protocol", action="store_true", help="skip Darts' example protocol and the long-horizon one")
    parser.add_argument("--protocol-only", action="store_true", help="run Darts' example protocol and the long-horizon one, no data set")
    parser.add_argument("--quick", action="store_true",
                        help="a subset that finishes in a few minutes: 4 data sets, their short horizons, seeds 0,1")
    parser.add_argument("--json", default=None, metavar="OUT", help="write the numbers (and every window's scores) here")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default torch's own; 1 where several runs share the machine)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be at least 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)

    if args.protocol_only and (args.no_protocol or args.datasets):
        parser.error("--protocol-only runs no data set: leave out --datasets and --no-protocol")
    names = [] if args.protocol_only else (
        args.datasets.split(",") if args.datasets else list(QUICK if args.quick else DATASETS))
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else ([0, 1] if args.quick else [0, 1, 2])
    models, missing = available_models([m.strip() for m in args.models.split(",") if m.strip()])
    for m in missing:
        print(f"note: {m} is not installed; left out (pip install -e '.[benchmarks]')", file=sys.stderr)
    table_models = [m for m in models if not (args.quick and m == "darts")]

    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    result = Result()
    for n in names:
        ds = DATASETS[n]
        horizons = ds.quick_horizons if args.quick and ds.quick_horizons else ds.horizons
        run_dataset(ds, horizons, args.origins, seeds, table_models, result, log)
    summary = summarise(result, seeds)
    protocol = None if args.no_protocol else darts_protocol(seeds, models, log, quick=args.quick)
    long_horizon = None if args.no_protocol else long_horizon_protocol(seeds, models, log)
    elapsed = time.perf_counter() - started
    if args.json:  # first, so that the numbers survive whatever the printing meets
        payload = {"command": " ".join(sys.argv), "seeds": seeds, "origins": args.origins,
                   "datasets": {n: {"horizons": list(DATASETS[n].quick_horizons if args.quick and DATASETS[n].quick_horizons
                                                     else DATASETS[n].horizons), "note": DATASETS[n].note} for n in names},
                   "summary": summary, "darts_protocol": protocol, "long_horizon_protocol": long_horizon, "seconds": result.seconds,
                   "seconds_per_series": seconds_per_series(result),
                   "wall_seconds": elapsed, "windows": result.windows}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=float))
    print_report(summary, protocol, long_horizon, seeds, elapsed)
    print_seconds(seconds_per_series(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
