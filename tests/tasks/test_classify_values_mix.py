"""``values_mix``: the logistic regression on each channel's standardised values at fixed places
mixed into the classifier's prediction after the series features, ``(1 - v) p_w + v p_values``:
the weight chosen on the selection's folds against the model with the features at w, the
mixture's values, save/load, models saved before it, the option's checks and the CLI's report."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequence_data import stratified_folds
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks import classify_select
from lstmkit.tasks.classify import ClassifierParams
from lstmkit.tasks.classify_baselines import SummaryStatisticsModel, series_values, values_points
from lstmkit.tasks.classify_select import (VALUES_MIX_CHOICES, VALUES_MIX_FEATURES, describe_summary_mix,
                                           held_out_losses, held_out_model_proba, lowest_loss_beyond_noise,
                                           select_values_mix)
from test_classify_summary_mix import write_ts  # the tests' folder is on the path (no __init__.py)

# the values branch off: these tests weigh the late mixture (test_classify_values_branch: the branch)
SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3), "ensemble": 1,
         "max_steps": 30, "progress": False, "values_branch": False}


def place(n: int, seed: int, length: int = 40) -> SequenceData:
    """'early' and 'late': the same bump in noise, in the first or the second half of the series,
    at a jittered place: its position alone tells the classes apart."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        x = rng.normal(0, 0.3, size=length)
        late = i % 2 == 1
        centre = (0.7 if late else 0.3) * length + rng.integers(-2, 3)
        x += 2.0 * np.exp(-0.5 * ((np.arange(length) - centre) / 2.0) ** 2)
        seqs.append(x.astype(np.float32)[:, None])
        labels.append("late" if late else "early")
    return SequenceData(seqs, np.array(labels), ["early", "late"], ["v"], source="place",
                        ids=np.array([str(i) for i in range(n)]))


def test_the_weight_is_chosen_by_the_rule_from_the_folds_held_out_probabilities():
    data = place(30, 0)
    truth = data.label_indices(list(data.classes))
    coin = np.full((30, 2), 0.5)  # a model that learnt nothing: the values' mixtures beat it
    record = select_values_mix(data, coin, seed=0)
    assert record["choices"] == list(VALUES_MIX_CHOICES) and record["chosen"] > 0
    assert VALUES_MIX_FEATURES == record["features"] == "values"
    # the values' held-out probabilities, fold by fold, each fold's model on the others
    folds = stratified_folds(data.labels, 3, seed=0)
    values = np.zeros((30, 2))
    for k in range(3):
        held = np.flatnonzero(folds == k)
        model = SummaryStatisticsModel(features="values").fit(data.subset(np.flatnonzero(folds != k)),
                                                              classes=data.classes)
        values[held] = model.predict_proba(data.subset(held))
    np.testing.assert_allclose(held_out_model_proba(data, "values", seed=0), values, atol=1e-8)
    per_weight = []
    for v, loss, acc in zip(record["choices"], record["log_loss"], record["accuracy"]):
        losses, right = held_out_losses((1 - v) * coin + v * values, truth)
        assert loss == pytest.approx(losses.mean(), abs=1e-6) and acc == pytest.approx(right.mean(), abs=1e-6)
        per_weight.append(losses)
    assert record["chosen"] == record["choices"][lowest_loss_beyond_noise(per_weight)]
    assert record["summary_alone"][1] > 0.9  # the values alone tell early from late
    # a model right and sure: no mixture beats it, v = 0 is kept
    sure = np.eye(2)[truth] * 0.998 + 0.001
    kept = select_values_mix(data, sure, seed=0)
    assert kept["chosen"] == 0.0
    assert describe_summary_mix(kept).startswith(
        "values at fixed places: not mixed into the prediction (v = 0: the model without them)")
    line = describe_summary_mix(record)
    assert line.startswith(f"values at fixed places: v = {record['chosen']:g} of their logistic regression mixed")
    delta, se = record["difference"][2]
    assert f"v = 0.5: log-loss {record['log_loss'][2]:.3f} ({delta:+.3f} ± {se:.3f} against v = 0)" in line
    assert "; the values at fixed places alone: log-loss" in line
    with_w = describe_summary_mix({**kept, "summary_mix": 0.25})
    assert "(v = 0: the model without them, the series features at w = 0.25)" in with_w
    assert "mixed with the series features' at w = 0.25" in with_w


def fake_networks(calls):
    def fake(estimator, options, data, seed, say=None, folds=3):  # networks at chance on every fold, no training
        calls.append(options)
        members = sum(int(o["ensemble"]) for o in options)
        return np.full((members, len(data), len(data.classes)), 1.0 / len(data.classes))
    return fake


def test_the_values_are_weighed_against_the_model_with_the_features_at_w(monkeypatch):
    calls = []
    monkeypatch.setattr(classify_select, "_cross_validated_proba", fake_networks(calls))
    data = place(30, 0)
    truth = data.label_indices(list(data.classes))
    coin = np.full((30, 2), 0.5)
    features = held_out_model_proba(data, "series", seed=0)
    values = held_out_model_proba(data, "values", seed=0)
    for summary_mix in (None, 0.5, 0.0):
        clf = lstmkit.Classifier(**{**SMALL, "conv_segments": None, "summary_mix": summary_mix, "trend_window": 0,
                                    "phase_member": False})
        record = classify_select.select_conv_segments(clf, data)
        w = record["summary_mix"]["chosen"] if summary_mix is None else summary_mix
        assert (summary_mix is None) == ("summary_mix" in record)
        assert record["values_mix"]["summary_mix"] == w
        model = (1 - w) * coin + w * features
        for v, loss in zip(record["values_mix"]["choices"], record["values_mix"]["log_loss"]):
            assert loss == pytest.approx(held_out_losses((1 - v) * model + v * values, truth)[0].mean(), abs=1e-6)
    assert w == 0.0 and record["values_mix"]["chosen"] > 0  # against chance networks alone the values win
    # both given: nothing weighed, neither record
    record = classify_select.select_conv_segments(
        lstmkit.Classifier(**{**SMALL, "conv_segments": None, "summary_mix": 0.0, "values_mix": 0.0,
                              "trend_window": 0, "phase_member": False}), data)
    assert "summary_mix" not in record and "values_mix" not in record


def test_the_fit_takes_the_chosen_weight_and_mixes_the_probabilities():
    train, test = place(30, 0), place(20, 1)
    # 3 steps: networks near chance on the folds, so on any CPU the values win by the rule's margin
    clf = lstmkit.Classifier(**{**SMALL, "max_steps": 3, "summary_mix": 0.0}).fit(train)
    record = clf.segment_selection["values_mix"]
    assert clf.values_mix == record["chosen"] > 0 and clf.values_model is not None
    assert clf.values_model.features == "values" and clf.values_model.points == values_points(train) == 40
    v, mixed = clf.values_mix, clf.predict_proba(test)
    clf.values_mix = 0.0
    networks = clf.predict_proba(test)
    values = SummaryStatisticsModel(features="values").fit(train, classes=clf.classes).predict_proba(test)
    np.testing.assert_allclose(mixed, (1 - v) * networks + v * values, atol=1e-6)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)
    clf.values_mix = v
    assert np.mean(clf.predict(test) == test.labels) > np.mean(np.asarray(clf.classes)[networks.argmax(1)]
                                                               == test.labels)


def test_both_mixtures_apply_in_turn():
    train, test = place(30, 0), place(20, 1)
    plain = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.0, values_mix=0.0).fit(train)
    assert plain.values_model is None and plain.values_mix == 0.0
    both = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.5, values_mix=0.25).fit(train)
    features = both.summary_model.predict_proba(test)
    values = both.values_model.predict_proba(test)
    np.testing.assert_allclose(values, SummaryStatisticsModel(features="values").fit(train).predict_proba(test),
                               atol=1e-8)
    expected = 0.75 * (0.5 * plain.predict_proba(test) + 0.5 * features) + 0.25 * values
    np.testing.assert_allclose(both.predict_proba(test), expected, atol=1e-6)
    # P given: no selection, so no weight is chosen (None means 0 there)
    assert lstmkit.Classifier(**SMALL, conv_segments=1).fit(train).values_mix == 0.0


def test_save_and_load_keep_the_mixture(tmp_path):
    train, test = place(30, 0), place(20, 1)
    clf = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.0, values_mix=0.5).fit(train)
    clf.save(tmp_path / "m")
    back = lstmkit.Classifier.load(tmp_path / "m")
    assert back.values_mix == 0.5 and back.values_model.points == clf.values_model.points
    np.testing.assert_allclose(back.predict_proba(test), clf.predict_proba(test), atol=1e-7)
    # a test series of another length is read at the training points
    longer = SequenceData([np.interp(np.linspace(0, 39, 60), np.arange(40), s[:, 0]).astype(np.float32)[:, None]
                           for s in test.sequences], test.labels, test.classes, ["v"], source="longer",
                          ids=test.ids)
    np.testing.assert_allclose(back.values_model.feature_rows(longer), series_values(longer, 40))
    assert back.predict_proba(longer).shape == (20, 2)


def test_models_saved_before_the_mixture_have_none(tmp_path):
    train, test = place(30, 0), place(20, 1)
    clf = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.0, values_mix=0.0).fit(train)
    expected = clf.predict_proba(test)
    state = clf.fitted_state()
    del state["values_mix"], state["values_model"]
    clf.values_mix = 0.5  # whatever it held: the old state says nothing, so none
    clf.restore_state(state)
    assert clf.values_mix == 0.0 and clf.values_model is None
    np.testing.assert_allclose(clf.predict_proba(test), expected, atol=1e-7)


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "half"])
def test_the_weight_is_checked(bad):
    with pytest.raises(ValueError, match="values_mix must lie in \\[0, 1\\] or be None"):
        ClassifierParams(values_mix=bad)


def test_the_cli_reports_the_weight(tmp_path, capsys):
    train, test = write_ts(tmp_path / "train.ts", place(30, 0)), write_ts(tmp_path / "test.ts", place(20, 1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--ensemble", "1", "--max-steps", "3",
                 "--summary-mix", "0", "--no-values-branch", "--no-baseline", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["values_mix"] == metrics["segment_selection"]["values_mix"]["chosen"] > 0
    assert f"values at fixed places: v = {metrics['values_mix']:g} of their logistic regression mixed" in printed
    given = tmp_path / "given"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--ensemble", "1", "--max-steps", "30",
                 "--conv-segments", "1", "--values-mix", "0.5", "--no-baseline", "--out", str(given)]) == 0
    assert json.loads((given / "metrics.json").read_text())["values_mix"] == 0.5
    again = tmp_path / "again"  # the saved model predicts with its mixture
    assert main(["classify", str(test), "--model", str(given), "--out", str(again)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["classify", str(train), "--values-mix", "2", "--out", str(tmp_path / "bad")])
    assert "expected a weight in [0, 1], got '2'" in capsys.readouterr().err
