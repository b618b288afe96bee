"""BatchNorm over the real steps alone (``masked_norm``, the default): the statistics, the
gradients and the running statistics against ``nn.BatchNorm1d`` on the real values, a batch's
output that no longer depends on its padding, the classifier option, save/load and the CLI."""

import json

import numpy as np
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks.classify_net import ConvBranch, MaskedBatchNorm1d

from test_classifier import write_ts
from test_classify_fold import SMALL


def mask_of(lengths, steps):
    return (torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]).unsqueeze(1).float()


def test_without_padding_it_is_torchs_batchnorm_bit_for_bit():
    torch.manual_seed(0)
    u = torch.randn(4, 3, 9)
    ours, theirs = MaskedBatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        for norm in (ours, theirs):
            norm.weight.copy_(torch.tensor([0.5, 1.0, 2.0]))
            norm.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    a, b = u.clone().requires_grad_(), u.clone().requires_grad_()
    out_ours, out_theirs = ours(a, torch.ones(4, 1, 9)), theirs(b)
    assert torch.equal(out_ours, out_theirs)  # equal lengths: the same fits as without masked_norm
    weights = torch.randn_like(out_ours)
    (out_ours * weights).sum().backward()
    (out_theirs * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    assert int(ours.num_batches_tracked) == 1
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(u, torch.ones(4, 1, 9)), theirs(u))  # eval: running statistics
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_with_padding_the_statistics_are_those_of_the_real_steps():
    torch.manual_seed(1)
    lengths, steps = [9, 4, 6], 9
    u = torch.randn(3, 2, steps) + 3.0
    u = u * mask_of(lengths, steps) + (1 - mask_of(lengths, steps)) * 50.0  # padding: anything
    ours, theirs = MaskedBatchNorm1d(2), torch.nn.BatchNorm1d(2)
    a = u.clone().requires_grad_()
    out = ours(a, mask_of(lengths, steps))
    real = torch.cat([u[i, :, :n] for i, n in enumerate(lengths)], dim=-1)[None]  # (1, C, 19): the real values
    b = real.clone().requires_grad_()
    by_hand = theirs(b)
    got = torch.cat([out[i, :, :n] for i, n in enumerate(lengths)], dim=-1)[None]
    torch.testing.assert_close(got, by_hand)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    weights = torch.randn_like(by_hand)
    (got * weights).sum().backward()
    (by_hand * weights).sum().backward()
    grads = torch.cat([a.grad[i, :, :n] for i, n in enumerate(lengths)], dim=-1)[None]
    torch.testing.assert_close(grads, b.grad)
    assert float(a.grad[1, :, 4:].abs().max()) == 0.0  # the padding gets no gradient


def test_a_batchs_output_does_not_depend_on_its_padding_in_training():
    torch.manual_seed(2)
    lengths = torch.tensor([7, 3])
    u = torch.randn(2, 2, 7) * mask_of([7, 3], 7)
    longer = torch.cat([u, torch.zeros(2, 2, 5)], dim=-1)  # five more steps past every end
    for masked, same in ((True, True), (False, False)):
        torch.manual_seed(3)
        branch = ConvBranch(2, (4, 4), (3, 2), squeeze_excite=True, masked_norm=masked).train()
        a, b = branch(u, lengths), branch(longer, lengths)
        assert torch.allclose(a, b, atol=1e-6) is same
    # in eval, the steps past the longest series are cut either way: the same output
    branch.eval()
    with torch.no_grad():
        torch.testing.assert_close(branch(u, lengths), branch(longer, lengths))


def uneven(n=24, seed=0):
    """Two classes (a rising or a falling ramp plus noise) of lengths 20..120."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        label = "sine" if i % 2 == 0 else "square"
        length = int(rng.integers(20, 121))
        ramp = np.linspace(-1.0, 1.0, length) * (1.0 if label == "sine" else -1.0)
        seqs.append((ramp + 0.2 * rng.normal(size=length))[:, None].astype(np.float32))
        labels.append(label)
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["v"], source="uneven",
                        ids=np.array([str(i) for i in range(n)]))


def test_the_classifier_option_save_load_and_the_cli(tmp_path):
    from lstmkit.cli.classify import MASKED_NORM
    from lstmkit.tasks.classify import ClassifierParams

    assert MASKED_NORM is ClassifierParams().masked_norm is True  # the CLI's default is the library's
    data = uneven()
    clf = lstmkit.Classifier(**SMALL, ensemble=1, conv_segments=1, max_steps=60, seed=0).fit(data)
    assert isinstance(clf.net.members[0].conv.norms[0], MaskedBatchNorm1d)
    assert clf.evaluate(data)["accuracy"] == 1.0
    clf.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.masked_norm and isinstance(loaded.net.members[0].conv.norms[0], MaskedBatchNorm1d)
    np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))
    plain = lstmkit.Classifier(**SMALL, ensemble=1, max_epochs=1, masked_norm=False).fit(data)
    assert type(plain.net.members[0].conv.norms[0]) is torch.nn.BatchNorm1d
    train = write_ts(tmp_path / "train.ts", data)
    for flags, expected in (([], True), (["--no-masked-norm"], False), (["--masked-norm"], True)):
        out = tmp_path / f"run{len(flags)}{expected}"
        assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                     "--conv-segments", "1", "--no-baseline", *flags, "--out", str(out)]) == 0
        assert json.loads((out / "config.json").read_text())["params"]["masked_norm"] is expected
        assert json.loads((out / "metrics.json").read_text())["masked_norm"] is expected


def test_a_model_saved_with_torch_batchnorm_loads_and_predicts_the_same(tmp_path):
    """A model trained with ``masked_norm=False``, or saved before the option existed (no
    ``masked_norm`` in its params or its net config), keeps torch's BatchNorm when loaded."""
    data = uneven()
    clf = lstmkit.Classifier(**SMALL, ensemble=1, conv_segments=1, max_steps=30, masked_norm=False, seed=1).fit(data)
    clf.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["params"].pop("masked_norm")
    config["net"].pop("masked_norm")
    clf.save(tmp_path / "old")
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    for name in ("m", "old"):
        loaded = lstmkit.Classifier.load(tmp_path / name)
        assert loaded.params.masked_norm is False
        assert type(loaded.net.members[0].conv.norms[0]) is torch.nn.BatchNorm1d
        np.testing.assert_array_equal(loaded.predict_proba(data), clf.predict_proba(data))


def test_a_training_batch_of_one_single_step_series_uses_the_running_statistics():
    """One series of one step holds one value per channel: torch's BatchNorm refuses it in
    training, so the branch normalises it by the running statistics and leaves them alone."""
    for masked in (True, False):
        torch.manual_seed(4)
        branch = ConvBranch(2, (4, 4), (3, 2), squeeze_excite=True, masked_norm=masked).train()
        with torch.no_grad():
            for norm in branch.norms:
                norm.running_mean.uniform_(-1.0, 1.0)
                norm.running_var.uniform_(0.5, 2.0)
        before = [(n.running_mean.clone(), n.running_var.clone(), int(n.num_batches_tracked)) for n in branch.norms]
        u = torch.randn(1, 2, 1, requires_grad=True)
        out = branch(u, torch.tensor([1]))
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0
        for norm, (mean, var, tracked) in zip(branch.norms, before):
            assert torch.equal(norm.running_mean, mean) and torch.equal(norm.running_var, var)
            assert int(norm.num_batches_tracked) == tracked
        expected = branch.eval()(u, torch.tensor([1]))  # what eval mode (the running statistics) gives
        torch.testing.assert_close(out, expected)
        two = branch.train()(torch.randn(2, 2, 1), torch.tensor([1, 1]))  # two values: batch statistics
        assert [int(n.num_batches_tracked) for n in branch.norms] == [t + 1 for *_, t in before]
        assert torch.isfinite(two).all()


def test_the_cli_trains_on_single_step_series_whatever_the_batches(tmp_path):
    """17 training series of one step: the last batch of 16 holds one (it once crashed)."""
    rng = np.random.default_rng(0)
    labels = np.array(["lo", "hi"] * 9)[:17]
    values = np.where(labels == "hi", 1.0, -1.0) + 0.1 * rng.normal(size=17)
    train = tmp_path / "train.csv"
    train.write_text("label,t0\n" + "".join(f"{c},{v:.4f}\n" for c, v in zip(labels, values)))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(train), "--max-steps", "100", "--hidden-size", "8",
                 "--ensemble", "1", "--conv-segments", "1", "--conv-max", "off", "--no-baseline",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] == 1.0
