"""How the classifier scales its input (``scaling``, ``"auto"`` by default): one mean and std
per channel over the training set, or every series by its own statistics when the training
series' scales span more than SERIES_SCALING_DECADES decades; save/load, models saved before
the option and the CLI flag."""

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify import (SERIES_SCALING_DECADES, ClassifierParams, amplitude_decades,
                                    standardise_series)

from test_classifier import saved_before, write_ts
from test_classify_fold import SMALL


def shapes(n=12, length=40, decades=5.0, seed=0):
    """Two classes told apart by shape (a rising ramp, "sine", or a falling one, plus noise); every series
    at its own amplitude, 10^0 .. 10^decades."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(-1.0, 1.0, length)
    seqs, labels = [], []
    for i in range(n):
        label = "sine" if i % 2 == 0 else "square"  # the labels tests' write_ts declares
        scale = 10.0 ** (decades * i / (n - 1))
        wave = (ramp if label == "sine" else -ramp) + 0.1 * rng.normal(size=length)
        seqs.append((scale * wave + 3.0 * scale)[:, None].astype(np.float32))
        labels.append(label)
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["v"], source="shapes",
                        ids=np.array([str(i) for i in range(n)]))


def test_the_span_of_the_series_scales_in_decades():
    # standard deviations 10^0 .. 10^10, one constant series (not counted): the 10th to 90th
    # percentile of their logs spans 8 decades, whatever the two extremes
    seqs = [np.full((5, 1), 2.0)] + [np.array([[0.0], [2.0 * 10.0 ** k]]) for k in range(11)]
    assert amplitude_decades(seqs) == pytest.approx(8.0)
    assert amplitude_decades(seqs[:2]) == 0.0  # fewer than two series with a scale
    z = standardise_series(np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]]))
    np.testing.assert_allclose(z[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(z[:, 1], [0.0, 0.0, 0.0])  # a constant channel is only shifted


def test_auto_scales_each_series_alone_only_when_the_scales_span_many_decades():
    assert ClassifierParams().scaling == "auto"
    wide, narrow = shapes(decades=SERIES_SCALING_DECADES + 2), shapes(decades=1.0)
    assert lstmkit.Classifier(**SMALL, max_epochs=1).fit(wide).per_series is True
    assert lstmkit.Classifier(**SMALL, max_epochs=1).fit(narrow).per_series is False
    assert lstmkit.Classifier(**SMALL, max_epochs=1, scaling="global").fit(wide).per_series is False
    assert lstmkit.Classifier(**SMALL, max_epochs=1, scaling="series").fit(narrow).per_series is True
    with pytest.raises(ValueError, match="scaling must be one of auto, global, series"):
        ClassifierParams(scaling="minmax")


def test_series_scaling_reads_every_amplitude_alike_and_learns_the_shapes():
    data = shapes()
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_steps=150, seed=0).fit(data)
    assert clf.per_series
    x, _ = clf.tensors(data)
    # series 0 and 2 (both rising) lie 10^0 and 10^0.9 apart in scale: the same rows but for noise
    assert float((x[0] - x[2]).abs().max()) < 1.0
    assert clf.evaluate(data)["accuracy"] == 1.0
    # one global scale leaves the smaller half of the series nearly flat
    flat = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=1, scaling="global").fit(data)
    xg, lengths = flat.tensors(data)
    assert float(xg[: len(data) // 2, : int(lengths[0])].std(dim=(1, 2)).max()) < 0.05


def test_save_load_and_models_saved_before_the_option(tmp_path):
    data = shapes()
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=2).fit(data)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.per_series and loaded.params.scaling == "auto"
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    # a model as lstmkit wrote it before the option: the channels' scale
    glob = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=2, scaling="global").fit(data)
    old = saved_before(glob, tmp_path / "old", "per_series", "scaling")
    assert old.per_series is False and old.params.scaling == "global"
    np.testing.assert_array_equal(old.predict_proba(data), glob.predict_proba(data))


def test_the_cli_flag(tmp_path):
    from lstmkit.cli.classify import SCALING

    assert SCALING == ClassifierParams().scaling
    train = write_ts(tmp_path / "train.ts", shapes(decades=1.0))
    for flags, per_series in (([], False), (["--scaling", "series"], True)):
        out = tmp_path / f"run{int(per_series)}"
        assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                     "--no-baseline", *flags, "--out", str(out)]) == 0
        assert json.loads((out / "metrics.json").read_text())["per_series_scaling"] is per_series
        assert json.loads((out / "config.json").read_text())["state"]["per_series"] is per_series
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--scaling", "minmax", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
