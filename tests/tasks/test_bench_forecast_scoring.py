"""The forecast benchmark's scoring (benchmarks/bench_forecast.py), on toy series by hand.

No benchmark runs here: only the functions that every model's numbers go through."""

import math

import numpy as np
import pytest

from benchmark_modules import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("bench_forecast.py") as module:
        yield module


def test_score_window_by_hand(bench):
    history = [1, 2, 4, 7, 5, 9]
    # season 2: in-sample seasonal-naive errors |4-1|, |7-2|, |5-4|, |9-7| -> scale 11/4
    s = bench.score_window([6, 10], [7, 7], history, m=2)
    assert s["MASE"] == pytest.approx(2 / 2.75)
    assert s["sMAPE"] == pytest.approx(100 * (2 * 1 / 13 + 2 * 3 / 17) / 2)
    assert s["MAPE"] == pytest.approx(100 * (1 / 6 + 3 / 10) / 2)
    # season 1: naive errors 1, 2, 3, 2, 4 -> scale 12/5
    assert bench.score_window([6, 10], [7, 7], history, m=1)["MASE"] == pytest.approx(2 / 2.4)


def test_aggregate_leaves_out_undefined_windows_and_geomean(bench):
    rows = [{"MASE": 1.0, "sMAPE": 10.0, "MAPE": 5.0}, {"MASE": float("nan"), "sMAPE": 30.0, "MAPE": 15.0}]
    assert bench.aggregate(rows) == {"MASE": 1.0, "sMAPE": 20.0, "MAPE": 10.0}
    assert bench.geometric_mean([0.5, 2.0]) == pytest.approx(1.0)
    assert bench.geometric_mean([0.25, 1.0, float("nan")]) == pytest.approx(0.5)
    assert math.isnan(bench.geometric_mean([]))


def test_cutoffs_are_rolling_origin_and_end_at_the_end(bench):
    import pandas as pd

    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2000-01-01", periods=40, freq="MS"),
                          "y": np.arange(40.0)})
    stride = bench.stride_for(12, 12)
    assert stride == 12 and bench.stride_for(1, 12) == 6 and bench.stride_for(6, 1) == 6
    assert bench.cutoffs_for(frame, 12, 2, stride) == {"a": [16, 28]}


def test_statsforecast_forecasts_from_every_cutoff(bench):
    pytest.importorskip("statsforecast", reason="statsforecast is an optional benchmark package")
    y = np.array([3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8])
    make = bench.statsforecast_models(4)["SeasonalNaive"]
    out = bench.run_statsforecast(make, y, [6, 8], 3)
    np.testing.assert_allclose(out[6], [4, 1, 5])  # the last season of y[:6] = 4, 1, 5, 9
    np.testing.assert_allclose(out[8], [5, 9, 2])


def test_seconds_per_series_divides_by_series_and_seeds(bench):
    result = bench.Result()
    result.windows["m1"] = {"AutoARIMA": {1: [], 6: []}, "lstmkit@0": {1: [], 6: []}}
    # lstmkit: one entry per horizon and seed (2 horizons x 2 seeds); statsforecast: its total
    result.seconds["m1"] = {"AutoARIMA": 10.0, "lstmkit (per seed)": [3.0, 5.0, 4.0, 4.0]}
    result.series["m1"] = 4
    out = bench.seconds_per_series(result)
    assert out == {"m1": {"AutoARIMA": pytest.approx(2.5), "lstmkit": pytest.approx(2.0)}}


def test_the_report_prints_a_data_set_whose_mape_is_undefined(bench, capsys):
    nan = float("nan")
    summary = {"datasets": {"pbs": {"lstmkit": {"MASE": 0.9, "sMAPE": 50.0, "MAPE": nan, "MASE_min": 0.8, "MASE_max": 1.0},
                                    "AutoARIMA": {"MASE": 1.0, "sMAPE": 55.0, "MAPE": nan}}},
               "relative_mase_geomean": {"lstmkit": 0.9, "AutoARIMA": 1.0},
               "relative_mase_geomean_seed_range": {"lstmkit": (0.8, 1.0)}}
    bench.print_report(summary, None, None, [0], 1.0)
    out = capsys.readouterr().out
    assert "pbs" in out and "nan" in out and "0.900" in out
