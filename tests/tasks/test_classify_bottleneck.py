"""The channel bottleneck (``channel_bottleneck=B``): more than B channels are read by both
branches through one learned map to B at every raw time step, the folded steps left apart. Values against a network fed the mapped
input by hand, padding, gradients, where it applies, save/load (and models saved before the
option), inspect, the CLI flag and bad values."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.tasks.classify import ClassifierParams
from lstmkit.tasks.classify_net import ClassifierEnsemble, ClassifierNet, ClassifierNetConfig

from test_classifier import saved_without, synthetic, write_ts

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "conv_kernels": (5, 3, 3)}


def _config(**kwargs) -> ClassifierNetConfig:
    return ClassifierNetConfig(n_channels=10, fold=2, n_classes=3, patch=2, **SMALL, **kwargs)


def test_the_branches_read_the_mapped_steps():
    torch.manual_seed(0)
    net = ClassifierNet(_config(channel_bottleneck=4, values_branch=True, values_places=3)).eval()
    assert net.bottleneck.weight.shape == (4, 10) and net.bottleneck.bias is None  # C = 10 -> B = 4
    assert net.input_width == 8 and net.conv.convs[0].in_channels == 8  # d*B: the folded steps apart
    plain = ClassifierNet(ClassifierNetConfig(n_channels=4, fold=2, n_classes=3, patch=2, **SMALL,
                                              values_branch=True, values_places=3)).eval()
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("bottleneck.")})
    x, lengths = torch.randn(4, 7, 2 * 2 * 10), torch.tensor([7, 6, 4, 2])
    # by hand: each of the k*d = 4 raw steps of a patch, C = 10 values each, mapped by W_b alone
    w = net.bottleneck.weight.detach()
    mapped = torch.cat([x[..., 10 * j:10 * (j + 1)] @ w.T for j in range(4)], dim=-1)  # (4, 7, 4*4)
    torch.testing.assert_close(net.project(x), mapped)
    with torch.no_grad():
        torch.testing.assert_close(net(x, lengths), plain(mapped, lengths))


def test_a_padded_sequence_gives_what_it_gives_alone():
    torch.manual_seed(1)
    net = ClassifierNet(_config(channel_bottleneck=4)).eval()
    x = torch.randn(1, 4, 40)
    padded = torch.cat([x, torch.zeros(1, 3, 40)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(net(padded, torch.tensor([4])), net(x, torch.tensor([4])))


def test_gradients_reach_the_map():
    torch.manual_seed(2)
    net = ClassifierNet(_config(channel_bottleneck=4))
    loss = torch.nn.functional.cross_entropy(net(torch.randn(5, 3, 40), torch.tensor([3, 3, 2, 1, 3])),
                                             torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()
    assert net.bottleneck.weight.grad is not None and float(net.bottleneck.weight.grad.abs().sum()) > 0


def test_no_map_where_the_steps_are_not_wider_than_b():
    for b in (0, 10, 16):  # 0: never; C = 10 channels are not more than 10, nor than 16 (though d*C = 20 is)
        torch.manual_seed(3)
        net = ClassifierNet(_config(channel_bottleneck=b))
        assert net.bottleneck is None and net.input_width == 20 and net.conv.convs[0].in_channels == 20
    torch.manual_seed(3)
    same = ClassifierNet(_config())
    torch.manual_seed(3)
    at_20 = ClassifierNet(_config(channel_bottleneck=16))
    x = torch.randn(2, 3, 40)
    with torch.no_grad():
        torch.testing.assert_close(same.eval()(x, torch.tensor([3, 2])), at_20.eval()(x, torch.tensor([3, 2])))


def test_bad_values_are_refused():
    for bad in (-1, 1.5, True, "8"):
        with pytest.raises(ValueError, match="channel_bottleneck must be a whole number >= 0"):
            lstmkit.Classifier(channel_bottleneck=bad)
        with pytest.raises(ValueError, match="channel_bottleneck must be a whole number >= 0"):
            ClassifierEnsemble(_config(channel_bottleneck=bad))
    assert ClassifierParams().channel_bottleneck == 128  # the default: more than 128 channels mapped to 128


def _wide(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """30 channels, a bump on the first ten, up or down (the class), anywhere."""
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b"] * (n // 2))
    x = rng.normal(size=(n, 30, 24)).astype(np.float32)
    for i, label in enumerate(y):
        start = int(rng.integers(0, 18))
        x[i, :10, start:start + 6] += 2.0 if label == "a" else -2.0
    return x, y


def test_fit_save_load_and_inspect(tmp_path):
    x, y = _wide(24, 0)
    xt, yt = _wide(10, 1)
    options = {**SMALL, "ensemble": 2, "conv_segments": 1, "conv_max": False, "fold_scales": (1.0,),
               "values_branch": False, "summary_mix": 0.0, "values_mix": 0.0, "trend_window": 0,
               "max_steps": 40, "scaling": "global"}
    clf = lstmkit.Classifier(**options, channel_bottleneck=8).fit(x, y)
    assert [m.bottleneck.weight.shape for m in clf.net.members] == [(8, 30), (8, 30)]
    assert clf.score(xt, yt) >= 0.8  # the bump's sign on ten channels of thirty, through 8
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.channel_bottleneck == 8 and loaded.net.config.channel_bottleneck == 8
    np.testing.assert_array_equal(loaded.predict_proba(xt), clf.predict_proba(xt))
    view = clf.encoder_view(xt)  # what the LSTM reads: the mapped steps
    assert view.inputs.shape[-1] == 8 * clf.patch

    old = lstmkit.Classifier(**options, max_epochs=1).fit(x, y)
    old.save(tmp_path / "old")
    saved_without(tmp_path / "old", "channel_bottleneck")
    before = lstmkit.Classifier.load(tmp_path / "old")
    assert before.net.config.channel_bottleneck == 0 and before.net.members[0].bottleneck is None
    np.testing.assert_array_equal(before.predict_proba(xt), old.predict_proba(xt))


def test_the_cli_flag(tmp_path, capsys):
    from lstmkit.cli.classify import CHANNEL_BOTTLENECK
    from lstmkit.cli.main import main

    assert CHANNEL_BOTTLENECK == ClassifierParams().channel_bottleneck  # the CLI's default is the library's
    train = tmp_path / "train.ts"
    write_ts(train, synthetic(24, seed=0, channels=3))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--conv-segments", "1", "--channel-bottleneck", "2", "--no-baseline", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["params"]["channel_bottleneck"] == 2 and saved["net"]["channel_bottleneck"] == 2
    assert ("channel bottleneck: 1 of 1 networks read the 3 channels of every step through a learned map to 2"
            in capsys.readouterr().out)
    assert json.loads((out / "metrics.json").read_text())["channel_bottleneck"] == [2]
    with pytest.raises(SystemExit) as stopped:  # argparse: usage and one error line, exit 2
        main(["classify", str(train), "--channel-bottleneck", "-3", "--out", str(tmp_path / "bad")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--channel-bottleneck" in err and "-3" in err and not (tmp_path / "bad").exists()


def test_by_default_more_than_128_channels_are_mapped_to_128():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 130, 20)).astype(np.float32), np.array(["a", "b"] * 4)
    options = {**SMALL, "ensemble": 1, "conv_segments": 1, "conv_max": False, "fold_scales": (1.0,),
               "values_branch": False, "summary_mix": 0.0, "values_mix": 0.0, "trend_window": 0, "max_steps": 2}
    wide = lstmkit.Classifier(**options).fit(x, y)
    assert wide.net.members[0].bottleneck.weight.shape == (128, 130)
    assert wide.net.members[0].conv.convs[0].in_channels == 128
    narrow = lstmkit.Classifier(**options).fit(x[:, :128], y)  # 128 channels: read as they are
    assert narrow.net.members[0].bottleneck is None and narrow.net.members[0].conv.convs[0].in_channels == 128
