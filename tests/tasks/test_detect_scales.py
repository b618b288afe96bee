"""The detector's multi-scale score: the span ladder, the score's values, what it sees that one
span does not, streaming equal to batch, and models saved before it."""

import copy

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import InputError
from lstmkit.tasks import detect_threshold as th
from lstmkit.tasks.detect import AnomalyDetector
from lstmkit.tasks.detect_scoring import prediction_errors

# span = threshold_step * threshold_windows * smoothing = 10 * 6 * 0.9 = 54
SMALL = dict(hidden_size=8, max_epochs=3, progress=False, threshold_step=10, threshold_windows=6, smoothing=0.9,
             error_buffer=5, lookback=24, seed=0)


def test_span_ladder():
    assert th.span_ladder(105, 5) == (1, 3, 10, 33, 105)
    assert th.span_ladder(105, 1) == (105,)
    assert th.span_ladder(105, 2) == (1, 105)
    assert th.span_ladder(3, 5) == (1, 2, 3)  # equal spans once
    assert th.span_ladder(1, 4) == (1,)
    with pytest.raises(ValueError):
        th.span_ladder(105, 0)


def test_scale_score_by_hand():
    # span 1 is the error itself; span 3 the EWMA with alpha = 1/2 (pandas' adjust=True)
    score = th.ScaleScore([1, 3], means=[1.0, 1.0], stds=[0.5, 0.25])
    assert score.update(2.0) == pytest.approx(max(abs(2.0 - 1.0) / 0.5, abs(2.0 - 1.0) / 0.25))  # 4
    # second error 0: span 1 -> |0 - 1| / 0.5 = 2; span 3 -> (0.5 * 2 + 0) / 1.5 = 2/3 -> |2/3 - 1| / 0.25
    assert score.update(0.0) == pytest.approx(max(2.0, abs(2.0 / 3.0 - 1.0) / 0.25))
    with pytest.raises(ValueError):
        th.ScaleScore([1, 3], means=[1.0], stds=[1.0, 1.0])


def test_scale_statistics_are_the_normal_span_moments_of_pandas_ewm():
    rng = np.random.default_rng(0)
    errors = rng.exponential(size=300)
    normal = np.zeros(300, dtype=bool)
    normal[:200] = True
    means, stds = th.scale_statistics(errors, (1, 10, 50), normal)
    for span, m, d in zip((1, 10, 50), means, stds):
        smoothed = pd.Series(errors).ewm(span=span, adjust=True).mean().to_numpy()[:200]
        assert m == pytest.approx(smoothed.mean()) and d == pytest.approx(smoothed.std())
    # scale_scores is the stream's update, value for value
    score = th.ScaleScore((1, 10, 50), means, stds)
    batch = th.scale_scores(errors, th.ScaleScore((1, 10, 50), means, stds))
    np.testing.assert_array_equal(batch, [score.update(float(e)) for e in errors])


def spike_frame(n=400, at=300):
    rng = np.random.default_rng(1)
    t = np.arange(n)
    y = np.sin(2 * np.pi * t / 20) + 0.05 * rng.standard_normal(n)
    y[at] += 3.0  # one step
    label = np.zeros(n, dtype=int)
    label[at] = 1
    return pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h"), "y": y, "is_anomaly": label})


@pytest.fixture(scope="module")
def spiked():
    frame = spike_frame()
    det = AnomalyDetector(**SMALL).fit(frame, normal_until=frame["ds"].iloc[199])
    return det, frame


def _old_style(det):
    """The same detector as a model saved before the multi-scale score (no ladder in its spec)."""
    old = copy.copy(det)
    old.spec = copy.deepcopy(det.spec)
    old.spec.score_spans, old.spec.score_mean, old.spec.score_std = [], {}, {}
    return old


def test_one_step_spike_stands_out_at_the_short_spans(spiked):
    det, frame = spiked
    assert det.spec.score_spans == [1, 3, 7, 20, 54]
    start = det.params.warmup + 1
    multi = det.detect(frame).scores["score"].to_numpy()
    single = _old_style(det).detect(frame).scores["score"].to_numpy()
    # the spike's steps (the spike itself, and the prediction made from it) against the largest
    # score of the normal span: the long EWMA dilutes one step, the ladder's span 1 does not
    contrast_multi = multi[300:302].max() / multi[start:200].max()
    contrast_single = single[300:302].max() / single[start:200].max()
    assert contrast_multi > 3.0
    assert contrast_multi > 1.5 * contrast_single  # 4.4 against 2.3 here
    assert multi.argmax() in (300, 301)


def test_scores_are_the_ladder_of_the_prediction_errors(spiked):
    det, frame = spiked
    uid = next(iter(det.spec.mean))
    z = det._standardise(uid, frame[["y"]].to_numpy())
    errors = prediction_errors(det.net, z)
    start = det.params.warmup + 1
    means, stds = th.scale_statistics(errors[start:], det.spec.score_spans, np.arange(start, len(z)) < 200)
    np.testing.assert_allclose(det.spec.score_mean[uid], means)
    np.testing.assert_allclose(det.spec.score_std[uid], stds)
    expected = th.scale_scores(errors[start:], th.ScaleScore(det.spec.score_spans, means, stds))
    score = det.detect(frame).scores["score"].to_numpy()
    np.testing.assert_allclose(score[start:], expected, rtol=1e-12)
    assert (score[:start] == 0).all()


def test_stream_scores_the_ladder_as_the_batch_does(spiked):
    det, frame = spiked
    batch = det.detect(frame).scores["score"].to_numpy()
    stream = det.stream()
    streamed = np.array([stream.update(v).score for v in frame["y"]])
    np.testing.assert_allclose(streamed, batch, rtol=1e-4, atol=1e-4)


def test_a_model_saved_before_the_ladder_scores_as_it_did(spiked):
    det, frame = spiked
    old = _old_style(det)
    uid = next(iter(det.spec.mean))
    start = det.params.warmup + 1
    z = det._standardise(uid, frame[["y"]].to_numpy())
    smoothed = old._smooth(prediction_errors(det.net, z))
    expected = np.abs(smoothed[start:] / old.spec.error_level[uid] - 1.0)
    score = old.detect(frame).scores["score"].to_numpy()
    np.testing.assert_allclose(score[start:], expected, rtol=1e-12)
    stream = old.stream()
    np.testing.assert_allclose([stream.update(v).score for v in frame["y"]], score, rtol=1e-4, atol=1e-5)
    # the flags do not depend on the score
    np.testing.assert_array_equal(old.detect(frame).scores["flag"], det.detect(frame).scores["flag"])


def test_saved_and_loaded_keeps_the_ladder(spiked, tmp_path):
    det, frame = spiked
    det.save(tmp_path / "m")
    loaded = AnomalyDetector.load(tmp_path / "m")
    assert loaded.spec.score_spans == det.spec.score_spans
    np.testing.assert_allclose(loaded.detect(frame).scores["score"], det.detect(frame).scores["score"], rtol=1e-6)


def test_one_scale_is_the_smoothing_span_alone():
    frame = spike_frame(n=300, at=250)
    det = AnomalyDetector(**{**SMALL, "score_scales": 1, "max_epochs": 1}).fit(frame, normal_until=frame["ds"].iloc[199])
    assert det.spec.score_spans == [54]


def test_unseen_series_and_bad_scales(spiked):
    det, _ = spiked
    errors = np.abs(np.random.default_rng(0).standard_normal(100))
    scorer = det.scale_score("someone-else", errors)
    assert scorer.means[0] == pytest.approx(errors.mean())
    with pytest.raises(InputError, match="no series"):
        det.scale_score("someone-else")
    with pytest.raises(ValueError, match="score_scales"):
        AnomalyDetector(score_scales=0)
