"""``trend_window``: every channel read as its detail around a centred moving average and that
average (:func:`lstmkit.tasks.classify.trend_split`): the values against a plain loop, the
channels the networks read, save/load, the parameter's and the flag's errors, a series whose
class is a sine's frequency over a random walk, which the split lets the network learn, and the
split as a candidate of the selection (``trend_window=None``)."""

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify import trend_split
from lstmkit.tasks.classify_select import TREND_SHARE, describe, trend_candidate_window

from test_classifier import write_ts
from test_classify_fold import SMALL


def test_trend_split_is_a_centred_moving_average_and_its_remainder():
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    for window, half in ((5, 2), (6, 3), (2, 1), (101, 50)):  # even windows take one step more
        split = trend_split(x, window)
        assert split.shape == (40, 6) and split.dtype == np.float32
        padded = np.concatenate([np.repeat(x[:1], half, 0), x, np.repeat(x[-1:], half, 0)])
        expected = np.stack([padded[t:t + 2 * half + 1].mean(axis=0) for t in range(40)])
        np.testing.assert_allclose(split[:, 3:], expected, atol=1e-5)
        np.testing.assert_allclose(split[:, :3] + split[:, 3:], x, atol=1e-5)  # nothing lost
    ramp = np.arange(30, dtype=np.float32)[:, None]
    assert np.allclose(trend_split(ramp, 7)[3:-3, 0], 0, atol=1e-5)  # a straight line is all trend


def wandering(n: int, seed: int, length: int = 600) -> SequenceData:
    """Two classes, a sine of period 30 ("sine") or 45 steps ("square", the name test_classifier's
    .ts writer declares) over a random walk that wanders far beyond it."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    seqs, labels = [], []
    for i in range(n):
        period = (30, 45)[i % 2]
        walk = np.cumsum(rng.normal(0, 0.3, length))
        seqs.append((np.sin(2 * np.pi * t / period + rng.uniform(0, 6.3)) + walk)[:, None].astype(np.float32))
        labels.append(("sine", "square")[i % 2])
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["v"], source="wandering",
                        ids=np.array([str(i) for i in range(n)]))


def test_the_network_reads_both_parts_and_the_model_saves_them(tmp_path):
    data = wandering(12, 0)
    clf = lstmkit.Classifier(**SMALL, ensemble=1, conv_segments=1, max_steps=20, trend_window=61, scaling="series",
                             seed=0).fit(data)
    assert clf.per_series and clf.input_channels == 2 + 2  # detail, trend, and the series' level and scale
    plain = lstmkit.Classifier(**SMALL, ensemble=1, conv_segments=1, max_steps=1, trend_window=61, scaling="global",
                               seed=0).fit(data)
    assert not plain.per_series and plain.input_channels == 2 and plain.standardise(data.sequences[0]).shape == (600, 2)
    x, _ = clf.tensors(data)
    standardised = clf.standardise(data.sequences[0])
    assert standardised.shape == (600, 4)
    np.testing.assert_allclose(standardised[:, :2], trend_split(standardised[:, :1] + standardised[:, 1:2], 61),
                               atol=1e-5)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.trend_window == 61
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    for bad in (1, -2, 2.5, "3", True):
        with pytest.raises(ValueError, match=r"trend_window must be a whole number of steps >= 2, 0 \(off\) or None"):
            lstmkit.Classifier(trend_window=bad)
    old = json.loads((tmp_path / "m" / "config.json").read_text())  # a model saved before the trend's choice
    del old["state"]["trend_window"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(old))
    before = lstmkit.Classifier.load(tmp_path / "m")
    assert before.trend_window == 61 and before.input_channels == 4
    np.testing.assert_array_equal(before.predict_proba(data), clf.predict_proba(data))


def test_a_sine_over_a_random_walk_is_learned_with_the_split():
    train, test = wandering(40, 1), wandering(40, 2)
    options = dict(**SMALL, ensemble=1, conv_segments=1, max_steps=150, seed=0)
    split = lstmkit.Classifier(**options, trend_window=61).fit(train)
    assert split.evaluate(test)["accuracy"] >= 0.9


def test_the_cli_flag(tmp_path, capsys):
    train = write_ts(tmp_path / "train.ts", wandering(12, 0))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--conv-segments", "1", "--no-baseline", "--trend-window", "31", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["params"]["trend_window"] == 31
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--trend-window", "1"])
    assert exit_info.value.code == 2
    assert "--trend-window: expected 0 (off) or a whole number >= 2, got 1" in capsys.readouterr().err
    off = tmp_path / "off"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--no-baseline", "--trend-window", "0", "--out", str(off)]) == 0
    metrics = json.loads((off / "metrics.json").read_text())
    assert metrics["trend_window"] is None and metrics["segment_selection"]["trends"] == [None] * 4


def test_the_candidates_window_is_a_sixteenth_of_the_median_length():
    assert TREND_SHARE == 16
    assert [trend_candidate_window(m) for m in (18000, 600, 48, 40, 24, 20, 1)] == [1125, 38, 3, 3, 2, 2, 2]


@pytest.mark.slow
def test_the_trend_candidate_is_a_model_of_its_own(monkeypatch):
    """Added where the options leave it (None): one network per fold reading the split at twice
    the block width after the others, whose fits stay as they are without it; 0 keeps it out, a
    window given is read by every candidate and none is added."""
    from test_classify_select import spy_on_fits

    data = wandering(12, 3, length=160)
    options = dict(**SMALL, ensemble=1, max_steps=4, seed=1)
    seen = spy_on_fits(monkeypatch)
    chosen = lstmkit.Classifier(**options).fit(data).segment_selection
    assert [o["trend_window"] for o in seen[1:]] == [0, 0, 10] * 3  # 160 steps / 16
    assert [o["fold_scales"] for o in seen[1:]] == [(2.0,), (1.0,), (2.0,)] * 3
    assert chosen["trends"] == [None] * 4 + [10] and len(chosen["log_loss"]) == 5
    seen.clear()
    off = lstmkit.Classifier(**options, trend_window=0).fit(data)
    assert [o["trend_window"] for o in seen[1:]] == [0, 0] * 3 and off.trend_window is None
    assert off.segment_selection["log_loss"] == chosen["log_loss"][:4]  # the other candidates' fits, bit for bit
    assert off.segment_selection["trends"] == [None] * 4
    seen.clear()
    given = lstmkit.Classifier(**options, trend_window=21).fit(data)
    assert [o["trend_window"] for o in seen[1:]] == [21, 21] * 3
    assert given.segment_selection["trends"] == [21] * 4 and given.trend_window == 21
    assert given.segment_selection["offsets"] == [1, 1, 1, 4]  # the maximum's start offsets, as without it
    seen.clear()
    lstmkit.Classifier(**options, conv_segments=1).fit(data)  # no selection: off unless given
    assert len(seen) == 1 and seen[0]["trend_window"] is None


@pytest.mark.slow
def test_the_selection_takes_the_split_where_a_random_walk_hides_the_class():
    train, test = wandering(40, 1), wandering(40, 2)
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_steps=150, seed=0).fit(train)
    record = clf.segment_selection
    assert record["chosen_trend"] == 38 == clf.trend_window and clf.input_channels == 2
    mean, se = record["difference"][-1]
    assert mean + se < 0 and record["accuracy"][-1] > record["accuracy"][0]
    assert "P = 1 split at a trend of 38 chosen by 3-fold" in describe(record)
    assert clf.evaluate(test)["accuracy"] >= 0.9
