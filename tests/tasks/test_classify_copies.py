"""``warp_copies=None`` at two training series per class: the copies weighed on the selection's
2 folds (:mod:`lstmkit.tasks.classify_copies`): the rule, the networks it trains, the record, that
the selections and the model then train with the count it keeps, save/load and the report."""

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.tasks import classify as classify_module
from lstmkit.tasks import classify_copies
from lstmkit.tasks.classify_copies import copies_unless_beaten, describe_copies, select_warp_copies

from test_classifier import synthetic, write_ts

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (5, 3, 3), "ensemble": 1,
         "conv_segments": 1, "conv_max": False, "fold_scales": (1.0,), "values_branch": False,
         "summary_mix": 0.0, "values_mix": 0.0, "trend_window": 0, "max_steps": 12}


def _rows(right_with, right_without, loss_with=1.0, loss_without=0.9):
    right = [np.asarray(right_with, dtype=bool), np.asarray(right_without, dtype=bool)]
    n = len(right_with)
    return [np.full(n, loss_with), np.full(n, loss_without)], right


def test_one_series_more_right_is_within_the_noise():
    # one discordant series of N: the gain 1/N equals its standard error, so the copies stay
    assert copies_unless_beaten(*_rows([1, 1, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1])) == 0
    assert copies_unless_beaten(*_rows([0] + [1] * 103, [1] * 104)) == 0


def test_two_more_right_and_a_lower_loss_drop_them():
    assert copies_unless_beaten(*_rows([0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1])) == 1
    # PigCVP's pattern: 13 more of 104 right without, net, among 27 that differ
    with_copies = np.array([1] * 56 + [0] * 20 + [1] * 7 + [0] * 21, dtype=bool)
    without = np.array([1] * 56 + [1] * 20 + [0] * 7 + [0] * 21, dtype=bool)
    assert copies_unless_beaten(*_rows(with_copies, without)) == 1


def test_both_measures_must_agree():
    # more right without, but a higher log-loss: kept
    assert copies_unless_beaten(*_rows([0, 0, 1, 1, 1, 1], [1] * 6, loss_with=0.5, loss_without=0.6)) == 0
    # a lower loss without, at the same accuracy: kept
    assert copies_unless_beaten(*_rows([1, 0, 1, 1], [1, 0, 1, 1], loss_without=0.1)) == 0
    # more right with the copies: kept whatever the loss
    assert copies_unless_beaten(*_rows([1] * 6, [0, 0, 1, 1, 1, 1])) == 0


def _two_per_class():
    return synthetic(8, seed=3).subset([0, 1, 2, 3])  # sine, square, sine, square


def test_the_weighing_trains_two_networks_per_fold_and_records_them(monkeypatch):
    data = _two_per_class()
    calls = []

    def fake(estimator, options, data_, seed, say=None, folds=3):
        calls.append((options, seed, folds))
        proba = np.full((2, len(data_), 2), 0.5)
        truth = data_.label_indices(list(data_.classes))
        proba[1, np.arange(len(data_)), truth] = 0.9  # without the copies: every series right
        proba[1, np.arange(len(data_)), 1 - truth] = 0.1
        proba[0, np.arange(len(data_)), 1 - truth] = 0.6  # with them: every series wrong
        proba[0, np.arange(len(data_)), truth] = 0.4
        return proba

    monkeypatch.setattr(classify_copies, "_cross_validated_proba", fake)
    clf = lstmkit.Classifier(**{**SMALL, "conv_segments": None, "max_steps": 500}, seed=7)
    record = select_warp_copies(clf, data, 4)
    ((options, seed, folds),) = calls
    assert seed == 7 and folds == 2
    assert [o["warp_copies"] for o in options] == [4, 0]
    for o in options:  # the selection's first candidate, at its steps and the model's label smoothing
        assert o["ensemble"] == 1 and o["conv_segments"] == 1 and o["max_steps"] == 300
        assert o["label_smoothing"] == pytest.approx(0.1) and o["val_fraction"] == 0.0
    assert record["chosen"] == 0 and record["choices"] == [4, 0] and record["folds"] == 2
    assert record["accuracy"] == [0.0, 1.0]
    assert record["log_loss"] == pytest.approx([-np.log(0.4), -np.log(0.9)], abs=1e-6)
    assert record["difference"][0] == pytest.approx(np.log(0.4) - np.log(0.9), abs=1e-6)
    assert record["accuracy_difference"] == [1.0, 0.0]
    line = describe_copies(record)
    assert line.startswith("4 warped copies of every series dropped by 2-fold cross-validation")
    assert "without: log-loss 0.105, accuracy 1.000, +1.000 ± 0.000" in line


def test_options_given_per_member_reach_the_networks_as_the_first_members(monkeypatch):
    calls = []

    def fake(estimator, options, data_, seed, say=None, folds=3):
        calls.append(options)
        return np.full((2, len(data_), 2), 0.5)

    monkeypatch.setattr(classify_copies, "_cross_validated_proba", fake)
    clf = lstmkit.Classifier(**{**SMALL, "ensemble": 2, "conv_segments": (3, 1), "segment_dropout": (0.5, 0.0),
                                "conv_max": (True, False), "trend_window": 4})
    record = select_warp_copies(clf, _two_per_class(), 4)
    ((first, second),) = calls
    for o in (first, second):
        assert (o["conv_segments"], o["segment_dropout"], o["conv_max"], o["trend_window"]) == (3, 0.5, True, 4)
        assert o["ensemble"] == 1
    assert record["chosen"] == 4  # level on both measures: kept


@pytest.mark.slow
def test_the_model_and_the_selections_train_with_the_count_kept(monkeypatch):
    counts = []
    warped = classify_module.warped_copies
    monkeypatch.setattr(classify_module, "warped_copies",
                        lambda data, copies, **kw: counts.append(copies) or warped(data, copies, **kw))
    data = _two_per_class()
    kept = lstmkit.Classifier(**SMALL, seed=0, progress=False).fit(data)
    record = kept.copies_selection
    assert record["folds"] == 2 and record["choices"] == [4, 0] and len(record["accuracy"]) == 2
    assert counts[:4] == [4, 0, 4, 0]  # each fold: a network with the copies, one without
    assert kept.warp_copies == record["chosen"] and counts[4:] == [kept.warp_copies]  # the model's own fit

    counts.clear()
    monkeypatch.setattr(classify_copies, "copies_unless_beaten", lambda losses, right: 1)  # dropped
    seen = []
    real = classify_copies._cross_validated_proba
    monkeypatch.setattr(classify_copies, "_cross_validated_proba",
                        lambda *a, **kw: seen.append([o["warp_copies"] for o in a[1]]) or real(*a, **kw))
    from lstmkit.tasks import classify_select
    selected = []
    real_select = classify_select._cross_validated_proba
    monkeypatch.setattr(classify_select, "_cross_validated_proba",
                        lambda *a, **kw: selected.append([o["warp_copies"] for o in a[1]]) or real_select(*a, **kw))
    dropped = lstmkit.Classifier(**{**SMALL, "conv_segments": None}, seed=0, progress=False).fit(data)
    assert seen == [[4, 0]] and dropped.copies_selection["chosen"] == 0 and dropped.warp_copies == 0
    assert selected and all(set(c) == {0} for c in selected)  # the parts' selection trains as the model
    assert counts[:4] == [4, 0, 4, 0] and set(counts[4:]) == {0} and len(counts) > 5  # selections, then the model


@pytest.mark.parametrize("subset, options", [([0, 1], {}),  # one per class: nothing to hold out, 9 copies
                                             ([0, 1, 2, 3, 4, 5], {}),  # three per class: none
                                             ([0, 1, 2, 3], {"warp_copies": 4})])  # given: not weighed
def test_no_weighing_elsewhere(monkeypatch, subset, options):
    monkeypatch.setattr(classify_copies, "select_warp_copies", None)  # would fail if called
    monkeypatch.setattr(classify_module, "select_warp_copies", lambda *a: pytest.fail("weighed"))
    clf = lstmkit.Classifier(**{**SMALL, "max_steps": 2, **options}, seed=0, progress=False).fit(
        synthetic(8, seed=3).subset(subset))
    assert clf.copies_selection is None
    assert clf.warp_copies == {2: 9, 6: 0, 4: 4}[len(subset)]


@pytest.mark.slow
def test_save_load_and_the_report(tmp_path, capsys):
    from lstmkit.cli.main import main

    data = synthetic(8, seed=3)
    train = write_ts(tmp_path / "train.ts", data.subset([0, 1, 2, 3]))
    test = write_ts(tmp_path / "test.ts", synthetic(6, seed=1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-steps", "6", "--ensemble", "1",
                 "--conv-segments", "1", "--no-baseline", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "4 warped copies of every series" in printed and "by 2-fold cross-validation" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["copies_selection"]["choices"] == [4, 0]
    assert metrics["warp_copies"] == metrics["copies_selection"]["chosen"]
    loaded = lstmkit.Classifier.load(out)
    assert loaded.copies_selection == metrics["copies_selection"]
    assert loaded.warp_copies == metrics["warp_copies"]
