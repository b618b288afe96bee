"""The fused LSTM layer against torch.nn.LSTM (the oracle): values to 1e-5, gradients to 1e-4.

Skipped (with the reason) when the fused kernels cannot be compiled here.
"""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import fused

if not fused.available():  # compiles on first use (~30 s, cached)
    pytest.skip(f"fused kernels unavailable: {fused.unavailable_reason()}", allow_module_level=True)

from lstmkit.nn.fused import lstm_layer  # noqa: E402
from lstmkit.nn.fused.build import load  # noqa: E402

FWD = dict(rtol=1e-5, atol=1e-5)
GRAD = dict(rtol=1e-4, atol=1e-4)


pytestmark = pytest.mark.usefixtures("one_thread")


def _oracle(x, h0, c0, lstm, reverse=False, lengths=None):
    """torch.nn.LSTM run per sequence on x[:len] (flipped for reverse); outputs padded with 0."""
    T, N, _ = x.shape
    if lengths is None and not reverse:
        out, (h, c) = lstm(x, (h0[None], c0[None]))
        return out, h[0], c[0]
    outs, hs, cs = [], [], []
    for b in range(N):
        L = T if lengths is None else int(lengths[b])
        xb = x[:L, b : b + 1]
        if reverse:
            xb = xb.flip(0)
        o, (h, c) = lstm(xb, (h0[None, b : b + 1], c0[None, b : b + 1]))
        if reverse:
            o = o.flip(0)
        outs.append(torch.cat([o, o.new_zeros(T - L, 1, o.shape[2])], 0))
        hs.append(h[0])
        cs.append(c[0])
    return torch.cat(outs, 1), torch.cat(hs, 0), torch.cat(cs, 0)


def _weights(lstm, bias):
    return (lstm.weight_ih_l0, lstm.weight_hh_l0,
            lstm.bias_ih_l0 if bias else None, lstm.bias_hh_l0 if bias else None)


def _compare(T, N, I, H, *, reverse=False, lengths=None, bias=True, seed=0, scale=1.0, grad_tol=GRAD, proj=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(I, H, bias=bias, proj_size=proj)
    P = proj or H
    if scale != 1.0:
        with torch.no_grad():
            for p in lstm.parameters():
                p.mul_(scale)
    x = torch.randn(T, N, I, requires_grad=True)
    h0 = torch.randn(N, P, requires_grad=True)
    c0 = torch.randn(N, H, requires_grad=True)
    params = [x, h0, c0, *lstm.parameters()]
    out, h, c = _oracle(x, h0, c0, lstm, reverse, lengths)
    go, gh, gc = torch.randn_like(out), torch.randn_like(h), torch.randn_like(c)
    ref = torch.autograd.grad((out * go).sum() + (h * gh).sum() + (c * gc).sum(), params)
    out2, h2, c2 = lstm_layer(x, h0, c0, *_weights(lstm, bias), reverse=reverse, lengths=lengths,
                              weight_hr=lstm.weight_hr_l0 if proj else None)
    torch.testing.assert_close(out2, out, **FWD)
    torch.testing.assert_close(h2, h, **FWD)
    torch.testing.assert_close(c2, c, **FWD)
    got = torch.autograd.grad((out2 * go).sum() + (h2 * gh).sum() + (c2 * gc).sum(), params)
    names = ["x", "h0", "c0", "weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else []) + ["weight_hr"]
    for name, a, b in zip(names, got, ref):
        torch.testing.assert_close(a, b, **grad_tol, msg=lambda m, name=name: f"grad {name}: {m}")
    if lengths is not None:
        for b in range(N):
            assert torch.all(out2[int(lengths[b]):, b] == 0)


SHAPES = [  # T, N, I, H
    (1, 1, 1, 1),
    (5, 1, 3, 7),
    (1, 4, 8, 7),
    (7, 3, 5, 33),
    (3, 2, 4, 1),
    (6, 5, 16, 64),
    (4, 3, 10, 130),  # several blocks, one ragged
    (9, 40, 12, 20),  # T*N > the kernel's row chunk
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T%dN%dI%dH%d" % s)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_matches_torch_lstm(shape, reverse, bias):
    _compare(*shape, reverse=reverse, bias=bias)


@pytest.mark.parametrize("shape", [(1, 1, 2, 3, 1), (6, 3, 5, 33, 7), (5, 4, 8, 130, 100), (4, 2, 3, 9, 8)],
                         ids=lambda s: "T%dN%dI%dH%dP%d" % s)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_projection_matches_torch(shape, reverse, bias):
    T, N, I, H, P = shape
    _compare(T, N, I, H, proj=P, reverse=reverse, bias=bias, seed=20)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_projection_with_lengths(reverse):
    lengths = torch.tensor([3, 9, 1, 7, 9], dtype=torch.int64)
    _compare(9, 5, 6, 70, proj=20, reverse=reverse, lengths=lengths, seed=21)


def test_projection_threads_bitwise():
    torch.manual_seed(22)
    T, N, I, H, P = 30, 12, 40, 150, 60
    lstm = torch.nn.LSTM(I, H, proj_size=P)
    x, h0, c0 = torch.randn(T, N, I), torch.randn(N, P), torch.randn(N, H)
    lengths = torch.randint(1, T + 1, (N,))
    old = torch.get_num_threads()
    res = []
    try:
        for nt in (1, 2):
            torch.set_num_threads(nt)
            ps = [p.detach().clone().requires_grad_() for p in lstm.parameters()]
            xs, hs, cs = (t.clone().requires_grad_() for t in (x, h0, c0))
            out, h, c = lstm_layer(xs, hs, cs, ps[0], ps[1], ps[2], ps[3], weight_hr=ps[4], lengths=lengths)
            g = torch.autograd.grad(out.sum() + h.square().sum() + c.sum(), [xs, hs, cs, *ps])
            res.append([out, h, c, *g])
    finally:
        torch.set_num_threads(old)
    for u, v in zip(*res):
        assert torch.equal(u, v)


def test_long_sequence_small_hidden():
    _compare(1000, 2, 3, 5)


def test_larger_blocks_packed_path():
    _compare(12, 32, 64, 256, seed=3)


def test_saturated_gates():
    """Large weights push the gates into saturation (exp range limits, tanh tails).

    With weights x30 the gradients are ~100x larger and ill-conditioned (rounding differences
    of the GEMM order are amplified), so the gradient tolerance is relative to their scale."""
    _compare(6, 4, 8, 9, scale=30.0, seed=5, grad_tol=dict(rtol=1e-4, atol=1e-3))


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_lengths_unsorted(reverse, bias):
    lengths = torch.tensor([3, 9, 1, 7, 9, 2], dtype=torch.int64)
    _compare(9, 6, 5, 11, reverse=reverse, lengths=lengths, bias=bias, seed=1)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_lengths_several_blocks(reverse):
    lengths = torch.tensor([1, 6, 4, 6, 2], dtype=torch.int64)
    _compare(6, 5, 7, 130, reverse=reverse, lengths=lengths, seed=2)


def test_lengths_all_full_and_list():
    _compare(4, 3, 5, 6, lengths=torch.tensor([4, 4, 4]))
    _compare(4, 3, 5, 6, lengths=[2, 4, 1], reverse=True)


def _run_all(x, h0, c0, lstm, lengths, reverse):
    xs, hs, cs = (t.detach().clone().requires_grad_() for t in (x, h0, c0))
    ps = [p.detach().clone().requires_grad_() for p in lstm.parameters()]
    out, h, c = lstm_layer(xs, hs, cs, *ps, reverse=reverse, lengths=lengths)
    torch.manual_seed(9)
    go, gh, gc = torch.randn_like(out), torch.randn_like(h), torch.randn_like(c)
    grads = torch.autograd.grad((out * go).sum() + (h * gh).sum() + (c * gc).sum(), [xs, hs, cs, *ps])
    return [out, h, c, *grads]


@pytest.mark.parametrize("lengths", [None, [5, 40, 1, 9, 40, 3, 7, 2, 33, 40, 12, 1, 6, 8, 39, 4]],
                         ids=["full", "lengths"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_one_thread_equals_two_threads_bitwise(lengths, reverse):
    torch.manual_seed(4)
    T, N, I, H = 40, 16, 96, 200  # several hidden blocks; T*N = 640 rows = several GEMM chunks
    lstm = torch.nn.LSTM(I, H)
    x, h0, c0 = torch.randn(T, N, I), torch.randn(N, H), torch.randn(N, H)
    lengths = None if lengths is None else torch.tensor(lengths)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = _run_all(x, h0, c0, lstm, lengths, reverse)
        torch.set_num_threads(2)
        b = _run_all(x, h0, c0, lstm, lengths, reverse)
    finally:
        torch.set_num_threads(old)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_non_contiguous_input():
    torch.manual_seed(6)
    T, N, I, H = 5, 3, 4, 6
    lstm = torch.nn.LSTM(I, H)
    base = torch.randn(N, T, I, requires_grad=True)
    x = base.transpose(0, 1)  # (T, N, I), not contiguous
    assert not x.is_contiguous()
    h0 = torch.randn(H, N).t()
    c0 = torch.zeros(N, H)
    out, h, c = lstm_layer(x, h0, c0, *_weights(lstm, True))
    ref, (hr, cr) = lstm(x, (h0[None], c0[None]))
    torch.testing.assert_close(out, ref, **FWD)
    g1 = torch.autograd.grad(out.sum(), base)[0]
    g2 = torch.autograd.grad(ref.sum(), base)[0]
    torch.testing.assert_close(g1, g2, **GRAD)


def test_no_grad_equals_grad_path_and_state_defaults():
    torch.manual_seed(7)
    lstm = torch.nn.LSTM(4, 9)
    x = torch.randn(6, 3, 4)
    w = _weights(lstm, True)
    with torch.no_grad():
        a = lstm_layer(x, None, None, *w)
    with torch.inference_mode():
        b = lstm_layer(x, None, None, *w)
    c = lstm_layer(x, torch.zeros(3, 9), torch.zeros(3, 9), *w)
    for u, v, z in zip(a, b, c):
        assert torch.equal(u, v) and torch.equal(u, z.detach())
    assert not a[0].requires_grad and c[0].requires_grad


def test_partial_requires_grad_and_retain_graph():
    torch.manual_seed(8)
    lstm = torch.nn.LSTM(4, 5)
    x = torch.randn(3, 2, 4)
    h0, c0 = torch.zeros(2, 5), torch.zeros(2, 5)
    out, h, c = lstm_layer(x, h0, c0, *_weights(lstm, True))
    loss = out.square().sum() + c.sum()
    g1 = torch.autograd.grad(loss, list(lstm.parameters()), retain_graph=True)
    g2 = torch.autograd.grad(loss, list(lstm.parameters()))
    for u, v in zip(g1, g2):
        assert torch.equal(u, v)
    ref, (hr, cr) = lstm(x)
    gr = torch.autograd.grad(ref.square().sum() + cr.sum(), list(lstm.parameters()))
    for u, v in zip(g1, gr):
        torch.testing.assert_close(u, v, **GRAD)


@pytest.mark.parametrize("mode", [1, 2], ids=["sgemm", "aten"])
def test_fallback_gemm_paths(mode):
    ext = load()
    got = ext.set_blas_mode(mode)
    try:
        if got != mode:
            pytest.skip(f"GEMM path {mode} unavailable (in effect: {ext.info(0)})")
        _compare(5, 3, 6, 70, seed=10)
        _compare(5, 3, 6, 70, seed=10, reverse=True, lengths=torch.tensor([5, 2, 3]))
    finally:
        ext.set_blas_mode(0)


@pytest.mark.parametrize("tchunk", ["1", "3"])
def test_time_chunk_of_input_projection(monkeypatch, tchunk):
    """Other time chunks of the in-loop input projection (incl. a ragged last chunk)."""
    monkeypatch.setenv("LSTMKIT_FUSED_TCHUNK", tchunk)
    _compare(7, 3, 5, 70, seed=11)
    _compare(7, 4, 5, 33, reverse=True, lengths=torch.tensor([7, 1, 4, 6]), seed=12)
    torch.manual_seed(13)
    lstm = torch.nn.LSTM(4, 9)
    x = torch.randn(5, 2, 4)
    with torch.inference_mode():
        out, h, c = lstm_layer(x, None, None, *_weights(lstm, True))
        ref, (hr, cr) = lstm(x)
    torch.testing.assert_close(out, ref, **FWD)
    torch.testing.assert_close(c, cr[0], **FWD)


def test_brgemm_path():
    ext = load()
    was_on = "brgemm=on" in ext.info(0)  # (the default on AMD CPUs: restored after)
    if not ext.set_brgemm(True):
        pytest.skip("oneDNN brgemm ukernel unavailable here")
    try:
        _compare(6, 3, 40, 70, seed=30)
        _compare(6, 5, 8, 33, reverse=True, lengths=torch.tensor([6, 1, 4, 6, 2]), seed=31)
        _compare(5, 4, 8, 40, proj=16, seed=32)
    finally:
        ext.set_brgemm(was_on)


def test_brgemm_k_slices(sliced_brgemm):
    """A right-hand panel larger than the L2 budget is multiplied in slices (brgemm_slices): of
    128 columns (a last partial one) each in 64-row K slices accumulated into C, or of 64 K rows
    of the whole width; with a 16 KiB budget every product here is sliced, forward and
    backward, and still matches torch.nn."""
    _compare(5, 3, 150, 70, seed=33)                 # K = 150 (input) and 70 (recurrent)
    _compare(4, 6, 8, 130, proj=40, reverse=True, lengths=torch.tensor([4, 1, 3, 4, 2, 4]), seed=34)


def test_brgemm_slices_follow_the_l2_budget():
    """How a (K, N) panel is cut (fused_common.h, brgemm_slices), as (columns, K rows) per call:
    whole where it fits the budget; with a budget under 640 KiB (L2 under 1 MiB, as the Zen 3's
    512 KiB: 320 KiB) into 128-column slices, each in as few K slices of equal depth (a multiple
    of 64 rows) as half the budget allows; with more (the Zen 5's 1 MiB: 640 KiB) into K-row
    slices of the whole width."""
    ext = load()
    before = ext.set_brgemm_panel(320 * 1024)
    try:
        assert ext.brgemm_slices(128, 256, 272) == (256, 128)      # 136 KiB: one call
        assert ext.brgemm_slices(512, 1024, 1040) == (128, 256)    # H = 512: 2 MiB
        assert ext.brgemm_slices(256, 512, 528) == (128, 256)      # H = 256: 528 KiB
        assert ext.brgemm_slices(2048, 1024, 1040) == (128, 320)   # 7 slices (6 x 320 + 128)
        assert ext.brgemm_slices(600, 1024, 1040) == (128, 320)    # 2 slices (320 + 280)
        ext.set_brgemm_panel(640 * 1024)
        assert ext.brgemm_slices(512, 1024, 1040) == (1024, 128)   # 640 KiB / 4160 B = 157 rows
        assert ext.brgemm_slices(256, 512, 528) == (512, 256)      # fits: one call
        before_columns = ext.set_brgemm_columns(64)                # forced column slices
        assert ext.brgemm_slices(512, 1024, 1040) == (64, 512)
        ext.set_brgemm_columns(0)                                  # forced row slices
        ext.set_brgemm_panel(320 * 1024)
        assert ext.brgemm_slices(512, 1024, 1040) == (1024, 64)
        ext.set_brgemm_columns(before_columns)
    finally:
        ext.set_brgemm_panel(before)


def test_disabled_by_environment():
    import os
    import subprocess
    import sys

    env = dict(os.environ, LSTMKIT_DISABLE_FUSED="1")
    code = ("from lstmkit.nn import fused; "
            "print(fused.available(), '|', fused.unavailable_reason())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False |") and "LSTMKIT_DISABLE_FUSED" in out.stdout


def test_vector_math_accuracy():
    ext = load()
    x = torch.cat([torch.linspace(-100, 100, 20001), torch.linspace(-1, 1, 20001),
                   torch.logspace(-12, 1, 2000), -torch.logspace(-12, 1, 2000)])
    xd = x.double()
    for which, ref in [(1, torch.sigmoid(xd)), (2, torch.tanh(xd))]:
        y = ext.math_test(x, which).double()
        rel = ((y - ref).abs() / ref.abs().clamp_min(1e-30))
        big = ref.abs() > 1e-30
        assert rel[big].max() < 2e-6, (which, rel[big].max())
    e = torch.linspace(-80, 80, 10001)
    ye = ext.math_test(e, 0).double()
    rel = ((ye - e.double().exp()) / e.double().exp()).abs().max()
    assert rel < 2e-6


def test_bad_inputs():
    lstm = torch.nn.LSTM(4, 5)
    w = _weights(lstm, True)
    x = torch.randn(3, 2, 4)
    z = torch.zeros(2, 5)
    with pytest.raises(TypeError):
        lstm_layer(x.double(), z, z, *w)
    with pytest.raises(ValueError):
        lstm_layer(x[:, :, :3], z, z, *w)
    with pytest.raises(ValueError):
        lstm_layer(x, torch.zeros(3, 5), z, *w)
    with pytest.raises(ValueError):
        lstm_layer(x, z, z, *w, lengths=torch.tensor([0, 3]))
    with pytest.raises(ValueError):
        lstm_layer(x, z, z, *w, lengths=torch.tensor([4, 3]))
    with pytest.raises(ValueError):
        lstm_layer(x, z, z, *w, lengths=torch.tensor([1, 2, 3]))


def test_available_and_reason():
    assert fused.available() is True
    assert fused.unavailable_reason() is None
    assert "blas=" in fused.kernel_info(128)
