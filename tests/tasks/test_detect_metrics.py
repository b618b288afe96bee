"""Anomaly-detection metrics: hand-computed values, and aeon's implementations where installed."""

import math
import warnings

import numpy as np
import pytest

from lstmkit.tasks import detect_metrics as dm


def test_point_f1_and_point_adjusted_f1_by_hand():
    y = np.array([0, 1, 1, 0, 0, 1])
    f = np.array([0, 1, 0, 0, 1, 1])
    # tp = 2 of 3 flags and 3 labels: P = R = 2/3
    assert dm.point_f1(y, f) == pytest.approx(2 / 3)
    # adjustment fills the labelled range [1, 2] (one step of it flagged): tp 3, P 3/4, R 1
    assert dm.point_adjust(y, f).tolist() == [0, 1, 1, 0, 1, 1]
    assert dm.point_adjusted_f1(y, f) == pytest.approx(2 * 0.75 / 1.75)
    assert dm.point_f1(y, np.zeros(6)) == 0.0


def test_range_precision_recall_f1_by_hand():
    y = np.array([0, 1, 1, 0, 0, 1])  # real ranges [1, 2] and [5, 5]
    f = np.array([0, 1, 0, 0, 1, 1])  # predicted ranges [1, 1] and [4, 5]
    # precision (α = 0, flat bias): [1,1] wholly inside a real range -> 1; [4,5] half -> 0.5
    assert dm.range_precision(y, f) == pytest.approx(0.75)
    # recall (α = 0.5): [1,2] hit, half covered -> 0.5 + 0.25; [5,5] hit, covered -> 1
    assert dm.range_recall(y, f) == pytest.approx(0.875)
    assert dm.range_f1(y, f) == pytest.approx(2 * 0.75 * 0.875 / 1.625)
    assert dm.range_recall(y, f, alpha=0.0) == pytest.approx(0.75)


def test_range_precision_reciprocal_cardinality():
    y = np.array([1, 1, 0, 1, 1])  # two real ranges
    f = np.ones(5, dtype=int)  # one predicted range over both
    # overlap 4 of 5 steps, shared by 2 real ranges: γ = 1/2
    assert dm.range_precision(y, f) == pytest.approx(0.5 * 4 / 5)
    assert dm.range_recall(y, f) == pytest.approx(1.0)
    assert dm.range_f1(y, f) == 0.0  # constant flags: 0, as aeon


def test_pr_auc_by_hand():
    # scikit-learn's example: precision (0.5, 2/3, 0.5, 1, 1) at recall (1, 1, 0.5, 0.5, 0)
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    expected = 0.5 * 1.0 + 0.5 * (0.5 + 2 / 3) / 2
    assert dm.pr_auc(y, s) == pytest.approx(expected)
    assert dm.pr_auc(y, np.ones(4)) == 0.0


def test_vus_pr_of_a_perfect_score_by_hand():
    y = np.zeros(10, dtype=int)
    y[4:6] = 1
    s = y.astype(float)
    # buffer 0 and 1: the labels as they are, a perfect score -> area 1
    assert dm.range_pr_auc(y, s, 0) == pytest.approx(1.0)
    # buffer 4: slopes of 2 steps each side, √(1 - d/4): steps 2, 3 before; 6 after
    soft = 2 + math.sqrt(1 - 2 / 4) + 2 * math.sqrt(1 - 1 / 4)
    positives = (2 + soft) / 2
    r1 = 2 / positives  # threshold 1: the two labelled steps, precision 1
    expected = r1 * 1.0 + (1 - r1) * (1 + soft / 10) / 2  # threshold 0: recall 1, precision soft/10
    assert dm.range_pr_auc(y, s, 4) == pytest.approx(expected)
    assert dm.vus_pr(y, s, max_buffer=0) == pytest.approx(1.0)
    assert dm.vus_pr(y, np.zeros(10), max_buffer=3) == 0.0


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="only 0 and 1"):
        dm.point_f1(np.array([0, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="no anomaly"):
        dm.vus_pr(np.zeros(5), np.arange(5.0))
    with pytest.raises(ValueError, match="one length"):
        dm.pr_auc(np.array([0, 1]), np.arange(3.0))


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    n = 400
    y = np.zeros(n, dtype=int)
    for _ in range(3):
        a = rng.integers(0, n - 30)
        y[a:a + rng.integers(1, 30)] = 1
    s = rng.random(n) + y * rng.random(n)
    if seed % 2:
        s = np.round(s, 1)  # ties
    return y, s, (s > 0.9).astype(int)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_aeon(seed):
    A = pytest.importorskip("aeon.benchmarking.metrics.anomaly_detection")
    y, s, f = _random_case(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert dm.vus_pr(y, s, 60) == pytest.approx(A.range_pr_vus_score(y, s, max_buffer_size=60), abs=1e-12)
        assert dm.range_pr_auc(y, s, 7) == pytest.approx(A.range_pr_auc_score(y, s, buffer_size=7), abs=1e-12)
        assert dm.pr_auc(y, s) == pytest.approx(A.pr_auc_score(y, s), abs=1e-12)
        assert dm.range_precision(y, f) == pytest.approx(A.range_precision(y, f), abs=1e-12)
        assert dm.range_recall(y, f) == pytest.approx(A.range_recall(y, f, alpha=0.5), abs=1e-12)
        assert dm.range_f1(y, f) == pytest.approx(A.range_f_score(y, f), abs=1e-12)
