"""Mixup in the classifier's training: the mixed batch and lengths, the mixed loss, the option
saved with the model, the flag, and a fit that still learns."""

import numpy as np
import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tasks.classify_net import mix_batch, mix_members

from test_classifier import synthetic, write_ts


def test_mix_batch_mixes_every_input_with_one_weight_and_one_pairing():
    torch.manual_seed(3)
    a = torch.randn(5, 4, 6)
    b = torch.randn(5, 2, 12)  # a second resolution: the same series at half the steps
    la, lb = torch.tensor([4, 3, 1, 4, 2]), torch.tensor([2, 2, 1, 2, 1])
    torch.manual_seed(7)
    (ma, mb), (mla, mlb), lam, perm = mix_batch([a, b], [la, lb], 0.4)
    assert 0.0 <= lam <= 1.0 and sorted(perm.tolist()) == list(range(5))
    torch.testing.assert_close(ma, lam * a + (1 - lam) * a[perm])
    torch.testing.assert_close(mb, lam * b + (1 - lam) * b[perm])
    assert mla.tolist() == [max(la[i], la[perm[i]]) for i in range(5)]
    assert mlb.tolist() == [max(lb[i], lb[perm[i]]) for i in range(5)]
    torch.manual_seed(7)  # torch's global generator decides: the same state, the same mix
    again = mix_batch([a, b], [la, lb], 0.4)
    assert again[2] == lam and torch.equal(again[3], perm)


def test_mix_batch_weights_follow_beta():
    torch.manual_seed(0)
    x, lengths = torch.zeros(4, 3, 1), torch.full((4,), 3)
    small = [mix_batch([x], [lengths], 0.1)[2] for _ in range(400)]
    even = [mix_batch([x], [lengths], 1.0)[2] for _ in range(400)]
    # Beta(0.1, 0.1) puts most of its mass near 0 and 1; Beta(1, 1) is uniform
    assert np.mean([min(v, 1 - v) < 0.1 for v in small]) > 0.6
    assert 0.1 < np.mean([min(v, 1 - v) < 0.1 for v in even]) < 0.3
    assert abs(np.mean(even) - 0.5) < 0.06


TINY = dict(hidden_size=8, conv_channels=(8, 8, 8), max_epochs=1, ensemble=2, conv_segments=1,
            dropout=0.0, lstm_dropout=0.0, progress=False)


def first_batch_loss(monkeypatch, mixup, by_hand):
    """Fit ``Classifier(mixup=mixup, **TINY)`` and return the training loss of its first batch
    beside ``by_hand(net, batch)``'s (which returns the loss and λ), both from the same generator
    state, with the λ drawn."""
    import lstmkit.tasks.classify as classify_module

    seen = {}
    real_fit = classify_module.fit

    def capture(net, loss_fn, train_loader, *args, **kwargs):
        batch = next(iter(train_loader))
        net.train()
        state = torch.random.get_rng_state()
        torch.manual_seed(11)
        seen["loss"] = float(loss_fn(net, batch).detach())
        torch.manual_seed(11)
        with torch.no_grad():
            loss, seen["lam"] = by_hand(net, batch)
        seen["by_hand"] = float(loss)
        torch.random.set_rng_state(state)
        return real_fit(net, loss_fn, train_loader, *args, **kwargs)

    monkeypatch.setattr(classify_module, "fit", capture)
    lstmkit.Classifier(mixup=mixup, **TINY).fit(synthetic(20, seed=0))
    return seen


def test_mixup_loss_is_the_mixed_cross_entropy(monkeypatch):
    """The fit's loss on a mixed batch is λ CE(f(x'), y) + (1 - λ) CE(f(x'), y_π), summed over the
    members: replayed here from the generator state the training step started with."""
    def by_hand(net, batch):
        *inputs, y = batch
        (x,), (lengths,), lam, perm = mix_batch([inputs[0]], [inputs[1]], 0.7)
        logits = net.member_logits(x, lengths).flatten(0, 1)
        ce = torch.nn.functional.cross_entropy
        m = logits.shape[0] // len(y)
        return lam * m * ce(logits, y.repeat(m)) + (1 - lam) * m * ce(logits, y[perm].repeat(m)), lam

    seen = first_batch_loss(monkeypatch, 0.7, by_hand)
    assert 0.0 < seen["lam"] < 1.0
    assert seen["loss"] == pytest.approx(seen["by_hand"], rel=1e-5)


def test_mix_members_mixes_each_member_at_its_own_alpha():
    torch.manual_seed(5)
    xs = [torch.randn(6, 3, 2) for _ in range(4)]
    lengths = [torch.tensor([3, 2, 1, 3, 2, 3])] * 4
    torch.manual_seed(9)
    mixed, out_lengths, lams, perm = mix_members(xs, lengths, (0.0, 0.4, 0.0, 0.4))
    assert lams[0] == lams[2] == 1.0 and 0.0 < lams[1] < 1.0 and lams[1] == lams[3]  # one draw per α
    assert mixed[0] is xs[0] and out_lengths[2] is lengths[2]  # unmixed members read the batch as it is
    for m in (1, 3):
        torch.testing.assert_close(mixed[m], lams[m] * xs[m] + (1 - lams[m]) * xs[m][perm])
        assert out_lengths[m].tolist() == torch.maximum(lengths[m], lengths[m][perm]).tolist()
    torch.manual_seed(9)  # one α for all: the same draws as mix_batch
    _, _, lam, same_perm = mix_batch(xs[:1], lengths[:1], 0.4)
    assert lam == lams[1] and torch.equal(same_perm, perm)
    with pytest.raises(ValueError, match="one input per member"):
        mix_members(xs[:3], lengths[:3], (0.0, 0.4))


def test_per_member_mixup_loss(monkeypatch):
    """``mixup=(0, 0.7)``: member 0 learns on the batch as it is, member 1 on the mixed batch,
    the loss CE_0(y) + λ CE_1(y) + (1 - λ) CE_1(y_π)."""
    def by_hand(net, batch):
        *inputs, y = batch
        (_, x1), _, lams, perm = mix_members([inputs[0]] * 2, [inputs[1]] * 2, (0.0, 0.7))
        ce = torch.nn.functional.cross_entropy
        first = ce(net.members[0](inputs[0], inputs[1]), y)
        logits = net.members[1](x1, torch.maximum(inputs[1], inputs[1][perm]))
        return first + lams[1] * ce(logits, y) + (1 - lams[1]) * ce(logits, y[perm]), lams[1]

    seen = first_batch_loss(monkeypatch, (0.0, 0.7), by_hand)
    assert 0.0 < seen["lam"] < 1.0
    assert seen["loss"] == pytest.approx(seen["by_hand"], rel=1e-5)
    with pytest.raises(ValueError, match="one per member"):
        lstmkit.Classifier(mixup=(0.0, 0.7, 0.2), **TINY)


@pytest.mark.slow
def test_mixup_fit_learns_and_is_saved(tmp_path):
    from lstmkit.cli.classify import MIXUP
    from lstmkit.tasks.classify import ClassifierParams

    assert MIXUP == ClassifierParams().mixup  # the CLI and the API agree
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="mixup"):
            ClassifierParams(mixup=bad)
    train, test = synthetic(60, seed=0), synthetic(30, seed=1)
    options = dict(hidden_size=16, max_epochs=40, seed=0, ensemble=1, conv_segments=1, progress=False)
    mixed = lstmkit.Classifier(mixup=0.4, **options).fit(train)
    plain = lstmkit.Classifier(mixup=0.0, **options).fit(train)
    assert mixed.evaluate(test)["accuracy"] >= 0.9
    # the mixed targets keep the network off certainty on the training series
    assert mixed.predict_proba(train).max(axis=1).mean() < plain.predict_proba(train).max(axis=1).mean()
    mixed.save(tmp_path / "m")
    loaded = lstmkit.Classifier.load(tmp_path / "m")
    assert loaded.params.mixup == 0.4
    np.testing.assert_allclose(loaded.predict_proba(test), mixed.predict_proba(test), rtol=1e-5, atol=1e-6)


def test_mixup_flag(tmp_path, capsys):
    train = write_ts(tmp_path / "train.ts", synthetic(24, seed=0))
    for bad in ("-1", "x", "inf"):
        with pytest.raises(SystemExit) as exit_info:
            main(["classify", str(train), "--mixup", bad, "--out", str(tmp_path / "bad")])
        assert exit_info.value.code == 2
    assert "--mixup" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    out = tmp_path / "run"
    assert main(["classify", str(train), "--mixup", "0.3", "--max-epochs", "2", "--hidden-size", "8",
                 "--conv-segments", "1", "--out", str(out)]) == 0
    assert lstmkit.Classifier.load(out).params.mixup == 0.3
