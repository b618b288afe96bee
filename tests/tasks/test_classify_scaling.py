"""How the classifier scales its input (``scaling``, ``"auto"`` by default): one mean and std
per channel over the training set, or every series by its own statistics when that global
scale would leave more than FLAT_SERIES_SHARE of the training series nearly flat; save/load,
models saved before the option and the CLI flag."""

import json

import numpy as np
import pytest

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify import (FLAT_SERIES_SHARE, FLAT_STD_RATIO, ClassifierParams, flat_share,
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


def test_the_share_of_series_one_global_scale_leaves_flat():
    # channel 0: stds 1, 1, 1 and 100 (the channel's std over all values ~ 50): three of four
    # series are below 0.1 of it; channel 1 constant over the whole set: not counted
    ramp = np.linspace(-1.0, 1.0, 50) * np.sqrt(3.0)  # std 1
    seqs = [np.column_stack([s * ramp, np.full(50, 7.0)]) for s in (1.0, 1.0, 1.0, 100.0)]
    overall = np.concatenate(seqs)[:, 0].std()
    assert 1.0 < FLAT_STD_RATIO * overall < 100.0 * np.std(ramp)
    assert flat_share(seqs) == pytest.approx(0.75)
    # levels far apart flatten a series as much as scales do
    assert flat_share([ramp[:, None] + level for level in (0.0, 100.0, 200.0, 300.0)]) == 1.0
    assert flat_share([np.full((5, 1), 2.0)] * 3) == 0.0  # nothing varies: nothing to flatten
    assert flat_share([ramp[:, None] * s for s in (1.0, 2.0, 3.0)]) == 0.0
    z = standardise_series(np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]]))
    np.testing.assert_allclose(z[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(z[:, 1], [0.0, 0.0, 0.0])  # a constant channel is only shifted


@pytest.mark.slow
def test_auto_scales_each_series_alone_only_when_most_would_be_flat():
    assert ClassifierParams().scaling == "auto"
    wide, narrow = shapes(decades=5.0), shapes(decades=1.0)
    assert flat_share(wide.sequences) > FLAT_SERIES_SHARE > flat_share(narrow.sequences)
    assert lstmkit.Classifier(**SMALL, max_epochs=1).fit(wide).per_series is True
    assert lstmkit.Classifier(**SMALL, max_epochs=1).fit(narrow).per_series is False
    assert lstmkit.Classifier(**SMALL, max_epochs=1, scaling="global").fit(wide).per_series is False
    assert lstmkit.Classifier(**SMALL, max_epochs=1, scaling="series").fit(narrow).per_series is True
    with pytest.raises(ValueError, match="scaling must be one of auto, global, series"):
        ClassifierParams(scaling="minmax")


def test_series_scaling_reads_every_amplitude_alike_and_learns_the_shapes():
    data = shapes()
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_steps=150, seed=0, conv_segments=1).fit(data)
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
