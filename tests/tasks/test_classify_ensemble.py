"""The classifier's ensemble (``ensemble=M``): M LSTM-FCN members, each with its own weights,
averaged in probability; shapes, the averaging, gradients, save/load and the CLI flag. And
window slicing (``augment``), the training-time augmentation."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.classify import AUGMENT, ENSEMBLE
from lstmkit.cli.main import main
from lstmkit.tasks.classify import ClassifierParams
from lstmkit.tasks.classify_net import ClassifierEnsemble, ClassifierNetConfig, slice_windows

from test_classifier import synthetic, write_ts

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (8, 5, 3)}


def ensemble(m, **kw):
    torch.manual_seed(0)
    return ClassifierEnsemble(ClassifierNetConfig(n_channels=2, n_classes=3, patch=3, ensemble=m, **SMALL, **kw))


def test_members_have_their_own_weights_and_the_output_is_the_mean_probability():
    model = ensemble(3).eval()
    assert len(model.members) == 3 and model.encoder is model.members[0].encoder
    w = [m.head.weight for m in model.members]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])  # own random starts
    x, lengths = torch.randn(4, 5, 6), torch.tensor([5, 3, 1, 4])
    with torch.no_grad():
        members = model.member_logits(x, lengths)
        out = model(x, lengths)
    assert members.shape == (3, 4, 3) and out.shape == (4, 3)
    by_hand = torch.stack([torch.softmax(members[m], -1) for m in range(3)]).mean(0)
    torch.testing.assert_close(out.exp(), by_hand)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(4))
    single = ensemble(1).eval()
    with torch.no_grad():  # one member: its logits unchanged
        torch.testing.assert_close(single(x, lengths), single.members[0](x, lengths))


def test_every_member_gets_its_own_gradient():
    model = ensemble(2, dropout=0.0, lstm_dropout=0.0)  # no random masks: the two computations below are the same
    x, lengths, y = torch.randn(5, 4, 6), torch.tensor([4, 2, 1, 3, 4]), torch.tensor([0, 1, 2, 0, 1])
    logits = model.member_logits(x, lengths)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.repeat(2), reduction="sum") / 5
    loss.backward()
    for m, member in enumerate(model.members):
        for part in ("encoder", "conv", "head"):
            total = sum(float(p.grad.abs().sum()) for n, p in member.named_parameters() if n.startswith(part))
            assert total > 0, (m, part)
    # the summed loss gives member 0 the gradient of its own cross-entropy alone
    alone = ensemble(2, dropout=0.0, lstm_dropout=0.0)
    torch.nn.functional.cross_entropy(alone.members[0](x, lengths), y).backward()
    torch.testing.assert_close(alone.members[0].head.weight.grad, model.members[0].head.weight.grad)


def test_bad_ensemble_sizes():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="ensemble"):
            ClassifierParams(ensemble=bad)
    with pytest.raises(ValueError, match="ensemble"):
        ensemble(0)


def test_fit_save_load_an_ensemble(tmp_path):
    train, test = synthetic(30, seed=0), synthetic(12, seed=1)
    clf = lstmkit.Classifier(**SMALL, ensemble=2, max_epochs=3, patch=4).fit(train)
    assert len(clf.net.members) == 2 and clf.get_params()["ensemble"] == 2
    proba = clf.predict_proba(test)
    assert proba.shape == (12, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert len(loaded.net.members) == 2
    np.testing.assert_array_equal(loaded.predict_proba(test), proba)


def test_a_model_saved_before_ensembles_loads(tmp_path):
    from safetensors.torch import load_file, save_file

    train, test = synthetic(30, seed=0), synthetic(8, seed=1)
    clf = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=2).fit(train)
    before = clf.predict_proba(test)
    clf.save(tmp_path / "m")
    # rewrite it as lstmkit wrote it before ensembles: one net's names, no ensemble/downsample keys
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    for part in ("params", "net", "state"):
        config[part].pop("ensemble", None)
        config[part].pop("downsample", None)
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    weights = load_file(tmp_path / "m" / "model.safetensors")
    save_file({name.removeprefix("members.0."): value for name, value in weights.items()},
              tmp_path / "m" / "model.safetensors")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert len(loaded.net.members) == 1 and loaded.params.ensemble == 1 and loaded.downsample == 1
    np.testing.assert_array_equal(loaded.predict_proba(test), before)


def test_the_cli_flag(tmp_path):
    assert ENSEMBLE == ClassifierParams().ensemble  # --help's default is the Python default
    train = write_ts(tmp_path / "train.ts", synthetic(30, seed=0))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "2", "--ensemble", "2",
                 "--no-baseline", "--out", str(out)]) == 0
    assert '"ensemble": 2' in (out / "config.json").read_text()
    assert len(lstmkit.Classifier.load(out).net.members) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--ensemble", "0", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()


def test_slice_windows_cuts_a_window_and_patches_it_again():
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)  # 2 sequences, 4 patches of 3 steps, C=1
    lengths = torch.tensor([4, 2])  # 12 and 6 steps
    for seed in range(5):
        out, new = slice_windows(x, lengths, 3, 0.2, torch.Generator().manual_seed(seed))
        assert new.tolist() == [4, 2]  # ceil(0.8*12)=10 steps -> 4 patches; ceil(0.8*6)=5 -> 2
        assert out.shape == (2, 4, 3)
        flat = out.reshape(2, 12)
        a = int(flat[0, 0])
        assert 0 <= a <= 2 and flat[0, :10].tolist() == list(range(a, a + 10))
        assert flat[0, 10:].tolist() == [a + 9, a + 9]  # the last patch filled with the window's last step
        b = int(flat[1, 0]) - 12
        assert 0 <= b <= 1 and flat[1, :5].tolist() == [12 + b + t for t in range(5)]
    starts = {int(slice_windows(x, lengths, 3, 0.2, torch.Generator().manual_seed(s))[0][0, 0, 0]) for s in range(20)}
    assert starts == {0, 1, 2}  # every start is drawn
    same, kept = slice_windows(x, lengths, 3, 0.0)
    torch.testing.assert_close(same[0], x[0])  # fraction 0: the sequences unchanged (past the end: filler)
    torch.testing.assert_close(same[1, :2], x[1, :2])
    assert kept.tolist() == [4, 2]


def test_slice_windows_keeps_the_channels_apart():
    x = torch.randn(3, 5, 2 * 4)  # patch 2, C=4
    out, new = slice_windows(x, torch.tensor([5, 3, 1]), 2, 0.5, torch.Generator().manual_seed(0))
    steps_in, steps_out = x.reshape(3, 10, 4), out.reshape(3, -1, 4)
    for i in range(3):
        window = steps_out[i, : int(new[i]) * 2]
        assert any(torch.equal(window[0], steps_in[i, t]) for t in range(10))
        assert int(new[i]) == -(-max(1, int(np.ceil(0.5 * [10, 6, 2][i]))) // 2)


@pytest.mark.slow
def test_augment_trains_and_is_saved(tmp_path):
    assert AUGMENT == ClassifierParams().augment
    with pytest.raises(ValueError, match="augment"):
        ClassifierParams(augment=1.0)
    train, test = synthetic(30, seed=0), synthetic(8, seed=1)
    clf = lstmkit.Classifier(**SMALL, augment=0.2, max_epochs=2, patch=2).fit(train)
    assert clf.predict_proba(test).shape == (8, 2)
    clf.save(tmp_path / "m")
    assert lstmkit.Classifier.load(tmp_path / "m").params.augment == 0.2
    train_file = write_ts(tmp_path / "train.ts", train)
    assert main(["classify", str(train_file), "--hidden-size", "8", "--max-epochs", "1", "--augment", "0.1",
                 "--no-baseline", "--out", str(tmp_path / "run")]) == 0
    assert '"augment": 0.1' in (tmp_path / "run" / "config.json").read_text()


def test_downsample_averages_blocks():
    from lstmkit.tasks.classify import downsample

    seq = np.arange(14, dtype=np.float32).reshape(7, 2)  # 7 steps, 2 channels
    np.testing.assert_allclose(downsample(seq, 3), [[2, 3], [8, 9], [12, 13]])  # the last block: 1 step
    np.testing.assert_allclose(downsample(seq, 2), [[1, 2], [5, 6], [9, 10], [12, 13]])
    assert downsample(seq, 1) is seq and downsample(seq, 10).shape == (1, 2)


@pytest.mark.slow
def test_the_automatic_downsampling_and_patch(tmp_path):
    from lstmkit.data.sequences import SequenceData

    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(300, 1)).astype(np.float32) for _ in range(8)]
    labels = np.array(["a", "b"] * 4)
    data = SequenceData(seqs, labels, ["a", "b"], ["v"], source="long", ids=np.array([str(i) for i in range(8)]))
    clf = lstmkit.Classifier(**SMALL, max_epochs=1, downsample_mode="mean").fit(data)  # fold: test_classify_fold
    assert clf.downsample == 2 and clf.patch == 150 // 16  # round(300 / 128) = 2; 150 steps / 16
    x, lengths = clf.tensors(data)
    assert lengths.tolist() == [-(-150 // 9)] * 8 and x.shape == (8, 17, 9)
    first = (seqs[0][:, 0] - clf.channel_mean[0]) / clf.channel_std[0]
    np.testing.assert_allclose(x[0].reshape(-1)[:150].numpy(), first.reshape(150, 2).mean(1), rtol=1e-5, atol=1e-6)
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.downsample == 2
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    state = clf.fitted_state()
    state.pop("downsample")  # a model saved before downsampling reads its series whole
    clf.restore_state(state)
    assert clf.downsample == 1
    fixed = lstmkit.Classifier(**SMALL, max_epochs=1, downsample=1, patch=5).fit(data)
    assert fixed.downsample == 1 and fixed.patch == 5
    short = lstmkit.Classifier(**SMALL, max_epochs=1).fit(synthetic(20, seed=0))  # lengths 20..40
    assert short.downsample == 1
    with pytest.raises(ValueError, match="downsample"):
        ClassifierParams(downsample=0)
