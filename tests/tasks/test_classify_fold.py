"""Downsampling by folding (``downsample_mode="fold"``, the default): d consecutive time steps
of C channels become one step of d*C values, side by side, for both branches. Values, shapes,
gradients, save/load, the old averaging mode and models saved before folding."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify import ClassifierParams, fold
from lstmkit.tasks.classify_net import ClassifierEnsemble, ClassifierNetConfig

from test_classifier import synthetic

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3)}


def long_data(n=8, length=300, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    seqs = [rng.normal(size=(length - i, channels)).astype(np.float32) for i in range(n)]  # unequal lengths
    labels = np.array(["a", "b"] * (n // 2))
    return SequenceData(seqs, labels, ["a", "b"], [f"v{c}" for c in range(channels)], source="long",
                        ids=np.array([str(i) for i in range(n)]))


def test_fold_puts_d_steps_side_by_side():
    seq = np.arange(14, dtype=np.float32).reshape(7, 2)  # 7 steps, 2 channels: x_t = (2t, 2t+1)
    np.testing.assert_array_equal(fold(seq, 3), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11],
                                                 [12, 13, 12, 13, 12, 13]])  # the last block: x_6 repeated
    np.testing.assert_array_equal(fold(seq, 7), seq.reshape(1, 14))
    assert fold(seq, 1) is seq and fold(seq, 10).shape == (1, 20)


def test_the_default_folds_and_both_branches_read_every_value():
    assert ClassifierParams().downsample_mode == "fold"
    data = long_data(channels=2)
    clf = lstmkit.Classifier(**SMALL, max_epochs=1).fit(data)
    d, k = clf.downsample, clf.patch
    assert (d, k) == (2, 150 // 16)  # round(300 / 128) = 2; 150 folded steps / 16
    x, lengths = clf.tensors(data)
    assert x.shape == (8, 17, k * d * 2) and lengths.tolist() == [-(-(-(-(300 - i) // d)) // k) for i in range(8)]
    scaled = (data.sequences[1] - clf.channel_mean) / clf.channel_std  # 299 steps: the last block repeats x_298
    filled = np.concatenate([scaled, scaled[-1:]]).reshape(-1)
    np.testing.assert_allclose(x[1].reshape(-1)[:300 * 2].numpy(), filled, rtol=1e-6, atol=1e-6)
    member = clf.net.members[0]
    assert member.encoder.input_size == k * d * 2 and member.conv.convs[0].in_channels == d * 2
    # the conv branch reads the folded steps: channel j*C + c of step s is x_{s*d+j}, channel c
    u = x[1:2].reshape(1, 17 * k, d * 2).transpose(1, 2)
    np.testing.assert_allclose(u[0, :, 0].numpy(), scaled[:2].reshape(-1), rtol=1e-6, atol=1e-6)


def test_folded_nets_have_gradients_everywhere_and_ignore_padding():
    torch.manual_seed(0)
    net = ClassifierEnsemble(ClassifierNetConfig(n_channels=2, n_classes=3, patch=3, fold=4, ensemble=2, **SMALL))
    x, lengths = torch.randn(4, 5, 3 * 4 * 2), torch.tensor([5, 3, 2, 1])
    out = net(x, lengths)
    assert out.shape == (4, 3)
    out.logsumexp(-1).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    net.eval()
    noisy = x.clone()
    for i, n in enumerate(lengths.tolist()):
        noisy[i, n:] = 100.0
    with torch.no_grad():
        torch.testing.assert_close(net(noisy, lengths), net(x, lengths))


@pytest.mark.slow
def test_d_1_is_unchanged_and_mean_averages():
    train, test = synthetic(30, seed=0), synthetic(8, seed=1)  # lengths 20..40: d = 1
    folded = lstmkit.Classifier(**SMALL, max_epochs=2, seed=0).fit(train)
    averaged = lstmkit.Classifier(**SMALL, max_epochs=2, seed=0, downsample_mode="mean").fit(train)
    assert folded.downsample == averaged.downsample == 1
    np.testing.assert_array_equal(folded.predict_proba(test), averaged.predict_proba(test))
    data = long_data()
    mean = lstmkit.Classifier(**SMALL, max_epochs=1, downsample_mode="mean").fit(data)
    x, _ = mean.tensors(data)
    first = (data.sequences[0][:, 0] - mean.channel_mean[0]) / mean.channel_std[0]
    assert x.shape[-1] == mean.patch and mean.net.members[0].conv.convs[0].in_channels == 1
    np.testing.assert_allclose(x[0].reshape(-1)[:150].numpy(), first.reshape(150, 2).mean(1), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="downsample_mode"):
        ClassifierParams(downsample_mode="max")


def test_save_load_and_a_model_saved_before_folding(tmp_path):
    data = long_data()
    clf = lstmkit.Classifier(**SMALL, max_epochs=1, downsample_mode="mean").fit(data)
    folded = lstmkit.Classifier(**SMALL, max_epochs=1).fit(data)
    for name, model in (("mean", clf), ("fold", folded)):
        model.save(tmp_path / name)
        loaded = lstmkit.Classifier.load(tmp_path / name)
        assert loaded.downsample_mode == name and loaded.params.downsample_mode == name
        np.testing.assert_array_equal(loaded.predict_proba(data), model.predict_proba(data))
    # rewrite the averaging model as lstmkit wrote it before folding: no downsample_mode, no fold
    config = json.loads((tmp_path / "mean" / "config.json").read_text())
    for part in ("params", "net", "state"):
        config[part].pop("downsample_mode", None)
        config[part].pop("fold", None)
        config[part].pop("lstm_dropout", None)
    (tmp_path / "mean" / "config.json").write_text(json.dumps(config))
    old = lstmkit.Classifier.load(tmp_path / "mean")
    assert old.downsample_mode == "mean"
    np.testing.assert_array_equal(old.predict_proba(data), clf.predict_proba(data))


def test_lstm_dropout_drops_the_lstm_vector_alone_while_training():
    from lstmkit.cli.classify import DOWNSAMPLE_MODE, LSTM_DROPOUT

    assert (DOWNSAMPLE_MODE, LSTM_DROPOUT) == (ClassifierParams().downsample_mode, ClassifierParams().lstm_dropout)
    with pytest.raises(ValueError, match="lstm_dropout"):
        ClassifierParams(lstm_dropout=1.0)
    torch.manual_seed(0)
    net = ClassifierEnsemble(ClassifierNetConfig(n_channels=2, n_classes=3, patch=3, ensemble=1, dropout=0.0,
                                                 lstm_dropout=0.5, **SMALL)).members[0]
    x, lengths = torch.randn(64, 5, 6), torch.full((64,), 5)
    seen = []
    net.head.register_forward_hook(lambda module, args, out: seen.append(args[0]))
    net.train()(x, lengths)
    z_lstm, z_conv = net.lstm_features(x, lengths), net.conv_features(x, lengths)
    width = z_lstm.shape[1]
    kept = seen[0][:, :width] != 0
    assert 0.35 < kept.float().mean() < 0.65  # about half of the LSTM's values dropped
    torch.testing.assert_close(seen[0][:, :width][kept], 2 * z_lstm[kept])  # the rest scaled by 1/(1-p)
    torch.testing.assert_close(seen[0][:, width:], z_conv)  # the conv branch's values untouched
    with torch.no_grad():
        net.eval()(x, lengths)
        whole = torch.cat([net.lstm_features(x, lengths), net.conv_features(x, lengths)], -1)
    torch.testing.assert_close(seen[1], whole)  # predicting: nothing dropped
    alone = ClassifierEnsemble(ClassifierNetConfig(n_channels=2, n_classes=3, ensemble=1, conv_branch=False,
                                                   lstm_dropout=0.5, hidden_size=8)).members[0]
    assert alone.lstm_dropout.p == 0.0  # the LSTM alone: no LSTM-FCN dropout


def test_the_cli_flags(tmp_path):
    from lstmkit.cli.main import main

    from test_classifier import write_ts

    train = write_ts(tmp_path / "train.ts", synthetic(30, seed=0))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--downsample-mode", "mean", "--lstm-dropout", "0.5", "--no-baseline", "--out", str(out)]) == 0
    params = json.loads((out / "config.json").read_text())["params"]
    assert params["downsample_mode"] == "mean" and params["lstm_dropout"] == 0.5
    for bad in (["--downsample-mode", "max"], ["--lstm-dropout", "1"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", str(train), *bad, "--out", str(tmp_path / "bad")])
        assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
