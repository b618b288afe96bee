"""The forecaster's ensemble and its combination with in-house baselines, by values."""

import numpy as np
import pandas as pd
import pytest
import torch

import lstmkit
from lstmkit.tasks import forecast_combine as fc


def monthly(values, start="2000-01-01"):
    return pd.DataFrame({"ds": pd.date_range(start, periods=len(values), freq="MS"), "y": values})


# ----------------------------------------------------------------------------- the baselines


def test_naive_drift_and_seasonal_naive_values():
    x = np.array([[1.0, 2.0, 4.0, 7.0], [3.0, 3.0, 3.0, 0.0]])
    np.testing.assert_array_equal(fc.naive(x, 2), [[7, 7], [0, 0]])
    np.testing.assert_allclose(fc.drift(x, 3), [[9, 11, 13], [-1, -2, -3]])
    out = fc.baselines(x, 3, 2, None)
    np.testing.assert_array_equal(out["seasonal_naive"], [[4, 7, 4], [3, 0, 3]])
    assert set(out) == {"naive", "seasonal_naive", "drift", "theta"}
    assert "seasonal_naive" not in fc.baselines(x, 3, 12, None)  # a window shorter than a season


def test_theta_halves_a_straight_trend_and_keeps_an_exact_season():
    t = np.arange(20.0)
    line = (2.0 + 0.5 * t)[None, :]
    # α = 1 fits a line best in-sample: ℓ_L = x_L and the drift is b/2 · h
    np.testing.assert_allclose(fc.theta(line, 4, 1), [[11.5 + 0.25 * h for h in (1, 2, 3, 4)]])
    pattern = np.array([0.0, 2.0, 5.0, 1.0])
    seasonal = np.tile(pattern, 6)[None, :]  # no trend: the adjusted series is constant
    np.testing.assert_allclose(fc.theta(seasonal, 6, 4), [np.tile(pattern, 2)[:6]], atol=1e-9)
    np.testing.assert_allclose(fc.seasonal_indices(seasonal, 4)[0], pattern - pattern.mean(), atol=1e-9)


def test_linear_baseline_continues_a_trend_exactly():
    t = np.arange(60.0)
    series = 3.0 + 0.7 * t
    x = np.stack([series[i:i + 12] for i in range(40)])
    y = np.stack([series[i + 12:i + 15] for i in range(40)])
    coef = fc.fit_linear(x, y, ridge=1e-3)
    assert coef.shape == (13, 3)
    np.testing.assert_allclose(fc.linear(x[:3], coef), y[:3], atol=1e-6)


# ----------------------------------------------------------------------------- the combination


def test_weights_are_inverse_squared_error_within_twice_the_best():
    weights = fc.combination_weights({"lstm": 1.0, "theta": 1.5, "naive": 2.1})
    assert weights == pytest.approx({"lstm": 1 / (1 + 1 / 1.5 ** 2), "theta": 1 / (1 + 1.5 ** 2), "naive": 0.0})
    assert fc.combination_weights({"lstm": 1.0, "theta": 0.5}, "best") == {"lstm": 0.0, "theta": 1.0}
    assert fc.combination_weights({"lstm": 1.0, "theta": 0.5}, "none") == {"lstm": 1.0}
    exact = fc.combination_weights({"lstm": 0.3, "seasonal_naive": 0.0, "theta": 0.01})
    assert exact == {"lstm": 0.0, "seasonal_naive": 1.0, "theta": 0.0}


def test_window_mase_scales_each_window_by_its_own_seasonal_naive_error():
    history = np.array([[1.0, 2.0, 4.0, 8.0], [5.0, 5.0, 5.0, 5.0]])  # q = 7/3 (m = 1); 0 -> the mean q
    y, f = np.array([[10.0, 12.0], [6.0, 6.0]]), np.array([[9.0, 9.0], [5.0, 4.0]])
    assert fc.window_mase(y, f, history, 1) == pytest.approx(np.mean([2.0 / (7 / 3), 1.5 / (7 / 3)]))
    assert fc.window_mase(y, f, history, 2) == pytest.approx(np.mean([2.0 / 4.5, 1.5 / 4.5]))


def test_combine_is_the_weighted_sum_and_passes_on_a_missing_weight():
    f = {"lstm": np.array([[1.0, 2.0]]), "theta": np.array([[3.0, 6.0]])}
    np.testing.assert_allclose(fc.combine(f, {"lstm": 0.75, "theta": 0.25}), [[1.5, 3.0]])
    np.testing.assert_allclose(fc.combine(f, {"lstm": 0.5, "theta": 0.25, "seasonal_naive": 0.25}),
                               [[5 / 3, 10 / 3]])


@pytest.mark.filterwarnings("ignore:Mean of empty slice")  # MASE has no scale on an exact season
def test_an_exact_seasonal_series_gives_seasonal_naive_the_weight():
    pattern = np.array([10, 12, 15, 13, 11, 16, 20, 22, 18, 14, 12, 11], dtype=float)
    frame = monthly(np.tile(pattern, 8))
    f = lstmkit.Forecaster(horizon=6, ensemble=2, max_epochs=2, seed=0, progress=False)
    result = f.backtest(frame, windows=2)
    weights = f.combination["weights"]
    errors = f.combination["validation_mase"]
    # the weight is shared by the exact candidates only (Theta, and the barely trained LSTM,
    # which starts as seasonal naive, are exact too; naive and drift are not)
    assert weights["seasonal_naive"] > 0 and errors["seasonal_naive"] < 1e-12
    assert all(errors[name] < 1e-12 for name, w in weights.items() if w > 0)
    assert weights["naive"] == weights["drift"] == 0.0 and sum(weights.values()) == pytest.approx(1.0)
    np.testing.assert_allclose(result.predictions["lstm"], result.predictions["y"], rtol=1e-6)
    assert result.metrics["lstm"]["MAE"] < 1e-5


# ----------------------------------------------------------------------------- the ensemble


def air():
    return lstmkit.data.load_air_passengers()


def test_members_alternate_two_lookbacks_unless_the_user_sets_one():
    f = lstmkit.Forecaster(horizon=12, ensemble=4, max_epochs=1, combine="none", progress=False).fit(air())
    assert [net.config.lookback for net in f.members] == [36, 24, 36, 24]
    assert f.net is f.members[0] and f.combination["weights"] == {"lstm": 1.0}
    g = lstmkit.Forecaster(horizon=12, lookback=30, ensemble=3, max_epochs=1, combine="none",
                           progress=False).fit(air())
    assert [net.config.lookback for net in g.members] == [30, 30, 30]


def test_the_ensemble_forecast_is_the_median_of_its_members():
    f = lstmkit.Forecaster(horizon=6, ensemble=3, max_epochs=1, combine="none", progress=False).fit(air())
    for net, shift in zip(f.members, (0.0, 1.0, 5.0)):  # head outputs in units of the window's σ
        torch.nn.init.zeros_(net.head.weight)
        torch.nn.init.constant_(net.head.bias, shift)
    forecast = f.predict()["y_hat"].to_numpy()
    middle = f.members[1]
    f.members = [middle]
    alone = f.predict()["y_hat"].to_numpy()
    np.testing.assert_allclose(forecast, alone, rtol=1e-6)


def test_save_and_load_keep_the_ensemble_and_the_weights(tmp_path):
    f = lstmkit.Forecaster(horizon=6, ensemble=3, quantiles=(0.1, 0.9), max_epochs=2, progress=False).fit(air())
    assert sum(f.combination["weights"].values()) == pytest.approx(1.0)
    before = f.predict()
    f.save(tmp_path / "m")
    loaded = lstmkit.Forecaster.load(tmp_path / "m")
    assert [n.config.lookback for n in loaded.members] == [n.config.lookback for n in f.members]
    assert loaded.combination == f.combination
    np.testing.assert_array_equal(loaded.linear_coef, f.linear_coef)
    pd.testing.assert_frame_equal(loaded.predict(air()), before)


def test_params_and_their_errors():
    f = lstmkit.Forecaster()
    assert f.get_params()["ensemble"] == 5 and f.get_params()["combine"] == "weights"
    assert f.get_params()["early_stopping"] is False and f.get_params()["max_epochs"] == 100
    f.set_params(ensemble=2, combine="best")
    assert f.get_params()["ensemble"] == 2 and f.params.combine == "best"
    with pytest.raises(ValueError, match="ensemble must be a whole number >= 1, got 0"):
        lstmkit.Forecaster(ensemble=0)
    with pytest.raises(ValueError, match="combine must be one of 'weights', 'best', 'none', got 'mean'"):
        lstmkit.Forecaster(combine="mean")
