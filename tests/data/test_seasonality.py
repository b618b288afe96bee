"""The season of step-numbered series, read from their autocorrelation."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data import load_air_passengers, read_timeseries
from lstmkit.data.seasonality import autocorrelation, detect_season, dominant_season


def test_autocorrelation_is_the_pooled_sums_of_the_series_less_their_lines():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=30) + np.arange(30)
    r, n = autocorrelation([a, b], 5)
    residuals = []
    for y in (a, b):
        t = np.arange(len(y))
        slope, intercept = np.polyfit(t, y, 1)
        residuals.append(y - intercept - slope * t)
    expected = [sum(float(e[: len(e) - k] @ e[k:]) for e in residuals) / sum(float(e @ e) for e in residuals)
                for k in range(6)]
    assert n == 80 and r == pytest.approx(expected, abs=1e-12)
    flat, _ = autocorrelation([np.arange(20.0)], 3)  # a straight line: nothing left
    assert flat.tolist() == [1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("period", [4, 7, 12, 24, 52])
def test_the_period_of_a_noisy_wave_on_a_trend(period):
    rng = np.random.default_rng(period)
    t = np.arange(600)
    for _ in range(3):  # noise as large as the wave itself
        y = np.sin(2 * np.pi * t / period) + 0.01 * t + rng.normal(0, 1.0, len(t))
        assert detect_season([y]) == period


def test_no_season_in_noise_random_walks_and_autoregressions():
    rng = np.random.default_rng(1)
    for n in (50, 300, 3000):
        noise = rng.normal(size=n)
        assert detect_season([noise]) == 1
        assert detect_season([np.cumsum(noise)]) == 1
        ar = np.zeros(n)
        for t in range(1, n):
            ar[t] = 0.8 * ar[t - 1] + noise[t]
        assert detect_season([ar]) == 1
    assert detect_season([np.ones(100)]) == 1 and detect_season([np.arange(9.0)]) == 1 and detect_season([]) == 1


def test_real_series_and_many_series_pooled():
    assert detect_season([load_air_passengers()["y"].to_numpy()]) == 12
    rng = np.random.default_rng(2)
    hours = np.arange(24 * 7 * 6)  # a daily cycle and a weekday step: the day comes first
    assert detect_season([np.sin(2 * np.pi * hours / 24) + 0.5 * (hours % 168 < 120)
                          + rng.normal(0, 0.3, len(hours))]) == 24
    short = [np.sin(2 * np.pi * np.arange(n) / 24) + rng.normal(0, 0.5, n) for n in (100, 150, 200)]
    assert detect_season(short) == 24
    assert detect_season(short, max_season=20) == 1  # not looked for


def test_read_timeseries_reads_the_season_of_step_numbers_unless_given():
    import pandas as pd

    y = load_air_passengers()["y"].to_numpy()
    frame = pd.DataFrame({"ds": np.arange(len(y)), "y": y})
    ts = read_timeseries(frame)
    assert ts.steps and ts.season_length == 12 and ts.season_detected
    given = read_timeseries(frame, season_length=4)
    assert given.season_length == 4 and not given.season_detected
    dated = read_timeseries(load_air_passengers())
    assert dated.season_length == 12 and not dated.season_detected


def test_statsmodels_series_read_as_step_numbers():
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets
    assert detect_season([data.elnino.load_pandas().data.iloc[:, 1:].to_numpy().ravel()]) == 12  # monthly
    assert detect_season([data.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()]) == 11  # the solar cycle
    assert detect_season([data.nile.load_pandas().data["volume"].to_numpy()]) == 1


def test_the_dominant_season_is_the_highest_peak_and_the_detected_one_the_first():
    rng = np.random.default_rng(3)
    t = np.arange(1000)
    y = np.sin(2 * np.pi * t / 37) + 0.3 * np.sign(np.sin(2 * np.pi * t / 111)) + rng.normal(0, 0.15, len(t))
    assert detect_season([y]) == 37  # the shorter cycle comes first
    assert dominant_season([y]) == 111  # 3 x 37: the whole pattern repeats, the lag of the least seasonal-naive error
    r, _ = autocorrelation([y], 112)
    assert r[111] > r[37]
    for x in (rng.normal(size=500), np.cumsum(rng.normal(size=500))):
        assert dominant_season([x]) == 1
    assert dominant_season([np.sin(2 * np.pi * t / 24)]) == 24 and dominant_season([np.ones(10)]) == 1
