"""The conv branch's averages over equal parts of every series (``conv_segments``): values by
hand, masking of padded steps, gradients, shapes, the default (off), save/load (and models
saved before the option), the CLI flag and bad values."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.tasks.classify import ClassifierParams
from lstmkit.tasks.classify_net import ClassifierNet, ClassifierNetConfig, ConvBranch, segment_means

from test_classifier import synthetic
from test_classify_fold import long_data

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3)}


def test_segment_means_by_hand():
    u = torch.arange(14, dtype=torch.float32).reshape(2, 1, 7)
    # series 0, 7 steps in 3 parts: floor(3t/7) = 0,0,0,1,1,2,2; series 1, 4 steps: 0,0,1,2
    out = segment_means(u, torch.tensor([7, 4]), 3)
    torch.testing.assert_close(out, torch.tensor([[1.0, 3.5, 5.5], [7.5, 9.0, 10.0]]))
    # two channels: part 1's channels first
    two = torch.stack([torch.arange(6.0), -torch.arange(6.0)])[None]  # (1, 2, 6)
    torch.testing.assert_close(segment_means(two, torch.tensor([6]), 2), torch.tensor([[1.0, -1.0, 4.0, -4.0]]))
    # fewer steps than parts: the empty part is zero
    torch.testing.assert_close(segment_means(torch.ones(1, 1, 2), torch.tensor([2]), 3), torch.tensor([[1.0, 1.0, 0.0]]))


def test_a_bell_at_the_start_and_at_the_end_differ_only_in_the_parts():
    start, end = torch.zeros(1, 1, 12), torch.zeros(1, 1, 12)
    start[..., 1], end[..., 10] = 3.0, 3.0
    lengths = torch.tensor([12])
    assert float(start.mean()) == float(end.mean())
    a, b = segment_means(start, lengths, 3), segment_means(end, lengths, 3)
    torch.testing.assert_close(a, torch.tensor([[0.75, 0.0, 0.0]]))
    torch.testing.assert_close(b, torch.tensor([[0.0, 0.0, 0.75]]))


def test_the_branch_reads_the_parts_of_the_real_steps_only():
    branch = ConvBranch(1, (4,), (3,), squeeze_excite=False, segments=3).eval()
    assert branch.width == 4 * (1 + 3)
    u = torch.randn(1, 1, 9)
    padded = torch.cat([u, torch.full((1, 1, 5), 7.0)], dim=-1)
    with torch.no_grad():
        out = branch(u, torch.tensor([9]))
        torch.testing.assert_close(branch(padded, torch.tensor([9])), out)
        blocks = torch.relu(branch.norms[0](branch.convs[0](torch.nn.functional.pad(u, (1, 1)))))  # (1, 4, 9)
    torch.testing.assert_close(out[:, :4], blocks.mean(-1))  # the global average first
    for p in range(3):
        torch.testing.assert_close(out[:, 4 * (p + 1): 4 * (p + 2)], blocks[..., 3 * p: 3 * p + 3].mean(-1))


def test_net_shapes_and_gradient_through_the_parts():
    torch.manual_seed(0)
    model = ClassifierNet(ClassifierNetConfig(n_channels=2, n_classes=3, patch=3, conv_segments=3, **SMALL))
    assert model.head.in_features == 16 + 8 * 4
    x = torch.randn(4, 7, 6)
    loss = torch.nn.functional.cross_entropy(model(x, torch.tensor([7, 5, 2, 3])), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    parts = model.head.weight.grad[:, 16 + 8:]  # the head's weights on the parts' features
    assert float(parts.abs().sum()) > 0
    assert float(model.conv.convs[0].weight.grad.abs().sum()) > 0


def test_save_load_and_bad_values(tmp_path):
    train, test = synthetic(30, seed=0), synthetic(10, seed=1)
    clf = lstmkit.Classifier(**SMALL, conv_segments=3, max_epochs=2, ensemble=2).fit(train)
    assert clf.net.members[0].conv.segments == 3
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.conv_segments == 3 and loaded.net.members[1].conv.width == 8 * 4
    np.testing.assert_array_equal(loaded.predict_proba(test), clf.predict_proba(test))
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="conv_segments must be a whole number >= 1"):
            ConvBranch(1, (4,), (3,), squeeze_excite=False, segments=bad)
        with pytest.raises(ValueError, match="conv_segments must be a whole number >= 1"):
            lstmkit.Classifier(conv_segments=bad)


def test_the_cli_flag(tmp_path):
    from lstmkit.cli.classify import CONV_SEGMENTS, SEGMENT_DROPOUT
    from lstmkit.cli.main import main

    from test_classifier import write_ts

    assert CONV_SEGMENTS == ClassifierParams().conv_segments  # the CLI's defaults are the library's
    assert SEGMENT_DROPOUT == ClassifierParams().segment_dropout
    train = tmp_path / "train.ts"
    write_ts(train, synthetic(24, seed=0))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--conv-segments", "4", "--segment-dropout", "0.5", "--no-baseline", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["params"]["conv_segments"] == 4 and saved["net"]["segment_dropout"] == 0.5
    for flag, bad in (("--conv-segments", "0"), ("--conv-segments", "x"), ("--conv-segments", "1.5"),
                      ("--segment-dropout", "1"), ("--segment-dropout", "-0.1"), ("--segment-dropout", "x")):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", str(train), flag, bad, "--out", str(tmp_path / "bad")])
        assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()


def test_segment_dropout_touches_the_parts_alone():
    torch.manual_seed(0)
    config = ClassifierNetConfig(n_channels=2, n_classes=3, patch=3, conv_segments=3, segment_dropout=0.5,
                                 lstm_dropout=0.0, dropout=0.0, **SMALL)
    model = ClassifierNet(config).train()
    x, lengths = torch.randn(6, 7, 6), torch.tensor([7, 5, 2, 3, 7, 6])
    for norm in model.conv.norms:  # BatchNorm in eval: the conv features alike in both passes
        norm.eval()
    captured = []
    hook = model.head.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    with torch.no_grad():
        model(x, lengths)
        model.eval()
        model(x, lengths)
    hook.remove()
    trained, evaluated = captured
    torch.testing.assert_close(trained[:, : 16 + 8], evaluated[:, : 16 + 8])  # LSTM and global average kept
    parts_t, parts_e = trained[:, 16 + 8:], evaluated[:, 16 + 8:]
    dropped = parts_t == 0
    assert dropped.any() and not (parts_e == 0).all()
    torch.testing.assert_close(parts_t[~dropped], 2.0 * parts_e[~dropped])  # inverted dropout: kept ones x 1/(1-p)
    with pytest.raises(ValueError, match="segment_dropout"):
        lstmkit.Classifier(segment_dropout=1.0)
    with pytest.raises(ValueError, match="segment_dropout"):
        lstmkit.Classifier(segment_dropout=(0.0, 1.5))


def test_one_parts_dropout_per_member():
    train = synthetic(30, seed=0)
    clf = lstmkit.Classifier(**SMALL, conv_segments=3, segment_dropout=(0.0, 0.8), max_epochs=1, ensemble=2).fit(train)
    assert [m.segment_dropout.p for m in clf.net.members] == [0.0, 0.8]
    with pytest.raises(ValueError, match="one per member"):
        lstmkit.Classifier(**SMALL, conv_segments=3, segment_dropout=(0.0, 0.8, 0.5), max_epochs=1,
                           ensemble=2).fit(train)


def test_one_number_of_parts_per_member(tmp_path):
    train, test = synthetic(30, seed=0), synthetic(10, seed=1)
    clf = lstmkit.Classifier(**SMALL, conv_segments=(3, 1), max_epochs=2, ensemble=2).fit(train)
    assert [m.conv.segments for m in clf.net.members] == [3, 1]
    assert [m.head.in_features for m in clf.net.members] == [16 + 8 * 4, 16 + 8]
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert [m.conv.segments for m in loaded.net.members] == [3, 1]
    np.testing.assert_array_equal(loaded.predict_proba(test), clf.predict_proba(test))
    with pytest.raises(ValueError, match="one per member"):
        lstmkit.Classifier(**SMALL, conv_segments=(3, 1, 1), max_epochs=1, ensemble=2).fit(train)
    with pytest.raises(ValueError, match="conv_segments"):
        lstmkit.Classifier(conv_segments=(3, 0))


@pytest.mark.parametrize("length, options, parts", [
    (100, {}, None),  # by default chosen on the training series (classify_select)
    (100, {"conv_segments": 1}, [1, 1, 1]),
    (100, {"conv_segments": 3}, [3, 3, 3]),
    (300, {"conv_segments": (4, 1, 2)}, [4, 1, 2]),  # one per member
])
def test_the_default_and_the_users_parts(length, options, parts):
    assert ClassifierParams().conv_segments is None and ClassifierParams().segment_dropout is None
    data = long_data(length=length)
    clf = lstmkit.Classifier(**SMALL, **options, max_epochs=1).fit(data)
    if parts is None:
        assert clf.segment_selection["chosen"] in (1, 3)
        parts = [clf.segment_selection["chosen"]] * 3
    else:
        assert clf.segment_selection is None  # a P given: no selection
    assert [m.conv.segments for m in clf.net.members] == parts
    assert clf.predict_proba(data).shape == (len(data), 2)


def test_a_model_saved_before_the_parts_loads_with_the_global_average_alone(tmp_path):
    data = long_data(length=100)
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=1, conv_segments=1).fit(data)
    clf.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["state"].pop("segment_selection")
    config["params"].pop("conv_segments")
    config["net"].pop("conv_segments")
    config["net"].pop("segment_dropout")
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.conv_segments == 1 and loaded.net.members[0].conv.segments == 1
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
