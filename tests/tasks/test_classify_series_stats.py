"""The series' own level and scale beside their per-series standardisation
(``series_stats``, on by default): what standardising a series alone takes away comes back as
2C channels constant in time; values, learning, save/load, models saved before and the CLI."""

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify import ClassifierParams, series_statistics

from test_classifier import saved_before, write_ts
from test_classify_fold import SMALL
from test_classify_scaling import shapes


def scales(n=40, length=30, seed=0):
    """Two classes of the same random shapes (a ramp of random sign and slope, plus noise) told
    apart by amplitude alone: "sine" at 10^0..10^1, "square" at 10^3..10^4."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1.0, 1.0, length)
    seqs, labels = [], []
    for i in range(n):
        label = "sine" if i % 2 == 0 else "square"
        scale = 10.0 ** (rng.uniform(0.0, 1.0) + (0.0 if label == "sine" else 3.0))
        wave = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5) * ramp + 0.3 * rng.normal(size=length)
        seqs.append((scale * wave)[:, None].astype(np.float32))
        labels.append(label)
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["v"], source="scales",
                        ids=np.array([str(i) for i in range(n)]))


def test_the_statistics_values():
    seq = np.array([[3.0, 1.0], [7.0, 1.0]])  # channel 0: mean 5, std 2; channel 1 constant at 1
    stats = series_statistics(seq, np.array([20.0, 4.0]))
    np.testing.assert_allclose(stats[:2], [-1.0, -6.0], rtol=1e-6)  # log10(2 / 20); a flat channel: the floor
    np.testing.assert_allclose(stats[2:], [np.arcsinh(2.5), np.arcsinh(1.0 / 4e-6)], rtol=1e-6)
    assert series_statistics(-seq, np.array([20.0, 4.0]))[2] == pytest.approx(-np.arcsinh(2.5))


def test_they_reach_the_networks_as_standardised_constant_channels():
    assert ClassifierParams().series_stats is True
    data = shapes()
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=1, patch=1).fit(data)
    assert clf.per_series and clf.input_channels == 3
    stats = np.stack([series_statistics(seq, clf.channel_std) for seq in data.sequences])
    np.testing.assert_allclose(clf.stats_mean, stats.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(clf.stats_std, stats.std(axis=0), rtol=1e-5)
    x, lengths = clf.tensors(data)  # d = 1, patch 1: (N, L, 3)
    assert x.shape[2] == 3 and clf.net.members[0].encoder.input_size == 3
    for i in (0, 5, 11):
        wanted = (stats[i] - clf.stats_mean) / clf.stats_std
        np.testing.assert_allclose(x[i, : int(lengths[i]), 1:].numpy(),
                                   np.broadcast_to(wanted, (int(lengths[i]), 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x[:, :, 1:].mean(dim=(0, 1)).numpy(), 0.0, atol=1e-5)  # equal lengths
    # one global scale keeps the level and scale in the values themselves: nothing added
    assert lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=1, scaling="global").fit(data).input_channels == 1
    off = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=1, patch=1, series_stats=False).fit(data)
    assert off.per_series and off.stats_mean is None and off.tensors(data)[0].shape[2] == 1


def test_classes_told_apart_by_scale_alone_are_learnt_only_with_them():
    train, test = scales(seed=0), scales(seed=1)
    options = dict(**SMALL, ensemble=1, conv_segments=1, max_steps=120, scaling="series", seed=0)
    with_stats = lstmkit.Classifier(**options).fit(train)
    without = lstmkit.Classifier(**options, series_stats=False).fit(train)
    assert with_stats.evaluate(test)["accuracy"] == 1.0
    # standardised alone, the two classes' series are draws from one distribution
    assert without.evaluate(test)["accuracy"] <= 0.75


def test_save_load_and_models_saved_before_the_option(tmp_path):
    data = shapes()
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=2).fit(data)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.series_stats and loaded.input_channels == 3
    np.testing.assert_array_equal(loaded.stats_std, clf.stats_std)
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    # a model as lstmkit wrote it before the option: series scaled alone, no statistics
    plain = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=2, series_stats=False).fit(data)
    old = saved_before(plain, tmp_path / "old", "stats_mean", "series_stats")
    assert old.per_series and old.stats_mean is None and old.params.series_stats is False
    np.testing.assert_array_equal(old.predict_proba(data), plain.predict_proba(data))


def test_the_cli_flag(tmp_path):
    train = write_ts(tmp_path / "train.ts", shapes())
    for flags, on in (([], True), (["--no-series-stats"], False)):
        out = tmp_path / f"run{int(on)}"
        assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                     "--no-baseline", *flags, "--out", str(out)]) == 0
        config = json.loads((out / "config.json").read_text())
        assert config["params"]["series_stats"] is on
        assert (config["state"]["stats_mean"] is not None) is on
        assert json.loads((out / "metrics.json").read_text())["series_stats"] is on
    from lstmkit.cli.classify import SERIES_STATS

    assert SERIES_STATS == ClassifierParams().series_stats
