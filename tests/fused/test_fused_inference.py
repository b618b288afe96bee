"""Inference calls (no_grad, inference_mode) must not make the kernels save buffers for a
backward: the parameters require grad there, yet no graph is recorded."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import fused

if not fused.available():
    pytest.skip(f"fused kernels unavailable: {fused.unavailable_reason()}", allow_module_level=True)

import lstmkit  # noqa: E402
from lstmkit.nn.fused import gru_rnn as fused_gru_rnn  # noqa: E402
from lstmkit.nn.fused import lstm as fused_lstm  # noqa: E402


class _Recorder:
    """Wraps a compiled extension and records the last argument (the save flag) of `name`."""

    def __init__(self, ext, name):
        self.ext, self.name, self.flags = ext, name, []

    def __getattr__(self, attr):
        fn = getattr(self.ext, attr)
        if attr != self.name:
            return fn

        def wrapped(*args):
            self.flags.append(bool(args[-1]))
            return fn(*args)

        return wrapped


MODES = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("options,kernel", [({}, "lstm_forward"), ({"peephole": True}, "lstm_var_forward"),
                                            ({"layer_norm": True}, "lstm_var_forward")])
def test_lstm_saves_nothing_without_a_graph(monkeypatch, mode, options, kernel):
    rec = _Recorder(fused_lstm.load(), kernel)
    monkeypatch.setattr(fused_lstm, "load", lambda *a, **k: rec)
    lstm = lstmkit.LSTM(5, 6, backend="fused", **options)
    x = torch.randn(4, 3, 5)
    with MODES[mode]():
        out_inference = lstm(x)[0]
    out_training = lstm(x)[0]
    out_training.sum().backward()
    assert rec.flags == [False, True]
    torch.testing.assert_close(out_inference, out_training.detach(), rtol=0, atol=0)
    assert lstm.weight_hh_l0.grad is not None


@pytest.mark.parametrize("mode", MODES)
def test_gru_saves_nothing_without_a_graph(monkeypatch, mode):
    rec = _Recorder(fused_gru_rnn.load("gru_rnn"), "gru_rnn_forward")
    monkeypatch.setattr(fused_gru_rnn, "_ext", lambda: rec)
    gru = lstmkit.GRU(5, 6, backend="fused")
    x = torch.randn(4, 3, 5)
    with MODES[mode]():
        gru(x)
    gru(x)[0].sum().backward()
    assert rec.flags == [False, True]


@pytest.mark.parametrize("loss", ["h_n only", "output mean", "c_n only"])
@pytest.mark.parametrize("options", [{}, {"peephole": True}], ids=["plain", "peephole"])
def test_lstm_gradients_with_unused_or_expanded_output_grads(loss, options):
    """Autograd passes None for an output that does not reach the loss and a stride-0 view for
    out.mean(): the kernels' backward must give the reference's gradients for both."""
    torch.manual_seed(0)
    fused_lstm_module = lstmkit.LSTM(5, 6, backend="fused", **options)
    reference = lstmkit.LSTM(5, 6, backend="reference", **options)
    reference.load_state_dict(fused_lstm_module.state_dict())
    x = torch.randn(7, 3, 5)
    grads = []
    for m in (fused_lstm_module, reference):
        xr = x.clone().requires_grad_()
        out, (h, c) = m(xr)
        value = {"h_n only": h.sum(), "output mean": out.mean(), "c_n only": (c * c).sum()}[loss]
        value.backward()
        grads.append([xr.grad] + [p.grad for p in m.parameters()])
    assert fused_lstm_module.last_backend == "fused"
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize("loss", ["h_n only", "output mean"])
def test_gru_rnn_gradients_with_unused_or_expanded_output_grads(cell, loss):
    torch.manual_seed(0)
    make = lstmkit.GRU if cell == "gru" else lstmkit.RNN
    fused_module, reference = make(5, 6, backend="fused"), make(5, 6, backend="reference")
    reference.load_state_dict(fused_module.state_dict())
    x = torch.randn(7, 3, 5)
    grads = []
    for m in (fused_module, reference):
        xr = x.clone().requires_grad_()
        out, h = m(xr)
        (h.sum() if loss == "h_n only" else out.mean()).backward()
        grads.append([xr.grad] + [p.grad for p in m.parameters()])
    assert fused_module.last_backend == "fused"
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
