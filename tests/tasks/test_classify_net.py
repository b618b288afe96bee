"""The classifier's LSTM-FCN network: shapes, gradients of both branches, masking, the options
saved with the model, and the step budget."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tasks.classify_net import ClassifierNet, ClassifierNetConfig, ConvBranch

from test_classifier import synthetic, write_ts

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3)}


def net(**kw):
    torch.manual_seed(0)
    options = {"n_channels": 2, "n_classes": 3, "patch": 3, **SMALL, **kw}
    return ClassifierNet(ClassifierNetConfig(**options))


@pytest.mark.parametrize("conv_branch", [True, False])
@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
def test_shapes(conv_branch, pooling):
    model = net(conv_branch=conv_branch, pooling=pooling)
    x = torch.randn(4, 7, 3 * 2)  # (N, S patches, k*C)
    lengths = torch.tensor([7, 5, 1, 3])
    assert model(x, lengths).shape == (4, 3)
    assert model.lstm_features(x, lengths).shape == (4, 16)  # 2 directions x 8
    assert model.encoder.input_size == 6
    if conv_branch:
        assert model.conv_features(x, lengths).shape == (4, 8)
        assert model.head.in_features == 16 + 8
    else:
        assert model.conv is None and model.head.in_features == 16


def test_both_branches_get_gradient():
    model = net()
    x = torch.randn(5, 6, 6)
    loss = torch.nn.functional.cross_entropy(model(x, torch.tensor([6, 4, 2, 6, 1])), torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()
    grads = {name: param.grad for name, param in model.named_parameters()}
    assert all(g is not None for g in grads.values())
    # every part of both branches is reached (a single ReLU unit of a gate may be dead)
    for part in ("encoder.", "conv.convs.0", "conv.convs.2", "conv.norms.1", "conv.excites.0", "conv.excites.1", "head."):
        total = sum(float(g.abs().sum()) for n, g in grads.items() if n.startswith(part))
        assert total > 0, part


@pytest.mark.parametrize("squeeze_excite", [True, False])
def test_padding_does_not_change_a_shorter_sequence(squeeze_excite):
    model = net(squeeze_excite=squeeze_excite).eval()
    with torch.no_grad():  # running statistics that are not the identity
        for norm in model.conv.norms:
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.5, 2.0)
    short = torch.randn(1, 3, 6)
    long = torch.randn(1, 8, 6)
    batch = torch.cat([torch.cat([short, torch.full((1, 5, 6), 100.0)], dim=1), long])  # garbage past the end
    with torch.no_grad():
        alone = model(short, torch.tensor([3]))
        together = model(batch, torch.tensor([3, 8]))
        conv_alone = model.conv_features(short, torch.tensor([3]))
        conv_together = model.conv_features(batch, torch.tensor([3, 8]))
    torch.testing.assert_close(together[:1], alone)
    torch.testing.assert_close(conv_together[:1], conv_alone)


def test_conv_branch_pools_over_real_steps_only():
    branch = ConvBranch(1, (4,), (3,), squeeze_excite=False).eval()
    u = torch.randn(1, 1, 5)
    padded = torch.cat([u, torch.full((1, 1, 4), 7.0)], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(branch(padded, torch.tensor([5])), branch(u, torch.tensor([5])))
        # the pooled vector is the mean of the block's output over the 5 real steps
        by_hand = torch.relu(branch.norms[0](branch.convs[0](torch.nn.functional.pad(u, (1, 1))))).mean(-1)
    torch.testing.assert_close(branch(u, torch.tensor([5])), by_hand)


def test_params_and_bad_options():
    clf = lstmkit.Classifier()
    params = clf.get_params()
    assert params["conv_branch"] is True and params["squeeze_excite"] is True
    assert params["conv_channels"] == (128, 256, 128) and params["conv_kernels"] == (8, 5, 3)
    assert params["max_steps"] == 1000 and params["lr_schedule"] == "cosine"
    clf.set_params(conv_branch=False, conv_channels=[4, 4], conv_kernels=[3, 3])
    assert clf.get_params()["conv_branch"] is False and clf.params.conv_channels == (4, 4)
    with pytest.raises(ValueError, match="same .non-zero. length"):
        lstmkit.Classifier(conv_channels=(8, 8), conv_kernels=(3,))
    with pytest.raises(ValueError, match="max_steps"):
        lstmkit.Classifier(max_steps=0)


def test_save_load_keeps_the_architecture(tmp_path):
    train, test = synthetic(30, seed=0), synthetic(10, seed=1)
    clf = lstmkit.Classifier(**SMALL, max_epochs=3, patch=4).fit(train)
    clf.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    text = json.dumps(config)
    assert '"conv_branch": true' in text and '"conv_channels": [8, 16, 8]' in text
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.net.members[0].conv is not None and loaded.net.config.patch == 4
    np.testing.assert_array_equal(loaded.predict_proba(test), clf.predict_proba(test))
    lstm_only = lstmkit.Classifier(**SMALL, max_epochs=2, conv_branch=False).fit(train)
    lstm_only.save(tmp_path / "l")
    assert lstmkit.Classifier.load(tmp_path / "l").net.members[0].conv is None


@pytest.mark.slow
def test_max_steps_sets_the_epochs():
    train = synthetic(40, seed=0)  # 40 sequences in batches of 16: 3 per epoch
    clf = lstmkit.Classifier(**SMALL, max_steps=7, max_epochs=50).fit(train)
    assert clf.fit_result.epochs == 3  # ceil(7 / 3)
    capped = lstmkit.Classifier(**SMALL, max_steps=1000, max_epochs=2).fit(train)
    assert capped.fit_result.epochs == 2


def test_classify_command_without_the_conv_branch(tmp_path, capsys):
    train = write_ts(tmp_path / "train.ts", synthetic(30, seed=0))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "2", "--no-conv-branch",
                 "--no-squeeze-excite", "--no-baseline", "--out", str(out)]) == 0
    text = (out / "config.json").read_text()
    assert '"conv_branch": false' in text and '"squeeze_excite": false' in text
    assert lstmkit.Classifier.load(out).net.members[0].conv is None
    with pytest.raises(SystemExit) as exit_info:  # argparse: one error line, exit 2
        main(["classify", str(train), "--val-fraction", "0.7", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2
    assert "--val-fraction" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_the_conv_kernels_flag(tmp_path):
    from lstmkit.cli.classify import CONV_KERNELS
    from lstmkit.tasks.classify import ClassifierParams

    assert CONV_KERNELS == ClassifierParams().conv_kernels
    train = write_ts(tmp_path / "train.ts", synthetic(16))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--no-baseline", "--conv-kernels", "7,4,2", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["conv_kernels"] == [[7, 4, 2]]  # one list per member
    loaded = lstmkit.Classifier.load(out)
    assert [conv.kernel_size[0] for conv in loaded.net.members[0].conv.convs] == [7, 4, 2]
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--conv-kernels", "8,0,3", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
