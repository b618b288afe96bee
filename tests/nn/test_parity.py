"""lstmkit's modules against their torch.nn twins: same weights -> same outputs and gradients,
on each backend by name (reference, fused, torch), each test asserting the one that ran."""

import itertools

import pytest
import torch
from helpers import (
    BACKENDS,
    assert_close_lists,
    on,
    requested,
    run_with_grads,
    runnable_backends,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit

T, N, I, H = 5, 3, 4, 6


def make_pair(kind, backend="reference", **kw):
    theirs = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](I, H, **kw)
    ours = {"lstm": lstmkit.LSTM, "gru": lstmkit.GRU, "rnn": lstmkit.RNN}[kind](I, H, backend=backend, **kw)
    result = ours.load_state_dict(theirs.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    return theirs, ours


def hidden_for(module, kind, batch, unbatched, seed=7):
    gen = torch.Generator().manual_seed(seed)
    layers = module.num_layers * (2 if module.bidirectional else 1)
    out = module.proj_size if getattr(module, "proj_size", 0) else module.hidden_size
    shape_h = (layers, out) if unbatched else (layers, batch, out)
    shape_c = (layers, H) if unbatched else (layers, batch, H)
    h = torch.randn(shape_h, generator=gen).requires_grad_()
    if kind == "lstm":
        return (h, torch.randn(shape_c, generator=gen).requires_grad_())
    return h


def input_makers(batch_first):
    gen = torch.Generator().manual_seed(11)
    dense = torch.randn(N, T, I, generator=gen) if batch_first else torch.randn(T, N, I, generator=gen)
    unbatched = torch.randn(T, I, generator=gen)
    lengths = torch.tensor([3, 5, 1])  # unsorted, includes 1 and T

    def batched():
        return dense.clone().requires_grad_()

    def unbatched_input():
        return unbatched.clone().requires_grad_()

    def packed():
        return pack_padded_sequence(dense.clone().requires_grad_(), lengths, batch_first=batch_first,
                                    enforce_sorted=False)

    return {"batched": batched, "unbatched": unbatched_input, "packed": packed}


def check_parity(kind, input_kind, with_hx, backend="reference", requested_backend=None, **kw):
    """``kind`` built with ``backend=requested_backend`` (default: the one that names
    ``backend``) runs on ``backend`` and matches torch.nn, forward and backward."""
    theirs, ours = make_pair(kind, requested_backend or requested(backend), **kw)
    theirs.eval(), ours.eval()
    make = input_makers(kw.get("batch_first", False))[input_kind]
    hx = hidden_for(theirs, kind, N, input_kind == "unbatched") if with_hx else None
    # "packed" needs the same PackedSequence object's data leaf for both; rebuild per call
    out_t, grad_t = run_with_grads(theirs, make, hx)
    with on(backend, kind):
        out_o, grad_o = run_with_grads(ours, make, hx)
    assert ours.last_backend == backend
    assert_close_lists(out_o, out_t, 1e-5, "outputs")
    assert_close_lists(grad_o, grad_t, 1e-4, "gradients")


LSTM_OPTIONS = list(itertools.product([1, 2], [True, False], [False, True], [False, True], [0, 2]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("num_layers,bias,batch_first,bidirectional,proj_size", LSTM_OPTIONS)
@pytest.mark.parametrize("input_kind", ["batched", "unbatched", "packed"])
def test_lstm_matches_torch(num_layers, bias, batch_first, bidirectional, proj_size, input_kind, backend):
    for with_hx in (False, True):
        check_parity("lstm", input_kind, with_hx, backend, num_layers=num_layers, bias=bias,
                     batch_first=batch_first, bidirectional=bidirectional, proj_size=proj_size,
                     dropout=0.3 if num_layers > 1 else 0.0)


OTHER_OPTIONS = list(itertools.product([1, 2], [True, False], [False, True], [False, True]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("num_layers,bias,batch_first,bidirectional", OTHER_OPTIONS)
@pytest.mark.parametrize("input_kind", ["batched", "unbatched", "packed"])
@pytest.mark.parametrize("kind,extra", [("gru", {}), ("rnn", {"nonlinearity": "tanh"}),
                                        ("rnn", {"nonlinearity": "relu"})])
def test_gru_and_rnn_match_torch(kind, extra, num_layers, bias, batch_first, bidirectional, input_kind, backend):
    for with_hx in (False, True):
        check_parity(kind, input_kind, with_hx, backend, num_layers=num_layers, bias=bias,
                     batch_first=batch_first, bidirectional=bidirectional, **extra)


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from(["lstm", "gru", "rnn"]),
    num_layers=st.integers(1, 3),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    bias=st.booleans(),
    use_proj=st.booleans(),
    input_kind=st.sampled_from(["batched", "unbatched", "packed"]),
    with_hx=st.booleans(),
)
def test_random_configurations_match_torch(kind, num_layers, bidirectional, batch_first, bias,
                                           use_proj, input_kind, with_hx):
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    if kind == "lstm" and use_proj:
        kw["proj_size"] = 3
    for backend in runnable_backends(kind):
        check_parity(kind, input_kind, with_hx, backend, **kw)


@pytest.mark.parametrize("backend", ["fused", "torch"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("input_kind", ["batched", "unbatched", "packed"])
def test_auto_backend_matches_torch(kind, input_kind, backend):
    """backend="auto" picks the fused kernel where it compiles, else torch's kernels."""
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    if kind == "lstm":
        kw["proj_size"] = 2
    check_parity(kind, input_kind, True, backend, requested_backend="auto", **kw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_training_mode_without_dropout_matches_torch(backend):
    theirs, ours = make_pair("lstm", requested(backend), num_layers=2, bidirectional=True)
    x = torch.randn(T, N, I)
    with on(backend):
        out = ours(x)[0]
    assert ours.last_backend == backend
    torch.testing.assert_close(out, theirs(x)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inter_layer_dropout_acts_in_training_only(backend):
    _, ours = make_pair("lstm", requested(backend), num_layers=2, dropout=0.5)
    x = torch.randn(T, N, I)
    with on(backend):
        ours.train()
        a, b = ours(x)[0], ours(x)[0]
        assert not torch.allclose(a, b)
        ours.eval()
        torch.testing.assert_close(ours(x)[0], ours(x)[0])
    assert ours.last_backend == backend


def test_same_seed_gives_torch_initialisation():
    torch.manual_seed(5)
    theirs = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=2)
    torch.manual_seed(5)
    ours = lstmkit.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=2)
    names_t = [n for n, _ in theirs.named_parameters()]
    names_o = [n for n, _ in ours.named_parameters()]
    assert names_o == names_t
    for p, q in zip(theirs.parameters(), ours.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_cells_match_torch(kind):
    theirs = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}[kind](I, H)
    ours = {"lstm": lstmkit.LSTMCell, "gru": lstmkit.GRUCell, "rnn": lstmkit.RNNCell}[kind](I, H)
    ours.load_state_dict(theirs.state_dict())
    for batched in (True, False):
        x = torch.randn(N, I) if batched else torch.randn(I)
        shape = (N, H) if batched else (H,)
        hx = (torch.randn(shape), torch.randn(shape)) if kind == "lstm" else torch.randn(shape)
        for state in (None, hx):
            a, b = theirs(x, state), ours(x, state)
            a = a if isinstance(a, tuple) else (a,)
            b = b if isinstance(b, tuple) else (b,)
            for u, v in zip(a, b):
                torch.testing.assert_close(v, u, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "torch"])
def test_float64_modules(backend):
    """float64: the fused kernels compute float32, so backend="auto" runs torch's kernels."""
    theirs = torch.nn.LSTM(I, H, dtype=torch.float64)
    ours = lstmkit.LSTM(I, H, dtype=torch.float64, backend=requested(backend))
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(T, N, I, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-12, rtol=1e-12)
    assert ours.last_backend == backend


@pytest.mark.parametrize("kind,kw", [("lstm", dict(proj_size=2)), ("gru", {}), ("rnn", dict(nonlinearity="relu"))])
def test_torch_backend_runs_torch_nn_operator_bitwise(kind, kw):
    """backend="torch" calls the operator torch.nn's forward ends in, with the same weights in
    the same order: in training mode with inter-layer dropout and the same seed, outputs, final
    states and every gradient equal torch.nn's bit for bit (dropout draws included)."""
    theirs, ours = make_pair(kind, requested("torch"), num_layers=3, dropout=0.5, bidirectional=True, **kw)
    theirs.train(), ours.train()
    x = torch.randn(T, N, I)
    results = []
    for module in (theirs, ours):
        xi = x.clone().requires_grad_()
        torch.manual_seed(3)
        with on("torch", kind):
            out, final = module(xi)
        finals = final if isinstance(final, tuple) else (final,)
        loss = out.square().sum() + sum(f.sum() for f in finals)
        results.append([out, *finals, *torch.autograd.grad(loss, [xi, *module.parameters()])])
    assert ours.last_backend == "torch"
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results):
        assert torch.equal(a, b)
    torch.manual_seed(4)
    with on("torch", kind):
        assert not torch.equal(ours(x)[0], results[1][0])  # the dropout draws do depend on the seed


def assert_twins(first, second):
    """``second``, made from ``first``, gives the same outputs and weight gradients on one input
    (returned)."""
    x = torch.randn((N, T, I) if first.batch_first else (T, N, I))
    (a, _), (b, _) = first(x), second(x)
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    a.sum().backward()
    b.sum().backward()
    for name, p in first.named_parameters():
        torch.testing.assert_close(getattr(second, name).grad, p.grad, atol=1e-5, rtol=1e-5)
    return x


@pytest.mark.parametrize("kind,kw", [
    ("lstm", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("lstm", dict(proj_size=3, bias=False)),
    ("gru", dict(num_layers=2, dropout=0.5)),
    ("rnn", dict(nonlinearity="relu", bidirectional=True)),
])
def test_from_torch_gives_the_same_outputs_and_gradients(kind, kw):
    torch.manual_seed(0)
    theirs = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](I, H, **kw).eval()
    ours = lstmkit.from_torch(theirs)
    assert type(ours) is {"lstm": lstmkit.LSTM, "gru": lstmkit.GRU, "rnn": lstmkit.RNN}[kind]
    assert not ours.training and ours.batch_first == theirs.batch_first and ours.num_layers == theirs.num_layers
    if kind == "rnn":
        assert ours.nonlinearity == "relu"
    assert ours.weight_ih_l0 is not theirs.weight_ih_l0  # a copy: training one leaves the other
    assert_twins(theirs, ours)
    assert lstmkit.from_torch(ours) is ours
    with pytest.raises(TypeError, match="from_torch takes a torch.nn.LSTM, GRU or RNN, got Linear"):
        lstmkit.from_torch(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("kind,kw", [
    ("lstm", dict(num_layers=2, bidirectional=True, batch_first=True, forget_bias=1.0, init="keras")),
    ("lstm", dict(proj_size=3)),
    ("gru", dict(bias=False)),
    ("rnn", dict(nonlinearity="relu", num_layers=2)),
])
def test_to_torch_gives_the_same_outputs_and_gradients_and_round_trips(kind, kw):
    torch.manual_seed(0)
    ours = {"lstm": lstmkit.LSTM, "gru": lstmkit.GRU, "rnn": lstmkit.RNN}[kind](I, H, **kw)
    theirs = lstmkit.to_torch(ours)
    assert type(theirs) is {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    assert theirs.training and theirs.batch_first == ours.batch_first
    x = assert_twins(ours, theirs)
    torch.testing.assert_close(lstmkit.from_torch(theirs)(x)[0], ours(x)[0], atol=1e-5, rtol=1e-5)


def test_to_torch_refuses_the_variants_and_other_modules():
    with pytest.raises(ValueError, match="torch.nn has no LSTM with peephole, zoneout: only a plain"):
        lstmkit.to_torch(lstmkit.LSTM(I, H, peephole=True, zoneout=0.1))
    with pytest.raises(ValueError, match="torch.nn has no LSTM with layer_norm"):
        lstmkit.to_torch(lstmkit.LSTM(I, H, layer_norm=True))
    with pytest.raises(TypeError, match="to_torch takes an lstmkit LSTM, GRU or RNN; this is a torch.nn.GRU already"):
        lstmkit.to_torch(torch.nn.GRU(I, H))
    with pytest.raises(TypeError, match="to_torch takes an lstmkit LSTM, GRU or RNN, got Linear"):
        lstmkit.to_torch(torch.nn.Linear(I, H))


@pytest.mark.filterwarnings("ignore:The tensor attributes self._flat_weights")  # torch's own, about its LSTM
def test_to_torch_twin_exports_with_torch_export():
    ours = lstmkit.LSTM(I, H, batch_first=True, num_layers=2).eval()
    x = torch.randn(N, T, I)
    exported = torch.export.export(lstmkit.to_torch(ours), (x,)).module()
    with torch.no_grad():
        torch.testing.assert_close(exported(x)[0], ours(x)[0], atol=1e-5, rtol=1e-5)
