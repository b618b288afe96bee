"""``summary_mix``: the summary statistics' logistic regression mixed into the classifier's
prediction, ``(1 - w) p_networks + w p_statistics``: the weight chosen on the selection's folds
by the log-loss alone, the mixture's values, save/load, models saved before it, the option's
checks and the CLI's report."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequence_data import stratified_folds
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify import ClassifierParams
from lstmkit.tasks.classify_baselines import SummaryStatisticsModel
from lstmkit.tasks.classify_select import (SUMMARY_MIX_CHOICES, SUMMARY_MIX_FEATURES, describe_summary_mix,
                                           held_out_losses, lowest_loss_beyond_noise, select_summary_mix)

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3), "ensemble": 1,
         "max_steps": 30, "progress": False}


def spread(n: int, seed: int, length: int = 40) -> SequenceData:
    """'calm' and 'busy' noise: the same mean, told apart by their spread alone (no shape)."""
    rng = np.random.default_rng(seed)
    seqs = [rng.normal(0, 1.0 if i % 2 else 2.0, size=(length, 1)).astype(np.float32) for i in range(n)]
    return SequenceData(seqs, np.array(["calm" if i % 2 else "busy" for i in range(n)]), ["busy", "calm"], ["v"],
                        source="spread", ids=np.array([str(i) for i in range(n)]))


def test_the_weight_is_chosen_by_the_rule_from_the_folds_held_out_probabilities():
    data = spread(30, 0)
    truth = data.label_indices(list(data.classes))
    coin = np.full((30, 2), 0.5)  # networks that learnt nothing: every mixture is better
    record = select_summary_mix(data, coin, seed=0)
    assert record["choices"] == list(SUMMARY_MIX_CHOICES) and record["chosen"] > 0
    assert SUMMARY_MIX_FEATURES == record["features"] == "series"
    # the statistics' held-out probabilities, fold by fold, as the record scores them
    folds = stratified_folds(data.labels, 3, seed=0)
    stats = np.zeros((30, 2))
    for k in range(3):
        held = np.flatnonzero(folds == k)
        stats[held] = SummaryStatisticsModel(features="series").fit(
            data.subset(np.flatnonzero(folds != k)), classes=data.classes).predict_proba(data.subset(held))
    per_weight = []
    for w, loss, acc in zip(record["choices"], record["log_loss"], record["accuracy"]):
        losses, right = held_out_losses((1 - w) * coin + w * stats, truth)
        assert loss == pytest.approx(losses.mean(), abs=1e-6) and acc == pytest.approx(right.mean(), abs=1e-6)
        per_weight.append(losses)
    # the weight by the per-series log-losses alone, each step beyond one standard error
    assert record["chosen"] == record["choices"][lowest_loss_beyond_noise(per_weight)]
    # networks that are right and sure: no mixture beats them, w = 0 is kept
    sure = np.eye(2)[truth] * 0.998 + 0.001
    kept = select_summary_mix(data, sure, seed=0)
    assert kept["chosen"] == 0.0
    assert describe_summary_mix(kept).startswith("series features: not mixed into the prediction (w = 0")
    assert describe_summary_mix(record).startswith(f"series features: w = {record['chosen']:g} of their")
    assert "; the series features alone: log-loss" in describe_summary_mix(record)
    assert record["rule"] == "log_loss" and ", chosen by the held-out log-loss on the same folds (w = 0: log-loss" in \
        describe_summary_mix(record)
    delta, se = record["difference"][2]  # w = 0.5 against w = 0, as the line writes it
    assert delta == pytest.approx(per_weight[2].mean() - per_weight[0].mean(), abs=1e-5)
    assert (f"w = 0.5: log-loss {record['log_loss'][2]:.3f} ({delta:+.3f} ± {se:.3f} against w = 0), accuracy "
            in describe_summary_mix(record))
    # a record saved before the log-loss rule says only where w was chosen
    assert ", chosen on the same folds (w = 0" in describe_summary_mix({k: v for k, v in record.items() if k != "rule"})
    # a record saved before the series features (no "features"): the summary statistics
    older = {k: v for k, v in record.items() if k != "features"}
    assert describe_summary_mix(older).startswith(f"summary statistics: w = {record['chosen']:g} of their")


def test_the_fit_takes_the_chosen_weight_and_mixes_the_probabilities():
    train, test = spread(30, 0), spread(20, 1)
    # 3 steps: networks at chance on the folds (held out 0.5), so on any CPU the statistics
    # (held out 0.97) win by the rule's margin
    clf = lstmkit.Classifier(**{**SMALL, "max_steps": 3}).fit(train)
    record = clf.segment_selection["summary_mix"]
    assert clf.summary_mix == record["chosen"] > 0 and clf.summary_model is not None
    w, mixed = clf.summary_mix, clf.predict_proba(test)
    clf.summary_mix = 0.0
    networks = clf.predict_proba(test)
    assert clf.summary_model.features == "series"
    statistics = SummaryStatisticsModel(features="series").fit(train, classes=clf.classes).predict_proba(test)
    np.testing.assert_allclose(mixed, (1 - w) * networks + w * statistics, atol=1e-6)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)


def test_zero_is_the_networks_alone_and_the_same_fit():
    train, test = spread(30, 0), spread(20, 1)
    plain = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.0).fit(train)
    assert plain.summary_model is None and plain.summary_mix == 0.0
    given = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.5).fit(train)
    np.testing.assert_allclose(given.predict_proba(test),
                               0.5 * plain.predict_proba(test)
                               + 0.5 * given.summary_model.predict_proba(test), atol=1e-6)
    # P given: no selection, so no weight is chosen (None means 0 there)
    assert lstmkit.Classifier(**SMALL, conv_segments=1).fit(train).summary_mix == 0.0


def test_save_and_load_keep_the_mixture(tmp_path):
    train, test = spread(30, 0), spread(20, 1)
    clf = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.25).fit(train)
    clf.save(tmp_path / "m")
    back = lstmkit.Classifier.load(tmp_path / "m")
    assert back.summary_mix == 0.25
    np.testing.assert_allclose(back.predict_proba(test), clf.predict_proba(test), atol=1e-7)
    state = json.loads(next((tmp_path / "m").glob("*.json")).read_text())
    assert "summary_model" in json.dumps(state)


def test_models_saved_before_the_mixture_are_the_networks_alone(tmp_path):
    train, test = spread(30, 0), spread(20, 1)
    clf = lstmkit.Classifier(**SMALL, conv_segments=1, summary_mix=0.0).fit(train)
    expected = clf.predict_proba(test)
    state = clf.fitted_state()
    del state["summary_mix"], state["summary_model"]
    clf.summary_mix = 0.5  # whatever it held: the old state says nothing, so none
    clf.restore_state(state)
    assert clf.summary_mix == 0.0 and clf.summary_model is None
    np.testing.assert_allclose(clf.predict_proba(test), expected, atol=1e-7)


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "half"])
def test_the_weight_is_checked(bad):
    with pytest.raises(ValueError, match="summary_mix must lie in \\[0, 1\\] or be None"):
        ClassifierParams(summary_mix=bad)


def write_ts(path, data):
    """``data`` (one channel) as a .ts file: its source as the problem's name, its classes."""
    lines = [f"@problemName {data.source}", "@univariate true", "@classLabel true " + " ".join(data.classes), "@data"]
    lines += [",".join(f"{v:.5f}" for v in seq[:, 0]) + ":" + label for seq, label in zip(data.sequences, data.labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_cli_reports_the_weight(tmp_path, capsys):
    train, test = write_ts(tmp_path / "train.ts", spread(30, 0)), write_ts(tmp_path / "test.ts", spread(20, 1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--ensemble", "1", "--max-steps", "3",
                 "--no-baseline", "--out", str(out)]) == 0  # networks at chance: the statistics win
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["summary_mix"] == metrics["segment_selection"]["summary_mix"]["chosen"] > 0
    assert f"series features: w = {metrics['summary_mix']:g} of their logistic regression mixed" in printed
    given = tmp_path / "given"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--ensemble", "1", "--max-steps", "30",
                 "--conv-segments", "1", "--summary-mix", "0.5", "--no-baseline", "--out", str(given)]) == 0
    assert json.loads((given / "metrics.json").read_text())["summary_mix"] == 0.5
    with pytest.raises(SystemExit):
        main(["classify", str(train), "--summary-mix", "2", "--out", str(tmp_path / "bad")])
    assert "expected a weight in [0, 1], got '2'" in capsys.readouterr().err
