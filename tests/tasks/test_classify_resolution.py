"""``fold_scales=None`` on series read whole: the members at 1/2/4 or every one at full resolution,
chosen by a cross-validation on the training series (``classify_select.select_fold_scales``): the
record, the rule's outcome, the fit it leads to, when it runs, save/load and the CLI's report."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.tasks import classify_select
from lstmkit.tasks.classify_select import describe_resolution

from test_classify_select import bumps, spy_on_fits

# series of 80 steps: read whole (d = 1) and long enough for the multi-resolution ensemble
TINY = {"hidden_size": 8, "conv_channels": (8, 8, 8), "conv_kernels": (8, 5, 3), "ensemble": 3,
        "conv_segments": 1, "progress": False}


def long_bumps(n: int, seed: int):
    return bumps(n, seed, length=80)


def test_the_record_and_the_members_it_leads_to():
    x, y = long_bumps(24, seed=0)
    clf = lstmkit.Classifier(**TINY, max_steps=20).fit(x, y)
    record = clf.resolution_selection
    assert record["skipped"] is None and record["folds"] == 3
    assert record["choices"] == [(1.0, 2.0, 4.0), (1.0,)] and record["standins"] == [4.0, 1.0]
    assert len(record["log_loss"]) == len(record["accuracy"]) == 2 and record["difference"][0] is None
    mean, se = record["difference"][1]
    assert mean == pytest.approx(record["log_loss"][1] - record["log_loss"][0], abs=1e-5) and se >= 0
    assert record["seconds"] > 0
    expected = [1, 1, 1] if record["chosen"] == (1.0,) else [1, 2, 4]
    assert clf.member_downsample == expected
    line = describe_resolution(record)
    assert line.startswith("fold scales: ") and "chosen by 3-fold cross-validation" in line
    assert f"blocks of 1: log-loss {record['log_loss'][1]:.3f} ({mean:+.3f} ± {se:.3f} against blocks of 4)" in line


@pytest.mark.parametrize("forced, given", [(0, (1.0, 2.0, 4.0)), (1, (1.0,))])
def test_the_fit_after_the_selection_is_the_fit_with_those_scales_given(monkeypatch, forced, given):
    """The selection draws its own random numbers: the model is the one a user gets by giving the
    chosen fold scales, bit for bit."""
    x, y = long_bumps(18, seed=1)
    monkeypatch.setattr(classify_select, "choose", lambda loss, acc, choices: forced)
    chosen = lstmkit.Classifier(**TINY, max_epochs=2, seed=3).fit(x, y)
    fixed = lstmkit.Classifier(**TINY, max_epochs=2, seed=3, fold_scales=given).fit(x, y)
    assert chosen.resolution_selection["chosen"] == given and fixed.resolution_selection is None
    assert chosen.member_downsample == fixed.member_downsample == ([1, 2, 4] if forced == 0 else [1, 1, 1])
    np.testing.assert_array_equal(chosen.predict_proba(x), fixed.predict_proba(x))


def test_the_selection_networks_options(monkeypatch):
    """Two networks per fold (blocks of 4 and of 1) at the model's P, dropout and mixup, the
    selection's step budget, a quarter of a time budget among them."""
    seen = spy_on_fits(monkeypatch)
    x, y = long_bumps(18, seed=2)
    options = {**TINY, "conv_segments": (1, 3, 3), "segment_dropout": (0.5, 0.0, 0.0), "mixup": (0.3, 0.0, 0.0)}
    lstmkit.Classifier(**options, max_epochs=1, max_time=12.0).fit(x, y)
    inner = seen[1:]
    assert len(inner) == 3
    for params in inner:
        assert params["ensemble"] == 2 and params["fold_scales"] == (4.0, 1.0) and params["kernel_scales"] == (1.0,)
        assert params["conv_segments"] == 1 and params["segment_dropout"] == 0.5 and params["mixup"] == 0.3
        assert params["max_time"] == pytest.approx(1.0) and params["max_steps"] == 300
        assert params["fold_offsets"] == 1 and params["val_fraction"] == 0.0


@pytest.mark.parametrize("options, length", [
    ({"fold_scales": (1.0, 2.0, 4.0)}, 80),  # given
    ({}, 48),  # shorter than 64 steps: every member at d anyway
    ({"ensemble": 1}, 80),  # one member reads at full resolution in either case
    ({"downsample": 2}, 200),  # folded: every member at d
])
def test_when_it_does_not_run(options, length):
    x, y = bumps(15, seed=4, length=length)
    clf = lstmkit.Classifier(**{**TINY, **options}, max_epochs=1).fit(x, y)
    assert clf.resolution_selection is None


def test_a_single_series_in_a_class_keeps_the_three_resolutions():
    x, _ = long_bumps(12, seed=5)
    y = np.array(["rare"] + ["many"] * 11)  # one class to hold series out of: nothing to compare on
    clf = lstmkit.Classifier(**TINY, max_epochs=1).fit(x, y)
    record = clf.resolution_selection
    assert record["chosen"] == (1.0, 2.0, 4.0) and record["log_loss"] is None and record["seconds"] == 0.0
    assert clf.member_downsample == [1, 2, 4]
    assert describe_resolution(record) == ("fold scales: 1/2/4 (only 1 class has two or more training series to "
                                           "hold out: fold scales 1/2/4 kept)")


def test_saved_with_the_model_and_reported(tmp_path, capsys):
    from lstmkit.cli.main import main

    x, y = long_bumps(18, seed=6)
    clf = lstmkit.Classifier(**TINY, max_epochs=1).fit(x, y)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.resolution_selection == json.loads(json.dumps(clf.resolution_selection))
    assert loaded.params.fold_scales is None and loaded.member_downsample == clf.member_downsample
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))

    train = tmp_path / "train.ts"
    rows = [",".join(f"{v:.5f}" for v in series[0]) + f":{label}" for series, label in zip(x, y)]
    train.write_text("\n".join(["@problemName bumps", "@timeStamps false", "@univariate true",
                                "@equalLength true", "@classLabel true early late", "@data", *rows]) + "\n")
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--conv-segments", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "fold scales: " in printed and "chosen by 3-fold cross-validation" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resolution_selection"]["standins"] == [4.0, 1.0]
