"""``patch="series"`` (``--patch series``): the whole series one LSTM step, LSTM-FCN's dimension
shuffle, so the LSTM's gates read every value of a series at once. The patch it gives each
member, the network's shapes, gradients, save/load, the validation and the CLI flag."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tasks.classify import ClassifierParams, member_patch, series_member_index

from test_classifier import write_ts
from test_classify_fold import SMALL, long_data

QUICK = {**SMALL, "max_epochs": 1, "conv_segments": 1, "summary_mix": 0, "trend_window": 0, "conv_max": False,
         "segment_dropout": 0.0, "fold_scales": (1.0,), "ensemble": 2}


def test_member_patch():
    assert member_patch("series", median=250.0, longest=251, d=2) == 126  # ceil(251 / 2): one step
    assert member_patch("series", median=10.0, longest=10, d=1) == 10
    assert member_patch(None, median=251.0, longest=251, d=2) == 7  # about 16 steps: ceil(251/2) // 16
    assert member_patch(None, median=20.0, longest=30, d=1) == 1
    assert member_patch(5, median=251.0, longest=251, d=2) == 5


def test_validation():
    assert ClassifierParams(patch="series").patch == "series"
    for bad in ("whole", 0, 2.5, True):
        with pytest.raises(ValueError, match="patch must be a whole number >= 1, 'series' or None"):
            ClassifierParams(patch=bad)


@pytest.fixture(scope="module")
def fitted():
    data = long_data(n=8, length=300)  # lengths 293..300, folded at d = 2 (median / 128)
    return data, lstmkit.Classifier(patch="series", **QUICK).fit(data)


def test_one_lstm_step_reads_the_whole_series(fitted):
    data, clf = fitted
    d = clf.downsample
    assert d == 2 and clf.patch == 150 == -(-300 // d)
    x, lengths = clf.tensors(data)
    assert x.shape == (8, 1, 150 * d * clf.input_channels) and lengths.tolist() == [1] * 8
    member = clf.net.members[0]
    assert member.encoder.input_size == 150 * d * clf.input_channels


def test_gradients_reach_the_lstm_from_every_value(fitted):
    data, clf = fitted
    x, lengths = clf.tensors(data)
    x = x.clone().requires_grad_(True)
    member = clf.net.members[0]
    member.eval()
    member(x, lengths).logsumexp(dim=1).sum().backward()
    grad = x.grad[0, 0].reshape(-1, clf.input_channels)
    assert torch.all(grad[: len(data.sequences[0]) // clf.downsample].abs().sum(dim=1) > 0)


def test_save_and_load_predict_the_same(fitted, tmp_path):
    data, clf = fitted
    clf.save(tmp_path / "model")
    again = lstmkit.Classifier.load(tmp_path / "model")
    assert again.patch == clf.patch and again.params.patch == "series"
    np.testing.assert_allclose(again.predict_proba(data), clf.predict_proba(data), rtol=1e-5, atol=1e-6)


def quick_cli_run(tmp_path, data, *flags) -> tuple:
    """``lstmkit classify`` on ``data`` written as a .ts file (labels sine and square), one epoch of
    two small members, with ``flags``; returns the training file and the saved config."""
    data = dataclasses.replace(data, labels=np.where(data.labels == "a", "sine", "square"), classes=["sine", "square"])
    train = write_ts(tmp_path / "train.ts", data)
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "2",
                 "--conv-segments", "1", "--no-baseline", *flags, "--out", str(out)]) == 0
    return train, json.loads((out / "config.json").read_text())


def test_the_cli_flag(tmp_path, capsys):
    train, saved = quick_cli_run(tmp_path, long_data(n=8, length=300), "--patch", "series")
    assert saved["params"]["patch"] == "series" and saved["state"]["patch"] == 150
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--patch", "whole", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
    assert "expected a whole number >= 1 or 'series', got 'whole'" in capsys.readouterr().err
    member = tmp_path / "member"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "2",
                 "--conv-segments", "1", "--no-baseline", "--series-member", "--out", str(member)]) == 0
    saved = json.loads((member / "config.json").read_text())
    assert saved["params"]["series_member"] is True and saved["params"]["patch"] is None
    assert saved["state"]["member_patch"][1] == 150 > saved["state"]["member_patch"][0]
    metrics = json.loads((member / "metrics.json").read_text())
    assert metrics["member_patch"] == saved["state"]["member_patch"] and metrics["patch"] == metrics["member_patch"][0]
    capsys.readouterr()
    for bad, shown in ((["--ensemble", "1"], "(got --ensemble 1)"), (["--patch", "4"], "(got --ensemble 3, --patch 4)")):
        assert main(["classify", str(train), "--series-member", *bad, "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: --series-member needs --ensemble 2 or more and no --patch: the other members read "
                       f"the length rule's patches {shown}"]
        assert not (tmp_path / "bad").exists()


def test_series_member_index():
    assert series_member_index(False, 3, False) is None
    assert series_member_index(True, 3, False) == 2  # the last member
    assert series_member_index(True, 3, True) == 1  # the last one not reading the phases
    assert series_member_index(True, 2, True) is None  # no member before it would read patches
    assert series_member_index(True, 1, False) is None


def test_series_member_reads_the_whole_series_and_the_others_patches(tmp_path):
    """``series_member=True``: the last member alone reads the longest training series as one
    LSTM step; the members before it keep the length rule's patches; saved and loaded alike."""
    data = long_data(n=8, length=300)
    clf = lstmkit.Classifier(series_member=True, **QUICK).fit(data)
    d = clf.member_downsample
    assert d == [2, 2] and clf.member_patch == [member_patch(None, 296.5, 300, 2), 150]
    assert clf.patch == clf.member_patch[0] < 150  # member 0 (the one inspect shows) reads patches
    xs, lengths = clf.view_tensors(data, True)
    assert lengths[1].tolist() == [1] * 8 and int(lengths[0].max()) > 1
    assert clf.net.members[1].encoder.input_size == 150 * 2 * clf.input_channels
    clf.save(tmp_path / "model")
    again = lstmkit.Classifier.load(tmp_path / "model")
    assert again.member_patch == clf.member_patch and again.params.series_member
    np.testing.assert_allclose(again.predict_proba(data), clf.predict_proba(data), rtol=1e-5, atol=1e-6)
    for bad in ({"ensemble": 1}, {"patch": 5}, {"patch": "series"}):
        with pytest.raises(ValueError, match="series_member needs two or more members reading the length rule's"):
            ClassifierParams(series_member=True, **bad)


def test_patch_steps_sets_the_length_rule():
    """``patch_steps=S``: without a patch given, the median (downsampled) series becomes about S
    LSTM steps, ``max(1, ceil(median / d) // S)``; 16 by default, the CLI's default the same."""
    from lstmkit.cli.classify import PATCH_STEPS

    assert ClassifierParams().patch_steps == PATCH_STEPS == 16
    assert member_patch(None, median=251.0, longest=251, d=2, steps=4) == 31  # ceil(251 / 2) // 4
    assert member_patch(None, median=251.0, longest=251, d=2, steps=16) == member_patch(None, 251.0, 251, 2)
    assert member_patch(None, median=3.0, longest=5, d=1, steps=4) == 1  # never below one step
    assert member_patch(5, median=251.0, longest=251, d=2, steps=4) == 5  # a patch given wins
    for bad in (0, 2.5, True, "4"):
        with pytest.raises(ValueError, match="patch_steps must be a whole number >= 1"):
            ClassifierParams(patch_steps=bad)


def test_patch_steps_fit_save_and_cli(tmp_path, capsys):
    data = long_data(n=8, length=300)  # median 296.5, d = 2: 149 folded steps
    clf = lstmkit.Classifier(patch_steps=4, **QUICK).fit(data)
    assert clf.member_patch == [37, 37]  # 149 // 4: four LSTM steps (the last partly filled)
    x, lengths = clf.tensors(data)
    assert x.shape[1] == 5 and int(lengths.max()) == 5 and int(lengths.min()) == 4  # ceil(150 / 37), ceil(147 / 37)
    clf.save(tmp_path / "model")
    again = lstmkit.Classifier.load(tmp_path / "model")
    assert again.params.patch_steps == 4 and again.member_patch == [37, 37]
    np.testing.assert_allclose(again.predict_proba(data), clf.predict_proba(data), rtol=1e-5, atol=1e-6)
    train, saved = quick_cli_run(tmp_path, data, "--patch-steps", "4")
    assert saved["params"]["patch_steps"] == 4 and saved["state"]["patch"] == 37
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--patch-steps", "0", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
