"""Telemanom's smoothing, dynamic threshold and pruning."""

import numpy as np
import pandas as pd
import pytest

from lstmkit.tasks import detect_baselines as bl
from lstmkit.tasks import detect_threshold as th


def test_ewma_equals_pandas_and_streams():
    errors = np.random.default_rng(0).random(50)
    expected = pd.Series(errors).ewm(span=7).mean().to_numpy()
    np.testing.assert_allclose(th.ewma(errors, 7), expected, rtol=1e-12)
    smoother = th.EWMA(7)
    np.testing.assert_allclose([smoother.update(e) for e in errors], expected, rtol=1e-12)


def test_defaults_are_telemanoms():
    cfg = th.ThresholdConfig()
    assert (cfg.batch_size, cfg.window_size, cfg.error_buffer, cfg.p) == (70, 30, 100, 0.13)
    assert cfg.span == 105  # 70 * 30 * 0.05


def test_sequences_and_windows():
    assert th.sequences(np.array([1, 2, 3, 7, 9, 10])) == [(1, 3), (7, 7), (9, 10)]
    assert th.sequences(np.array([], dtype=int)) == []
    cfg = th.ThresholdConfig(batch_size=10, window_size=3)
    assert th.windows(25, cfg) == [(0, 25)]
    assert th.windows(55, cfg) == [(0, 30), (10, 40), (20, 55)]


def test_find_epsilon_separates_a_spike():
    rng = np.random.default_rng(1)
    errors = 1.0 + 0.05 * rng.standard_normal(500)
    errors[300:305] = 5.0
    cfg = th.ThresholdConfig(error_buffer=3)
    epsilon = th.find_epsilon(errors, cfg)
    assert errors[errors < 4].max() < epsilon <= 5.0
    # z on the grid 2.5, 3.0, ..., 11.5
    z = (epsilon - errors.mean()) / errors.std()
    assert z == pytest.approx(round(z * 2) / 2)


def test_prune_by_hand():
    e_s = np.zeros(40)
    e_s[2:5] = [1, 10, 1]
    e_s[20:23] = [1, 9.5, 1]
    flagged = np.r_[np.arange(2, 5), np.arange(20, 23)]
    # maxima 10, 9.5 then the normal max 1: 10 -> 9.5 falls 5% (< 13%) but 9.5 -> 1 falls 89%:
    # both kept
    np.testing.assert_array_equal(th.prune(e_s, flagged, 1.0, 0.13), flagged)
    # maxima 10, 2 then the normal max 1.9: 2 -> 1.9 falls 5%: the second sequence is normal
    e_s[20:23] = [1, 2, 1]
    np.testing.assert_array_equal(th.prune(e_s, flagged, 1.9, 0.13), np.arange(2, 5))


def test_dynamic_flags_find_a_spike_and_respect_the_floor():
    rng = np.random.default_rng(2)
    errors = 0.1 + 0.01 * rng.random(600)
    errors[400:410] = 2.0
    e_s = th.ewma(errors, 5)
    cfg = th.ThresholdConfig(batch_size=20, window_size=10, error_buffer=5)
    flags, epsilons = th.dynamic_flags(e_s, 0.2, cfg)
    flagged = np.flatnonzero(flags)
    assert flagged.min() >= 395 and flagged.max() <= 430 and 400 in flagged
    assert np.isfinite(epsilons).all()
    flags, _ = th.dynamic_flags(e_s, 5.0, cfg)  # errors never pass the floor
    assert not flags.any()
    assert th.events(np.array([0, 1, 1, 0, 1]), np.array([0, 3.0, 4.0, 0, 1.0])) == [(1, 2, 4.0), (4, 4, 1.0)]


def test_baselines():
    t = np.arange(200)
    x = np.sin(2 * np.pi * t / 20)
    assert bl.estimate_period(x) == 20
    rng = np.random.default_rng(0)
    for n in (300, 2000):  # no season: noise, a random walk, a trend (a local peak of noise is no season)
        e = rng.normal(size=n)
        assert bl.estimate_period(e) == bl.estimate_period(np.cumsum(e)) == bl.estimate_period(0.05 * np.arange(n) + e) == 1
    assert bl.seasonal_naive_error(x, 20)[20:].max() < 1e-9
    z = bl.rolling_zscore(np.r_[np.zeros(10) + np.arange(10) % 2, 50.0], window=10)
    assert z[-1] > 50 and z[0] == 0
    r = bl.random_score(100, seed=3)
    assert r.shape == (100,) and np.array_equal(r, bl.random_score(100, seed=3))
