"""Time-warped copies of the training series (``warp_copies=W``): the warp's positions, the copies'
values, labels and ids, their determinism, that the networks train on them while the selection and
the scaling read the series alone, save/load, and bad values."""

import numpy as np
import pytest

import lstmkit
from lstmkit.tasks import classify as classify_module
from lstmkit.tasks.classify import ClassifierParams
from lstmkit.tasks.classify_augment import time_warp, warp_positions, warped_copies

from test_classifier import synthetic

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (5, 3, 3), "ensemble": 2,
         "conv_segments": 1, "conv_max": False, "fold_scales": (1.0,), "values_branch": False,
         "summary_mix": 0.0, "values_mix": 0.0, "trend_window": 0, "max_steps": 30}


@pytest.mark.parametrize("length", [3, 10, 200])
def test_positions_run_from_the_first_step_to_the_last_in_order(length):
    rng = np.random.default_rng(5)
    for _ in range(20):
        tau = warp_positions(length, rng)
        assert tau.shape == (length,)
        assert tau[0] == 0.0 and tau[-1] == pytest.approx(length - 1.0)
        assert np.all(np.diff(tau) > 0)  # every part once, in order


def test_positions_move_by_the_strength():
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(warp_positions(50, rng, strength=0.0), np.arange(50.0))  # s = 0: no warp
    mild = [np.abs(warp_positions(200, np.random.default_rng(s), 0.1) - np.arange(200)).max() for s in range(30)]
    strong = [np.abs(warp_positions(200, np.random.default_rng(s), 0.6) - np.arange(200)).max() for s in range(30)]
    assert 0 < np.mean(mild) < np.mean(strong)
    assert warp_positions(2, rng).tolist() == [0.0, 1.0]  # too short to warp


def test_a_copy_reads_every_channel_at_the_positions():
    seq = np.stack([np.arange(6.0), 10.0 * np.arange(6.0) ** 2], axis=1).astype(np.float32)
    tau = np.array([0.0, 0.5, 1.75, 3.0, 4.5, 5.0])
    out = time_warp(seq, tau)
    assert out.dtype == np.float32 and out.shape == (6, 2)
    np.testing.assert_allclose(out[:, 0], tau)  # a ramp read at tau is tau
    # the square channel between its steps: linear interpolation (1.75: 10 + 0.75 * 30)
    np.testing.assert_allclose(out[:, 1], [0.0, 5.0, 32.5, 90.0, 205.0, 250.0])


def test_copies_follow_the_originals_with_their_labels():
    data = synthetic(6, seed=0)
    out = warped_copies(data, 2, seed=3)
    assert len(out) == 18 and len(data) == 6
    for i in range(6):
        np.testing.assert_array_equal(out.sequences[i], data.sequences[i])  # the originals first, unchanged
        for c in (1, 2):
            j = c * 6 + i
            assert out.labels[j] == data.labels[i] and out.ids[j] == f"{data.ids[i]}~{c}"
            assert out.sequences[j].shape == data.sequences[i].shape
            assert not np.array_equal(out.sequences[j], data.sequences[i])
            assert out.sequences[j][0] == pytest.approx(data.sequences[i][0])  # same first and last step
            assert out.sequences[j][-1] == pytest.approx(data.sequences[i][-1])
    again = warped_copies(data, 2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(out.sequences, again.sequences))
    other = warped_copies(data, 2, seed=4)
    assert not np.array_equal(other.sequences[6], out.sequences[6])
    assert warped_copies(data, 0, seed=3) is data


def test_the_networks_train_on_the_copies_and_the_scaling_on_the_series(monkeypatch):
    data = synthetic(12, seed=1)
    seen = []
    original = classify_module.Classifier.view_tensors

    def spy(self, d, multi):
        seen.append(len(d))
        return original(self, d, multi)

    monkeypatch.setattr(classify_module.Classifier, "view_tensors", spy)
    clf = lstmkit.Classifier(**SMALL, warp_copies=3, seed=0).fit(data)
    assert seen == [48]  # 12 series and 3 copies of each
    plain = lstmkit.Classifier(**SMALL, seed=0).fit(data)
    np.testing.assert_array_equal(clf.channel_mean, plain.channel_mean)  # the statistics of the series alone
    np.testing.assert_array_equal(clf.channel_std, plain.channel_std)
    assert not np.allclose(clf.predict_proba(data), plain.predict_proba(data))


def test_save_and_load_keep_the_option(tmp_path):
    data, test = synthetic(16, seed=2), synthetic(8, seed=3)
    clf = lstmkit.Classifier(**SMALL, warp_copies=2, seed=1).fit(data)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.warp_copies == 2 and loaded.warp_copies == 2
    np.testing.assert_array_equal(loaded.predict_proba(test), clf.predict_proba(test))


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_bad_counts_are_refused(bad):
    with pytest.raises(ValueError, match="warp_copies must be a whole number >= 0"):
        ClassifierParams(warp_copies=bad)


def test_the_automatic_count_follows_the_median_class():
    from lstmkit.tasks.classify_augment import warp_copies_for

    data = synthetic(12, seed=0)  # 6 per class
    assert warp_copies_for(None, data) == 0 and warp_copies_for(5, data) == 5
    assert warp_copies_for(None, data.subset([0, 1])) == 9  # one series per class
    assert warp_copies_for(None, data.subset([0, 1, 2])) == 6  # 2 and 1: the median class has 1.5
    assert warp_copies_for(None, data.subset([0, 1, 2, 3])) == 4  # two: weighed on the 2 folds when fitted
    assert warp_copies_for(None, data.subset([0, 2, 4, 6, 8, 1])) == 0  # 5 and 1: the median class has 3
    assert warp_copies_for(4, data.subset([0, 1, 2, 3])) == 4


def test_the_cli_flag(tmp_path, capsys):
    import json

    from lstmkit.cli.classify import WARP_COPIES
    from lstmkit.cli.main import main
    from test_classifier import write_ts

    assert WARP_COPIES == ClassifierParams().warp_copies  # the CLI's default is the library's
    train = tmp_path / "train.ts"
    write_ts(train, synthetic(2, seed=0))  # one series per class
    test = write_ts(tmp_path / "test.ts", synthetic(6, seed=1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-steps", "4", "--ensemble", "1",
                 "--conv-segments", "1", "--warp-copies", "auto", "--no-baseline", "--out", str(out)]) == 0
    assert ("warped copies: the networks trained on every series and 9 time-warped copies of it (20 series"
            in capsys.readouterr().out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["warp_copies"] == 9
    assert json.loads((out / "config.json").read_text())["params"]["warp_copies"] is None
    with pytest.raises(SystemExit) as stopped:  # argparse: usage and one error line, exit 2
        main(["classify", str(train), "--warp-copies", "-2", "--out", str(tmp_path / "bad")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--warp-copies" in err and "-2" in err and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("bad", [-0.1, 2.5])
def test_bad_strengths_are_refused(bad):
    with pytest.raises(ValueError, match="warp_strength must lie in"):
        ClassifierParams(warp_strength=bad)


def test_the_strength_reaches_the_copies(monkeypatch):
    from lstmkit.tasks import classify_augment

    got = []
    original = classify_augment.warp_positions

    def spy(length, rng, strength=classify_augment.WARP_STRENGTH, knots=classify_augment.WARP_KNOTS):
        got.append(strength)
        return original(length, rng, strength, knots)

    monkeypatch.setattr(classify_augment, "warp_positions", spy)
    lstmkit.Classifier(**SMALL, warp_copies=1, warp_strength=0.15, seed=0).fit(synthetic(6, seed=0))
    assert got == [0.15] * 6
