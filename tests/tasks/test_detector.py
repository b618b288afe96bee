"""AnomalyDetector: fit / detect / evaluate / save / load, streaming equal to batch, bad input."""

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import InputError
from lstmkit.tasks.base import KINDS, load_estimator
from lstmkit.tasks.detect import AnomalyDetector

TINY = dict(hidden_size=8, max_epochs=2, progress=False, threshold_step=10, threshold_windows=6, error_buffer=5,
            lookback=24)


def series_frame(n=240, ids=None, seed=0, two_targets=False):
    rng = np.random.default_rng(seed)
    frames = []
    for k, uid in enumerate(ids or [None]):
        t = np.arange(n)
        y = np.sin(2 * np.pi * t / 20) + 0.05 * rng.standard_normal(n) + k
        label = np.zeros(n, dtype=int)
        y[180:185] += 4.0
        label[180:185] = 1
        frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": y, "is_anomaly": label})
        if two_targets:
            frame["z"] = np.cos(2 * np.pi * t / 20)
        if uid is not None:
            frame.insert(0, "unique_id", uid)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    frame = series_frame()
    return AnomalyDetector(**TINY).fit(frame, normal_until="2024-01-06", label="is_anomaly"), frame


def test_registered_and_exported():
    import lstmkit

    assert KINDS["detect"] is AnomalyDetector
    assert lstmkit.AnomalyDetector is AnomalyDetector


def test_detect_scores_every_step(fitted):
    det, frame = fitted
    result = det.detect(frame)
    assert list(result.scores.columns) == ["ds", "score", "flag"]
    assert len(result.scores) == len(frame)
    assert set(np.unique(result.scores["flag"])) <= {0, 1}
    scores = result.scores["score"].to_numpy()
    assert np.isfinite(scores).all() and (scores[: det.params.warmup + 1] == 0).all()
    assert list(result.events.columns) == ["start", "end", "peak_score", "steps"]
    assert det.score(frame)["score"].equals(result.scores["score"])


def test_evaluate_reports_metrics_and_baselines(fitted):
    det, frame = fitted
    report = det.evaluate(frame, label="is_anomaly", max_buffer=10)
    assert set(report["detector"]) == {"VUS-PR", "AUC-PR", "range_precision", "range_recall", "range_F1",
                                       "point_F1", "point_adjusted_F1"}
    for name in ("rolling_zscore", "seasonal_naive", "random"):
        assert 0.0 <= report[name]["VUS-PR"] <= 1.0
    assert report["labelled_events"] == 1
    assert report["anomaly_rate"] == pytest.approx(5 / 240)
    assert report["detector"]["point_adjusted_F1"] >= report["detector"]["point_F1"]


def test_stream_equals_batch(fitted):
    det, frame = fitted
    batch = det.detect(frame).scores["score"].to_numpy()
    stream = det.stream()
    streamed = np.array([stream.update(v).score for v in frame["y"]])
    np.testing.assert_allclose(streamed, batch, rtol=1e-4, atol=1e-5)
    assert stream.compiled in (True, False)
    stream.reset()
    assert stream.update(frame["y"].iloc[0]).score == 0.0
    with pytest.raises(InputError, match="1 finite value"):
        stream.update([1.0, 2.0])


def test_save_load_round_trip(fitted, tmp_path):
    det, frame = fitted
    det.save(tmp_path / "m")
    loaded = load_estimator(tmp_path / "m")
    assert isinstance(loaded, AnomalyDetector)
    a = det.detect(frame).scores
    b = loaded.detect(frame).scores
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-6)
    np.testing.assert_array_equal(a["flag"], b["flag"])
    stream = loaded.stream()
    np.testing.assert_allclose([stream.update(v).score for v in frame["y"][:40]],
                               a["score"][:40], rtol=1e-4, atol=1e-5)


def test_reconstruction_many_series_and_multivariate():
    frame = series_frame(n=160, ids=["a", "b"], two_targets=True)
    det = AnomalyDetector(method="reconstruction", **{**TINY, "lookback": 16})
    det.fit(frame, target=["y", "z"], normal_until="2024-01-05")
    result = det.detect(frame)
    assert list(result.scores.columns) == ["ds", "unique_id", "score", "flag"]
    assert (result.scores["score"] >= 0).all()
    assert det.net.config.n_targets == 2
    assert np.array(det.spec.gauss_precision).shape == (2, 2)
    with pytest.raises(InputError, match="prediction method"):
        det.stream()


def test_normal_column_trains_on_marked_steps():
    frame = series_frame()
    frame["ok"] = (frame.index < 150).astype(int)
    det = AnomalyDetector(**TINY).fit(frame, normal="ok")
    assert det.spec.mean["series"][0] == pytest.approx(frame["y"][:150].mean())


def test_bad_input():
    frame = series_frame()
    with pytest.raises(InputError, match="no normal step at or before normal_until"):
        AnomalyDetector(**TINY).fit(frame, normal_until="2020-01-01")
    bad = frame.copy()
    bad["is_anomaly"] = bad["is_anomaly"].astype(object)
    bad.loc[7, "is_anomaly"] = 2
    with pytest.raises(InputError, match=r"DataFrame: index 7, column 'is_anomaly': expected 0 or 1 \(the label\), got '2'"):
        AnomalyDetector(**TINY).fit(bad, label="is_anomaly")
    bad.loc[7, "is_anomaly"] = None
    with pytest.raises(InputError, match="index 7, column 'is_anomaly': the label is missing"):
        AnomalyDetector(**TINY).fit(bad, label="is_anomaly")
    with pytest.raises(InputError, match="no column 'lbl'"):
        AnomalyDetector(**TINY).fit(frame, label="lbl")
    with pytest.raises(InputError, match="lookback"):
        AnomalyDetector(**{**TINY, "lookback": 500}).fit(frame)
    with pytest.raises(ValueError, match="method"):
        AnomalyDetector(method="magic")


def test_encoder_view_for_inspect(fitted):
    det, frame = fitted
    view = det.encoder_view(frame, max_sequences=20)
    assert view.inputs.shape[1:] == (24, 1) and view.inputs.shape[0] <= 20
    assert view.encoder is det.net.encoder and len(view.step_labels[0]) == 24


def test_bad_normal_until_names_the_parameter():
    with pytest.raises(InputError, match="normal_until: cannot read 'soon' as a time") as info:
        AnomalyDetector(**TINY).fit(series_frame(), normal_until="soon")
    assert info.value.param == "normal_until"


def test_stream_equals_batch_multivariate_two_layers_with_a_covariate():
    rng = np.random.default_rng(0)
    t = np.arange(200)
    frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=200, freq="h"),
                          "y": np.sin(t / 5) + 0.1 * rng.standard_normal(200), "z": np.cos(t / 5),
                          "c": rng.random(200)})
    det = AnomalyDetector(**{**TINY, "num_layers": 2, "lookback": 30}).fit(frame, target=["y", "z"], covariates=["c"])
    batch = det.detect(frame).scores["score"].to_numpy()
    stream = det.stream()
    streamed = np.array([stream.update(row).score for row in frame[["y", "z", "c"]].to_numpy()])
    np.testing.assert_allclose(streamed, batch, rtol=1e-4, atol=1e-5)
    assert det.net.config.n_channels == 3 and det.net.config.n_targets == 2
