"""The phase member (``phase_member``, on by default): where the automatic block width is aligned
to the series' period p, the ensemble's last member reads the p phases of the period as
channels of their own, each standardised within its series, with their level and scale beside
them. Its input, its network's shapes and gradients, save/load, models saved before it, the
selection's candidates (which never read phases) and the CLI flag."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks import classify_select
from lstmkit.tasks.classify import ClassifierParams, fold, series_statistics, standardise_series

from test_classifier import saved_before, write_ts
from test_classify_fold import SMALL

QUICK = {**SMALL, "max_epochs": 1, "conv_segments": 1, "summary_mix": 0, "trend_window": 0, "conv_max": False}


def interleaved(n=8, length=1000, seed=0):
    """Four quantities written in turn (period 4), the third far above the others; the class is
    how fast the second one wobbles, by a hundredth of the series' spread."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        label = "sine" if i % 2 == 0 else "square"
        steps = length - 4 * (i % 3)
        x = np.tile([0.0, 1.0, 5.0, 0.2], steps // 4) + rng.normal(0, 0.01, steps)
        x[1::4] += 0.05 * np.sin(np.arange(steps // 4) * (0.3 if label == "sine" else 0.1))
        seqs.append(x[:, None].astype(np.float32))
        labels.append(label)
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["v"], source="interleaved",
                        ids=np.array([str(i) for i in range(n)]))


@pytest.fixture(scope="module")
def fitted():
    data = interleaved()
    return data, lstmkit.Classifier(**QUICK).fit(data)


def test_the_last_member_reads_the_phases(fitted):
    data, clf = fitted
    assert clf.params.phase_member is True and ClassifierParams().phase_member is True
    assert clf.period == 4 and clf.member_downsample == [8, 8, 8] and clf.phase_member
    width = clf.phase_width
    assert width == 3 * 4  # 4 phase channels, their level and scale
    config = clf.net.config
    assert config.member_channels == (clf.input_channels,) * 2 + (width,) and config.member_folds == (8, 8, 2)
    first, last = clf.net.members[0], clf.net.members[-1]
    assert first.conv.convs[0].in_channels == 8 * clf.input_channels  # d values of the folded series
    assert last.conv.convs[0].in_channels == 2 * width  # d / p = 2 periods of the phase channels
    assert last.encoder.input_size == clf.member_patch[-1] * 2 * width == first.encoder.input_size // 8 * 2 * width
    xs, lengths = clf.member_tensors(data)
    np.testing.assert_array_equal(xs[0].numpy(), clf.tensors(data)[0].numpy())  # the others: as before
    phased, phase_lengths = clf.tensors(data, 8, clf.member_patch[-1], phases=True)
    np.testing.assert_array_equal(xs[-1].numpy(), phased.numpy())
    np.testing.assert_array_equal(lengths[-1].numpy(), lengths[0].numpy())  # L/d steps either way


def test_phase_channels_are_standardised_within_each_series(fitted):
    data, clf = fitted
    seq = data.sequences[3]  # 1000 steps
    phases = fold(seq, 4)  # (250, 4): x_{4j + i} in channel i
    np.testing.assert_array_equal(phases[:, 2], seq[2::4, 0])
    z = clf.phase_channels(seq)
    assert z.shape == (250, 12)
    np.testing.assert_allclose(z[:, :4], standardise_series(phases), atol=1e-5)
    np.testing.assert_allclose(z[:, :4].std(axis=0), 1.0, atol=1e-4)  # each phase at unit scale: the wobble is seen
    stats = (series_statistics(phases, clf.phase_std) - clf.phase_stats_mean) / clf.phase_stats_std
    np.testing.assert_allclose(z[:, 4:], np.broadcast_to(stats, (250, 8)), atol=1e-5)
    assert np.ptp(z[:, 4:], axis=0).max() == 0  # level and scale: constant in time
    # the third phase sits far above the others: its level channel says so
    levels = [clf.phase_channels(s)[0, 8:12] for s in data.sequences]
    np.testing.assert_allclose(np.mean(levels, axis=0), 0.0, atol=1e-5)  # standardised over the training series
    # on the series' one scale the wobble is about a hundredth of the spread: flat to the eye
    whole = clf.standardise(seq)[1::4, 0]
    assert whole.std() < 0.05


def test_an_offset_drops_whole_periods(fitted):
    data, clf = fitted
    k = clf.member_patch[-1]
    shifted, _ = clf.tensors(data, 8, k, offset=8, phases=True)
    z = clf.phase_channels(data.sequences[0])[2:]  # 8 steps = 2 periods later
    expected = fold(z, 2)[: 2 * k].reshape(2, -1)  # the first two LSTM steps
    np.testing.assert_allclose(shifted[0, :2].numpy(), expected, atol=1e-6)


def test_the_phase_member_learns(fitted):
    data, clf = fitted
    clf.net.train()
    xs, lengths = clf.member_tensors(data)
    logits = clf.net.member_logits(list(xs), list(lengths))
    assert logits.shape == (3, len(data), 2)
    loss = torch.nn.functional.cross_entropy(logits[-1], torch.as_tensor(data.label_indices(clf.classes)))
    clf.net.zero_grad()
    loss.backward()
    last = clf.net.members[-1]
    for weight in (last.conv.convs[0].weight, last.head.weight, next(last.encoder.parameters())):
        assert weight.grad is not None and torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in clf.net.members[0].parameters())
    clf.net.zero_grad()
    clf.net.eval()


def test_save_load_and_models_saved_before(fitted, tmp_path):
    data, clf = fitted
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.phase_member and loaded.params.phase_member
    np.testing.assert_array_equal(loaded.phase_std, clf.phase_std)
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["state"]["phase_member"] is True and len(config["state"]["phase_stats_mean"]) == 8
    plain = lstmkit.Classifier(**QUICK, phase_member=False).fit(data)
    assert not plain.phase_member and plain.phase_std is None and plain.net.config.member_channels is None
    old = saved_before(plain, tmp_path / "old", "phase_member", "phase_member")  # as written before the option
    assert not old.phase_member and old.params.phase_member is False
    np.testing.assert_array_equal(old.predict_proba(data), plain.predict_proba(data))


def test_where_no_member_reads_phases():
    data = interleaved()
    for options in ({"ensemble": 1}, {"downsample": 8}, {"downsample_mode": "mean"}, {"align_period": False}):
        clf = lstmkit.Classifier(**{**QUICK, **options}).fit(data)
        assert not clf.phase_member and clf.net.config.member_channels is None, options
    rng = np.random.default_rng(1)  # no period: nothing to read in phases
    noise = SequenceData([rng.normal(size=(1000, 1)).astype(np.float32) for _ in range(6)],
                         np.array(["sine", "square"] * 3), ["sine", "square"], ["v"], source="noise",
                         ids=np.array([str(i) for i in range(6)]))
    clf = lstmkit.Classifier(**QUICK).fit(noise)
    assert clf.period is None and not clf.phase_member


def test_the_selections_candidates_never_read_phases(monkeypatch):
    seen = []

    def record(estimator, options, data, seed, say=None, folds=3):
        seen.extend(options)
        members = sum(int(o["ensemble"]) for o in options)
        return np.full((members, len(data), len(data.classes)), 1.0 / len(data.classes))

    monkeypatch.setattr(classify_select, "_cross_validated_proba", record)
    data = interleaved(n=12)
    clf = lstmkit.Classifier(**{**QUICK, "conv_segments": None, "values_mix": 0, "values_branch": False}).fit(data)  # w, v given: no mixture to weigh
    assert seen and all(o["phase_member"] is False for o in seen)
    assert clf.phase_member  # the model's own last member does


def test_the_mixtures_weight_is_weighed_against_both_readings(monkeypatch):
    calls, weighed = [], []

    def fake(estimator, options, data, seed, say=None, folds=3):  # every network's held-out probabilities: its call's index
        calls.append(options)
        members = sum(int(o["ensemble"]) for o in options)
        out = np.zeros((members, len(data), len(data.classes)))
        for m in range(members):
            out[m, :, 0] = 0.1 * (len(calls) + m)
            out[m, :, 1] = 1.0 - out[m, :, 0]
        return out

    def weigh(data, proba, seed, *args, **kwargs):
        weighed.append(np.array(proba))
        return {"chosen": 0.0, "choices": [0.0]}

    monkeypatch.setattr(classify_select, "_cross_validated_proba", fake)
    monkeypatch.setattr(classify_select, "select_summary_mix", weigh)
    data = interleaved(n=12)
    clf = lstmkit.Classifier(**{**QUICK, "conv_segments": None, "summary_mix": None, "trend_window": 0})
    assert clf.reads_phases(data)
    record = classify_select.select_conv_segments(clf, data)
    assert record["chosen"] == 1 and record["summary_mix"]["phase_member"] is True
    phased = calls[-1]
    assert len(phased) == 1 and phased[0]["phase_member"] is True and phased[0]["ensemble"] == 2
    assert phased[0]["conv_segments"] == 1 and all(o["phase_member"] is False for c in calls[:-1] for o in c)
    # the chosen candidate (the first network of the first call: 0.1) twice, the phase reader (the
    # second network of the last call) once, as the model's three members average
    reader = 0.1 * (len(calls) + 1)
    np.testing.assert_allclose(weighed[0][:, 0], (2 * 0.1 + reader) / 3)
    # without a phase member the chosen candidate's probabilities alone, and no extra networks
    calls.clear(), weighed.clear()
    record = classify_select.select_conv_segments(lstmkit.Classifier(**{**QUICK, "conv_segments": None,
                                                                         "summary_mix": None, "trend_window": 0,
                                                                         "phase_member": False}), data)
    assert len(calls) == 1 and record["summary_mix"]["phase_member"] is False
    np.testing.assert_allclose(weighed[0][:, 0], 0.1)
    assert "phase-reading" in classify_select.describe_summary_mix(
        {"chosen": 0.0, "choices": [0.0, 0.25], "log_loss": [1.0, 0.9], "accuracy": [0.5, 0.6],
         "difference": None, "summary_alone": [1.2, 0.4], "rule": "log_loss", "features": "series",
         "phase_member": True})


@pytest.mark.slow
def test_the_cli_flag(tmp_path):
    from lstmkit.cli.classify import PHASE_MEMBER

    assert PHASE_MEMBER == ClassifierParams().phase_member
    data = interleaved(n=12)
    train = write_ts(tmp_path / "train.ts", data)
    for flags in ([], ["--no-phase-member"]):
        out = tmp_path / f"run{len(flags)}"
        assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "2",
                     "--conv-segments", "1", "--no-baseline", *flags, "--out", str(out)]) == 0
        saved = json.loads((out / "config.json").read_text())
        assert saved["params"]["phase_member"] is (not flags) and saved["state"]["phase_member"] is (not flags)
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["period"] == 4 and metrics["phase_member"] is (not flags)
