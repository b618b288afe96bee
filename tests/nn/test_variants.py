"""The LSTM variants against hand-written loops, and their defining properties, on each
backend that computes them (the reference scan and the fused kernels; torch's kernels have
only the projection), each test asserting the backend that ran."""

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import BACKENDS, fused_missing, requested

import lstmkit

VARIANT_BACKENDS = ("reference", "fused")  # torch.nn has none of the variants


def tol(backend):
    """assert_close's default tolerances, wider for the compiled kernels (their vector maths
    are within ~1e-6 of torch's)."""
    return {} if backend == "reference" else {"rtol": 1e-5, "atol": 1e-5}

T, N, I, H = 6, 3, 4, 5


def hand_lstm(x, weights, *, peephole=None, ln=None, cifg=False, h=None, c=None, rmask=None, zoneout=0.0):
    """A deliberately naive, independent single-layer LSTM loop (the test's own oracle);
    ``zoneout``: evaluation-mode zoneout, each state keeps that share of its previous value."""
    w_ih, w_hh, b_ih, b_hh = weights
    hidden = w_hh.shape[1]
    h = torch.zeros(x.shape[1], hidden) if h is None else h
    c = torch.zeros(x.shape[1], w_ih.shape[0] // (3 if cifg else 4)) if c is None else c
    outs, gates = [], []
    for t in range(x.shape[0]):
        hin = h if rmask is None else h * rmask
        a, b = x[t] @ w_ih.T, hin @ w_hh.T
        if ln is not None:
            a = F.layer_norm(a, a.shape[-1:], ln["ih_w"], ln["ih_b"], eps=1e-5)
            b = F.layer_norm(b, b.shape[-1:], ln["hh_w"], ln["hh_b"], eps=1e-5)
        z = a + b + b_ih + b_hh
        if cifg:
            zf, zg, zo = z.chunk(3, 1)
            zi = None
        else:
            zi, zf, zg, zo = z.chunk(4, 1)
        if peephole is not None:
            if not cifg:
                zi = zi + peephole["ci"] * c
            zf = zf + peephole["cf"] * c
        f = torch.sigmoid(zf)
        i = 1 - f if cifg else torch.sigmoid(zi)
        g = torch.tanh(zg)
        c_new = f * c + i * g
        if peephole is not None:
            zo = zo + peephole["co"] * c_new
        o = torch.sigmoid(zo)
        cc = c_new if ln is None else F.layer_norm(c_new, c_new.shape[-1:], ln["c_w"], ln["c_b"], eps=1e-5)
        h_new = o * torch.tanh(cc)
        c = zoneout * c + (1 - zoneout) * c_new
        h = zoneout * h + (1 - zoneout) * h_new
        outs.append(h)
        gates.append((i, f, g, o, c))
    return torch.stack(outs), h, c, gates


def randomise(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)


def basic_weights(m):
    return m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
def test_peephole_against_hand_loop(backend):
    m = lstmkit.LSTM(I, H, peephole=True, backend=requested(backend))
    randomise(m)
    x = torch.randn(T, N, I)
    out, (h, c) = m(x)
    ref, rh, rc, _ = hand_lstm(x, basic_weights(m), peephole={"ci": m.weight_ci_l0, "cf": m.weight_cf_l0,
                                                              "co": m.weight_co_l0})
    torch.testing.assert_close(out, ref, **tol(backend))
    torch.testing.assert_close(c[0], rc, **tol(backend))
    assert m.last_backend == backend


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
def test_zero_peepholes_equal_plain_lstm(backend):
    m = lstmkit.LSTM(I, H, peephole=True, backend=requested(backend))
    with torch.no_grad():
        for name in ("weight_ci_l0", "weight_cf_l0", "weight_co_l0"):
            getattr(m, name).zero_()
    x = torch.randn(T, N, I)
    ref, _, _, _ = hand_lstm(x, basic_weights(m))
    torch.testing.assert_close(m(x)[0], ref, **tol(backend))
    assert m.last_backend == backend


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
def test_layer_norm_against_hand_loop(backend):
    m = lstmkit.LSTM(I, H, layer_norm=True, backend=requested(backend))
    randomise(m)
    x = torch.randn(T, N, I)
    ln = {k: getattr(m, f"layer_norm_{part}_{kind}_l0") for k, part, kind in [
        ("ih_w", "ih", "weight"), ("ih_b", "ih", "bias"), ("hh_w", "hh", "weight"),
        ("hh_b", "hh", "bias"), ("c_w", "cell", "weight"), ("c_b", "cell", "bias")]}
    ref, _, rc, _ = hand_lstm(x, basic_weights(m), ln=ln)
    out, (_, c) = m(x)
    torch.testing.assert_close(out, ref, **tol(backend))
    torch.testing.assert_close(c[0], rc, **tol(backend))
    assert m.last_backend == backend


def test_layer_norm_parameters_shapes_and_init():
    m = lstmkit.LSTM(I, H, layer_norm=True)
    assert m.layer_norm_ih_weight_l0.shape == (4 * H,)
    assert m.layer_norm_cell_bias_l0.shape == (H,)
    assert torch.equal(m.layer_norm_hh_weight_l0, torch.ones(4 * H))
    assert torch.equal(m.layer_norm_hh_bias_l0, torch.zeros(4 * H))


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
def test_cifg_couples_input_and_forget_gates(backend):
    m = lstmkit.LSTM(I, H, cifg=True, backend=requested(backend))
    randomise(m)
    assert m.weight_ih_l0.shape == (3 * H, I)
    assert m.weight_hh_l0.shape == (3 * H, H)
    x = torch.randn(T, N, I)
    out, _, trace = m(x, return_trace=True)
    ref, _, _, _ = hand_lstm(x, basic_weights(m), cifg=True)
    torch.testing.assert_close(out, ref, **tol(backend))
    torch.testing.assert_close(trace[0].input_gate, 1 - trace[0].forget_gate)
    assert m.last_backend == backend


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
def test_cifg_with_peephole_has_no_input_peephole(backend):
    m = lstmkit.LSTM(I, H, cifg=True, peephole=True, backend=requested(backend))
    names = dict(m.named_parameters())
    assert "weight_ci_l0" not in names and "weight_cf_l0" in names
    randomise(m)
    x = torch.randn(T, N, I)
    ref, _, _, _ = hand_lstm(x, basic_weights(m), cifg=True,
                             peephole={"cf": m.weight_cf_l0, "co": m.weight_co_l0})
    torch.testing.assert_close(m(x)[0], ref, **tol(backend))
    assert m.last_backend == backend


def test_forget_bias_is_added_to_the_forget_block():
    torch.manual_seed(3)
    base = lstmkit.LSTM(I, H)
    torch.manual_seed(3)
    shifted = lstmkit.LSTM(I, H, forget_bias=1.0)
    diff = shifted.bias_ih_l0 - base.bias_ih_l0
    expected = torch.zeros(4 * H)
    expected[H:2 * H] = 1.0
    torch.testing.assert_close(diff, expected)
    torch.testing.assert_close(shifted.bias_hh_l0, base.bias_hh_l0)
    torch.manual_seed(3)
    cifg = lstmkit.LSTM(I, H, cifg=True, forget_bias=2.0)
    torch.manual_seed(3)
    cifg_base = lstmkit.LSTM(I, H, cifg=True)
    assert torch.allclose((cifg.bias_ih_l0 - cifg_base.bias_ih_l0)[:H], torch.full((H,), 2.0))


def test_keras_initialisation():
    m = lstmkit.LSTM(I, H, init="keras", proj_size=2)
    w_hh = m.weight_hh_l0  # (4H, P): orthonormal columns
    torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(2), atol=1e-5, rtol=0)
    bound = math.sqrt(6.0 / (I + 4 * H))
    assert m.weight_ih_l0.abs().max() <= bound
    expected = torch.zeros(4 * H)
    expected[H:2 * H] = 1.0
    assert torch.equal(m.bias_ih_l0, expected)
    assert torch.equal(m.bias_hh_l0, torch.zeros(4 * H))


def test_torch_initialisation_bounds():
    m = lstmkit.LSTM(I, H, peephole=True)
    bound = 1 / math.sqrt(H)
    for p in m.parameters():
        assert p.abs().max() <= bound


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
def test_recurrent_dropout_uses_one_mask_per_sequence(backend):
    m = lstmkit.LSTM(I, H, recurrent_dropout=0.5, backend=requested(backend))
    randomise(m)
    x = torch.randn(T, N, I)
    m.train()
    torch.manual_seed(9)
    out = m(x)[0]
    torch.manual_seed(9)
    mask = torch.bernoulli(torch.full((N, H), 0.5)) / 0.5
    ref, _, _, _ = hand_lstm(x, basic_weights(m), rmask=mask)
    torch.testing.assert_close(out, ref, **tol(backend))
    m.eval()
    plain, _, _, _ = hand_lstm(x, basic_weights(m))
    torch.testing.assert_close(m(x)[0], plain, **tol(backend))
    assert m.last_backend == backend


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
def test_zoneout_keeps_or_updates_each_unit(backend):
    m = lstmkit.LSTM(I, H, zoneout=0.5, backend=requested(backend))
    randomise(m)
    m.train()
    x = torch.randn(T, N, I)
    out, (h, c), trace = m(x, return_trace=True)
    tr = trace[0]
    c_prev = torch.zeros(N, H)
    h_prev = torch.zeros(N, H)
    kept_any = updated_any = False
    for t in range(T):
        fresh_c = tr.forget_gate[t] * c_prev + tr.input_gate[t] * tr.candidate[t]
        fresh_h = tr.output_gate[t] * torch.tanh(fresh_c)
        kept = torch.isclose(tr.cell_state[t], c_prev) & ~torch.isclose(fresh_c, c_prev)
        updated = torch.isclose(tr.cell_state[t], fresh_c)
        assert bool((kept | updated).all())
        kept_any |= bool(kept.any())
        updated_any |= bool(updated.any())
        hk = torch.isclose(tr.hidden_state[t], h_prev)
        hu = torch.isclose(tr.hidden_state[t], fresh_h)
        assert bool((hk | hu).all())
        c_prev, h_prev = tr.cell_state[t], tr.hidden_state[t]
    assert kept_any and updated_any
    torch.testing.assert_close(out, trace[0].hidden_state)
    m.eval()  # at evaluation zoneout's expectation (Krueger et al.): 0.5 h_{t-1} + 0.5 h_new
    ref, _, _, _ = hand_lstm(x, basic_weights(m), zoneout=0.5)
    plain, _, _, _ = hand_lstm(x, basic_weights(m))
    assert not torch.allclose(ref, plain, atol=1e-3)
    torch.testing.assert_close(m(x)[0], ref, **tol(backend))
    assert m.last_backend == backend


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_projection_against_hand_loop(backend):
    m = lstmkit.LSTM(I, H, proj_size=2, backend=requested(backend))
    randomise(m)
    x = torch.randn(T, N, I)
    h = torch.zeros(N, 2)
    c = torch.zeros(N, H)
    outs = []
    for t in range(T):
        z = x[t] @ m.weight_ih_l0.T + h @ m.weight_hh_l0.T + m.bias_ih_l0 + m.bias_hh_l0
        i, f, g, o = z.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = (torch.sigmoid(o) * torch.tanh(c)) @ m.weight_hr_l0.T
        outs.append(h)
    torch.testing.assert_close(m(x)[0], torch.stack(outs), **tol(backend))
    assert m.last_backend == backend


@pytest.mark.parametrize("backend", VARIANT_BACKENDS, indirect=True)
@pytest.mark.parametrize("options", [{"peephole": True}, {"layer_norm": True}, {"cifg": True}])
def test_variant_cells_equal_one_layer_step(options, backend):
    layer = lstmkit.LSTM(I, H, **options, backend=requested(backend))
    cell = lstmkit.LSTMCell(I, H, **options)  # a cell always runs the reference step
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(N, I)
    h, c = cell(x)
    out, (hn, cn) = layer(x.unsqueeze(0))
    torch.testing.assert_close(h, out[0], **tol(backend))
    torch.testing.assert_close(c, cn[0], **tol(backend))
    assert layer.last_backend == backend


@pytest.mark.parametrize("p", [0.1, 0.5, 0.93])
def test_zoneout_masks_keep_each_unit_with_probability_p(p):
    """The masks come from 16-bit slices of a SplitMix64 stream (``stack.bernoulli_mask``):
    each element True with probability round(p * 65536) / 65536, independently of its
    neighbours, and the same for the same seed."""
    from lstmkit.nn.stack import bernoulli_mask

    torch.manual_seed(0)
    m = bernoulli_mask((50, 8, 67), p, "cpu")  # 26,800 elements, not a multiple of 4
    assert m.shape == (50, 8, 67) and m.dtype == torch.bool and m.is_contiguous()
    n = m.numel()
    assert abs(m.float().mean().item() - p) < 4 * math.sqrt(p * (1 - p) / n)
    pairs = m.flatten()[:-1] & m.flatten()[1:]  # neighbours (often from the same 64-bit word)
    assert abs(pairs.float().mean().item() - p * p) < 4 * math.sqrt(p * p * (1 - p * p) / n) + 1e-3
    torch.manual_seed(0)
    assert torch.equal(bernoulli_mask((50, 8, 67), p, "cpu"), m)
    assert not torch.equal(bernoulli_mask((50, 8, 67), p, "cpu"), m)
    assert not bernoulli_mask((3, 4), 1e-9, "cpu").any()
    assert bernoulli_mask((0, 4), p, "cpu").shape == (0, 4)


def test_mask_stream_is_splitmix64():
    """The torch version of the stream against SplitMix64's published outputs for the seed
    1234567 (the generator's reference C code: state += gamma, then the two mixing rounds)."""
    from lstmkit.nn.stack import splitmix_words

    words = [int(v) % 2**64 for v in splitmix_words(1234567, 5, "cpu")]
    assert words == [6457827717110365317, 3203168211198807973, 9817491932198370423,
                     4593380528125082431, 16408922859458223821]


@pytest.mark.parametrize("shape", [(50, 8, 67), (1,), (2,), (3,), (5,), (4, 4)])
@pytest.mark.parametrize("threshold", [-32768, -26215, 0, 28180, 32767])  # k - 32769, 1 <= k <= 65536
def test_compiled_mask_fill_equals_torch_stream(shape, threshold):
    """The fused extension's fill (used where it is loaded) computes the same bits as the torch
    version of the stream, tails of 1-3 elements included, so a seed gives one mask on every
    backend."""
    reason = fused_missing("lstm")
    if reason is not None:
        pytest.skip(reason)
    from lstmkit.nn.fused.build import load
    from lstmkit.nn.stack import splitmix_words

    n = math.prod(shape)
    for seed in (0, 1, -(2**63), 2**63 - 1, 987654321987):
        expected = splitmix_words(seed, (n + 3) // 4, "cpu").view(torch.int16)[:n].view(shape) <= threshold
        out = torch.empty(shape, dtype=torch.bool)
        load("lstm").bernoulli_mask_fill(out, seed, threshold)
        assert torch.equal(out, expected)
