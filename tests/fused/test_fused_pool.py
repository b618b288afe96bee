"""The kernels' buffer pool: tensors it hands to the user are ordinary CPU tensors (resizable,
never shared with another live tensor), and recycled blocks carry no stale values into results."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import fused

if not fused.available():
    pytest.skip(f"fused kernels unavailable: {fused.unavailable_reason()}", allow_module_level=True)

from lstmkit.nn.fused import lstm_layer  # noqa: E402

T, N, H = 64, 32, 64  # output (T, N, H) float32 = 512 KiB: served by the pool


def _inputs(seed):
    g = torch.Generator().manual_seed(seed)
    lstm = torch.nn.LSTM(H, H)
    x = torch.randn(T, N, H, generator=g)
    return lstm, x, torch.zeros(N, H), torch.zeros(N, H)


def _run(lstm, x, h0, c0):
    return lstm_layer(x, h0, c0, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)


def test_pooled_outputs_are_distinct_and_resizable():
    lstm, x, h0, c0 = _inputs(0)
    with torch.no_grad():
        first = _run(lstm, x, h0, c0)[0]
        kept = first.clone()
        second = _run(lstm, 2 * x, h0, c0)[0]
    assert first.data_ptr() != second.data_ptr()
    torch.testing.assert_close(first, kept, rtol=0, atol=0)  # not overwritten by the second call
    first.resize_(3 * T * N * H)  # an ordinary storage: grows (a from_blob one would refuse)
    torch.testing.assert_close(first[: T * N * H].view(T, N, H), kept, rtol=0, atol=0)
    second.resize_(5)
    assert second.shape == (5,)


def test_recycled_blocks_give_the_same_results():
    lstm, x, h0, c0 = _inputs(1)
    xr = x.clone().requires_grad_()
    out, h, c = _run(lstm, xr, h0, c0)
    out.sum().backward()
    ref_out, ref_dx, ref_dw = out.detach().clone(), xr.grad.clone(), lstm.weight_hh_l0.grad.clone()
    for _ in range(3):  # the blocks freed above come back (filled with old values) for the same sizes
        del out, h, c
        lstm.zero_grad(set_to_none=True)
        xr = x.clone().requires_grad_()
        out, h, c = _run(lstm, xr, h0, c0)
        out.sum().backward()
        torch.testing.assert_close(out.detach(), ref_out, rtol=0, atol=0)
        torch.testing.assert_close(xr.grad, ref_dx, rtol=0, atol=0)
        torch.testing.assert_close(lstm.weight_hh_l0.grad, ref_dw, rtol=0, atol=0)
    xr.grad.resize_(7)  # gradients too are ordinary tensors
