"""Windows against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.data import SeriesArrays, last_windows, make_windows, read_timeseries, windows_at
from lstmkit.errors import InputError


def series_a() -> SeriesArrays:
    # target 0..7, one past covariate 10*t, one future covariate 100+t known 2 steps ahead
    t = np.arange(8.0)
    return SeriesArrays(id="A", target=t, past=10 * t, future=100 + np.arange(10.0))


def test_make_windows_hand_computed():
    w = make_windows([series_a()], lookback=3, horizon=2)
    # cut-offs 3..6 (T - H = 6), stride 1
    assert w.cutoff.tolist() == [3, 4, 5, 6]
    assert w.x.shape == (4, 3, 3) and w.y.shape == (4, 2) and w.x_future.shape == (4, 2, 1)
    assert w.x.dtype == np.float32
    # first sample: lookback steps 0, 1, 2; forecast steps 3, 4
    assert w.x[0].tolist() == [[0, 0, 100], [1, 10, 101], [2, 20, 102]]
    assert w.y[0].tolist() == [3, 4]
    assert w.x_future[0, :, 0].tolist() == [103, 104]
    # last sample ends at the end of the target
    assert w.x[-1, :, 0].tolist() == [3, 4, 5]
    assert w.y[-1].tolist() == [6, 7]
    assert w.x_future[-1, :, 0].tolist() == [106, 107]
    assert w.series_index.tolist() == [0, 0, 0, 0]
    assert w.ids == ["A"]


def test_make_windows_stride_keeps_the_latest_window():
    w = make_windows([series_a()], lookback=3, horizon=2, stride=2)
    assert w.cutoff.tolist() == [4, 6]
    assert w.y.tolist() == [[4, 5], [6, 7]]


def test_make_windows_end_for_training_before_a_cutoff():
    w = make_windows([series_a()], lookback=3, horizon=2, end=6)
    assert w.cutoff.tolist() == [3, 4]
    assert w.y[-1].tolist() == [4, 5]  # nothing at or after step 6 is seen


def test_make_windows_many_series_skips_short_ones():
    short = SeriesArrays(id="S", target=[1.0, 2.0, 3.0], past=[[0.0]] * 3, future=[[0.0]] * 3)
    long = series_a()
    w = make_windows([short, long], lookback=3, horizon=2)
    assert w.series_index.tolist() == [1, 1, 1, 1]
    assert len(w) == 4


def test_make_windows_without_covariates():
    s = SeriesArrays(id="x", target=[1.0, 2.0, 3.0, 4.0, 5.0])
    w = make_windows([s], lookback=2, horizon=1)
    assert w.x.shape == (3, 2, 1) and w.x_future.shape == (3, 1, 0)
    assert w.x[:, :, 0].tolist() == [[1, 2], [2, 3], [3, 4]]
    assert w.y.tolist() == [[3], [4], [5]]


def test_empty_result_has_the_right_shapes():
    s = SeriesArrays(id="x", target=[1.0, 2.0])
    w = make_windows([s], lookback=2, horizon=1)
    assert w.x.shape == (0, 2, 1) and w.y.shape == (0, 1)


def test_last_windows():
    w = last_windows([series_a()], lookback=3, horizon=2)
    assert w.y is None
    assert w.cutoff.tolist() == [8]
    assert w.x[0].tolist() == [[5, 50, 105], [6, 60, 106], [7, 70, 107]]
    assert w.x_future[0, :, 0].tolist() == [108, 109]


def test_last_windows_needs_known_future():
    with pytest.raises(InputError, match=r"^series 'A': the future covariates are known 2 steps past the end; the forecast needs 3$"):
        last_windows([series_a()], lookback=3, horizon=3)
    with pytest.raises(InputError, match=r"^series 'A' has 8 time steps; the lookback needs at least 9$"):
        last_windows([series_a()], lookback=9, horizon=1)


def test_windows_at_cutoffs():
    w = windows_at([series_a()], [4, 6], lookback=3, horizon=2)
    assert w.y.tolist() == [[4, 5], [6, 7]]
    assert w.x[:, :, 0].tolist() == [[1, 2, 3], [3, 4, 5]]
    assert w.x_future[:, :, 0].tolist() == [[104, 105], [106, 107]]


def test_windows_at_per_series_and_errors():
    a, b = series_a(), SeriesArrays(id="B", target=np.arange(6.0), past=np.zeros(6), future=np.ones(6))
    w = windows_at([a, b], [[6], [3, 4]], lookback=3, horizon=2)
    assert w.series_index.tolist() == [0, 1, 1]
    assert w.y.tolist() == [[6, 7], [3, 4], [4, 5]]
    with pytest.raises(InputError, match=r"^series 'A': cut-off 2 leaves 2 steps of history; the lookback needs 3$"):
        windows_at([a], [2], lookback=3, horizon=2)
    with pytest.raises(InputError, match=r"^series 'A' has 8 time steps: cut-off 7 leaves 1 to compare with a horizon of 2$"):
        windows_at([a], [7], lookback=3, horizon=2)


def test_bad_sizes():
    with pytest.raises(InputError, match=r"^lookback: expected a whole number >= 1; got 0$") as info:
        make_windows([series_a()], lookback=0, horizon=1)
    assert info.value.render(lambda p: "--" + p) == "--lookback: expected a whole number >= 1; got 0"
    with pytest.raises(InputError, match=r"^stride: expected a whole number >= 1; got 1.5$"):
        make_windows([series_a()], lookback=2, horizon=1, stride=1.5)
    with pytest.raises(ValueError, match=r"past covariates: expected 8 rows"):
        SeriesArrays(id="A", target=np.arange(8.0), past=np.zeros(7))


def test_to_torch():
    torch = pytest.importorskip("torch")
    t = make_windows([series_a()], lookback=3, horizon=2).to_torch()
    assert t["x"].dtype == torch.float32 and tuple(t["x"].shape) == (4, 3, 3)
    assert t["y"].tolist() == [[3, 4], [4, 5], [5, 6], [6, 7]]
    assert t["series_index"].dtype == torch.long


def test_from_timeseries_data():
    frame = pd.DataFrame(
        {
            "unique_id": ["A"] * 5 + ["B"] * 4,
            "ds": list(pd.date_range("2020-01-01", periods=5, freq="D")) + list(pd.date_range("2020-01-01", periods=4, freq="D")),
            "y": [1, 2, 3, 4, 5, 10, 20, 30, 40],
            "temp": [0.1, 0.2, 0.3, 0.4, 0.5, 1, 2, 3, 4],
        }
    )
    ts = read_timeseries(frame, past_covariates=["temp"])
    arrays = ts.to_arrays()
    assert [a.id for a in arrays] == ["A", "B"]
    w = make_windows(arrays, lookback=2, horizon=2)
    assert w.series_index.tolist() == [0, 0, 1]
    assert w.x[2].tolist() == [[10, 1], [20, 2]]
    assert w.y[2].tolist() == [30, 40]
