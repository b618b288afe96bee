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
