"""Blocked cross-validation of the forecaster's ensemble and the AR baseline, by values."""

import numpy as np
import pandas as pd
import pytest
import torch

import lstmkit
from lstmkit.tasks import forecast_combine as fc
from lstmkit.tasks import forecast_folds as ff
from lstmkit.tasks.forecast_net import pinball_loss


def test_folds_are_contiguous_blocks_of_each_series_by_cutoff():
    series_index = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    cutoff = np.array([16, 10, 11, 12, 13, 14, 15, 5, 6, 7, 8])  # one out of order
    folds = ff.time_folds(series_index, cutoff, 3)
    # series 0 by cut-off: 10 11 12 | 13 14 | 15 16; series 1: 5 6 | 7 | 8
    np.testing.assert_array_equal(folds, [2, 0, 0, 0, 1, 1, 2, 0, 0, 1, 2])


def test_a_member_never_trains_on_a_window_sharing_a_target_step_with_its_fold():
    series_index = np.zeros(10, dtype=int)
    cutoff = np.arange(20, 30)
    folds = ff.time_folds(series_index, cutoff, 2)  # 20..24 | 25..29
    masks = ff.training_masks(series_index, cutoff, folds, 2, horizon=3)
    # member 0 holds out 20..24 and the windows within 3 steps of them (25, 26)
    np.testing.assert_array_equal(np.flatnonzero(masks[0]), np.arange(7, 10))
    np.testing.assert_array_equal(np.flatnonzero(masks[1]), np.arange(0, 3))
    # another series' windows at the same cut-offs are not near: member 0 keeps them
    two = ff.training_masks(np.r_[series_index, np.ones(2, int)], np.r_[cutoff, 21, 22],
                            np.r_[folds, 1, 1], 2, horizon=3)
    assert two[0, 10] and two[0, 11] and not two[1, 10]


def test_out_of_fold_takes_the_member_that_held_the_window_out():
    predictions = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    np.testing.assert_array_equal(ff.out_of_fold(predictions, np.array([1, 0, 0, 1])),
                                  predictions[[1, 0, 0, 1], [0, 1, 2, 3]])


def test_weighted_pinball_loss_is_each_members_mean_over_its_own_windows():
    torch.manual_seed(0)
    prediction, y = torch.randn(2, 5, 3, 1), torch.randn(5, 3)
    q = torch.tensor([0.5])
    weight = torch.tensor([[1.0, 1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    expected = (pinball_loss(prediction[0, [0, 1, 4]], y[[0, 1, 4]], q) + 0.0) / 2
    assert pinball_loss(prediction, y, q, weight).item() == pytest.approx(expected.item(), rel=1e-6)
    ones = torch.ones(2, 5)
    assert pinball_loss(prediction, y, q, ones).item() == pytest.approx(pinball_loss(prediction, y, q).item(), rel=1e-6)


def test_ar_baseline_recovers_a_noise_free_integrated_autoregression():
    rng = np.random.default_rng(0)
    d = list(rng.normal(size=2))
    for _ in range(90):
        d.append(0.1 + 0.6 * d[-1] - 0.2 * d[-2])  # the differences: an AR(2) with drift
    d = np.array(d) + 0.01 * np.sin(np.arange(len(d)))  # keep the columns from being constant
    y = np.cumsum(d)
    x = np.stack([y[i:i + 6] for i in range(80)])
    target = np.stack([y[i + 6:i + 8] for i in range(80)])
    coef = fc.fit_ar(x, target)
    assert coef.shape == (6, 2)  # 5 differences and the drift
    np.testing.assert_allclose(fc.ar(x[-5:], coef), target[-5:], atol=0.05)
    # an exact linear trend: the forecast continues it
    line = 2.0 + 0.5 * np.arange(40.0)
    xl = np.stack([line[i:i + 6] for i in range(30)])
    yl = np.stack([line[i + 6:i + 9] for i in range(30)])
    np.testing.assert_allclose(fc.ar(xl[:4], fc.fit_ar(xl, yl)), yl[:4], atol=1e-9)
    assert "ar" in fc.baselines(x, 2, 1, None, coef) and "ar" not in fc.baselines(x[:, :4], 2, 1, None, coef)


def air():
    return lstmkit.data.load_air_passengers()


def test_folds_score_every_training_window_and_recent_holds_the_last_out():
    f = lstmkit.Forecaster(horizon=6, ensemble=3, max_epochs=1, seed=0, progress=False).fit(air())
    n_windows = len(air()) - 36 - 6 + 1  # lookback 36, horizon 6
    assert f.combination["validation"] == "folds" and f.combination["windows"] == n_windows
    assert set(f.combination["validation_mase"]) == {"lstm", *fc.BASELINES}
    assert sum(f.combination["weights"].values()) == pytest.approx(1.0)
    g = lstmkit.Forecaster(horizon=6, ensemble=3, max_epochs=1, seed=0, validation="recent",
                           progress=False).fit(air())
    assert "validation" not in g.combination and g.combination["windows"] == 12
    h = lstmkit.Forecaster(horizon=6, ensemble=1, max_epochs=1, seed=0, progress=False).fit(air())
    assert h.combination["windows"] == 12  # one member cannot hold folds out: recent windows
    with pytest.raises(ValueError, match="validation must be one of 'folds', 'recent', got 'x'"):
        lstmkit.Forecaster(validation="x")


def test_save_and_load_keep_the_ar_coefficients(tmp_path):
    f = lstmkit.Forecaster(horizon=6, ensemble=2, max_epochs=1, progress=False).fit(air())
    f.save(tmp_path / "m")
    loaded = lstmkit.Forecaster.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.ar_coef, f.ar_coef)
    pd.testing.assert_frame_equal(loaded.predict(air()), f.predict(air()))


def test_the_out_of_fold_loss_chooses_the_epochs_the_refit_trains(monkeypatch):
    import lstmkit.tasks.forecast as forecast

    budgets = []
    real_fit = forecast.fit

    def recording_fit(net, loss_fn, train, val, config, run_dir, **kwargs):
        budgets.append(config.max_epochs)
        return real_fit(net, loss_fn, train, val, config, run_dir, **kwargs)

    monkeypatch.setattr(forecast, "fit", recording_fit)
    f = lstmkit.Forecaster(horizon=6, ensemble=3, max_epochs=12, learning_rate=0.05, seed=0, progress=False).fit(air())
    losses = f.combination["out_of_fold_loss"]
    assert len(losses) == 12  # one per epoch of the cross-validating members
    chosen = f.combination["epochs"]
    assert chosen == 1 + int(np.argmin(losses))  # the first epoch with the lowest loss
    assert budgets == [12, chosen]  # the refit on every window trains exactly that many
    assert chosen < 12  # at this learning rate the members overfit before the budget ends


def test_recent_validation_weighs_then_trains_again_on_every_window(monkeypatch):
    import lstmkit.tasks.forecast as forecast

    calls = []
    real_fit = forecast.fit
    monkeypatch.setattr(forecast, "fit", lambda *a, **k: calls.append((a[4].max_epochs, len(a[2].dataset))) or real_fit(*a, **k))
    f = lstmkit.Forecaster(horizon=6, ensemble=2, validation="recent", max_epochs=3, progress=False).fit(air())
    n_windows = len(air()) - 36 - 6 + 1
    # first the members that the 12 most recent windows weigh (without those windows nor the 5
    # whose horizon overlaps theirs), then the forecasting members on every window
    assert calls == [(3, n_windows - 12 - 5), (3, n_windows)] and f.combination["epochs"] == 3
    assert f.combination["windows"] == 12
    # the fitted baselines forecast from every window as well
    x = np.stack([np.asarray(f.scaled_series(f.data)[0].target[i:i + 36]) for i in range(n_windows)])
    y = np.stack([np.asarray(f.scaled_series(f.data)[0].target[i + 36:i + 42]) for i in range(n_windows)])
    np.testing.assert_allclose(f.ar_coef, fc.fit_ar(x, y), rtol=1e-4, atol=1e-6)


def test_the_recent_split_leaves_out_the_windows_whose_horizon_overlaps_validation():
    f = lstmkit.Forecaster(horizon=6, validation="recent", progress=False)
    ts = f.read(air())
    f.data = ts
    f.spec = f._make_spec(ts, None)
    windows = f._windows(f.scaled_series(ts), 36, 6, None)
    train, val = f._split(windows, 6, 1)
    assert len(val) == 12 and val.cutoff.min() == windows.cutoff.max() - 11
    assert train.cutoff.max() == val.cutoff.min() - 6  # no target step shared
    assert len(train) + 5 + len(val) == len(windows)
    # 15 windows: 3 validate; of the 12 before them 5 overlap, but only 4 can go (8 must train)
    short = f._windows(f.scaled_series(ts), 36, 6, [15 + 36 + 6 - 1])
    train, val = f._split(short, 6, 1)
    assert (len(short), len(val), len(train)) == (15, 3, 8)
    assert train.cutoff.max() == val.cutoff.min() - 5


def test_forecasting_every_window_in_chunks_gives_the_same_numbers(monkeypatch):
    import lstmkit.tasks.forecast as forecast

    f = lstmkit.Forecaster(horizon=6, ensemble=2, max_epochs=2, seed=0, progress=False).fit(air())
    whole = f.backtest(air(), windows=2, baselines=False).predictions
    monkeypatch.setattr(forecast, "CHUNK", 7)  # 97 windows: 14 chunks, the last one short
    chunked = lstmkit.Forecaster(horizon=6, ensemble=2, max_epochs=2, seed=0, progress=False)
    np.testing.assert_allclose(chunked.backtest(air(), windows=2, baselines=False).predictions["lstm"],
                               whole["lstm"], rtol=1e-5)
    t = {"x": torch.randn(20, 36, 1), "x_future": torch.zeros(20, 6, 0)}
    members = forecast.ForecastEnsemble(f.members).eval()
    with torch.no_grad():
        np.testing.assert_allclose(forecast._in_chunks(members, t), members(t["x"], t["x_future"]), rtol=1e-5, atol=1e-6)
