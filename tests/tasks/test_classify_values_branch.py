"""``values_branch=True`` (``--values-branch``): beside the LSTM and convolutional branches, a
one-step LSTM reading each series' steps at Q fixed places (LSTM-FCN's dimension shuffle). The
places, the branch's values against a hand computation, shapes, gradients, padding, Q per member,
save/load and the CLI flag."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tasks.classify import values_places
from lstmkit.tasks.classify_net import ClassifierEnsemble, ClassifierNet, ClassifierNetConfig

from test_classify_fold import SMALL, long_data
from test_classify_series_patch import QUICK, quick_cli_run


def net(**kw):
    torch.manual_seed(0)
    options = {"n_channels": 2, "n_classes": 3, "patch": 3, **SMALL, "values_branch": True, "values_places": 4, **kw}
    return ClassifierNet(ClassifierNetConfig(**options))


def test_values_places():
    # every step of the median series, at most 512 values per series, at least one place
    assert values_places(251.0, [1, 2], [1, 2], [1, 1]) == (251, 126)
    assert values_places(2000.0, [16], [16], [1]) == (32,)  # 125 steps of 16 values: 512 // 16
    assert values_places(24.0, [1], [1], [3]) == (24,)
    assert values_places(100.0, [1], [1], [600]) == (1,)
    assert values_places(300.0, [4], [1], [2], columns=40) == (20,)  # mode "mean": fold 1


def test_shapes_and_the_head_width():
    model = net()
    x, lengths = torch.randn(4, 7, 6), torch.tensor([7, 5, 1, 3])
    assert model.values_encoder.input_size == 4 * 2 and model.values_encoder.hidden_size == 16
    assert model.values_features(x, lengths).shape == (4, 16)
    assert model.head.in_features == 16 + 16 + 8  # LSTM, values, conv
    assert model(x, lengths).shape == (4, 3)
    assert net(values_branch=False).values_encoder is None and net(values_branch=False).head.in_features == 24
    assert net(values_places=0).values_encoder is None  # no places: no branch


def test_the_branch_reads_the_values_at_the_centres_of_q_equal_parts():
    model = net(values_places=4, patch=1, n_channels=1).eval()
    x = torch.arange(10, dtype=torch.float32).reshape(1, 10, 1)  # step t holds the value t
    seen = []
    model.values_encoder.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    with torch.no_grad():
        model.values_features(x, torch.tensor([10]))
        model.values_features(x, torch.tensor([5]))
    # L = 10: floor((2q + 1) * 10 / 8) = 1, 3, 6, 8; L = 5: floor((2q + 1) * 5 / 8) = 0, 1, 3, 4
    assert seen[0].shape == (1, 1, 4)
    assert seen[0].flatten().tolist() == [1.0, 3.0, 6.0, 8.0]
    assert seen[1].flatten().tolist() == [0.0, 1.0, 3.0, 4.0]
    # one LSTM step from zero state: hidden_state = o * tanh(i * g)
    enc = model.values_encoder
    w, b = enc.weight_ih_l0, enc.bias_ih_l0 + enc.bias_hh_l0
    gates = seen[0].reshape(1, 4) @ w.T + b
    i, f, g, o = gates.chunk(4, dim=1)
    by_hand = torch.sigmoid(o) * torch.tanh(torch.sigmoid(i) * torch.tanh(g))
    with torch.no_grad():
        torch.testing.assert_close(model.values_features(x, torch.tensor([10])), by_hand)


def test_padding_does_not_change_a_shorter_sequence():
    model = net().eval()
    short, long = torch.randn(1, 3, 6), torch.randn(1, 8, 6)
    batch = torch.cat([torch.cat([short, torch.full((1, 5, 6), 100.0)], dim=1), long])
    with torch.no_grad():
        torch.testing.assert_close(model.values_features(batch, torch.tensor([3, 8]))[:1],
                                   model.values_features(short, torch.tensor([3])))
        torch.testing.assert_close(model(batch, torch.tensor([3, 8]))[:1], model(short, torch.tensor([3])))


def test_gradients_reach_the_branch_and_every_read_place():
    model = net(patch=1, n_channels=1, values_places=5)
    x = torch.randn(3, 10, 1, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(model(x, torch.tensor([10, 10, 10])), torch.tensor([0, 1, 2]))
    loss.backward()
    assert float(model.values_encoder.weight_ih_l0.grad.abs().sum()) > 0
    model.zero_grad()
    x.grad = None
    model.eval()
    model.values_features(x, torch.tensor([10, 10, 10])).sum().backward()
    read = x.grad[0, :, 0].abs() > 0  # the branch alone reads steps 1, 3, 5, 7, 9
    assert read.tolist() == [False, True, False, True, False, True, False, True, False, True]


def test_one_q_per_member():
    config = ClassifierNetConfig(n_channels=1, n_classes=2, ensemble=2, member_folds=(1, 2), member_patches=(1, 1),
                                 values_branch=True, values_places=(10, 5), **SMALL)
    ensemble = ClassifierEnsemble(config)
    assert [m.values_encoder.input_size for m in ensemble.members] == [10, 10]  # 10 x 1, 5 x 2
    assert [m.config.values_places for m in ensemble.members] == [10, 5]


@pytest.fixture(scope="module")
def fitted():
    data = long_data(n=8, length=300)  # lengths 293..300, median 296.5, folded at d = 2
    return data, lstmkit.Classifier(values_branch=True, **QUICK).fit(data)


def test_fit_gives_every_member_its_places(fitted):
    data, clf = fitted
    assert clf.member_downsample == [2, 2]
    assert clf.net.config.values_places == (149, 149)  # ceil(296.5 / 2) steps, 149 * 2 * C <= 512 values
    assert all(m.values_encoder.input_size == 149 * 2 * clf.input_channels for m in clf.net.members)
    assert lstmkit.Classifier(**QUICK).fit(data).net.members[0].values_encoder is None  # off by default


def test_save_and_load_predict_the_same(fitted, tmp_path):
    data, clf = fitted
    clf.save(tmp_path / "model")
    again = lstmkit.Classifier.load(tmp_path / "model")
    assert again.params.values_branch and again.net.config.values_places == (149, 149)
    np.testing.assert_allclose(again.predict_proba(data), clf.predict_proba(data), rtol=1e-5, atol=1e-6)


def test_the_cli_flag(tmp_path):
    _, saved = quick_cli_run(tmp_path, long_data(n=8, length=300), "--values-branch")
    assert saved["params"]["values_branch"] is True
    assert saved["net"]["values_branch"] is True and saved["net"]["values_places"] == [149, 149]


def test_the_rule_reads_the_values_weighing():
    from lstmkit.tasks.classify_select import wants_values_branch

    def record(chosen):
        return {"values_mix": {"choices": [0.0, 0.25, 0.5], "chosen": chosen,
                               "difference": [None, [-0.1, 0.05], [-0.12, 0.06]]}}

    assert wants_values_branch(record(0.25)) is True and wants_values_branch(record(0.5)) is True
    assert wants_values_branch(record(0.0)) is False  # lower, but not beyond the noise: no mixture, no branch
    assert wants_values_branch(None) is False  # no selection ran
    assert wants_values_branch({"chosen": 1, "skipped": "a class has 2 training series"}) is False
    with pytest.raises(ValueError, match="values_branch must be True, False or None"):
        lstmkit.Classifier(values_branch="yes")


def place_data(n, seed):
    from test_classify_values_mix import place

    return place(n, seed)


def test_the_fit_takes_the_branch_where_the_values_help_and_reads_them_once(tmp_path, capsys):
    """On series whose class is the place of a bump, the selection's weighing takes the values'
    mixture: the model (``values_branch=None``) gets the branch instead and v = 0; with the branch
    off it mixes them in; the CLI says which and why."""
    from test_classify_summary_mix import write_ts

    train, test = place_data(30, 0), place_data(20, 1)
    options = {**SMALL, "ensemble": 1, "max_steps": 30, "progress": False, "summary_mix": 0.0}
    clf = lstmkit.Classifier(**options).fit(train)
    mix = clf.segment_selection["values_mix"]
    assert mix["chosen"] > 0 and mix["branch"] is True
    assert clf.values_branch is True and clf.values_mix == 0.0 and clf.values_model is None
    assert clf.net.members[0].values_encoder is not None and clf.net.config.values_places == (40,)
    off = lstmkit.Classifier(**options, values_branch=False).fit(train)
    assert off.values_branch is False and off.net.members[0].values_encoder is None and off.values_mix > 0
    clf.save(tmp_path / "m")
    again = lstmkit.Classifier.load(tmp_path / "m")
    assert again.values_branch is True
    np.testing.assert_allclose(again.predict_proba(test), clf.predict_proba(test), rtol=1e-5, atol=1e-6)
    files = write_ts(tmp_path / "train.ts", train), write_ts(tmp_path / "test.ts", test)
    out = tmp_path / "run"
    assert main(["classify", *map(str, files), "--hidden-size", "8", "--ensemble", "1", "--max-steps", "3",
                 "--summary-mix", "0", "--no-baseline", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["values_branch"] is True and metrics["values_mix"] == 0.0
    assert "values at fixed places: read by every network's values branch instead of mixed in (v = 0; the rule took v = " in printed
    given = tmp_path / "given"
    assert main(["classify", *map(str, files), "--hidden-size", "8", "--ensemble", "1", "--max-steps", "3",
                 "--conv-segments", "1", "--values-branch", "--no-baseline", "--out", str(given)]) == 0
    assert "every network also reads each series' values at 40 fixed places as one LSTM step" in capsys.readouterr().out
    assert json.loads((given / "metrics.json").read_text())["values_branch"] is True


def test_the_phase_member_and_several_offsets_read_their_own_places(tmp_path):
    """With d aligned to a period the last member reads the phases as channels of their own (its
    places count its own steps and channels), and with several block offsets every view is read
    at the same places of its own blocks; saved and loaded alike."""
    from test_classify_phase import QUICK as PHASE_QUICK
    from test_classify_phase import interleaved

    data = interleaved()  # period 4, length ~1000: d = 8, the last member reads 4 phases
    clf = lstmkit.Classifier(**{**PHASE_QUICK, "values_branch": True, "fold_offsets": 2}).fit(data)
    assert clf.phase_member and clf.views == 2
    widths = [m.config.n_channels * m.config.fold for m in clf.net.members]
    places = clf.net.config.values_places
    assert [m.values_encoder.input_size for m in clf.net.members] == [q * w for q, w in zip(places, widths)]
    assert all(q * w <= 512 for q, w in zip(places, widths))
    proba = clf.predict_proba(data)
    assert proba.shape == (8, 2) and np.allclose(proba.sum(axis=1), 1.0)
    clf.save(tmp_path / "m")
    np.testing.assert_allclose(lstmkit.Classifier.load(tmp_path / "m").predict_proba(data), proba,
                               rtol=1e-5, atol=1e-6)


def test_the_report_names_the_weight_the_model_mixes_in():
    from lstmkit.tasks.classify_select import describe_summary_mix

    record = {"features": "values", "choices": [0.0, 0.25, 0.5], "chosen": 0.25, "rule": "log_loss",
              "log_loss": [0.5, 0.4, 0.45], "accuracy": [0.8, 0.85, 0.83],
              "difference": [None, [-0.1, 0.03], [-0.05, 0.04]], "summary_alone": [0.6, 0.8], "branch": True}
    line = describe_summary_mix({**record, "applied": 0.0})
    assert "read by every network's values branch instead of mixed in (v = 0; the rule took v = 0.25)" in line
    line = describe_summary_mix({**record, "applied": 0.5})  # values_mix=0.5 given, the branch left to the rule
    assert "read by every network's values branch and mixed in at the v given (v = 0.5; the rule took v = 0.25)" in line
