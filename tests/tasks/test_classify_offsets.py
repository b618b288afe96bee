"""The blocks' start offsets (``fold_offsets``): a series folded by d > 1 is also read from
its steps o_1..o_{n-1} on, the model trains on every view and averages its probabilities over
them. Values, training rows, the mean, save/load, models saved before it and the CLI flag."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tasks.classify import ClassifierParams, block_offsets

from test_classifier import synthetic
from test_classify_fold import SMALL, long_data
from test_classify_multires import MULTI, long_ts

VIEWS = {"fold_offsets": 4}


def test_the_offsets():
    assert ClassifierParams().fold_offsets is None  # 1, or 4 with the maximum chosen (classify_select)
    assert block_offsets(1, 4) == [0]  # read whole: one view
    assert block_offsets(2, 4) == [0, 1] and block_offsets(3, 4) == [0, 1, 2]  # at most d of them
    assert block_offsets(12, 4) == [0, 3, 6, 9]
    assert block_offsets(14, 4) == [0, 4, 7, 11]  # 3.5 and 10.5 round up
    assert block_offsets(12, 4, period=4) == [0, 4, 8]  # whole periods: the blocks keep their phase
    assert block_offsets(16, 4, period=4) == [0, 4, 8, 12] and block_offsets(8, 3, period=4) == [0, 4]
    assert block_offsets(12, 1) == [0] and block_offsets(12, 4, period=5) == [0, 3, 6, 9]
    for bad in (0, -1, 1.5, True, "4"):
        with pytest.raises(ValueError, match="fold_offsets"):
            ClassifierParams(fold_offsets=bad)


def test_every_view_is_trained_on_and_the_prediction_is_their_mean():
    data = long_data(channels=2)  # lengths 293..300: d = 2
    # the networks alone (no summary statistics mixed in): their mean over the views is the prediction
    clf = lstmkit.Classifier(**SMALL, **VIEWS, max_epochs=1, summary_mix=0.0).fit(data)
    assert clf.member_downsample == [2, 2, 2] and clf.member_offsets == [[0, 1]] * 3 and clf.views == 2
    x1, l1 = clf.member_tensors(data, 1)
    scaled = (data.sequences[0] - clf.channel_mean) / clf.channel_std  # 300 steps, read from step 1 on
    np.testing.assert_allclose(x1[0].reshape(-1)[:598].numpy(), scaled[1:].reshape(-1), rtol=1e-6, atol=1e-6)
    assert l1.tolist() == [-(-(-(-(299 - i) // 2)) // clf.patch) for i in range(8)]
    # the training rows: every series at offset 0, then every series at offset 1
    xs, ls = clf.view_tensors(data, multi=False)
    x0, l0 = clf.member_tensors(data, 0)
    assert xs[0].shape == (16, *x0.shape[1:])
    torch.testing.assert_close(xs[0][:8], x0) and torch.testing.assert_close(ls[0], torch.cat([l0, l1]))
    torch.testing.assert_close(xs[0][8:, : x1.shape[1]], x1)
    assert not xs[0][8:, x1.shape[1]:].any()  # padded with zeros past each view's own length
    with torch.no_grad():
        views = [torch.softmax(clf.net.eval()(*clf.member_tensors(data, j)), -1) for j in (0, 1)]
    np.testing.assert_allclose(clf.predict_proba(data), ((views[0] + views[1]) / 2).numpy(), rtol=1e-5, atol=1e-6)


def test_members_at_their_own_widths_have_their_own_offsets():
    data = long_data()
    clf = lstmkit.Classifier(**SMALL, **MULTI, **VIEWS, max_epochs=1).fit(data)  # d_m = 2, 1, 4
    assert clf.member_offsets == [[0, 1], [0], [0, 1, 2, 3]] and clf.views == 4
    xs, ls = clf.member_tensors(data, 3)  # member 0 at offset 1 (its offsets repeat), member 1 at 0
    for x, lengths, d, k, o in zip(xs, ls, clf.member_downsample, clf.member_patch, (1, 0, 3)):
        torch.testing.assert_close((x, lengths), clf.tensors(data, d, k, o))
    train_x, _ = clf.view_tensors(data, multi=True)
    assert [t.shape[0] for t in train_x] == [32, 32, 32]


def test_short_series_have_one_view_and_train_as_before():
    data = synthetic(n=24)  # lengths 20..40: d = 1
    clf = lstmkit.Classifier(**SMALL, **VIEWS, max_epochs=2).fit(data)
    alone = lstmkit.Classifier(**SMALL, max_epochs=2, fold_offsets=1).fit(data)
    assert clf.member_offsets == [[0]] * 3 and clf.views == 1
    np.testing.assert_array_equal(clf.predict_proba(data), alone.predict_proba(data))


def test_the_offsets_change_what_a_folded_model_learns():
    data = long_data(n=12)
    views = lstmkit.Classifier(**SMALL, **VIEWS, max_epochs=2).fit(data)
    alone = lstmkit.Classifier(**SMALL, max_epochs=2, fold_offsets=1).fit(data)
    assert alone.views == 1 and views.views == 2
    assert not np.allclose(views.predict_proba(data), alone.predict_proba(data))


def test_save_load_and_a_model_saved_before_the_offsets(tmp_path):
    data = long_data()
    clf = lstmkit.Classifier(**SMALL, **VIEWS, max_epochs=1, summary_mix=0.0).fit(data)  # the networks alone
    clf.save(tmp_path / "model")
    loaded = lstmkit.Classifier.load(tmp_path / "model")
    assert loaded.member_offsets == [[0, 1]] * 3 and loaded.params.fold_offsets == 4
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    config["params"].pop("fold_offsets")
    config["state"].pop("member_offsets")
    (tmp_path / "model" / "config.json").write_text(json.dumps(config))
    old = lstmkit.Classifier.load(tmp_path / "model")  # read as lstmkit wrote it before: offset 0 alone
    assert old.member_offsets == [[0]] * 3 and old.params.fold_offsets == 1 and old.views == 1
    with torch.no_grad():
        own = torch.softmax(clf.net.eval()(*clf.member_tensors(data, 0)), -1).numpy()
    np.testing.assert_allclose(old.predict_proba(data), own, rtol=1e-6, atol=1e-7)


def test_the_cli_flag(tmp_path):
    from lstmkit.cli.classify import FOLD_OFFSETS

    assert FOLD_OFFSETS == ClassifierParams().fold_offsets
    train = long_ts(tmp_path / "train.ts", n=16)
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--fold-offsets", "3",
                 "--no-baseline", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["params"]["fold_offsets"] == 3 and saved["state"]["member_offsets"] == [[0, 1]] * 3  # d = 2
    for bad in ("0", "x", "-2"):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", str(train), "--fold-offsets", bad, "--out", str(tmp_path / "bad")])
        assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
