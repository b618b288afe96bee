"""Incoming gradients in the kernels' backward: autograd passes None for an output that does not
reach the loss and a stride-0 view for out.mean(); both must give the reference's gradients."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import fused

if not fused.available():
    pytest.skip(f"fused kernels unavailable: {fused.unavailable_reason()}", allow_module_level=True)

import lstmkit  # noqa: E402



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
