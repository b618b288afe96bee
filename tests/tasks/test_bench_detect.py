"""benchmarks/bench_detect.py's pieces: the one-span rescoring of a fitted detector, and aeon's
detectors run without leaving torch on another thread count."""

import numpy as np
import pytest
import torch

from lstmkit.tasks.detect import AnomalyDetector

from benchmark_modules import benchmark_module
from test_detect_scales import SMALL, spike_frame


def test_one_span_rescoring_equals_a_detector_fitted_with_one_span():
    frame = spike_frame()
    until = frame["ds"].iloc[199]
    ladder = AnomalyDetector(**SMALL).fit(frame, normal_until=until)
    fitted_single = AnomalyDetector(**{**SMALL, "score_scales": 1}).fit(frame, normal_until=until)
    with benchmark_module("bench_detect.py") as bench:
        rescored = bench.one_span_detector(ladder)
    assert rescored.spec.score_spans == [54] and rescored.params.score_scales == 1
    assert ladder.spec.score_spans == [1, 3, 7, 20, 54]  # the original is left as it was
    expected = fitted_single.detect(frame).scores
    got = rescored.detect(frame).scores
    np.testing.assert_allclose(got["score"].to_numpy(), expected["score"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(got["flag"].to_numpy(), expected["flag"].to_numpy())
    assert not np.allclose(ladder.detect(frame).scores["score"].to_numpy(), got["score"].to_numpy())


class _ThreadHungry:
    """Stands in for an aeon detector whose numba kernels reset the shared OpenMP runtime."""

    def fit_predict(self, z):
        torch.set_num_threads(2)
        return np.abs(z).astype(np.float32)


class _Failing:
    def fit_predict(self, z):
        torch.set_num_threads(2)
        raise RuntimeError("no")


def test_unsupervised_scores_keep_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with benchmark_module("bench_detect.py") as bench:
            score = bench.unsupervised_scores(_ThreadHungry(), np.array([-1.0, 2.0]))
            assert score.dtype == np.float64 and score.tolist() == [1.0, 2.0]
            assert torch.get_num_threads() == 1
            with pytest.raises(RuntimeError, match="no"):
                bench.unsupervised_scores(_Failing(), np.zeros(3))
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
