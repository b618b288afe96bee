"""The automatic block width aligned to the series' dominant period (``align_period``, on by
default): the period found, when it applies, the folded steps it gives, save/load, models
saved before it and the CLI flag."""

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify import ClassifierParams, automatic_downsampling, dominant_period

from test_classifier import saved_before, write_ts
from test_classify_fold import SMALL

PATTERNS = {"sine": np.array([0.0, 1.0, -1.0]), "square": np.array([1.0, 1.0, -2.0])}  # period 3


def periodic(n=8, length=1000, noise=0.1, seed=0):
    """Two classes of a period-3 pattern (differing in its shape) plus noise, lengths near 1000."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        label = "sine" if i % 2 == 0 else "square"
        steps = length - i % 3
        wave = np.tile(PATTERNS[label], steps // 3 + 1)[:steps]
        seqs.append((wave + noise * rng.normal(size=steps))[:, None].astype(np.float32))
        labels.append(label)
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["v"], source="periodic",
                        ids=np.array([str(i) for i in range(n)]))


def test_the_dominant_period_and_its_strength():
    p, rho = dominant_period(periodic().sequences, 1000)
    assert p == 3 and rho > 0.9
    t = np.arange(1000)
    slow = [np.sin(2 * np.pi * t / 500 + k)[:, None] for k in range(4)]  # one strong but long period
    assert dominant_period(slow, 1000)[0] == 500
    noise = [np.random.default_rng(k).normal(size=(1000, 2)) for k in range(4)]
    assert abs(dominant_period(noise, 1000)[1]) < 0.2  # white noise: no repeating pattern


def test_the_automatic_block_width():
    seqs = periodic().sequences
    assert automatic_downsampling(seqs, 1000.0, True) == (9, 3)  # round(1000 / 128) = 8 -> 3 * round(2.6)
    assert automatic_downsampling(seqs, 1000.0, False) == (8, None)
    t = np.arange(1000)
    slow = [np.sin(2 * np.pi * t / 500 + k)[:, None] for k in range(4)]
    assert automatic_downsampling(slow, 1000.0, True) == (8, None)  # the period is longer than a block
    noise = [np.random.default_rng(k).normal(size=(1000, 1)) for k in range(4)]
    assert automatic_downsampling(noise, 1000.0, True) == (8, None)  # too weak
    assert automatic_downsampling(seqs, 150.0, True) == (1, None)  # read whole: nothing to align
    assert ClassifierParams().align_period is True
    from lstmkit.tasks.classify import member_downsampling

    assert member_downsampling(12, (1, 0.5, 2), 3, period=4) == [12, 8, 24]  # every member: whole periods
    assert member_downsampling(9, (1, 0.5, 2), 3, period=3) == [9, 6, 18]  # 4.5 / 3 = 1.5 rounds up
    assert member_downsampling(12, (1, 0.5, 2), 3) == [12, 6, 24]


@pytest.mark.slow
def test_aligned_blocks_hold_whole_periods_at_one_phase(tmp_path):
    data = periodic(noise=0.0)
    clf = lstmkit.Classifier(**SMALL, max_epochs=1).fit(data)
    assert (clf.downsample, clf.period) == (9, 3) and clf.patch == (-(-999 // 9)) // 16  # median 999
    x, lengths = clf.tensors(data)
    steps = x[0, : int(lengths[0])].reshape(-1, 9)  # sequence 0 (1000 steps): its folded steps
    assert steps.shape[0] >= 112  # 111 whole blocks of 9, then the last step repeated
    np.testing.assert_allclose(steps[1:111].numpy(), steps[:110].numpy(), atol=1e-5)  # every block alike
    assert clf.net.members[0].conv.convs[0].in_channels == 9
    unaligned = lstmkit.Classifier(**SMALL, max_epochs=1, align_period=False).fit(data)
    assert (unaligned.downsample, unaligned.period) == (8, None)
    given = lstmkit.Classifier(**SMALL, max_epochs=1, downsample=8).fit(data)
    assert (given.downsample, given.period) == (8, None)  # a width given is kept
    mean = lstmkit.Classifier(**SMALL, max_epochs=1, downsample_mode="mean").fit(data)
    assert (mean.downsample, mean.period) == (8, None)  # averaging whole periods would erase them
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert (loaded.downsample, loaded.period, loaded.params.align_period) == (9, 3, True)
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["state"]["period"] == 3 and config["state"]["downsample"] == 9
    # a model as lstmkit wrote it before the alignment: no period, no align_period
    old = saved_before(unaligned, tmp_path / "old", "period", "align_period")
    assert (old.downsample, old.period, old.params.align_period) == (8, None, False)
    np.testing.assert_array_equal(old.predict_proba(data), unaligned.predict_proba(data))


@pytest.mark.slow
def test_the_cli_flag(tmp_path):
    from lstmkit.cli.classify import ALIGN_PERIOD

    assert ALIGN_PERIOD == ClassifierParams().align_period
    train = write_ts(tmp_path / "train.ts", periodic(n=12))
    for flags, d in (([], 9), (["--no-align-period"], 8)):
        out = tmp_path / f"run{d}"
        assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                     "--no-baseline", *flags, "--out", str(out)]) == 0
        saved = json.loads((out / "config.json").read_text())
        assert saved["params"]["align_period"] is (not flags) and saved["state"]["downsample"] == d
        metrics = json.loads((out / "metrics.json").read_text())
        assert (metrics["downsample"], metrics["period"]) == (d, None if flags else 3)
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--no-align-period=1", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
