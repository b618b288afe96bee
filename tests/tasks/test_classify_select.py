"""``conv_segments=None`` (the default): P chosen by a quick cross-validation on the training
series (``lstmkit.tasks.classify_select``): the folds, the scores, the rule, the fit it leads to,
save/load and the CLI's report."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.data.sequence_data import stratified_folds
from lstmkit.errors import InputError
from lstmkit.tasks import classify_select
from lstmkit.tasks.classify_select import (SEGMENT_CANDIDATES, candidates_for, choose, describe, held_out_losses,
                                           held_out_scores, lowest_loss_beyond_noise, paired_difference)

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3), "ensemble": 1,
         "progress": False}


def bumps(n: int, seed: int, length: int = 48):
    """One bump early (step ~8) or late (step ~40) in noise: the place alone is the class, so
    the global average of shift-equivariant features cannot tell the classes apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.3, (n, 1, length)).astype(np.float32)
    for i in range(n):
        centre = (8 if y[i] == 0 else length - 8) + rng.integers(-3, 4)
        x[i, 0] += 2 * np.exp(-0.5 * ((t - centre) / 2.0) ** 2)
    return x, np.where(y == 0, "early", "late")


def spy_on_fits(monkeypatch) -> list[dict]:
    """Every ``Classifier.fit`` from now on appends its estimator's options to the list returned
    (the model's own fit first, then the selection's networks)."""
    seen = []
    real_fit = lstmkit.Classifier.fit

    def spy(self, data, *args, **kwargs):
        seen.append(self.get_params())
        return real_fit(self, data, *args, **kwargs)

    monkeypatch.setattr(lstmkit.Classifier, "fit", spy)
    return seen


def test_stratified_folds_deal_every_class_evenly():
    labels = np.array(["a"] * 10 + ["b"] * 7 + ["c"] * 3)
    folds = stratified_folds(labels, 3, seed=0)
    assert folds.shape == (20,) and set(folds.tolist()) == {0, 1, 2}
    sizes = np.bincount(folds, minlength=3)
    assert sizes.max() - sizes.min() <= 1
    for c in "abc":
        per_class = np.bincount(folds[labels == c], minlength=3)
        assert per_class.max() - per_class.min() <= 1, c
    np.testing.assert_array_equal(folds, stratified_folds(labels, 3, seed=0))  # the seed decides
    assert not np.array_equal(folds, stratified_folds(labels, 3, seed=1))
    for bad in (1, 0, 2.5, True):
        with pytest.raises(InputError, match="whole number >= 2"):
            stratified_folds(labels, bad)


def test_held_out_scores_are_log_loss_and_accuracy():
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
    loss, acc = held_out_scores(proba, np.array([0, 1, 1]))
    assert loss == pytest.approx(-(np.log(0.9) + np.log(0.6) + np.log(0.3)) / 3)
    assert acc == pytest.approx(2 / 3)
    loss, _ = held_out_scores(np.array([[1.0, 0.0]]), np.array([1]))  # a zero probability: floored
    assert loss == pytest.approx(-np.log(1e-12))


def test_held_out_losses_are_per_series():
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
    losses, right = held_out_losses(proba, np.array([0, 1, 1]))
    np.testing.assert_allclose(losses, -np.log([0.9, 0.6, 0.3]))
    assert right.tolist() == [True, True, False]


def test_paired_difference_is_the_mean_and_its_standard_error():
    mean, se = paired_difference(np.array([1.0, 2.0, 4.0, 1.0]), np.array([2.0, 2.0, 2.0, 2.0]))
    delta = np.array([-1.0, 0.0, 2.0, -1.0])
    assert mean == pytest.approx(0.0) and se == pytest.approx(delta.std(ddof=1) / 2)
    assert paired_difference(np.array([0.2]), np.array([0.5])) == (pytest.approx(-0.3), 0.0)


N = 20
BASE = np.linspace(0.2, 1.0, N)  # the first candidate's per-series held-out losses


def right(count: int) -> np.ndarray:
    """``count`` of the N held-out series classified right."""
    return np.arange(N) < count


# a difference of -0.1 on every series (se 0), and one of -0.05 on the mean whose series
# alternate -0.55 and +0.45 (se about 0.11): better on the mean, within the noise
CLEAR, NOISY = BASE - 0.1, BASE + np.where(np.arange(N) % 2 == 0, -0.55, 0.45)


@pytest.mark.parametrize("loss, correct, chosen", [
    (CLEAR, 18, 3),  # better on both, beyond the noise
    (CLEAR, 16, 1),  # accuracy tied: the simpler model
    (BASE + 0.1, 18, 1),  # the measures disagree
    (NOISY, 18, 1),  # better on both, but within one standard error
])
def test_the_rule_keeps_one_part_unless_three_win_on_both_beyond_the_noise(loss, correct, chosen):
    assert NOISY.mean() < BASE.mean() and paired_difference(NOISY, BASE)[1] > 0.05
    assert choose([BASE, loss], [right(16), right(correct)], (1, 3)) == chosen


@pytest.mark.parametrize("losses, correct, chosen", [
    ((BASE - 0.1, BASE - 0.2), (17, 18), 2),  # each better on both than the one before
    ((BASE - 0.1, BASE - 0.15), (17, 17), 1),  # the third ties the second in accuracy: the second kept
    ((BASE - 0.1, BASE - 0.05), (17, 18), 1),  # the third beats the first, not the second
    ((BASE + 0.1, BASE - 0.05), (17, 17), 2),  # the second lost (disagreement): the third beats the first
    ((BASE + 0.1, BASE + 0.05), (17, 18), 0),
    ((NOISY, BASE - 0.1), (18, 17), 2),  # the second within the noise: the third weighed against the first
    ((BASE - 0.1, NOISY - 0.06), (17, 18), 1),  # the third beats the second on the mean, not the first beyond one se
])
def test_the_rule_weighs_each_candidate_against_the_one_chosen_so_far(losses, correct, chosen):
    assert choose([BASE, *losses], [right(16), *(right(c) for c in correct)], (0, 1, 2)) == chosen


@pytest.mark.parametrize("losses, chosen", [
    ((BASE - 0.1, BASE - 0.2), 2),  # each beyond the noise of the one before
    ((BASE - 0.1, BASE - 0.1 + np.where(np.arange(N) % 2 == 0, -0.55, 0.45)), 1),  # the third within the second's noise
    ((NOISY, BASE - 0.1), 2),  # the second within the noise: the third weighed against the first
    ((BASE + 0.1, BASE + 0.05), 0),  # a mixture that only costs
    ((BASE - 0.1, BASE - 0.05), 1),  # the third beats the first, not the second
])
def test_the_weights_rule_reads_the_log_loss_alone(losses, chosen):
    assert lowest_loss_beyond_noise([BASE, *losses]) == chosen
    # accuracy does not vote: the same losses whatever was counted right
    accuracy_would_refuse = [right(16), *(right(10) for _ in losses)]
    if chosen:
        assert choose([BASE, *losses], accuracy_would_refuse, (0, 1, 2)) == 0


def test_the_candidates():
    assert SEGMENT_CANDIDATES == ((1, 0.0, False), (3, 0.0, False), (3, 0.8, False), (1, 0.0, True))
    # the dropout and the maximum chosen with P
    assert candidates_for(None) == [(1, 0.0, False), (3, 0.0, False), (3, 0.8, False), (1, 0.0, True)]
    assert candidates_for(0.5) == [(1, 0.5, False), (3, 0.5, False), (1, 0.5, True)]  # a dropout given
    assert candidates_for(None, True) == [(1, 0.0, True), (3, 0.0, True), (3, 0.8, True)]  # the maximum given
    assert candidates_for(0.5, (False, True)) == [(1, 0.5, False), (3, 0.5, False)]  # per member: the first's


@pytest.mark.slow
def test_where_place_is_the_class_the_selection_takes_three_parts():
    x, y = bumps(60, seed=0)
    x_test, y_test = bumps(60, seed=1)
    clf = lstmkit.Classifier(**SMALL, max_steps=100).fit(x, y)
    record = clf.segment_selection
    assert record["chosen"] == 3 and record["skipped"] is None and record["folds"] == 3
    assert record["choices"] == [1, 3, 3, 1, 1] and record["dropouts"] == [0.0, 0.0, 0.8, 0.0, 0.0]
    assert record["maxes"] == [False, False, False, True, False] and record["chosen_max"] is False
    assert record["trends"] == [None] * 4 + [3] and record["chosen_trend"] is None  # 48 steps / 16
    assert len(record["log_loss"]) == len(record["accuracy"]) == 5
    best = [p == 3 and r == record["chosen_dropout"] for p, r in zip(record["choices"], record["dropouts"])].index(True)
    assert record["accuracy"][best] > record["accuracy"][0] and record["log_loss"][best] < record["log_loss"][0]
    assert record["difference"][0] is None and len(record["difference"]) == 5
    mean, se = record["difference"][best]  # beyond the noise of the held-out series
    assert mean + se < 0 and mean == pytest.approx(record["log_loss"][best] - record["log_loss"][0], abs=1e-5)
    assert [m.conv.segments for m in clf.net.members] == [3]
    assert clf.net.config.segment_dropout == record["chosen_dropout"]
    assert clf.score(x_test, y_test) >= 0.95  # measured: 1.000 (P = 1 given: 0.450, chance)
    assert lstmkit.Classifier(**SMALL, max_steps=100, conv_segments=1).fit(x, y).score(x_test, y_test) < 0.7
    line = describe(record)
    assert line.startswith("conv segments: P = 3") and "chosen by 3-fold cross-validation" in line
    assert f"({mean:+.3f} ± {se:.3f} against P = 1)" in line


@pytest.mark.parametrize("forced", [0, 1, 2, 3, 4])
def test_the_fit_after_the_selection_is_the_fit_with_that_p_given(monkeypatch, forced):
    """The selection's networks draw their own random numbers: the model it leads to is the one
    a user gets by giving the chosen P, dropout, maximum and trend window, bit for bit."""
    x, y = bumps(24, seed=2)
    monkeypatch.setattr(classify_select, "choose", lambda loss, acc, choices: forced)
    # the fifth candidate: the first read split at a trend of 48 / 16 = 3 steps
    segments, dropout, maximum, trend = [(*c, None) for c in SEGMENT_CANDIDATES][forced] if forced < 4 else (
        1, 0.0, False, 3)
    # the mixtures' weights off: with them chosen, weak networks could take a mixture that
    # the model with P given (no selection, so no mixture) does not have
    chosen = lstmkit.Classifier(**SMALL, max_epochs=2, seed=5, summary_mix=0.0, values_mix=0.0,
                                 values_branch=False).fit(x, y)
    given = lstmkit.Classifier(**SMALL, max_epochs=2, seed=5, conv_segments=segments,
                               segment_dropout=dropout, conv_max=maximum, trend_window=trend or 0).fit(x, y)
    assert chosen.segment_selection["chosen"] == segments and given.segment_selection is None
    assert chosen.segment_selection["chosen_dropout"] == dropout == chosen.net.config.segment_dropout
    assert chosen.segment_selection["chosen_max"] is maximum is chosen.net.config.conv_max
    assert chosen.segment_selection["chosen_trend"] == trend == chosen.trend_window == given.trend_window
    assert chosen.input_channels == (2 if trend else 1)
    assert [m.conv.max_pool for m in chosen.net.members] == [maximum]
    np.testing.assert_array_equal(chosen.predict_proba(x), given.predict_proba(x))


def counted(counts):
    """Empty series, ``counts[k]`` of class ``c{k}``."""
    from lstmkit.data.sequence_data import SequenceData

    labels = np.concatenate([[f"c{k}"] * n for k, n in enumerate(counts)])
    return SequenceData([np.zeros((5, 1), np.float32)] * len(labels), labels=labels,
                        classes=sorted(set(labels)), channel_names=["value"])


def test_the_folds_follow_the_largest_class_and_the_smoothing_the_median_one():
    """3 folds where a class has three series, 2 where the largest has two, none where fewer than
    two classes have series to hold out; label smoothing 0.1 exactly where folds run and the
    median class has two series, unless given. One rare class changes neither."""
    for counts, folds, e in (([3, 3], 3, 0.0), ([9, 4], 3, 0.0), ([2, 2], 2, 0.1), ([7, 2], 3, 0.0),
                             ([2, 2, 3], 3, 0.1), ([2, 2, 1], 2, 0.1), ([5, 5, 1], 3, 0.0), ([2, 1], 0, 0.0),
                             ([9, 1, 1], 0, 0.0), ([1, 1], 0, 0.0)):
        assert classify_select.selection_folds(counted(counts)) == folds, counts
        assert classify_select.label_smoothing_for(None, counted(counts)) == e, counts
        assert classify_select.label_smoothing_for(0.3, counted(counts)) == 0.3


def test_a_class_of_one_series_is_in_every_fold_and_never_held_out():
    """The selection's folds: the others stratified as before, the single series in none (-1)."""
    from lstmkit.data.sequence_data import stratified_folds

    data = counted([5, 1, 4])
    held = classify_select.held_out_series(data)
    assert held.tolist() == [True] * 5 + [False] + [True] * 4
    fold_of = classify_select._fold_of(data, 3, seed=4)
    plain = stratified_folds(data.labels, 3, seed=4)
    assert fold_of[5] == -1 and np.array_equal(fold_of[held], plain[held])
    for k in range(3):  # every fold holds series of both large classes out
        assert {data.labels[i] for i in np.flatnonzero(fold_of == k)} == {"c0", "c2"}
    assert np.array_equal(classify_select._fold_of(counted([3, 3]), 3, 1), stratified_folds(counted([3, 3]).labels, 3, 1))


def test_a_class_of_one_series_trains_every_fold_network_and_is_not_scored(monkeypatch):
    """One class of a single series beside larger ones: the selection runs on 3 folds, every fold
    network trains on that series, the held-out scores are over the other N - 1 series (an
    accuracy in steps of 1 / (N - 1)), the report says so, and the labels are not smoothed."""
    x, y = bumps(16, seed=3)
    y = y.copy()
    y[0] = "solo"
    seen = []
    real_fit = lstmkit.Classifier.fit

    def spy(self, data, *args, **kwargs):
        labels = np.asarray(data.labels if hasattr(data, "labels") else args[0]).astype(str)
        seen.append((self.get_params()["label_smoothing"], int((labels == "solo").sum()), len(labels)))
        return real_fit(self, data, *args, **kwargs)

    monkeypatch.setattr(lstmkit.Classifier, "fit", spy)
    clf = lstmkit.Classifier(**{**SMALL, "max_steps": 20, "seed": 1, "summary_mix": 0.0, "values_mix": 0.0,
                                "values_branch": False}).fit(x, y)
    record = clf.segment_selection
    assert record["folds"] == 3 and record["unscored_classes"] == 1 and record["skipped"] is None
    assert all(np.isfinite(record["log_loss"]))
    for accuracy in record["accuracy"]:
        assert abs(accuracy * 15 - round(accuracy * 15)) < 1e-4  # over the 15 held-out series
    assert "by 3-fold cross-validation on the training series, 1 class of a single series trained on in " \
           "every fold and not held out (" in describe(record)
    assert seen[0][:2] == (None, 1) and len(seen) > 3
    assert all(single == 1 and n < 16 for _, single, n in seen[1:])  # every fold network has it
    assert clf.label_smoothing == 0.0 and {e for e, _, _ in seen[1:]} == {0.0}


def test_every_class_of_two_series_runs_a_two_fold_selection_with_smoothed_labels(monkeypatch):
    """Two series per class, fewer than the 3 folds: the selection runs on 2 folds, each fold
    network learning every class from its other series; its networks and the model's train with
    label smoothing 0.1 (a candidate judged as the model trains it), and with
    ``label_smoothing=0`` given all of them train the plain cross-entropy."""
    x, y = bumps(12, seed=3)
    keep = np.concatenate([np.flatnonzero(y == c)[:2] for c in np.unique(y)])
    x, y = x[keep], y[keep].copy()
    y[:2] = "rare"  # three classes of two series each
    seen = []
    real_fit = lstmkit.Classifier.fit

    def spy(self, data, *args, **kwargs):
        labels = np.asarray(data.labels if hasattr(data, "labels") else args[0]).astype(str)
        seen.append((self.get_params()["label_smoothing"], int((labels == "rare").sum())))
        fitted = real_fit(self, data, *args, **kwargs)
        copies.append(fitted.warp_copies)
        return fitted

    copies = []
    monkeypatch.setattr(lstmkit.Classifier, "fit", spy)
    options = {**SMALL, "max_epochs": 300, "max_steps": 40, "seed": 1}
    clf = lstmkit.Classifier(**options).fit(x, y)
    # warped copies: at two series per class first weighed, per fold one network with 4 and one
    # without (classify_copies); then the selection's networks train with the count kept, as the
    # model does, though their one series per class would otherwise call for 9
    assert len(copies) == len(seen) and copies[:4] == [4, 0, 4, 0]
    assert set(copies[4:]) == {clf.warp_copies} and clf.copies_selection["chosen"] == clf.warp_copies
    record = clf.segment_selection
    assert classify_select.selection_folds(clf.read(x, y)) == 2 == record["folds"]
    assert record["skipped"] is None and len(record["log_loss"]) == len(record["choices"])
    assert "chosen by 2-fold cross-validation on the training series" in describe(record)
    # the model's own fit (both rare series), then per fold its networks (one rare series each)
    assert seen[0] == (None, 2) and len(seen) > 2 and all(rare == 1 for _, rare in seen[1:])
    assert {e for e, _ in seen[1:]} == {classify_select.FEW_SERIES_LABEL_SMOOTHING} == {0.1}
    assert clf.label_smoothing == 0.1
    seen.clear()
    plain = lstmkit.Classifier(**options, label_smoothing=0.0).fit(x, y)
    assert plain.label_smoothing == 0.0 and {e for e, _ in seen} == {0.0}
    assert plain.segment_selection["log_loss"] != record["log_loss"]  # the candidates trained otherwise
    assert np.abs(plain.predict_proba(x) - clf.predict_proba(x)).max() > 1e-5  # (the fits are deterministic)


def test_label_smoothing_none_is_zero_where_no_selection_runs():
    """Fewer than two classes with series to hold out: no folds, no smoothing (one series per
    class lost with it); the fit is the one ``label_smoothing=0`` gives."""
    x, _ = bumps(12, seed=3)
    y = np.array(["many"] * 11 + ["single"])
    options = {**SMALL, "max_epochs": 2, "seed": 1}
    clf = lstmkit.Classifier(**options).fit(x, y)
    assert clf.segment_selection["skipped"] == "only 1 class has two or more training series to hold out: P = 1 kept"
    assert describe(clf.segment_selection).endswith("(only 1 class has two or more training series to hold out: "
                                                    "P = 1 kept)")
    assert classify_select._no_folds(counted([1, 1]), "kept") == "no class has two or more training series to hold out: kept"
    assert clf.label_smoothing == 0.0
    given = lstmkit.Classifier(**options, label_smoothing=0.0).fit(x, y)
    np.testing.assert_array_equal(clf.predict_proba(x), given.predict_proba(x))


def test_label_smoothing_none_is_zero_where_the_folds_run(monkeypatch):
    """With three or more series per class the selection runs, its networks and the model train
    the plain cross-entropy: the model is the one ``label_smoothing=0`` gives, bit for bit."""
    x, y = bumps(24, seed=7)
    seen = spy_on_fits(monkeypatch)
    options = {**SMALL, "max_steps": 4, "summary_mix": 0.0, "values_mix": 0.0, "values_branch": False, "seed": 2}
    chosen = lstmkit.Classifier(**options).fit(x, y)
    assert chosen.label_smoothing == 0.0 and chosen.segment_selection["skipped"] is None
    assert all(params["label_smoothing"] == 0.0 for params in seen[1:])  # the selection's networks
    given = lstmkit.Classifier(**options, label_smoothing=0.0).fit(x, y)
    np.testing.assert_array_equal(chosen.predict_proba(x), given.predict_proba(x))


def test_member_proba_averages_to_predict_proba():
    x, y = bumps(20, seed=4)
    clf = lstmkit.Classifier(**{**SMALL, "ensemble": 2}, max_epochs=2, conv_segments=(1, 3)).fit(x, y)
    members = clf.member_proba(x)
    assert members.shape == (2, 20, 2) and np.allclose(members.sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(members.mean(0), clf.predict_proba(x), atol=1e-6)
    assert not np.allclose(members[0], members[1])  # two networks, two answers


def test_the_record_is_saved_with_the_model(tmp_path):
    x, y = bumps(24, seed=5)
    clf = lstmkit.Classifier(**SMALL, max_epochs=2).fit(x, y)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.segment_selection == json.loads(json.dumps(clf.segment_selection))
    assert loaded.params.conv_segments is None and loaded.params.segment_dropout is None  # automatic
    assert loaded.params.conv_max is None
    assert loaded.net.config.segment_dropout == clf.segment_selection["chosen_dropout"]
    assert loaded.net.config.conv_max == clf.segment_selection["chosen_max"]
    assert [m.conv.segments for m in loaded.net.members] == [clf.segment_selection["chosen"]]
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    assert lstmkit.Classifier().get_params()["conv_segments"] is None


def test_the_cli_reports_the_choice(tmp_path, capsys):
    from lstmkit.cli.classify import CONV_SEGMENTS, segments
    from lstmkit.cli.main import main
    from lstmkit.tasks.classify import ClassifierParams

    from test_classifier import synthetic, write_ts

    assert CONV_SEGMENTS is None is ClassifierParams().conv_segments
    assert segments("auto") is None and segments("AUTO") is None and segments("3") == 3
    train = write_ts(tmp_path / "train.ts", synthetic(24, seed=0))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--no-baseline", "--out", str(out)]) == 0
    assert "conv segments: P = " in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["segment_selection"]["choices"] == [1, 3, 3, 1, 1]
    assert metrics["trend_window"] == metrics["segment_selection"]["chosen_trend"]
    assert metrics["conv_max"] == metrics["segment_selection"]["chosen_max"]
    assert metrics["conv_segments"] == metrics["segment_selection"]["chosen"]
    assert metrics["segment_dropout"] == metrics["segment_selection"]["chosen_dropout"]
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--conv-segments", "1", "--no-baseline", "--out", str(tmp_path / "one")]) == 0
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["segment_selection"] is None
    for bad in ("0", "x", "1.5", ""):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", str(train), "--conv-segments", bad, "--out", str(tmp_path / "bad")])
        assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()


def test_the_cli_says_when_few_series_set_the_model(tmp_path, capsys):
    """Two training series per class (a TEST file given): the report says why the networks train
    with label smoothing 0.1 and metrics.json records it; ``--label-smoothing 0`` keeps the plain
    cross-entropy, and no line claims otherwise."""
    from lstmkit.cli.main import main

    from test_classifier import synthetic, write_ts

    train = write_ts(tmp_path / "train.ts", synthetic(4, seed=0))
    test = write_ts(tmp_path / "test.ts", synthetic(10, seed=1))
    common = ["--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1", "--no-baseline"]
    assert main(["classify", str(train), str(test), *common, "--out", str(tmp_path / "few")]) == 0
    printed = capsys.readouterr().out
    assert "chosen by 2-fold cross-validation on the training series" in printed
    assert ("label smoothing 0.1: the median class has 2 training series, which the networks would learn by heart "
            "(--label-smoothing 0: off)") in printed
    metrics = json.loads((tmp_path / "few" / "metrics.json").read_text())
    assert metrics["label_smoothing"] == 0.1 and metrics["conv_max"] is False
    assert main(["classify", str(train), str(test), *common, "--label-smoothing", "0",
                 "--out", str(tmp_path / "plain")]) == 0
    assert "label smoothing" not in capsys.readouterr().out
    assert json.loads((tmp_path / "plain" / "metrics.json").read_text())["label_smoothing"] == 0.0


def test_the_selection_networks_share_the_models_time_budget(monkeypatch):
    """With ``max_time`` (minutes) the three folds' networks get half of it between them (each
    group by its number of networks); every other option is the model's, but for what the
    selection fixes."""
    seen = spy_on_fits(monkeypatch)
    x, y = bumps(24, seed=6)
    lstmkit.Classifier(**SMALL, max_epochs=1, max_time=7.5, learning_rate=0.002).fit(x, y)
    # the model's own fit first, then per fold the three candidates', the maximum's, the trend's
    inner = seen[1:]
    assert len(inner) == 9
    for options in inner[0::3]:  # the three candidates together, at twice the block width
        assert options["max_time"] == pytest.approx(0.75) and options["learning_rate"] == 0.002
        assert options["conv_segments"] == (1, 3, 3) and options["ensemble"] == 3
        assert options["segment_dropout"] == (0.0, 0.0, 0.8)
        assert options["conv_max"] == (False, False, False) and options["trend_window"] == 0
        assert options["fold_scales"] == (2.0,) and options["max_steps"] == 300
    for options in inner[1::3]:  # the maximum's network, at the model's own block width
        assert options["max_time"] == pytest.approx(0.25) and options["learning_rate"] == 0.002
        assert options["conv_segments"] == (1,) and options["segment_dropout"] == (0.0,)
        assert options["conv_max"] == (True,) and options["ensemble"] == 1 and options["trend_window"] == 0
        assert options["fold_scales"] == (1.0,) and options["max_steps"] == 300
    for options in inner[2::3]:  # the trend's network: P = 1 read split, at twice the block width
        assert options["max_time"] == pytest.approx(0.25) and options["learning_rate"] == 0.002
        assert options["conv_segments"] == (1,) and options["segment_dropout"] == (0.0,)
        assert options["conv_max"] == (False,) and options["ensemble"] == 1 and options["trend_window"] == 3
        assert options["fold_scales"] == (2.0,) and options["max_steps"] == 300


def test_a_dropout_given_is_kept_and_p_alone_chosen():
    x, y = bumps(24, seed=7)
    clf = lstmkit.Classifier(**SMALL, max_epochs=1, segment_dropout=0.5).fit(x, y)
    record = clf.segment_selection
    assert record["choices"] == [1, 3, 1, 1] and record["dropouts"] == [0.5, 0.5, 0.5, 0.5]
    assert record["maxes"] == [False, False, True, False] and record["trends"] == [None, None, None, 3]
    assert clf.net.config.segment_dropout == 0.5 and record["chosen_dropout"] == 0.5


def test_records_saved_before_the_dropouts_choice_still_read():
    old = {"chosen": 3, "choices": [1, 3], "folds": 3, "log_loss": [0.6, 0.4], "accuracy": [0.7, 0.9],
           "skipped": None, "seconds": 12.0}
    assert describe(old).startswith("conv segments: P = 3 chosen by 3-fold")
    new = {**old, "choices": [1, 3, 3], "dropouts": [0.0, 0.0, 0.8], "chosen_dropout": 0.8,
           "log_loss": [0.6, 0.5, 0.4], "accuracy": [0.7, 0.8, 0.9]}
    line = describe(new)
    assert line.startswith("conv segments: P = 3 (dropout 0.8) chosen by 3-fold")
    assert "P = 3: log-loss 0.500" in line and "P = 3 (dropout 0.8): log-loss 0.400, accuracy 0.900" in line
    newer = {**new, "choices": [1, 3, 3, 1], "dropouts": [0.0, 0.0, 0.8, 0.0], "maxes": [False, False, False, True],
             "chosen": 1, "chosen_dropout": 0.0, "chosen_max": True, "log_loss": [0.6, 0.5, 0.45, 0.3],
             "accuracy": [0.7, 0.8, 0.85, 0.95], "difference": [None, [-0.1, 0.02], [-0.15, 0.03], [-0.3, 0.05]]}
    line = describe(newer)
    assert line.startswith("conv segments: P = 1 with the maximum chosen by 3-fold")
    assert "P = 1 with the maximum: log-loss 0.300 (-0.300 ± 0.050 against P = 1), accuracy 0.950" in line


def test_the_selection_says_what_it_does_where_progress_shows(capsys):
    """The selection's networks train without a bar: with the progress shown (``progress=True``,
    or the default on a terminal) each cross-validation names itself and each fold's end on
    stderr, then the model's own training; with ``progress=False`` nothing is printed."""
    x, y = bumps(24, seed=6)
    options = {**SMALL, "max_steps": 4, "summary_mix": 0.0, "values_mix": 0.0, "values_branch": False}
    lstmkit.Classifier(**{**options, "progress": True}).fit(x, y)
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith(("choosing", "  fold", "training the model"))]
    assert lines[0] == ("choosing the model on the training series: 3-fold cross-validation of "
                        f"{len(SEGMENT_CANDIDATES) + 1} candidate networks, 4 steps each")
    assert [line.split(":")[0] for line in lines[1:4]] == ["  fold 1/3", "  fold 2/3", "  fold 3/3"]
    assert lines[4].startswith("training the model: 1 network, ") and len(lines) == 5
    lstmkit.Classifier(**options).fit(x, y)  # SMALL: progress=False
    assert capsys.readouterr().err == ""


def test_progress_follows_the_terminal_unless_given(monkeypatch):
    class Terminal:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    for tty in (True, False):
        monkeypatch.setattr(classify_select.sys, "stderr", Terminal(tty))
        assert classify_select.shows_progress({"progress": None}) is tty
        assert classify_select.shows_progress({"progress": True}) is True
        assert classify_select.shows_progress({"progress": False}) is False
        assert (classify_select.progress_printer({"progress": None}) is None) is not tty
