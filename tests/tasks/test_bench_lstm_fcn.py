"""LSTM-FCN as published, re-run by the classification benchmark (benchmarks/lstm_fcn.py): the
dimension shuffle, the initialisation Keras gives it, both branches in the gradient, the padding,
and the training protocol's bookkeeping (class weights, the lowest-training-loss weights)."""

import numpy as np
import pytest
import torch

from benchmark_modules import benchmark_module
from lstmkit.data.sequences import SequenceData


@pytest.fixture(scope="module")
def lf():
    with benchmark_module("lstm_fcn.py") as module:
        yield module


def _data(n: int, length: int, seed: int, channels: int = 1, ragged: bool = False) -> SequenceData:
    """Two classes: a bump in the first or the second half of the series, in noise."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        size = length - (i % 3 if ragged else 0)
        x = rng.normal(0, 0.3, size=(size, channels)).astype(np.float32)
        centre = size // 4 if i % 2 == 0 else 3 * size // 4
        x[centre - 2:centre + 3] += 3.0
        seqs.append(x)
        labels.append("early" if i % 2 == 0 else "late")
    return SequenceData(seqs, np.array(labels), ["early", "late"], [f"c{c}" for c in range(channels)])


def test_dimension_shuffle_and_keras_initialisation(lf):
    model = lf.LSTMFCN(channels=3, length=40, classes=4, cells=8)
    assert model.lstm.input_size == 40 and model.lstm.hidden_size == 8  # C steps of T features
    assert model.head.in_features == 8 + 128
    forget = model.lstm.bias_ih_l0[8:16] + model.lstm.bias_hh_l0[8:16]
    assert torch.equal(forget, torch.ones(8))  # Keras' unit_forget_bias
    w = model.lstm.weight_hh_l0[:8].detach()
    torch.testing.assert_close(w @ w.T, torch.eye(8), atol=1e-5, rtol=0)  # orthogonal recurrent kernel
    assert model(torch.randn(5, 3, 40)).shape == (5, 4)


def test_both_branches_reach_the_loss(lf):
    torch.manual_seed(0)
    model = lf.LSTMFCN(channels=1, length=30, classes=2, cells=4)
    model.eval()  # no dropout: the LSTM's vector reaches the head whole
    model(torch.randn(6, 1, 30)).logsumexp(dim=1).sum().backward()
    assert model.lstm.weight_ih_l0.grad.abs().sum() > 0
    assert model.fcn[1].weight.grad.abs().sum() > 0


def test_padded_array_zero_pads_and_cuts(lf):
    data = _data(4, 10, seed=0, channels=2, ragged=True)
    out = lf.padded_array(data, 9)
    assert out.shape == (4, 2, 9) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], data.sequences[0][:9].T)  # cut
    np.testing.assert_array_equal(out[1], data.sequences[1].T)  # 9 steps: as it is
    np.testing.assert_array_equal(out[2, :, 8:], 0.0)  # 8 steps: the last one padded
    np.testing.assert_array_equal(out[2, :, :8], data.sequences[2].T)


def test_a_short_fit_learns_the_place_of_a_bump_and_keeps_its_lowest_loss(lf):
    train, test = _data(16, 16, seed=1), _data(30, 16, seed=2)
    r = lf.fit_lstm_fcn(train, test, seed=0, cells=8, epochs=200)
    assert r["accuracy"] >= 0.9
    assert 0 <= r["best_epoch"] < 200 and r["train_loss"] < np.log(2)


def test_a_seed_repeats_its_fit(lf):
    train, test = _data(8, 16, seed=1), _data(8, 16, seed=2)
    first, again = (lf.fit_lstm_fcn(train, test, seed=3, cells=4, epochs=5) for _ in range(2))
    assert again["train_loss"] == first["train_loss"] and again["best_epoch"] == first["best_epoch"]


def test_class_weights_are_balanced(lf, monkeypatch):
    """3 series of one class and 1 of the other: the loss weighs the rare class 3x (N / (K n_k))."""
    seen = {}
    real = torch.nn.CrossEntropyLoss

    def spy(*args, **kwargs):
        seen["weight"] = kwargs["weight"].clone()
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn, "CrossEntropyLoss", spy)
    data = _data(4, 16, seed=3)
    data = SequenceData(data.sequences, np.array(["early", "early", "early", "late"]), ["early", "late"], ["c0"])
    lf.fit_lstm_fcn(data, data, seed=0, cells=4, epochs=1)
    torch.testing.assert_close(seen["weight"], torch.tensor([4 / 6, 4 / 2]))


def test_the_benchmark_reports_each_size_the_best_per_seed_and_their_mean():
    """bench_classify's bookkeeping: per seed the best size (the published protocol) and the
    sizes' mean, and the means over seeds."""
    table = {(0, 8): 0.80, (0, 64): 0.90, (1, 8): 0.70, (1, 64): 0.60}

    def fit(train, test, seed, cells):
        return {"accuracy": table[(seed, cells)], "seconds": 1.0, "epochs": 1, "best_epoch": 0,
                "train_loss": 0.1, "cells": cells}

    with benchmark_module("bench_classify.py") as bench:
        out = bench.run_lstm_fcn(None, None, [0, 1], [8, 64], fit=fit)
    assert out["sizes"]["8"]["mean"] == pytest.approx(0.75) and out["sizes"]["64"]["mean"] == pytest.approx(0.75)
    assert [r["accuracy"] for r in out["best_of_sizes"]["runs"]] == [0.90, 0.70]
    assert out["best_of_sizes"]["mean"] == pytest.approx(0.80)
    assert out["mean_over_sizes"]["mean"] == pytest.approx(0.75)


def test_no_cells_is_the_fcn_alone(lf):
    model = lf.LSTMFCN(channels=2, length=20, classes=3, cells=0)
    assert not hasattr(model, "lstm") and model.head.in_features == 128
    assert model(torch.randn(4, 2, 20)).shape == (4, 3)


def test_convolutions_pad_as_keras_same(lf):
    """Each block keeps the length and pads k - 1 zeros, (k - 1) // 2 before the series and the
    rest after (Keras' and torch's ``padding="same"``): the same output as torch's own."""
    import warnings

    import torch

    torch.manual_seed(0)
    model = lf.LSTMFCN(channels=2, length=11, classes=3, cells=0)
    x = torch.randn(4, 2, 11)
    for block in range(3):
        pad, conv = model.fcn[4 * block], model.fcn[4 * block + 1]
        k = conv.kernel_size[0]
        assert pad.padding == ((k - 1) // 2, k // 2) and conv.padding == (0,)
        with warnings.catch_warnings():  # torch's note that an even k copies the input: the reference alone
            warnings.simplefilter("ignore", UserWarning)
            same = torch.nn.functional.conv1d(x, conv.weight, conv.bias, padding="same")
        out = conv(pad(x))
        assert out.shape == same.shape == (4, conv.out_channels, 11)
        torch.testing.assert_close(out, same)
        x = torch.relu(out)
