"""The fused GRU and RNN kernels (extension "gru_rnn") against the reference scan
(lstmkit.nn.scan + cells.gru_cell / rnn_cell, the oracle): values to 1e-5, gradients w.r.t.
the input, h0 and every weight to 1e-4; one thread == two threads bitwise; a float64 and a
finite-difference gradient check; the modules' backend selection.

Skipped (with the reason) when the kernels cannot be compiled here.
"""

from __future__ import annotations

from functools import partial

import pytest
import torch

from lstmkit.nn import fused

if not fused.available("gru_rnn"):  # compiles on first use (~30 s, cached)
    pytest.skip(f"fused GRU/RNN kernels unavailable: {fused.unavailable_reason('gru_rnn')}",
                allow_module_level=True)

import lstmkit  # noqa: E402
from lstmkit.nn.cells import gru_cell, rnn_cell  # noqa: E402
from lstmkit.nn.fused import gru_layer, rnn_layer  # noqa: E402
from lstmkit.nn.fused.build import load  # noqa: E402
from lstmkit.nn.scan import scan  # noqa: E402

FWD = dict(rtol=1e-5, atol=1e-5)
GRAD = dict(rtol=1e-4, atol=1e-4)
CELLS = ["gru", "tanh", "relu"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _params(cell, I, H, *, bias=True, seed=0, dtype=torch.float32):
    """torch.nn's initialisation U(+-1/sqrt(H)), as leaves that require grad."""
    g = torch.Generator().manual_seed(seed)
    G = 3 if cell == "gru" else 1
    k = 1.0 / H**0.5
    u = lambda *s: ((torch.rand(*s, generator=g, dtype=dtype) * 2 - 1) * k).requires_grad_()  # noqa: E731
    return [u(G * H, I), u(G * H, H), u(G * H) if bias else None, u(G * H) if bias else None]


def _fused(cell, x, h0, p, **kw):
    if cell == "gru":
        return gru_layer(x, h0, *p, **kw)
    return rnn_layer(x, h0, *p, nonlinearity=cell, **kw)


def _reference(cell, x, h0, p, *, reverse=False, lengths=None, return_trace=False):
    w_ih, w_hh, b_ih, b_hh = p
    if cell == "gru":
        step = partial(gru_cell, weight_ih=w_ih, weight_hh=w_hh, bias_ih=b_ih, bias_hh=b_hh)
    else:
        step = partial(rnn_cell, weight_ih=w_ih, weight_hh=w_hh, bias_ih=b_ih, bias_hh=b_hh, nonlinearity=cell)
    if lengths is not None:
        lengths = torch.as_tensor(lengths)
    res = scan(lambda x_t, s: step(x_t, s[0]), x, (h0,), reverse=reverse, lengths=lengths,
               keep_trace=return_trace)
    if return_trace:
        return res.output, res.state[0], res.trace
    return res.output, res.state[0]


def _compare(cell, T, N, I, H, *, reverse=False, lengths=None, bias=True, seed=0):
    torch.manual_seed(seed)
    p = _params(cell, I, H, bias=bias, seed=seed)
    x = torch.randn(T, N, I, requires_grad=True)
    h0 = torch.randn(N, H, requires_grad=True)
    wrt = [x, h0] + [t for t in p if t is not None]
    out, h = _reference(cell, x, h0, p, reverse=reverse, lengths=lengths)
    go, gh = torch.randn_like(out), torch.randn_like(h)
    ref = torch.autograd.grad((out * go).sum() + (h * gh).sum(), wrt)
    out2, h2 = _fused(cell, x, h0, p, reverse=reverse, lengths=lengths)
    torch.testing.assert_close(out2, out, **FWD)
    torch.testing.assert_close(h2, h, **FWD)
    got = torch.autograd.grad((out2 * go).sum() + (h2 * gh).sum(), wrt)
    names = ["x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    for name, a, b in zip(names, got, ref):
        torch.testing.assert_close(a, b, **GRAD, msg=lambda m, name=name: f"{cell} grad {name}: {m}")
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
@pytest.mark.parametrize("cell", CELLS)
def test_matches_reference(cell, shape, reverse):
    _compare(cell, *shape, reverse=reverse)


@pytest.mark.parametrize("cell", CELLS)
def test_no_bias(cell):
    _compare(cell, 5, 3, 4, 33, bias=False, seed=1)
    _compare(cell, 5, 3, 4, 9, bias=False, reverse=True, lengths=torch.tensor([2, 5, 1]), seed=2)


@pytest.mark.parametrize("cell", CELLS)
def test_long_sequence(cell):
    _compare(cell, 1000, 2, 3, 5, seed=3)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("cell", CELLS)
def test_lengths_unsorted(cell, reverse):
    _compare(cell, 9, 6, 5, 11, reverse=reverse, lengths=torch.tensor([3, 9, 1, 7, 9, 2]), seed=4)
    _compare(cell, 6, 5, 7, 130, reverse=reverse, lengths=torch.tensor([1, 6, 4, 6, 2]), seed=5)


def test_lengths_all_full_and_list():
    _compare("gru", 4, 3, 5, 6, lengths=torch.tensor([4, 4, 4]))
    _compare("gru", 4, 3, 5, 6, lengths=[2, 4, 1], reverse=True)


def test_larger_blocks_packed_path():
    _compare("gru", 12, 32, 64, 256, seed=6)
    _compare("tanh", 12, 32, 64, 256, seed=6, reverse=True)


def _run_all(cell, x, h0, p, lengths, reverse):
    xs, hs = (t.detach().clone().requires_grad_() for t in (x, h0))
    ps = [t.detach().clone().requires_grad_() for t in p]
    out, h = _fused(cell, xs, hs, ps, reverse=reverse, lengths=lengths)
    g = torch.Generator().manual_seed(9)
    go, gh = torch.randn(out.shape, generator=g), torch.randn(h.shape, generator=g)
    grads = torch.autograd.grad((out * go).sum() + (h * gh).sum(), [xs, hs, *ps])
    return [out, h, *grads]


@pytest.mark.parametrize("lengths", [None, [5, 40, 1, 9, 40, 3, 7, 2, 33, 40, 12, 1, 6, 8, 39, 4]],
                         ids=["full", "lengths"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("cell", CELLS)
def test_one_thread_equals_two_threads_bitwise(cell, lengths, reverse):
    torch.manual_seed(10)
    T, N, I, H = 40, 16, 96, 200  # several hidden blocks; T*N = 640 rows = several GEMM chunks
    p = _params(cell, I, H, seed=10)
    x, h0 = torch.randn(T, N, I), torch.randn(N, H)
    lengths = None if lengths is None else torch.tensor(lengths)
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = _run_all(cell, x, h0, p, lengths, reverse)
        torch.set_num_threads(2)
        b = _run_all(cell, x, h0, p, lengths, reverse)
    finally:
        torch.set_num_threads(old)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_against_float64_reference(cell):
    """The fused float32 gradients against the reference's float64 ones (itself gradchecked
    in float64 by tests/nn/test_gradcheck.py): agreement to float32 accuracy."""
    torch.manual_seed(11)
    T, N, I, H = 30, 4, 6, 40
    lengths = torch.tensor([30, 7, 19, 1])
    p64 = _params(cell, I, H, seed=11, dtype=torch.float64)
    x64 = torch.randn(T, N, I, dtype=torch.float64, requires_grad=True)
    h64 = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    out, h = _reference(cell, x64, h64, p64, reverse=True, lengths=lengths)
    go, gh = torch.randn_like(out), torch.randn_like(h)
    ref = torch.autograd.grad((out * go).sum() + (h * gh).sum(), [x64, h64, *p64])
    p32 = [t.detach().float().requires_grad_() for t in p64]
    x32, h32 = (t.detach().float().requires_grad_() for t in (x64, h64))
    out2, h2 = _fused(cell, x32, h32, p32, reverse=True, lengths=lengths)
    got = torch.autograd.grad((out2 * go.float()).sum() + (h2 * gh.float()).sum(), [x32, h32, *p32])
    torch.testing.assert_close(out2.double(), out, **FWD)
    for a, b in zip(got, ref):
        torch.testing.assert_close(a.double(), b, **GRAD)


@pytest.mark.parametrize("cell", ["gru", "tanh"])  # (relu's kink makes finite differences unreliable)
def test_finite_difference_directional_derivative(cell):
    """d/de L(theta + e v) at e = 0 by central differences of the fused forward itself, against
    the fused backward's <grad, v>, for a random direction v over every input."""
    torch.manual_seed(12)
    T, N, I, H = 8, 3, 5, 9
    p = _params(cell, I, H, seed=12)
    x, h0 = torch.randn(T, N, I, requires_grad=True), torch.randn(N, H, requires_grad=True)
    leaves = [x, h0, *p]
    vs = [torch.randn_like(t) for t in leaves]
    g = torch.Generator().manual_seed(13)
    go = torch.randn(T, N, H, generator=g)

    def loss(ts):
        out, h = _fused(cell, ts[0], ts[1], ts[2:], lengths=torch.tensor([8, 3, 5]))
        return (out * go).sum() + h.square().sum()

    grads = torch.autograd.grad(loss(leaves), leaves)
    analytic = sum((a * v).sum() for a, v in zip(grads, vs)).item()
    def central(eps):
        with torch.no_grad():
            plus = loss([t + eps * v for t, v in zip(leaves, vs)]).item()
            minus = loss([t - eps * v for t, v in zip(leaves, vs)]).item()
        return (plus - minus) / (2 * eps)

    numeric = (4 * central(1e-2) - central(2e-2)) / 3  # Richardson: the O(eps^2) term cancels
    assert abs(numeric - analytic) <= 1e-3 * max(1.0, abs(analytic)), (numeric, analytic)


def test_gru_trace_matches_reference():
    torch.manual_seed(14)
    T, N, I, H = 7, 4, 5, 70
    p = _params("gru", I, H, seed=14)
    x, h0 = torch.randn(T, N, I), torch.randn(N, H)
    lengths = torch.tensor([7, 2, 5, 1])
    for reverse in (False, True):
        with torch.no_grad():
            ro, rh, rtrace = _reference("gru", x, h0, p, reverse=reverse, lengths=lengths, return_trace=True)
            fo, fh, ftrace = gru_layer(x, h0, *p, reverse=reverse, lengths=lengths, return_trace=True)
        assert ftrace._fields == rtrace._fields
        for a, b in zip(ftrace, rtrace):
            torch.testing.assert_close(a, b, **FWD)
    out, _, trace = rnn_layer(x, h0, *_params("relu", I, H, seed=15), nonlinearity="relu", return_trace=True)
    assert trace.hidden_state is out


def test_no_grad_equals_grad_path_and_default_state():
    torch.manual_seed(16)
    p = _params("gru", 4, 9, seed=16)
    x = torch.randn(6, 3, 4)
    with torch.no_grad():
        a = gru_layer(x, None, *p)
    with torch.inference_mode():
        b = gru_layer(x, None, *p)
    c = gru_layer(x, torch.zeros(3, 9), *p)
    for u, v, z in zip(a, b, c):
        assert torch.equal(u, v) and torch.equal(u, z.detach())
    assert not a[0].requires_grad and c[0].requires_grad


def test_partial_requires_grad_and_unused_outputs():
    torch.manual_seed(17)
    for cell in CELLS:
        p = _params(cell, 4, 5, seed=17)
        x = torch.randn(3, 2, 4)
        out, h = _fused(cell, x, None, p)
        (g,) = torch.autograd.grad(out.square().sum(), [p[1]])  # h_n unused, x and h0 constant
        ref_out, _ = _reference(cell, x, torch.zeros(2, 5), p)
        (gr,) = torch.autograd.grad(ref_out.square().sum(), [p[1]])
        torch.testing.assert_close(g, gr, **GRAD)


def test_non_contiguous_input():
    torch.manual_seed(18)
    base = torch.randn(3, 5, 4, requires_grad=True)
    x = base.transpose(0, 1)
    h0 = torch.randn(6, 3).t()
    p = _params("gru", 4, 6, seed=18)
    out, h = gru_layer(x, h0, *p)
    ref, rh = _reference("gru", x, h0, p)
    torch.testing.assert_close(out, ref, **FWD)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), base)[0],
                               torch.autograd.grad(ref.sum(), base)[0], **GRAD)


@pytest.mark.parametrize("mode", [1, 2], ids=["sgemm", "aten"])
def test_fallback_gemm_paths(mode):
    ext = load("gru_rnn")
    got = ext.set_blas_mode(mode)
    try:
        if got != mode:
            pytest.skip(f"GEMM path {mode} unavailable (in effect: {ext.info(0)})")
        for cell in CELLS:
            _compare(cell, 5, 3, 6, 70, seed=19)
            _compare(cell, 5, 3, 6, 70, seed=19, reverse=True, lengths=torch.tensor([5, 2, 3]))
    finally:
        ext.set_blas_mode(0)


@pytest.mark.parametrize("tchunk", ["1", "3"])
def test_time_chunk_of_input_projection(monkeypatch, tchunk):
    monkeypatch.setenv("LSTMKIT_FUSED_TCHUNK", tchunk)
    for cell in CELLS:
        _compare(cell, 7, 3, 5, 70, seed=20)
        _compare(cell, 7, 4, 5, 33, reverse=True, lengths=torch.tensor([7, 1, 4, 6]), seed=21)


def test_bad_inputs():
    p = _params("gru", 4, 5)
    x = torch.randn(3, 2, 4)
    z = torch.zeros(2, 5)
    with pytest.raises(TypeError):
        gru_layer(x.double(), z, *p)
    with pytest.raises(ValueError):
        gru_layer(x[:, :, :3], z, *p)
    with pytest.raises(ValueError):
        gru_layer(x, torch.zeros(3, 5), *p)
    with pytest.raises(ValueError):
        gru_layer(x, z, *p, lengths=torch.tensor([0, 3]))
    with pytest.raises(ValueError):
        gru_layer(x, z, *p, lengths=torch.tensor([4, 3]))
    with pytest.raises(ValueError):
        rnn_layer(x, z, *p)  # GRU-shaped weights
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_layer(x, z, *_params("tanh", 4, 5), nonlinearity="sigmoid")


# ------------------------------------------------------------------ through the modules
def _module_pair(kind, **kw):
    torch.manual_seed(22)
    cls = {"gru": lstmkit.GRU, "tanh": lstmkit.RNN, "relu": lstmkit.RNN}[kind]
    extra = {} if kind == "gru" else {"nonlinearity": kind}
    ours = cls(5, 33, backend="fused", **extra, **kw)
    ref = cls(5, 33, backend="reference", **extra, **kw)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _module_run(m, x, h0, lengths):
    xs, hs = x.clone().requires_grad_(), h0.clone().requires_grad_()
    out, h = m(xs, hs, lengths=lengths)
    g = torch.Generator().manual_seed(23)
    loss = (out * torch.randn(out.shape, generator=g)).sum() + (h * torch.randn(h.shape, generator=g)).sum()
    grads = torch.autograd.grad(loss, [xs, hs, *m.parameters()])
    return [out.detach(), h.detach(), *grads]


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize("kind", CELLS)
def test_bidirectional_multilayer_module_with_lengths(kind, batch_first):
    ours, ref = _module_pair(kind, num_layers=3, bidirectional=True, batch_first=batch_first)
    T, N = 9, 4
    x = torch.randn(N, T, 5) if batch_first else torch.randn(T, N, 5)
    h0 = torch.randn(6, N, 33)
    lengths = torch.tensor([9, 3, 1, 6])
    a = _module_run(ours, x, h0, lengths)
    assert ours.last_backend == "fused"
    b = _module_run(ref, x, h0, lengths)
    assert ref.last_backend == "reference"
    torch.testing.assert_close(a[0], b[0], **FWD)
    torch.testing.assert_close(a[1], b[1], **FWD)
    for u, v in zip(a[2:], b[2:]):
        torch.testing.assert_close(u, v, **GRAD)


def test_packed_sequence_and_dropout_between_layers():
    from torch.nn.utils.rnn import pack_padded_sequence

    ours, ref = _module_pair("gru", num_layers=2, dropout=0.5)
    x = torch.randn(6, 3, 5)
    packed = pack_padded_sequence(x, torch.tensor([4, 6, 2]), enforce_sorted=False)
    ours.eval(), ref.eval()
    with torch.no_grad():
        a, ha = ours(packed)
        b, hb = ref(packed)
    assert ours.last_backend == "fused"
    torch.testing.assert_close(a.data, b.data, **FWD)
    torch.testing.assert_close(ha, hb, **FWD)
    ours.train(), ref.train()
    torch.manual_seed(24)
    a, ha = ours(x)
    torch.manual_seed(24)
    b, hb = ref(x)  # the same dropout masks: the layers draw no random numbers of their own
    torch.testing.assert_close(a, b, **FWD)


def test_backend_selection():
    T, N, I, H = 5, 3, 4, 8
    x = torch.randn(T, N, I)
    for m in (lstmkit.GRU(I, H), lstmkit.RNN(I, H), lstmkit.RNN(I, H, nonlinearity="relu", num_layers=2)):
        m(x)
        assert m.last_backend == "fused"  # training: fused
        with torch.no_grad():
            m(x)
        assert m.last_backend == "fused"  # inference: measured faster than torch.nn.GRU / RNN
        m(x, return_trace=True)
        assert m.last_backend == "reference"  # gradients on: the trace's gates must be differentiable
        with torch.no_grad():
            _, _, trace = m(x, return_trace=True)
        assert m.last_backend == "fused"
        m.config = type(m.config).from_dict({**m.config.to_dict(), "backend": "reference"})
        with torch.no_grad():
            _, _, rtrace = m(x, return_trace=True)
        for f in trace.fields:
            torch.testing.assert_close(trace.stack(f), rtrace.stack(f), **FWD)
    lstmkit.GRU(I, H, backend="fused")  # covered: no NotImplementedError
    double = lstmkit.GRU(I, H, backend="fused", dtype=torch.float64)
    double(x.double())
    assert double.last_backend == "reference"  # float64: the documented fallback
    from lstmkit.nn.backend import FUSED, Call

    assert FUSED.why_not(Call(lstmkit.RNN(I, H).config)) is None
