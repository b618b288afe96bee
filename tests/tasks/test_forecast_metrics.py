"""Metrics, baselines and rolling-origin cut-offs against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmkit.errors import InputError
from lstmkit.tasks.forecast_metrics import (
    coverage,
    evaluate,
    mae,
    mape,
    mase,
    naive,
    rmse,
    rolling_origin,
    score_backtest,
    seasonal_naive,
    smape,
)

Y = [2.0, 4.0, 5.0, 0.0]
F = [1.0, 5.0, 5.0, 1.0]
# errors -1, 1, 0, 1 (y - f = 1, -1, 0, -1)


def test_mae_rmse():
    assert mae(Y, F) == 0.75
    assert rmse(Y, F) == pytest.approx(math.sqrt(3 / 4))


def test_mape_skips_zero_actuals():
    # |1|/2, |1|/4, 0/5 -> mean over 3 points = (0.5 + 0.25 + 0) / 3
    assert mape(Y, F) == pytest.approx(100 * 0.75 / 3)
    assert math.isnan(mape([0.0, 0.0], [1.0, 2.0]))


def test_smape():
    # 2|e|/(|y|+|f|): 2/3, 2/9, 0, 2/1
    assert smape(Y, F) == pytest.approx(100 * (2 / 3 + 2 / 9 + 0 + 2) / 4)
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0  # 0/0 counts as perfect
    assert smape([1.0], [-1.0]) == 200.0
    assert smape([0.0], [3.0]) == 200.0


def test_mase():
    history = [1.0, 3.0, 2.0, 6.0, 4.0]
    # m=1: |3-1|, |2-3|, |6-2|, |4-6| -> mean 9/4
    assert mase(Y, F, history, m=1) == pytest.approx(0.75 / (9 / 4))
    # m=2: |2-1|, |6-3|, |4-2| -> mean 2
    assert mase(Y, F, history, m=2) == pytest.approx(0.75 / 2)
    # m=12 longer than the history: falls back to m=1
    assert mase(Y, F, history, m=12) == pytest.approx(0.75 / (9 / 4))
    assert math.isnan(mase(Y, F, [5.0, 5.0, 5.0]))  # zero scale
    assert math.isnan(mase(Y, F, [5.0]))


def test_coverage():
    assert coverage([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 0.0], [2.0, 2.0, 4.0, 3.0]) == 0.5


def test_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        mae([1.0, 2.0], [1.0])
    assert mae(np.ones((2, 3)), np.zeros((2, 3))) == 1.0


def test_naive_and_seasonal_naive():
    h = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert naive(h, 3).tolist() == [5, 5, 5]
    assert seasonal_naive(h, 5, m=2).tolist() == [4, 5, 4, 5, 4]
    assert seasonal_naive(h, 2, m=3).tolist() == [3, 4]
    assert seasonal_naive(h, 2, m=1).tolist() == [5, 5]
    assert seasonal_naive(h, 2, m=12).tolist() == [5, 5]  # shorter than a season: naive
    with pytest.raises(InputError, match="at least one value of history"):
        naive([], 2)


def test_evaluate():
    out = evaluate(Y, F, [1.0, 3.0, 2.0, 6.0, 4.0], m=1, lower=[0, 0, 0, 0], upper=[3, 3, 6, 1])
    assert set(out) == {"mae", "rmse", "mape", "smape", "mase", "coverage"}
    assert out["coverage"] == 0.75


def test_rolling_origin():
    assert rolling_origin(20, 4, windows=3) == [8, 12, 16]
    assert rolling_origin(20, 4, windows=3, stride=1) == [14, 15, 16]
    assert rolling_origin(10, 2) == [8]
    assert rolling_origin(10, 2, windows=2, stride=3, min_train=5) == [5, 8]


def test_rolling_origin_too_short():
    with pytest.raises(
        InputError,
        match=r"^series 'A' has 20 time steps; a backtest of 5 windows of horizon 4 with stride 4 after at least 12 of history needs 32; use windows=2 or fewer$",
    ):
        rolling_origin(20, 4, windows=5, min_train=12, name="series 'A'")
    with pytest.raises(InputError, match=r"^the series has 5 time steps; .* needs 7; use a shorter horizon or lookback$"):
        rolling_origin(5, 6, windows=1)
    with pytest.raises(InputError, match=r"^windows: expected a whole number >= 1; got 0$"):
        rolling_origin(20, 4, windows=0)


def test_backtest_mase_averages_the_series_where_it_is_defined_and_warns_of_nothing():
    import warnings

    import pandas as pd

    predictions = pd.DataFrame({"_id": ["a", "a", "b", "b"], "y": [5.0, 5.0, 3.0, 5.0],
                                "lstm": [5.0, 5.0, 4.0, 4.0]})
    histories = {"a": np.array([5.0, 5.0, 5.0]), "b": np.array([1.0, 2.0, 3.0])}  # a: constant, no scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = score_backtest(predictions, histories, 1, ["lstm"])
        assert metrics["lstm"]["MASE"] == pytest.approx(1.0)  # b's alone: MAE 1 over its naive error 1
        only_constant = score_backtest(predictions[predictions["_id"] == "a"], histories, 1, ["lstm"])
    assert math.isnan(only_constant["lstm"]["MASE"]) and only_constant["lstm"]["MAE"] == 0.0
