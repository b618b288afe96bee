"""Bundled series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.data import (
    MissingPackageError,
    bundled_path,
    load_air_passengers,
    load_co2,
    load_nile,
    load_sunspots,
    load_us_gdp,
    normalize_freq,
    read_timeseries,
)


def test_air_passengers():
    df = load_air_passengers()
    assert df.shape == (144, 2) and list(df.columns) == ["ds", "y"]
    assert df["ds"].iloc[0] == pd.Timestamp("1949-01-01")
    assert df["ds"].iloc[-1] == pd.Timestamp("1960-12-01")
    assert df["y"].iloc[:6].tolist() == [112, 118, 132, 129, 121, 135]
    assert df["y"].iloc[-3:].tolist() == [461, 390, 432]
    assert df["y"].sum() == 40363 and df["y"].max() == 622
    ts = read_timeseries(bundled_path("air_passengers.csv"))
    assert ts.freq == "MS" and ts.season_length == 12 and len(ts.frame) == 144


def test_nile():
    df = load_nile()
    assert df.shape == (100, 2)
    assert df["ds"].dt.year.tolist() == list(range(1871, 1971))
    assert df["y"].iloc[:3].tolist() == [1120, 1160, 963]
    assert df["y"].iloc[-1] == 740


def test_sunspots():
    df = load_sunspots()
    assert df.shape == (309, 2)
    assert df["ds"].dt.year.tolist() == list(range(1700, 2009))
    assert df["y"].iloc[:3].tolist() == [5, 11, 16]
    assert df["y"].iloc[-2:].tolist() == [7.5, 2.9]
    ts = read_timeseries(df)
    assert ts.freq == normalize_freq("YS") and ts.season_length == 1


def test_statsmodels_series():
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        with pytest.raises(MissingPackageError, match="pip install statsmodels"):
            load_co2()
        with pytest.raises(MissingPackageError, match="pip install statsmodels"):
            load_us_gdp()
        return
    co2 = load_co2()
    assert co2.shape == (2284, 2) and int(co2["y"].isna().sum()) == 59
    ts = read_timeseries(co2, fill="interpolate")
    assert ts.freq == "W-SAT" and ts.season_length == 52
    gdp = load_us_gdp()
    assert gdp.shape == (203, 2) and np.isclose(gdp["y"].iloc[0], 2710.349)


def test_import_does_not_load_torch():
    import subprocess
    import sys

    import lstmkit

    src = str(__import__("pathlib").Path(lstmkit.__file__).parents[1])
    code = "import sys, lstmkit.data, lstmkit.tasks.forecast_metrics; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": src}).returncode == 0


def test_matches_statsmodels_copies():
    datasets = pytest.importorskip("statsmodels.datasets")
    nile = datasets.nile.load_pandas().data
    assert load_nile()["y"].tolist() == nile["volume"].tolist()
    sun = datasets.sunspots.load_pandas().data
    assert load_sunspots()["y"].tolist() == sun["SUNACTIVITY"].tolist()


def test_matches_aeon_airline():
    aeon = pytest.importorskip("aeon.datasets")
    assert load_air_passengers()["y"].tolist() == list(np.asarray(aeon.load_airline(), dtype=float))
