"""The multi-resolution ensemble (``fold_scales``, off by default): member m reads the series
in blocks of d_m = max(1, round(d * s_m)) steps (d > 1). Values, shapes, gradients, padding,
save/load, models saved before it, ``lstmkit inspect`` and the CLI flag."""

import json

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tasks.classify import (FOLD_MIN_STEPS, KERNEL_SCALES_MIN_STEPS, WHOLE_FOLD_SCALES, ClassifierParams,
                                    automatic_fold_scales, member_downsampling)
from lstmkit.tasks.classify_net import ClassifierEnsemble, ClassifierNetConfig

from test_classifier import synthetic, write_ts
from test_classify_fold import SMALL, long_data

MULTI = {"fold_scales": (1, 0.5, 2)}


def long_ts(path, n=8, length=300):
    """``long_data(n, length)`` written as a .ts file (write_ts's class names)."""
    data = long_data(n=n, length=length)
    data.labels = np.where(data.labels == "a", "sine", "square")
    data.classes = ["sine", "square"]
    return write_ts(path, data)


def test_member_block_widths():
    assert ClassifierParams().fold_scales is None  # automatic: automatic_fold_scales
    assert member_downsampling(11, (1, 0.5, 2), 3) == [11, 6, 22]  # 5.5 rounds up
    assert member_downsampling(2, (1, 0.5, 2), 3) == [2, 1, 4]
    assert member_downsampling(3, (1, 0.5, 2), 5) == [3, 2, 6, 3, 2]  # the scales taken in turn
    assert member_downsampling(1, (1, 0.5, 2), 3) == [1, 1, 2]  # series read whole scale too
    assert member_downsampling(1, (1, 2, 4), 3) == [1, 2, 4]
    assert member_downsampling(8, (1.0,), 3) == [8, 8, 8]
    # the cap (median / 16 by default): never below d, never on members finer than d
    assert member_downsampling(1, (1, 2, 4), 3, max_width=3) == [1, 2, 3]
    assert member_downsampling(1, (1, 2, 4), 3, max_width=0) == [1, 1, 1]
    assert member_downsampling(6, (1, 0.5, 4), 3, max_width=4) == [6, 3, 6]
    assert member_downsampling(12, (1, 2, 4), 3, period=4, max_width=30) == [12, 24, 28]  # whole periods
    for bad in ((), (0.0,), (1.0, -1.0), (float("nan"),)):
        with pytest.raises(ValueError, match="fold_scales"):
            ClassifierParams(fold_scales=bad)


def test_automatic_fold_scales_for_series_read_whole():
    assert WHOLE_FOLD_SCALES == (1.0, 2.0, 4.0) and FOLD_MIN_STEPS == 16
    assert automatic_fold_scales(1, KERNEL_SCALES_MIN_STEPS) == WHOLE_FOLD_SCALES
    assert automatic_fold_scales(1, KERNEL_SCALES_MIN_STEPS - 1) == (1.0,)  # short series: all whole
    assert automatic_fold_scales(2, 300) == (1.0,)  # folded already: every member at d


@pytest.mark.parametrize("length, options, widths", [
    (100, {}, [1, 2, 4]),  # read whole, 100 steps: blocks of 1, 2 and 4
    (60, {}, [1, 1, 1]),  # under 64 steps: every member whole
    (300, {}, [2, 2, 2]),  # folded by the length rule: every member at d = 2
    (100, {"fold_scales": (1.0,)}, [1, 1, 1]),  # the user's scales win
    (40, {"fold_scales": (1.0, 2.0, 4.0)}, [1, 2, 2]),  # at most 40 // 16 = 2 steps per block
])
def test_the_default_members_block_widths(length, options, widths):
    data = long_data(length=length)
    clf = lstmkit.Classifier(**SMALL, **options, max_epochs=1).fit(data)
    assert clf.member_downsample == widths
    assert clf.net.multiresolution == (len(set(widths)) > 1)
    median = float(np.median(data.lengths))
    assert clf.member_patch == [max(1, int(-(-median // d)) // 16) for d in widths]
    for member, d in zip(clf.net.members, widths):
        assert member.conv.convs[0].in_channels == d  # one channel, d steps side by side
    assert clf.predict_proba(data).shape == (len(data), 2)


def test_each_member_reads_its_own_resolution_and_the_output_is_their_mean():
    data = long_data(channels=2)  # lengths 293..300: d = round(300 / 128) = 2
    # the networks alone (no summary statistics mixed in): their mean is the prediction
    clf = lstmkit.Classifier(**SMALL, **MULTI, max_epochs=1, summary_mix=0.0).fit(data)
    assert clf.member_downsample == [2, 1, 4] and (clf.downsample, clf.patch) == (2, 150 // 16)
    assert clf.member_patch == [150 // 16, 300 // 16, 75 // 16] and clf.net.multiresolution
    xs, ls = clf.member_tensors(data)
    assert len(xs) == len(ls) == 3
    for member, x, lengths, d, k in zip(clf.net.members, xs, ls, clf.member_downsample, clf.member_patch):
        assert member.config.fold == d and member.config.patch == k
        assert member.encoder.input_size == k * d * 2 and member.conv.convs[0].in_channels == d * 2
        assert x.shape[-1] == k * d * 2
        assert lengths.tolist() == [-(-(-(-(300 - i) // d)) // k) for i in range(8)]
        # every member reads the same standardised values, in its own blocks
        scaled = (data.sequences[0] - clf.channel_mean) / clf.channel_std  # 300 steps
        np.testing.assert_allclose(x[0].reshape(-1)[:600].numpy(), scaled.reshape(-1), rtol=1e-6, atol=1e-6)
    with torch.no_grad():
        own = [torch.softmax(m.eval()(x, lengths), -1) for m, x, lengths in zip(clf.net.members, xs, ls)]
    np.testing.assert_allclose(clf.predict_proba(data), torch.stack(own).mean(0).numpy(), rtol=1e-5, atol=1e-6)
    x0, l0 = clf.tensors(data)  # tensors(): member 0's input
    torch.testing.assert_close(x0, xs[0]) and torch.testing.assert_close(l0, ls[0])


@pytest.mark.slow
def test_one_scale_and_short_series_are_the_single_resolution_ensemble():
    data = long_data()
    one = lstmkit.Classifier(**SMALL, max_epochs=1).fit(data)
    assert one.member_downsample == [2, 2, 2] and not one.net.multiresolution
    assert one.net.config.member_folds is None and one.net.config.member_patches is None
    train, test = synthetic(30, seed=2), synthetic(8, seed=1)  # lengths 20..40, d = 1
    assert np.median(train.lengths) < 2 * 16  # no member may read them in blocks of 2 (16 blocks at least)
    multi = lstmkit.Classifier(**SMALL, **MULTI, max_epochs=2, seed=0).fit(train)
    single = lstmkit.Classifier(**SMALL, max_epochs=2, seed=0).fit(train)
    assert multi.member_downsample == [1, 1, 1] and not multi.net.multiresolution
    np.testing.assert_array_equal(multi.predict_proba(test), single.predict_proba(test))


def test_members_at_different_folds_get_gradients_and_ignore_padding():
    torch.manual_seed(0)
    config = ClassifierNetConfig(n_channels=2, n_classes=3, fold=2, patch=3, ensemble=2, member_folds=(2, 4),
                                 member_patches=(3, 1), dropout=0.0, lstm_dropout=0.0, **SMALL)  # no random masks
    net = ClassifierEnsemble(config)
    assert net.multiresolution and [m.config.fold for m in net.members] == [2, 4]
    xs = (torch.randn(4, 5, 3 * 2 * 2), torch.randn(4, 7, 1 * 4 * 2))
    ls = (torch.tensor([5, 3, 2, 1]), torch.tensor([7, 4, 3, 1]))
    out = net(xs, ls)
    assert out.shape == (4, 3) and net.member_logits(xs, ls).shape == (2, 4, 3)
    out.logsumexp(-1).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    net.eval()
    noisy = tuple(x.clone() for x in xs)
    for x, lengths in zip(noisy, ls):
        for i, n in enumerate(lengths.tolist()):
            x[i, n:] = 100.0
    with torch.no_grad():
        torch.testing.assert_close(net(noisy, ls), net(xs, ls))
    with pytest.raises(ValueError, match="one input per member"):
        net(xs[:1], ls[:1])
    with pytest.raises(ValueError, match="member_folds"):
        ClassifierEnsemble(ClassifierNetConfig(n_channels=2, n_classes=3, ensemble=3, member_folds=(1, 2),
                                               member_patches=(1, 1, 1), **SMALL))


def test_save_load_and_a_model_saved_before_multiresolution(tmp_path):
    data = long_data()
    multi = lstmkit.Classifier(**SMALL, **MULTI, max_epochs=1).fit(data)
    multi.save(tmp_path / "multi")
    loaded = lstmkit.Classifier.load(tmp_path / "multi")
    assert loaded.member_downsample == [2, 1, 4] and loaded.member_patch == multi.member_patch
    assert loaded.params.fold_scales == (1.0, 0.5, 2.0) and loaded.net.multiresolution
    np.testing.assert_array_equal(loaded.predict_proba(data), multi.predict_proba(data))
    # a model as lstmkit wrote it before: one resolution, no member_* entries, no fold_scales
    single = lstmkit.Classifier(**SMALL, max_epochs=1).fit(data)
    single.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    config["params"].pop("fold_scales")
    config["params"].pop("align_period")
    config["state"].pop("period")
    for key in ("member_folds", "member_patches"):
        config["net"].pop(key)
    for key in ("member_patch", "member_downsample"):
        config["state"].pop(key)
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = lstmkit.Classifier.load(tmp_path / "old")
    assert old.params.fold_scales == (1.0,) and old.member_downsample == [2, 2, 2] and not old.net.multiresolution
    assert old.params.align_period is False and old.period is None
    np.testing.assert_array_equal(old.predict_proba(data), single.predict_proba(data))


def test_inspect_reads_member_0(tmp_path):
    model = tmp_path / "model"
    clf = lstmkit.Classifier(**SMALL, **MULTI, max_epochs=1).fit(long_data())
    clf.save(model)
    train = long_ts(tmp_path / "train.ts")
    view = clf.encoder_view(str(train))
    x0, l0 = clf.tensors(clf.read(str(train)))
    assert view.encoder is clf.net.members[0].encoder and view.inputs.shape[-1] == view.encoder.input_size
    torch.testing.assert_close(view.inputs, x0) and torch.testing.assert_close(view.lengths, l0)
    assert main(["inspect", "--model", str(model), str(train), "--out", str(tmp_path / "inside")]) == 0
    assert (tmp_path / "inside" / "inspect.json").is_file()


@pytest.mark.slow
def test_the_cli_flag(tmp_path):
    from lstmkit.cli.classify import FOLD_SCALES

    assert FOLD_SCALES == ClassifierParams().fold_scales
    train = long_ts(tmp_path / "train.ts", n=16)
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--fold-scales", "1,0.25",
                 "--no-baseline", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["params"]["fold_scales"] == [1.0, 0.25] and saved["state"]["member_downsample"] == [2, 1, 2]
    # the default on series read whole (d = 1, 64 steps or more): blocks of 1, 2 and 4, in
    # config.json (params: automatic) and metrics.json
    whole = long_ts(tmp_path / "whole.ts", n=16, length=100)
    assert main(["classify", str(whole), "--hidden-size", "8", "--max-epochs", "1", "--no-baseline",
                 "--out", str(tmp_path / "whole")]) == 0
    saved = json.loads((tmp_path / "whole" / "config.json").read_text())
    metrics = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert saved["params"]["fold_scales"] is None and saved["state"]["member_downsample"] == [1, 2, 4]
    assert metrics["member_downsample"] == [1, 2, 4] and metrics["downsample"] == 1
    assert main(["classify", str(whole), "--hidden-size", "8", "--max-epochs", "1", "--no-baseline",
                 "--fold-scales", "1", "--out", str(tmp_path / "one")]) == 0
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["member_downsample"] == [1, 1, 1]
    for bad in ("0", "1,x", "", "1,-2"):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", str(train), "--fold-scales", bad, "--out", str(tmp_path / "bad")])
        assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
