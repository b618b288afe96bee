"""Lengths, PackedSequence, unbatched input, the trace, and step() streaming."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit

T, N, I, H = 6, 4, 3, 5
LENGTHS = torch.tensor([4, 6, 1, 3])


@pytest.mark.parametrize("backend", ["reference", "auto", "fused"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_equal_running_each_sequence_alone(kind, bidirectional, backend):
    theirs = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind](
        I, H, num_layers=2, bidirectional=bidirectional)
    ours = {"lstm": lstmkit.LSTM, "gru": lstmkit.GRU, "rnn": lstmkit.RNN}[kind](
        I, H, num_layers=2, bidirectional=bidirectional, backend=backend)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(T, N, I)
    out, state = ours(x, lengths=LENGTHS)
    h_n = state[0] if kind == "lstm" else state
    for b, length in enumerate(LENGTHS.tolist()):
        alone_out, alone_state = theirs(x[:length, b : b + 1])
        alone_h = alone_state[0] if kind == "lstm" else alone_state
        torch.testing.assert_close(out[:length, b], alone_out[:, 0], atol=1e-5, rtol=1e-5)
        assert torch.equal(out[length:, b], torch.zeros_like(out[length:, b]))
        torch.testing.assert_close(h_n[:, b], alone_h[:, 0], atol=1e-5, rtol=1e-5)
        if kind == "lstm":
            torch.testing.assert_close(state[1][:, b], alone_state[1][:, 0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("options", [{"peephole": True}, {}])
def test_lengths_equal_packed_sequence(options):
    m = lstmkit.LSTM(I, H, bidirectional=True, batch_first=True, **options)
    x = torch.randn(N, T, I)
    out, (h, c) = m(x, lengths=LENGTHS)
    packed_out, (ph, pc) = m(pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False))
    padded, lens = pad_packed_sequence(packed_out, batch_first=True, total_length=T)
    torch.testing.assert_close(out, padded)
    torch.testing.assert_close(h, ph)
    torch.testing.assert_close(c, pc)
    assert torch.equal(lens, LENGTHS)


@pytest.mark.parametrize("backend", ["reference", "auto"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_unbatched_equals_batch_of_one(kind, backend):
    m = {"lstm": lstmkit.LSTM, "gru": lstmkit.GRU, "rnn": lstmkit.RNN}[kind](I, H, num_layers=2, backend=backend)
    x = torch.randn(T, I)
    out, state = m(x)
    out_b, state_b = m(x.unsqueeze(1))
    torch.testing.assert_close(out, out_b[:, 0])
    if kind == "lstm":
        torch.testing.assert_close(state[0], state_b[0][:, 0])
        torch.testing.assert_close(state[1], state_b[1][:, 0])
    else:
        torch.testing.assert_close(state, state_b[:, 0])


def test_trace_against_hand_written_loop():
    m = lstmkit.LSTM(I, H, num_layers=2, bidirectional=True)
    x = torch.randn(T, N, I)
    out, (h_n, c_n), trace = m(x, return_trace=True)
    assert trace.fields == ("hidden_state", "cell_state", "input_gate", "forget_gate",
                            "candidate", "output_gate")
    assert trace.num_layers == 2 and trace.num_directions == 2
    layer_input = x
    for layer in range(2):
        outputs = []
        for direction in range(2):
            sfx = f"_l{layer}" + ("_reverse" if direction else "")
            w_ih, w_hh = getattr(m, "weight_ih" + sfx), getattr(m, "weight_hh" + sfx)
            b = getattr(m, "bias_ih" + sfx) + getattr(m, "bias_hh" + sfx)
            h = torch.zeros(N, H)
            c = torch.zeros(N, H)
            steps = range(T - 1, -1, -1) if direction else range(T)
            rec = {k: [None] * T for k in "ifgoch"}
            for t in steps:
                i, f, g, o = (layer_input[t] @ w_ih.T + h @ w_hh.T + b).chunk(4, 1)
                i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
                c = f * c + i * g
                h = o * torch.tanh(c)
                for k, v in zip("ifgoch", (i, f, g, o, c, h)):
                    rec[k][t] = v
            got = trace[layer, direction]
            for k, field in zip("ifgoch", ("input_gate", "forget_gate", "candidate", "output_gate",
                                          "cell_state", "hidden_state")):
                torch.testing.assert_close(getattr(got, field), torch.stack(rec[k]))
            outputs.append(torch.stack(rec["h"]))
            torch.testing.assert_close(c_n[layer * 2 + direction], c)
        layer_input = torch.cat(outputs, -1)
    torch.testing.assert_close(out, layer_input)
    assert trace.stack("forget_gate").shape == (2, 2, T, N, H)


def test_trace_layouts_and_lengths():
    m = lstmkit.LSTM(I, H, batch_first=True, proj_size=2)
    x = torch.randn(N, T, I)
    out, _, trace = m(x, lengths=LENGTHS, return_trace=True)
    assert trace[0].forget_gate.shape == (N, T, H)
    assert trace[0].hidden_state.shape == (N, T, 2)
    torch.testing.assert_close(trace[0].hidden_state, out)
    assert torch.equal(trace[0].forget_gate[2, 1:], torch.zeros(T - 1, H))
    _, _, tr = m(torch.randn(T, I), return_trace=True)
    assert tr[0].cell_state.shape == (T, H)
    with pytest.raises(ValueError, match="field must be one of"):
        trace.stack("nope")


def test_gru_and_rnn_traces():
    g = lstmkit.GRU(I, H)
    _, _, trace = g(torch.randn(T, N, I), return_trace=True)
    assert trace.fields == ("hidden_state", "reset_gate", "update_gate", "new_gate")
    r = lstmkit.RNN(I, H)
    out, _, trace = r(torch.randn(T, N, I), return_trace=True)
    torch.testing.assert_close(trace[0].hidden_state, out)


@pytest.mark.parametrize("factory", [
    lambda: lstmkit.LSTM(I, H, num_layers=3, proj_size=2, peephole=True, layer_norm=True),
    lambda: lstmkit.LSTM(I, H, num_layers=2, cifg=True, batch_first=True),
    lambda: lstmkit.GRU(I, H, num_layers=2),
    lambda: lstmkit.RNN(I, H, num_layers=2, nonlinearity="relu"),
], ids=["lstm_variants", "lstm_cifg_batch_first", "gru", "rnn"])
def test_step_over_sequence_equals_forward(factory):
    m = factory().eval()
    m.config = type(m.config).from_dict({**m.config.to_dict(), "backend": "reference"})
    x = torch.randn(N, T, I) if m.batch_first else torch.randn(T, N, I)
    out, final = m(x)
    state = None
    for t in range(T):
        y, state = m.step(x[:, t] if m.batch_first else x[t], state)
        torch.testing.assert_close(y, out[:, t] if m.batch_first else out[t])
    finals = final if isinstance(final, tuple) else (final,)
    states = state if isinstance(state, tuple) else (state,)
    for a, b in zip(states, finals):
        torch.testing.assert_close(a, b)


def test_step_unbatched_and_bidirectional_error():
    m = lstmkit.LSTM(I, H, num_layers=2)
    x = torch.randn(T, I)
    out, _ = m(x)
    state = None
    for t in range(T):
        y, state = m.step(x[t], state)
    torch.testing.assert_close(y, out[-1])
    assert state[0].shape == (2, H)
    with pytest.raises(ValueError, match="bidirectional"):
        lstmkit.LSTM(I, H, bidirectional=True).step(torch.randn(N, I))
    with pytest.raises(ValueError, match="x_t must have 3 features"):
        m.step(torch.randn(N, 4))


def test_backend_reporting():
    m = lstmkit.LSTM(I, H, backend="reference")
    assert m.last_backend is None
    m(torch.randn(T, N, I))
    assert m.last_backend == "reference"
    from lstmkit.nn import fused

    auto = lstmkit.LSTM(I, H)
    auto(torch.randn(T, N, I))
    assert auto.last_backend == ("fused" if fused.available() else "torch")  # training: fused
    with torch.no_grad():
        auto(torch.randn(T, N, I))
    assert auto.last_backend == ("fused" if fused.available() else "torch")  # inference: as fast or faster
    auto(torch.randn(T, N, I), return_trace=True)
    assert auto.last_backend == "reference"  # with gradients on, the trace's gates must be differentiable
    with torch.no_grad():
        auto(torch.randn(T, N, I), return_trace=True)
    assert auto.last_backend == ("fused" if fused.available() else "reference")
    variant = lstmkit.LSTM(I, H, peephole=True)
    variant(torch.randn(T, N, I))
    assert variant.last_backend == ("fused" if fused.available() else "reference")
    lstmkit.LSTM(I, H, backend="fused", peephole=True)  # covered now
    lstmkit.GRU(I, H, backend="fused")  # covered now (the GRU/RNN kernels)
    double = lstmkit.LSTM(I, H, backend="fused", dtype=torch.float64)
    double(torch.randn(T, N, I, dtype=torch.float64))
    assert double.last_backend == "reference"  # float64: the documented fallback
