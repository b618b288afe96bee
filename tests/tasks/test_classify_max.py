"""The conv branch's global maximum beside its global average (``conv_max``): values by hand,
masking of padded steps, its place before the parts (and their dropout), gradients, per-member
values, save/load (and models saved before the option), the CLI flag and bad values; and the
selection's fourth candidate, which reads at the model's own block width."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.tasks.classify import ClassifierParams
from lstmkit.tasks.classify_net import ClassifierEnsemble, ClassifierNet, ClassifierNetConfig, ConvBranch

from test_classifier import saved_without, synthetic, write_ts
from test_classify_select import SMALL as SELECT_SMALL
from test_classify_select import spy_on_fits

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3)}


def test_the_branch_gives_the_average_then_the_maximum_of_the_real_steps():
    torch.manual_seed(0)
    branch = ConvBranch(1, (4,), (3,), squeeze_excite=False, max_pool=True).eval()
    assert branch.width == branch.global_width == 8 and branch.channels_out == 4
    u = torch.randn(1, 1, 9)
    padded = torch.cat([u, torch.full((1, 1, 5), 50.0)], dim=-1)  # past the end: never the maximum
    with torch.no_grad():
        out = branch(u, torch.tensor([9]))
        torch.testing.assert_close(branch(padded, torch.tensor([9])), out)
        blocks = torch.relu(branch.norms[0](branch.convs[0](torch.nn.functional.pad(u, (1, 1)))))  # (1, 4, 9)
    torch.testing.assert_close(out[:, :4], blocks.mean(-1))
    torch.testing.assert_close(out[:, 4:], blocks.amax(-1))
    without = ConvBranch(1, (4,), (3,), squeeze_excite=False).eval()
    without.load_state_dict(branch.state_dict())  # the same parameters: the maximum adds none
    with torch.no_grad():
        torch.testing.assert_close(without(u, torch.tensor([9])), out[:, :4])


def test_a_short_shape_moves_the_maximum_fully_and_the_average_by_its_share():
    branch = ConvBranch(1, (1,), (1,), squeeze_excite=False, max_pool=True).eval()
    with torch.no_grad():
        branch.convs[0].weight.fill_(1.0)  # BatchNorm in eval with fresh statistics: the identity (nearly)
    quiet, shape = torch.zeros(1, 1, 100), torch.zeros(1, 1, 100)
    shape[..., 40:44] = 5.0
    with torch.no_grad():
        a, b = branch(quiet, torch.tensor([100])), branch(shape, torch.tensor([100]))
    assert float(b[0, 1] - a[0, 1]) == pytest.approx(5.0, rel=1e-3)  # the maximum
    assert float(b[0, 0] - a[0, 0]) == pytest.approx(5.0 * 4 / 100, rel=1e-3)  # the average: 4 steps in 100


def test_with_parts_the_maximum_comes_before_them_and_their_dropout_spares_it():
    torch.manual_seed(0)
    model = ClassifierNet(ClassifierNetConfig(n_channels=1, n_classes=2, conv_segments=3, conv_max=True,
                                              segment_dropout=0.999, **SMALL))
    conv = model.conv
    assert conv.global_width == 16 and conv.width == 16 + 8 * 3
    assert model.head.in_features == 16 + 16 + 24
    model.train()
    x, lengths = torch.randn(4, 12, 1), torch.tensor([12, 9, 6, 12])
    seen = {}
    model.head.register_forward_hook(lambda module, inputs, output: seen.update(z=inputs[0]))  # returns None
    model.dropout.p = 0.0
    model(x, lengths)
    z = seen["z"]
    global_part, parts = z[:, 16:32], z[:, 32:]
    assert float((global_part != 0).float().mean()) > 0.3  # the average and the maximum pass
    assert float((parts == 0).float().mean()) > 0.95  # the parts are dropped
    loss = torch.nn.functional.cross_entropy(model(x, lengths), torch.tensor([0, 1, 0, 1]))
    loss.backward()
    assert float(model.head.weight.grad[:, 16 + 8:32].abs().sum()) > 0  # the maximum's weights learn


def test_one_value_per_member_and_bad_values():
    config = ClassifierNetConfig(n_channels=1, n_classes=2, ensemble=2, conv_max=(True, False), **SMALL)
    ensemble = ClassifierEnsemble(config)
    assert [m.conv.max_pool for m in ensemble.members] == [True, False]
    assert [m.conv.width for m in ensemble.members] == [16, 8]
    with pytest.raises(ValueError, match="conv_max must be one bool, or one per member"):
        ClassifierEnsemble(ClassifierNetConfig(n_channels=1, n_classes=2, ensemble=3, conv_max=(True, False)))
    for bad in (1, "yes", 0.5, (True, 2), ()):
        with pytest.raises(ValueError, match="conv_max must be True, False or None"):
            lstmkit.Classifier(conv_max=bad)
    assert lstmkit.Classifier(conv_max=[True, False], ensemble=2).get_params()["conv_max"] == (True, False)
    assert ClassifierParams().conv_max is None  # chosen with P


def test_save_load_and_models_saved_before_the_option(tmp_path):
    train, test = synthetic(30, seed=0), synthetic(10, seed=1)
    clf = lstmkit.Classifier(**SMALL, conv_segments=1, conv_max=True, max_epochs=2, ensemble=2).fit(train)
    assert [m.conv.max_pool for m in clf.net.members] == [True, True]
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.conv_max is True and loaded.net.config.conv_max is True
    np.testing.assert_array_equal(loaded.predict_proba(test), clf.predict_proba(test))
    old = lstmkit.Classifier(**SMALL, conv_segments=1, conv_max=False, max_epochs=1, ensemble=1).fit(train)
    old.save(tmp_path / "old")
    saved_without(tmp_path / "old", "conv_max")
    before = lstmkit.Classifier.load(tmp_path / "old")
    assert before.net.config.conv_max is False and not before.net.members[0].conv.max_pool
    np.testing.assert_array_equal(before.predict_proba(test), old.predict_proba(test))


@pytest.mark.slow
def test_the_selection_tries_the_maximum_at_the_models_own_width(monkeypatch):
    seen = spy_on_fits(monkeypatch)
    x = np.random.default_rng(0).normal(size=(24, 1, 48)).astype(np.float32)
    y = np.array(["a", "b"] * 12)
    clf = lstmkit.Classifier(**SELECT_SMALL, max_steps=5).fit(x, y)
    assert [o["conv_max"] for o in seen[1:]] == [(False, False, False), (True,), (False,)] * 3  # the last: the trend's
    assert [o["fold_scales"] for o in seen[1:]] == [(2.0,), (1.0,), (2.0,)] * 3
    record = clf.segment_selection
    assert record["maxes"] == [False, False, False, True, False] and len(record["log_loss"]) == 5
    assert clf.net.config.conv_max is record["chosen_max"]
    seen.clear()
    lstmkit.Classifier(**SELECT_SMALL, max_steps=5, conv_max=False).fit(x, y)  # given: no fourth candidate
    assert [o["conv_max"] for o in seen[1:]] == [(False, False, False), (False,)] * 3
    seen.clear()
    given = lstmkit.Classifier(**SELECT_SMALL, max_steps=5, conv_segments=1).fit(x, y)  # no selection: off
    assert len(seen) == 1 and given.net.config.conv_max is False
    seen.clear()
    members = lstmkit.Classifier(**{**SELECT_SMALL, "ensemble": 3}, max_steps=5, conv_max=(False, True, True),
                                 fold_scales=(1.0,)).fit(x, y)
    assert [o["conv_max"] for o in seen[1:]] == [(False, False, False), (False,)] * 3  # the first member's flag
    assert members.segment_selection["chosen_max"] is False  # the candidates' flag ...
    assert members.net.config.conv_max == (False, True, True)  # ... but the model's members keep theirs
    assert [m.conv.max_pool for m in members.net.members] == [False, True, True]


@pytest.mark.slow
def test_the_maximums_candidate_reads_folded_series_from_four_start_offsets(monkeypatch):
    from lstmkit.tasks import classify_select
    from lstmkit.tasks.classify_select import MAX_FOLD_OFFSETS

    x = np.random.default_rng(1).normal(size=(12, 1, 300)).astype(np.float32)  # d = 2: folded in pairs
    y = np.array(["a", "b"] * 6)
    seen = spy_on_fits(monkeypatch)
    monkeypatch.setattr(classify_select, "choose", lambda losses, right, choices: choices[3])  # the maximum's
    clf = lstmkit.Classifier(**SELECT_SMALL, max_steps=3).fit(x, y)
    assert MAX_FOLD_OFFSETS == 4
    assert [o["fold_offsets"] for o in seen[1:]] == [1, 1, 1] * 3  # the selection's networks: one offset
    record = clf.segment_selection
    assert record["offsets"] == [1, 1, 1, MAX_FOLD_OFFSETS, 1] and record["chosen_offsets"] == MAX_FOLD_OFFSETS
    assert clf.downsample == 2 and clf.member_offsets == [[0, 1]] and clf.views == 2  # at most d views
    assert clf.net.config.conv_max is True

    seen.clear()  # the maximum chosen but the offsets given: every network reads them as given
    given = lstmkit.Classifier(**SELECT_SMALL, max_steps=3, fold_offsets=1).fit(x, y)
    assert [o["fold_offsets"] for o in seen[1:]] == [1, 1, 1] * 3 and given.member_offsets == [[0]]

    monkeypatch.setattr(classify_select, "choose", lambda losses, right, choices: choices[0])
    plain = lstmkit.Classifier(**SELECT_SMALL, max_steps=3).fit(x, y)  # P = 1 without it: one offset
    assert plain.segment_selection["chosen_offsets"] == 1 and plain.member_offsets == [[0]]

    monkeypatch.setattr(classify_select, "choose", lambda losses, right, choices: choices[3])
    whole = lstmkit.Classifier(**SELECT_SMALL, max_steps=3).fit(x[..., :100], y)  # d = 1: nothing to offset
    assert whole.downsample == 1 and whole.member_offsets == [[0]] and whole.net.config.conv_max is True


def test_the_cli_flag(tmp_path):
    from lstmkit.cli.classify import CONV_MAX
    from lstmkit.cli.main import main

    assert CONV_MAX is ClassifierParams().conv_max  # the CLI's default is the library's
    train = tmp_path / "train.ts"
    write_ts(train, synthetic(24, seed=0))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--conv-segments", "1", "--conv-max", "on", "--no-baseline", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["params"]["conv_max"] is True and saved["net"]["conv_max"] is True
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["conv_max"] is True and metrics["member_offsets"] == [[0]]  # given P: no selection, one offset
    for bad in ("1", "x", ""):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", str(train), "--conv-max", bad, "--out", str(tmp_path / "bad")])
        assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
