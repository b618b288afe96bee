"""Per-series standard scaler."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.data import SeriesScaler
from lstmkit.errors import InputError


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["A", "A", "A", "B", "B", "B"],
            "y": [1.0, 2.0, 3.0, 5.0, 5.0, 5.0],  # A: mean 2, std sqrt(2/3); B: constant
            "t": [0.0, 10.0, 20.0, 1.0, 2.0, 3.0],
        }
    )


def test_fit_transform_hand_computed():
    sc = SeriesScaler(columns=["y"]).fit(frame())
    out = sc.transform(frame())
    s = np.sqrt(2.0 / 3.0)
    np.testing.assert_allclose(out["y"].to_numpy()[:3], [-1 / s, 0, 1 / s])
    # constant series: centred, divided by 1, not by 0
    assert out["y"].to_numpy()[3:].tolist() == [0.0, 0.0, 0.0]
    assert sc.stats["B"]["y"] == (5.0, 1.0)
    assert out["t"].tolist() == frame()["t"].tolist()  # not a scaled column


def test_round_trip_frame_and_json():
    f = frame()
    sc = SeriesScaler(columns=["y", "t"]).fit(f)
    back = sc.inverse_transform(sc.transform(f))
    np.testing.assert_allclose(back[["y", "t"]].to_numpy(), f[["y", "t"]].to_numpy())
    state = json.loads(json.dumps(sc.to_dict()))
    sc2 = SeriesScaler.from_dict(state)
    pd.testing.assert_frame_equal(sc2.transform(f), sc.transform(f))
    assert sc2.columns == ["y", "t"] and sc2.id_col == "unique_id"


def test_inverse_of_forecast_columns_uses_target_stats():
    sc = SeriesScaler().fit(frame())
    fc = pd.DataFrame({"unique_id": ["B", "A"], "yhat": [0.0, 1.0], "hi": [1.0, 0.0]})
    out = sc.inverse_transform(fc, ["yhat", "hi"], stats_from="y")
    s = np.sqrt(2.0 / 3.0)
    np.testing.assert_allclose(out["yhat"], [5.0, 2.0 + s])
    np.testing.assert_allclose(out["hi"], [6.0, 2.0])


def test_array_round_trip():
    sc = SeriesScaler().fit(frame())
    values = np.array([[1.0, 2.0, 3.0], [5.0, 6.0, 7.0]])
    z = sc.transform_values(["A", "B"], values)
    np.testing.assert_allclose(z[1], [0.0, 1.0, 2.0])
    np.testing.assert_allclose(sc.inverse_values(["A", "B"], z), values)
    np.testing.assert_allclose(sc.inverse_values("B", np.zeros(4)), np.full(4, 5.0))


def test_fit_arrays_and_nan():
    sc = SeriesScaler().fit_arrays(["A"], [np.array([2.0, np.nan, 4.0])])
    assert sc.stats["A"]["y"] == (3.0, 1.0)


def test_errors():
    sc = SeriesScaler()
    with pytest.raises(RuntimeError, match="not fitted"):
        sc.transform(frame())
    sc.fit(frame())
    with pytest.raises(InputError, match=r"^series 'Z' was not seen when the scaler was fitted"):
        sc.transform(pd.DataFrame({"unique_id": ["Z"], "y": [1.0]}))
    with pytest.raises(InputError, match=r"^no column 'y' to scale; the columns are: unique_id, v$"):
        sc.transform(pd.DataFrame({"unique_id": ["A"], "v": [1.0]}), ["y"])
    with pytest.raises(ValueError, match="not a series_standard scaler"):
        SeriesScaler.from_dict({"kind": "other"})


# --------------------------------------------------------------------------- series (the Forecaster's scaling)


def _series_frame(positive: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for uid, n in (("A", 12), ("B", 9)):
        y = rng.uniform(1.0, 50.0, n) if positive else rng.normal(0.0, 5.0, n)
        for k in range(n):
            rows.append((uid, pd.Timestamp("2020-01-01") + pd.Timedelta(days=k), y[k], rng.normal(), float(k % 2)))
    frame = pd.DataFrame(rows, columns=["unique_id", "ds", "y", "temp", "promo"])
    future = pd.DataFrame({"unique_id": ["A", "A", "B", "B"],
                           "ds": pd.to_datetime(["2020-01-13", "2020-01-14", "2020-01-10", "2020-01-11"]),
                           "y": np.nan, "temp": np.nan, "promo": [1.0, 0.0, 0.0, 1.0]})
    return pd.concat([frame, future], ignore_index=True)


def _reference(ts, end, transform):
    """The Forecaster's scaling as it stood before SeriesScaler took it over (tasks/forecast.py:
    _make_spec, _scaled, _unscale), kept here to prove the scaler gives the same numbers."""
    target = ts.frame[ts.roles.target].to_numpy()
    log = transform == "log" or (transform == "auto" and bool((target > 0).all()))
    fwd = (lambda v: np.log(v)) if log else (lambda v: v)
    scale = {}
    for i, s in enumerate(ts.to_arrays()):
        values = np.column_stack([fwd(s.target), s.past, s.future[: s.length]])
        values = values if end is None else values[: end[i]]
        mean, std = values.mean(axis=0), values.std(axis=0)
        scale[s.id] = {"mean": mean.tolist(), "std": np.where(std > 1e-8, std, 1.0).tolist()}
    scaled = []
    n_past = len(ts.roles.past_covariates)
    for s in ts.to_arrays():
        mean, std = np.asarray(scale[s.id]["mean"]), np.asarray(scale[s.id]["std"])
        scaled.append(((fwd(s.target) - mean[0]) / std[0], (s.past - mean[1:1 + n_past]) / std[1:1 + n_past],
                       (s.future - mean[1 + n_past:]) / std[1 + n_past:]))
    return log, scale, scaled


@pytest.mark.parametrize("positive, transform, end", [(True, "auto", None), (True, "none", [8, 5]),
                                                      (False, "auto", [10, 9]), (True, "log", 6)])
def test_fit_series_matches_the_forecasters_scaling_exactly(positive, transform, end):
    from lstmkit.data import read_timeseries

    ts = read_timeseries(_series_frame(positive), past_covariates=["temp"], future_covariates=["promo"])
    sc = SeriesScaler().fit_series(ts, end=end, transform=transform)
    ends = [end, end] if isinstance(end, int) else end
    log, scale, scaled = _reference(ts, ends, transform)
    assert sc.log == log and sc.to_lists() == scale
    assert (sc.target, sc.past, sc.future) == ("y", ("temp",), ("promo",))
    for mine, (t, p, f) in zip(sc.transform_series(ts), scaled):
        assert np.array_equal(mine.target, t) and np.array_equal(mine.past, p) and np.array_equal(mine.future, f)
    # forecasts (N, H, Q) in scaled units back to the target's units
    out = np.random.default_rng(0).normal(size=(3, 4, 2))
    ids = ["B", "A", "B"]
    mean = np.array([scale[i]["mean"][0] for i in ids])[:, None, None]
    std = np.array([scale[i]["std"][0] for i in ids])[:, None, None]
    expected = out * std + mean
    assert np.array_equal(sc.inverse_target(ids, out), np.exp(expected) if log else expected)
    np.testing.assert_allclose(sc.inverse_target(["A"], sc.transform_target(["A"], ts.series("A")["y"].to_numpy()[None])),
                               ts.series("A")["y"].to_numpy()[None])
    # saved and rebuilt, as JSON, both ways
    again = SeriesScaler.from_dict(json.loads(json.dumps(sc.to_dict())))
    lists = SeriesScaler.from_lists(json.loads(json.dumps(sc.to_lists())), target="y", past_covariates=["temp"],
                                    future_covariates=["promo"], log=log)
    for other in (again, lists):
        assert other.log == log and other.to_lists() == scale
        assert np.array_equal(other.inverse_target(ids, out), sc.inverse_target(ids, out))
        assert all(np.array_equal(a.future, b.future) for a, b in zip(other.transform_series(ts), sc.transform_series(ts)))


def test_fit_series_refusals():
    from lstmkit.cli.flags import flag_for
    from lstmkit.data import read_timeseries

    ts = read_timeseries(_series_frame(positive=False), past_covariates=["temp"], future_covariates=["promo"])
    with pytest.raises(InputError, match=r"^DataFrame: column 'y' of series 'A' has a value <= 0 \(-\d.*\) at 2020-01-\d\d, which has no "
                       r"logarithm; use transform='none'$") as info:
        SeriesScaler().fit_series(ts, transform="log")
    assert info.value.render(flag_for("forecast")).endswith("; use --transform none") and info.value.param == "transform"
    with pytest.raises(InputError, match=r"^transform: expected one of auto, log, none; got 'sqrt'$"):
        SeriesScaler().fit_series(ts, transform="sqrt")
    with pytest.raises(RuntimeError, match="not fitted on series"):
        SeriesScaler().transform_series(ts)
    frame = _series_frame()
    sc = SeriesScaler().fit_series(read_timeseries(frame[frame["unique_id"] == "A"], past_covariates=["temp"],
                                                   future_covariates=["promo"]))
    with pytest.raises(InputError, match=r"^DataFrame: series 'B' was not in the training data; the model has no scale for it$"):
        sc.transform_series(read_timeseries(frame, past_covariates=["temp"], future_covariates=["promo"]))
    with pytest.raises(InputError, match=r"^series 'Z' was not seen when the scaler was fitted"):
        sc.inverse_target(["Z"], np.zeros((1, 2)))
    with pytest.raises(InputError, match=r"^DataFrame: series 'A' has a value <= 0 \(-3.0\) in column 'y', which has no logarithm"):
        bad = frame[frame["unique_id"] == "A"].copy()
        bad.loc[bad.index[2], "y"] = -3.0
        sc.transform_series(read_timeseries(bad, past_covariates=["temp"], future_covariates=["promo"]))
    with pytest.raises(ValueError, match=r"series 'A' has 0 past and 1 future covariates; the scaler was fitted on 1 and 1"):
        sc.transform_series(read_timeseries(frame, future_covariates=["promo"]))
    with pytest.raises(ValueError, match=r"expected 3 means and scales"):
        SeriesScaler.from_lists({"A": {"mean": [0.0], "std": [1.0]}}, target="y", past_covariates=["t"], future_covariates=["p"])


def test_fit_series_on_arrays():
    from lstmkit.data import SeriesArrays

    a = SeriesArrays(id="A", target=np.array([1.0, 2.0, 3.0, 10.0]), past=np.array([[0.0], [2.0], [4.0], [6.0]]))
    sc = SeriesScaler().fit_series([a], end=3, transform="none")
    assert sc.columns == ["y", "past_1"] and sc.stats["A"]["y"] == (2.0, float(np.std([1.0, 2.0, 3.0])))
    (z,) = sc.transform_series([a])
    np.testing.assert_allclose(z.past[:3, 0], (np.array([0.0, 2.0, 4.0]) - 2.0) / np.std([0.0, 2.0, 4.0]))
    with pytest.raises(InputError, match=r"^series 'B' was not in the training data"):
        sc.transform_series([SeriesArrays(id="B", target=np.ones(3), past=np.zeros((3, 1)))])
