"""The baselines beside the classifier: the summary-statistics logistic regression and the
majority class (values, and against scikit-learn's LogisticRegression), MiniRocket's panel
conversion, and ``lstmkit classify`` printing them and writing ``baselines`` to metrics.json
(or saying in one line why one did not run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks import classify_baselines
from lstmkit.tasks.classify_baselines import (SERIES_FEATURE_BANDS, SERIES_FEATURE_LAGS, SERIES_FEATURES,
                                              SUMMARY_STATISTICS, BaselineSkipped, SummaryStatisticsModel,
                                              VALUES_COLUMNS, VALUES_POINTS, majority_baseline, minirocket_baseline,
                                              series_features, series_values, summary_statistics,
                                              summary_statistics_baseline, to_panel, values_points)


def waves(n=40, seed=0, length=None):
    """'sine' vs 'square'; every sequence ``length`` long, or 20..40 steps when None."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        size = length or int(rng.integers(20, 41))
        t = np.arange(size) / 4 + rng.uniform(0, 6)
        label = "sine" if i % 2 == 0 else "square"
        wave = np.sin(t) if label == "sine" else np.sign(np.sin(t))
        seqs.append((wave + 0.1 * rng.normal(size=size))[:, None].astype(np.float32))
        labels.append(label)
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["value"], source="waves",
                        ids=np.array([str(i) for i in range(n)]))


def write_ts(path, data):
    lines = ["@problemName waves", "@timeStamps false", "@missing false", "@univariate true",
             "@classLabel true sine square", "@data"]
    lines += [",".join(f"{v:.5f}" for v in seq[:, 0]) + ":" + label for seq, label in zip(data.sequences, data.labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_to_panel_pads_with_the_last_value_and_cuts():
    data = SequenceData([np.array([[1, 10], [2, 20]], np.float32), np.array([[3, 30], [4, 40], [5, 50], [6, 60]], np.float32)],
                        np.array(["a", "b"]), ["a", "b"], ["x", "y"], ids=np.array(["0", "1"]))
    panel = to_panel(data, 3)
    assert panel.shape == (2, 2, 3) and panel.dtype == np.float64
    np.testing.assert_array_equal(panel[0], [[1, 2, 2], [10, 20, 20]])
    np.testing.assert_array_equal(panel[1], [[3, 4, 5], [30, 40, 50]])
    with pytest.raises(BaselineSkipped, match="unequal lengths"):
        to_panel(data)


def test_unequal_lengths_are_refused_unless_padded(monkeypatch):
    monkeypatch.setattr(classify_baselines, "aeon_available", lambda: True)  # refused before aeon runs
    with pytest.raises(BaselineSkipped, match="equal-length series only"):
        minirocket_baseline(waves(10), waves(10, seed=1))


def test_missing_aeon_is_a_skip(monkeypatch):
    monkeypatch.setattr(classify_baselines, "aeon_available", lambda: False)
    with pytest.raises(BaselineSkipped, match="aeon is not installed"):
        minirocket_baseline(waves(10, length=30), waves(10, seed=1, length=30))


def test_classify_prints_why_the_baseline_is_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(classify_baselines, "aeon_available", lambda: False)
    train, test = write_ts(tmp_path / "train.ts", waves(30)), write_ts(tmp_path / "test.ts", waves(10, seed=1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "2", "--out", str(out)]) == 0
    assert "MiniRocket baseline skipped: aeon is not installed" in capsys.readouterr().out
    assert "minirocket" not in json.loads((out / "metrics.json").read_text())["baselines"]


def test_classify_pads_unequal_lengths_for_minirocket(tmp_path, capsys):
    pytest.importorskip("aeon", reason="MiniRocket comes from the optional package aeon (pip install aeon)")
    train_data = waves(30)
    train, test = write_ts(tmp_path / "train.ts", train_data), write_ts(tmp_path / "test.ts", waves(10, seed=1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "1", "--out", str(out)]) == 0
    baseline = json.loads((out / "metrics.json").read_text())["baselines"]["minirocket"]
    assert baseline["padded_to"] == int(train_data.lengths.max()) and 0.0 <= baseline["accuracy"] <= 1.0
    assert f"series padded to {baseline['padded_to']} steps with their last value" in capsys.readouterr().out


@pytest.mark.slow
def test_classify_writes_the_minirocket_baseline(tmp_path, capsys):
    # The first MiniRocket fit in a fresh environment compiles aeon's numba kernels (about a
    # minute on 2 cores; numba caches them on disk for every later run).
    pytest.importorskip("aeon", reason="MiniRocket comes from the optional package aeon (pip install aeon)")
    train = write_ts(tmp_path / "train.ts", waves(30, length=32))
    test = write_ts(tmp_path / "test.ts", waves(20, seed=1, length=32))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "2", "--out", str(out)]) == 0
    baseline = json.loads((out / "metrics.json").read_text())["baselines"]["minirocket"]
    assert 0.9 <= baseline["accuracy"] <= 1.0  # sine vs square is easy for MiniRocket
    assert baseline["seconds"] >= 0 and baseline["padded_to"] is None and baseline["random_state"] == 0
    assert "MiniRocket (aeon) accuracy" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "1",
                 "--no-baseline", "--out", str(again)]) == 0
    assert "baselines" not in json.loads((again / "metrics.json").read_text())  # --no-baseline: none at all


def test_a_failing_baseline_keeps_the_run(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("aeon changed")

    monkeypatch.setattr(classify_baselines, "minirocket_baseline", broken)
    train = write_ts(tmp_path / "train.ts", waves(30, length=32))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--out", str(out)]) == 0
    assert "MiniRocket baseline failed (RuntimeError: aeon changed)" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert "accuracy" in metrics and "minirocket" not in metrics["baselines"]


def test_minirocket_leaves_torch_threads_as_it_found_them():
    """aeon's numba kernels share torch's OpenMP runtime and reset its thread count; a
    benchmark that set one thread must keep it for the fits after the baseline."""
    pytest.importorskip("aeon", reason="MiniRocket comes from the optional package aeon (pip install aeon)")
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        result = minirocket_baseline(waves(30, length=32), waves(20, seed=1, length=32), seed=0)
        assert torch.get_num_threads() == 1
        assert 0.9 <= result["accuracy"] <= 1.0
    finally:
        torch.set_num_threads(before)


def labelled(seqs, labels, classes=None):
    classes = classes or sorted(set(labels))
    return SequenceData([np.asarray(s, np.float32).reshape(len(s), -1) for s in seqs], np.array(labels), classes,
                        [f"c{j}" for j in range(np.asarray(seqs[0]).reshape(len(seqs[0]), -1).shape[1])],
                        source="made", ids=np.array([str(i) for i in range(len(seqs))]))


def test_summary_statistics_values_channel_by_channel():
    first = np.array([[1.0, 10.0], [2.0, np.nan], [4.0, 30.0], [8.0, 50.0]])
    data = labelled([first, np.array([[5.0, np.nan]])], ["a", "b"])
    rows = summary_statistics(data)
    assert rows.shape == (2, 2 * len(SUMMARY_STATISTICS))
    x = np.array([1.0, 2.0, 4.0, 8.0])
    np.testing.assert_allclose(rows[0, :6], [3.75, x.std(), *np.percentile(x, [10, 50, 90]), np.diff(x).std()])
    # NaNs left out: the second channel is 10, 30, 50
    np.testing.assert_allclose(rows[0, 6:], [30.0, np.std([10, 30, 50]), 14.0, 30.0, 46.0, 0.0])
    # one step: no spread; a channel with no observed value: zeros
    np.testing.assert_allclose(rows[1], [5, 0, 5, 5, 5, 0, 0, 0, 0, 0, 0, 0])


def spread_classes(n, seed):
    """'calm' and 'busy' differ in their spread alone: the same mean, no shape."""
    rng = np.random.default_rng(seed)
    seqs = [rng.normal(0, 1.0 if i % 2 else 3.0, size=int(rng.integers(30, 60))) for i in range(n)]
    return labelled(seqs, ["calm" if i % 2 else "busy" for i in range(n)], ["busy", "calm"])


def test_summary_baseline_separates_what_the_spread_separates():
    result = summary_statistics_baseline(spread_classes(40, 0), spread_classes(40, 1))
    assert result["accuracy"] == 1.0 and result["features"] == list(SUMMARY_STATISTICS) and result["C"] == 1.0
    # a deterministic fit: the same figure again
    assert summary_statistics_baseline(spread_classes(40, 0), spread_classes(40, 1))["accuracy"] == 1.0


def test_summary_baseline_is_scikit_learns_logistic_regression():
    pytest.importorskip("sklearn", reason="the comparison needs scikit-learn (the test extra)")
    from sklearn.linear_model import LogisticRegression

    # three overlapping classes by level and spread: some test rows fall on the wrong side
    def draw(n, seed):
        r = np.random.default_rng(seed)
        k = np.arange(n) % 3
        seqs = [r.normal(0.4 * c, 1 + 0.3 * c, size=40) for c in k]
        return labelled(seqs, [f"k{c}" for c in k], ["k0", "k1", "k2"])

    train, test = draw(60, 1), draw(90, 2)
    ours = summary_statistics_baseline(train, test, C=0.5)
    x_train, x_test = summary_statistics(train), summary_statistics(test)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    theirs = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit((x_train - mean) / std, train.labels)
    expected = float(np.mean(theirs.predict((x_test - mean) / std) == test.labels))
    assert 0.4 < expected < 1.0 and ours["accuracy"] == pytest.approx(expected)


def test_majority_baseline_takes_the_commonest_training_class():
    train = labelled([[0.0]] * 5, ["x", "y", "y", "z", "y"], ["x", "y", "z"])
    test = labelled([[0.0]] * 4, ["y", "x", "y", "z"], ["x", "y", "z"])
    assert majority_baseline(train, test) == {"accuracy": 0.5, "class": "y"}
    tie = labelled([[0.0]] * 2, ["z", "x"], ["x", "z"])
    assert majority_baseline(tie, test)["class"] == "x"  # a tie: the first class


def test_classify_prints_the_simple_baselines_and_says_when_one_wins(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(classify_baselines, "aeon_available", lambda: False)
    def write(path, data):
        lines = ["@problemName spread", "@univariate true", "@classLabel true busy calm", "@data"]
        lines += [",".join(f"{v:.5f}" for v in seq[:, 0]) + ":" + label for seq, label in zip(data.sequences, data.labels)]
        path.write_text("\n".join(lines) + "\n")
        return path

    train, test = write(tmp_path / "train.ts", spread_classes(30, 0)), write(tmp_path / "test.ts", spread_classes(20, 1))
    out = tmp_path / "run"
    # one epoch of a tiny network: the spread baseline (1.0) is level with it or above
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    baselines = json.loads((out / "metrics.json").read_text())["baselines"]
    assert baselines["summary_statistics"]["accuracy"] == 1.0
    assert baselines["majority_class"] == {"accuracy": 0.5, "class": "busy"}
    assert "simple baselines: majority class (busy) accuracy 0.5000;" in printed
    assert "logistic regression 1.0000" in printed
    # the 30 series features hold the summary statistics: they separate the spread too
    assert baselines["series_features"]["accuracy"] == 1.0 and len(baselines["series_features"]["features"]) == 30
    assert "spectrum and thirds as well (30 series features) 1.0000" in printed
    # the values at fixed places: noise without a shape, about chance; its points the median length
    points = baselines["series_values"]["points"]
    assert points == int(np.median([len(s) for s in spread_classes(30, 0).sequences]))
    assert f"on each channel's standardised values at {points} places of the series " \
           f"{baselines['series_values']['accuracy']:.4f}" in printed
    accuracy = json.loads((out / "metrics.json").read_text())["accuracy"]
    verdict = "level with" if accuracy == 1.0 else "above"
    assert f"note: the summary-statistics baseline is {verdict} the model here (1.0000 against {accuracy:.4f})" in printed


def test_series_features_of_a_sine_by_hand():
    """A sine of period 16 over 256 steps (half a step off zero, so no value sits on the mean):
    every feature against its closed form."""
    t = np.arange(256) + 0.5
    x = np.sin(2 * np.pi * t / 16)
    row = series_features(labelled([x], ["a"]))[0]
    assert row.shape == (len(SERIES_FEATURES),) == (30,)
    f = dict(zip(SERIES_FEATURES, row))
    assert f["mean"] == pytest.approx(0, abs=1e-6) and f["std"] == pytest.approx(np.sqrt(0.5), rel=1e-5)
    assert f["skewness"] == pytest.approx(0, abs=1e-5) and f["kurtosis"] == pytest.approx(1.5, rel=1e-4)
    assert f["mean_abs_step"] == pytest.approx(np.abs(np.diff(x)).mean(), rel=1e-5)
    assert f["crossing_rate"] == pytest.approx(31 / 255)  # two crossings a period, 16 periods
    for lag in SERIES_FEATURE_LAGS:  # (1/T) sum z_t z_t+l = cos(2 pi l / 16) (T - l) / T, exact where
        # T - l is whole half periods (l = 8, 16, 32), else within the leftover terms (< 8) / T
        exact = (256 - lag) % 8 == 0
        assert f[f"acf_{lag}"] == pytest.approx(np.cos(2 * np.pi * lag / 16) * (256 - lag) / 256,
                                                abs=1e-4 if exact else 8 / 256)
    assert f["acf_8"] == pytest.approx(-248 / 256, abs=1e-4) and f["acf_16"] == pytest.approx(240 / 256, abs=1e-4)
    # all the power at bin 16 of 128 (the mean's bin left out: index 15), in one log-spaced band
    edges = np.round(np.geomspace(1, 129, SERIES_FEATURE_BANDS + 1)).astype(int) - 1
    band = int(np.searchsorted(edges, 15, side="right")) - 1
    bands = np.array([f[f"band_{b}"] for b in range(SERIES_FEATURE_BANDS)])
    assert bands[band] == pytest.approx(np.log(1 + 1e-6), abs=1e-4)
    assert np.all(np.delete(bands, band) < np.log(1e-5))
    for k, part in enumerate(("first", "middle", "last")):
        piece = np.array_split(x, 3)[k]
        assert f[f"{part}_mean"] == pytest.approx(piece.mean(), abs=1e-6)
        assert f[f"{part}_std"] == pytest.approx(piece.std(), rel=1e-5)


def test_series_features_constant_short_and_missing_channels_stay_finite():
    constant = np.column_stack([np.full(10, 3.0), np.arange(10.0)])
    gaps = np.column_stack([np.array([1.0, np.nan, 2.0, 4.0, np.nan, 8.0]), np.full(6, np.nan)])
    rows = series_features(labelled([constant, constant[:1], gaps[:6]], ["a", "a", "b"]))
    assert rows.shape == (3, 60) and np.isfinite(rows).all()
    f = dict(zip(SERIES_FEATURES, rows[0, :30]))  # the constant channel: z = 0, no power
    assert f["mean"] == 3 and f["std"] == 0 and f["skewness"] == 0 and f["acf_1"] == 0
    assert all(f[f"band_{b}"] == pytest.approx(np.log(1e-6)) for b in range(SERIES_FEATURE_BANDS))
    # NaNs left out: the channel is the series 1, 2, 4, 8 read in order; an empty channel: zeros
    np.testing.assert_allclose(rows[2, :30], series_features(labelled([[1.0, 2.0, 4.0, 8.0]], ["b"]))[0])
    np.testing.assert_array_equal(rows[2, 30:], 0.0)


def test_the_series_features_model_reads_the_order_the_summary_cannot_see():
    """Two classes with the same values in another order (a sorted ramp, shuffled): the summary
    statistics but for the step's spread are equal; the series features separate them."""
    def draw(n, seed):
        rng = np.random.default_rng(seed)
        seqs, labels = [], []
        for i in range(n):
            x = np.sort(rng.normal(size=64))
            seqs.append(x if i % 2 else rng.permutation(x))
            labels.append("ramp" if i % 2 else "noise")
        return labelled(seqs, labels, ["noise", "ramp"])

    train, test = draw(40, 0), draw(40, 1)
    model = SummaryStatisticsModel(features="series").fit(train)
    assert np.mean(model.predict(test) == test.labels) == 1.0
    again = SummaryStatisticsModel.from_state(json.loads(json.dumps(model.state())))
    assert again.features == "series"
    np.testing.assert_allclose(again.predict_proba(test), model.predict_proba(test), rtol=1e-12)
    old = {k: v for k, v in SummaryStatisticsModel().fit(train).state().items() if k != "features"}
    assert SummaryStatisticsModel.from_state(old).features == "summary"  # saved before the choice
    with pytest.raises(ValueError, match="features must be one of summary, series"):
        SummaryStatisticsModel(features="shape")


def test_series_values_by_hand():
    """The values at evenly spaced places of each series' own span, linear between steps,
    standardised per channel; NaNs left out; constant, single-value and empty channels: zeros."""
    ramp = np.column_stack([np.arange(5.0), np.full(5, 2.0)])          # 0 1 2 3 4 | constant
    gaps = np.column_stack([np.array([0.0, np.nan, 4.0]), np.full(3, np.nan)])
    rows = series_values(labelled([ramp, gaps, ramp[:1]], ["a", "b", "b"]), 3)
    assert rows.shape == (3, 6)
    z = np.array([-1.0, 0.0, 1.0]) * np.sqrt(1.5)  # 0, 2, 4 standardised
    np.testing.assert_allclose(rows[0], [*z, 0, 0, 0])
    np.testing.assert_allclose(rows[1], [*z, 0, 0, 0])  # 0 and 4 at its ends, 2 between them
    np.testing.assert_array_equal(rows[2], 0.0)
    # another length is stretched to the same places: 9 steps of a ramp give the same row
    np.testing.assert_allclose(series_values(labelled([np.arange(9.0)], ["a"]), 3)[0], z)
    with pytest.raises(ValueError, match="points must be a whole number >= 1"):
        series_values(labelled([ramp], ["a"]), 0)


def test_values_points_is_the_median_length_capped():
    assert values_points(labelled([np.zeros(10), np.zeros(30), np.zeros(20)], ["a", "b", "a"])) == 20
    assert values_points(labelled([np.zeros(2 * VALUES_POINTS)], ["a"])) == VALUES_POINTS
    # many channels: fewer places, at most VALUES_COLUMNS values per series in all (at least 2 places)
    wide = labelled([np.zeros((300, 64))], ["a"])
    assert values_points(wide) == VALUES_COLUMNS // 64 == 64 and series_values(wide, 64).shape == (1, VALUES_COLUMNS)
    assert values_points(labelled([np.zeros((300, VALUES_COLUMNS))], ["a"])) == 2
    assert values_points(labelled([np.zeros((300, 12))], ["a"])) == VALUES_POINTS  # 12 x 256 <= 4096


def test_the_values_model_reads_where_a_shape_lies():
    """A bump early or late in the series: the same distribution of values and the same series
    features but for the thirds; the values at fixed places separate them, read as they are
    (no column scaling), and the model comes back from its state with its points."""
    def draw(n, seed, length):
        rng = np.random.default_rng(seed)
        seqs, labels = [], []
        for i in range(n):
            x = rng.normal(0, 0.3, size=length)
            at = int(length * (0.35 if i % 2 else 0.6))
            x[at:at + length // 8] += 2.0
            seqs.append(x)
            labels.append("late" if not i % 2 else "early")
        return labelled(seqs, labels, ["early", "late"])

    train, test = draw(30, 0, 64), draw(30, 1, 80)  # test series longer: read at the same places
    model = SummaryStatisticsModel(features="values").fit(train)
    assert model.points == 64
    np.testing.assert_array_equal(model.mean, 0.0)
    np.testing.assert_array_equal(model.std, 1.0)
    assert np.mean(model.predict(test) == test.labels) == 1.0
    again = SummaryStatisticsModel.from_state(json.loads(json.dumps(model.state())))
    assert again.features == "values" and again.points == 64
    np.testing.assert_allclose(again.predict_proba(test), model.predict_proba(test), rtol=1e-12)
    # rows given (a cross-validation computes them once): the same points and the same model
    given = SummaryStatisticsModel(features="values").fit(train, rows=series_values(train, 64))
    assert given.points == 64
    np.testing.assert_allclose(given.predict_proba(test), model.predict_proba(test), rtol=1e-12)
    result = summary_statistics_baseline(train, test, features="values")
    assert result["accuracy"] == 1.0 and result["points"] == 64 and result["features"] == ["value"]


def test_the_report_notes_minirocket_above_the_model(capsys, monkeypatch):
    """MiniRocket's line is followed by a note where it is above the model's accuracy, and by
    none where the model is level or above."""
    from lstmkit.cli import classify as cli

    result = {"accuracy": 0.75, "seconds": 0.2, "padded_to": None, "random_state": 0}
    monkeypatch.setattr(classify_baselines, "minirocket_baseline", lambda *args, **kwargs: result)
    assert cli._minirocket(None, None, 0, 0.7) is result
    assert capsys.readouterr().out.splitlines() == [
        "MiniRocket (aeon) accuracy 0.7500  (0.2 s, same train and test split)",
        "note: MiniRocket is above the model here (0.7500 against 0.7000)"]
    for level_or_above in (0.75, 0.8):
        cli._minirocket(None, None, 0, level_or_above)
        assert "note" not in capsys.readouterr().out
