"""Members with their own convolution widths (``kernel_scales``): member m's kernels are
max(1, round(k_j * s_m)); by default 1, 1.5, 2 on series of 64 (downsampled) steps or more,
else 1. Values, the automatic choice, save/load, the forward pass, bad options, the CLI flag."""

import pytest
import torch

import lstmkit
from lstmkit.tasks.classify import (KERNEL_SCALES_MIN_STEPS, ClassifierParams, automatic_kernel_scales,
                                    member_kernels)
from lstmkit.tasks.classify_net import ClassifierEnsemble, ClassifierNetConfig

from test_classifier import synthetic
from test_classify_fold import SMALL, long_data


def widths(clf):
    return [[conv.kernel_size[0] for conv in member.conv.convs] for member in clf.net.members]


def test_member_kernel_widths():
    assert ClassifierParams().kernel_scales is None  # automatic
    assert automatic_kernel_scales(KERNEL_SCALES_MIN_STEPS) == (1.0, 1.5, 2.0)
    assert automatic_kernel_scales(KERNEL_SCALES_MIN_STEPS - 1) == (1.0,)
    assert member_kernels((8, 5, 3), (1, 1.5, 2), 3) == ((8, 5, 3), (12, 8, 5), (16, 10, 6))  # 7.5, 4.5 round up
    assert member_kernels((8, 5, 3), (1, 2), 3) == ((8, 5, 3), (16, 10, 6), (8, 5, 3))  # the scales in turn
    assert member_kernels((3, 1), (0.1,), 1) == ((1, 1),)  # never below 1
    for bad in ((), (0.0,), (1.0, -2.0), (float("inf"),)):
        with pytest.raises(ValueError, match="kernel_scales"):
            ClassifierParams(kernel_scales=bad)


@pytest.mark.slow
def test_members_get_their_widths_and_keep_them_through_save_load(tmp_path):
    data = synthetic(24)  # 20..40 steps: below the floor, every member at 8/5/3 by default
    plain = lstmkit.Classifier(**SMALL, ensemble=3, max_epochs=1, progress=False).fit(data)
    assert widths(plain) == [[8, 5, 3]] * 3 and plain.net.config.member_kernels is None
    assert plain.params.kernel_scales is None
    longer = long_data(n=8)  # ~300 steps folded in pairs: ~148, so the members widen by default
    wide = lstmkit.Classifier(**SMALL, ensemble=3, max_epochs=1, progress=False).fit(longer)
    assert widths(wide) == [[8, 5, 3], [12, 8, 5], [16, 10, 6]]
    one = lstmkit.Classifier(**SMALL, ensemble=3, kernel_scales=(1,), max_epochs=1, progress=False).fit(longer)
    assert widths(one) == [[8, 5, 3]] * 3
    clf = lstmkit.Classifier(**SMALL, ensemble=3, kernel_scales=(1, 1.5, 2), max_epochs=2, progress=False).fit(data)
    assert widths(clf) == [[8, 5, 3], [12, 8, 5], [16, 10, 6]]
    clf.save(tmp_path / "m")
    again = lstmkit.Classifier.load(tmp_path / "m")
    assert widths(again) == widths(clf) and again.params.kernel_scales == (1.0, 1.5, 2.0)
    torch.testing.assert_close(torch.as_tensor(again.predict_proba(data)), torch.as_tensor(clf.predict_proba(data)))


def test_a_member_config_for_each_member_is_checked():
    base = dict(n_channels=2, n_classes=2, hidden_size=4, conv_channels=(4, 4), conv_kernels=(3, 3), ensemble=2)
    with pytest.raises(ValueError, match="member_kernels must hold one kernel per conv layer"):
        ClassifierEnsemble(ClassifierNetConfig(**base, member_kernels=((3, 3),)))
    with pytest.raises(ValueError, match="member_kernels"):
        ClassifierEnsemble(ClassifierNetConfig(**base, member_kernels=((3,), (3, 3))))
    net = ClassifierEnsemble(ClassifierNetConfig(**base, member_kernels=((3, 3), (5, 1))))
    x, lengths = torch.randn(3, 6, 2), torch.tensor([6, 4, 2])
    out = net(x, lengths)
    assert out.shape == (3, 2) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in net.members[1].conv.parameters())


def test_the_cli_flag(tmp_path):
    import json

    from lstmkit.cli.classify import KERNEL_SCALES
    from lstmkit.cli.main import main
    from test_classifier import write_ts

    assert KERNEL_SCALES == ClassifierParams().kernel_scales
    train = write_ts(tmp_path / "train.ts", synthetic(16))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "2",
                 "--no-baseline", "--kernel-scales", "1,2", "--out", str(out)]) == 0  # asked for on short series
    assert json.loads((out / "metrics.json").read_text())["conv_kernels"] == [[8, 5, 3], [16, 10, 6]]
    with pytest.raises(SystemExit) as exit_info:
        main(["classify", str(train), "--kernel-scales", "1,0", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2 and not (tmp_path / "bad").exists()
