"""Gradient clipping, truncated BPTT and the gradient-through-time probe."""

import math

import pytest
import torch

import lstmkit
from lstmkit.nn.bptt import detach_state


def test_clip_grad_norm_returns_pre_clip_norm_and_clips():
    a = torch.nn.Parameter(torch.zeros(3))
    b = torch.nn.Parameter(torch.zeros(2, 2))
    a.grad = torch.tensor([3.0, 0.0, 0.0])
    b.grad = torch.tensor([[0.0, 4.0], [0.0, 0.0]])
    total = lstmkit.clip_grad_norm([a, b], max_norm=1.0)
    assert total == pytest.approx(5.0)
    clipped = math.sqrt(float(a.grad.pow(2).sum() + b.grad.pow(2).sum()))
    assert clipped == pytest.approx(1.0, rel=1e-5)
    a.grad = torch.tensor([0.3, 0.0, 0.0])
    b.grad = torch.zeros(2, 2)
    assert lstmkit.clip_grad_norm([a, b], 1.0) == pytest.approx(0.3)
    torch.testing.assert_close(a.grad, torch.tensor([0.3, 0.0, 0.0]))  # under the limit: untouched
    a.grad = torch.tensor([-7.0, 2.0, 0.0])
    assert lstmkit.clip_grad_norm([a], 1.0, norm_type=math.inf) == pytest.approx(7.0)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        lstmkit.clip_grad_norm([a], 0.0)


def test_clip_grad_norm_leaves_nonfinite_alone():
    a = torch.nn.Parameter(torch.zeros(2))
    a.grad = torch.tensor([float("inf"), 1.0])
    assert math.isinf(lstmkit.clip_grad_norm([a], 1.0))
    assert a.grad[1] == 1.0


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = lstmkit.LSTM(2, 5, num_layers=2)
        self.head = torch.nn.Linear(5, 1)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out), state


def grads(model):
    return [p.grad.clone() for p in model.parameters()]


def test_truncated_bptt_equals_full_bptt_when_the_chunk_covers_the_sequence():
    model = Model()
    x, y = torch.randn(12, 3, 2), torch.randn(12, 3, 1)
    loss_fn = torch.nn.functional.mse_loss
    full = loss_fn(model(x)[0], y)
    full.backward()
    expected = grads(model)
    model.zero_grad()
    result = lstmkit.truncated_bptt(model, x, y, loss_fn, k=12)
    assert result.loss == pytest.approx(full.item())
    for g, e in zip(grads(model), expected):
        torch.testing.assert_close(g, e)
    model.zero_grad()
    lstmkit.truncated_bptt(model, x, y, loss_fn, k=50)
    for g, e in zip(grads(model), expected):
        torch.testing.assert_close(g, e)


def test_truncated_bptt_cuts_the_graph_between_chunks():
    model = Model()
    x, y = torch.randn(12, 3, 2), torch.randn(12, 3, 1)
    loss_fn = torch.nn.functional.mse_loss
    manual_losses, state = [], None
    for start in (0, 4, 8):
        out, state = model(x[start:start + 4], state)
        loss = loss_fn(out, y[start:start + 4])
        loss.backward()
        manual_losses.append(loss.item())
        state = detach_state(state)
    expected = grads(model)
    model.zero_grad()
    result = lstmkit.truncated_bptt(model, x, y, loss_fn, k=4)
    assert result.chunk_losses == pytest.approx(manual_losses)
    for g, e in zip(grads(model), expected):
        torch.testing.assert_close(g, e)
    assert not result.state[0].requires_grad
    full = loss_fn(model(x)[0], y)  # truncation really differs from full BPTT here
    model.zero_grad()
    full.backward()
    assert any(not torch.allclose(g, e) for g, e in zip(grads(model), expected))


def test_truncated_bptt_with_optimizer_trains():
    torch.manual_seed(0)
    model = Model()
    t = torch.linspace(0, 20, 200)
    x = torch.sin(t).reshape(200, 1, 1).repeat(1, 1, 2)
    y = torch.sin(t + 0.3).reshape(200, 1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    first = lstmkit.truncated_bptt(model, x, y, torch.nn.functional.mse_loss, k=25, optimizer=opt,
                                   max_norm=1.0).loss
    for _ in range(15):
        last = lstmkit.truncated_bptt(model, x, y, torch.nn.functional.mse_loss, k=25,
                                      optimizer=opt, max_norm=1.0).loss
    assert last < first * 0.5


def test_truncated_bptt_errors():
    with pytest.raises(ValueError, match="k must be a positive integer"):
        lstmkit.truncated_bptt(Model(), torch.randn(4, 1, 2), torch.randn(4, 1, 1), None, k=0)
    with pytest.raises(ValueError, match="target must have the input's length 4"):
        lstmkit.truncated_bptt(Model(), torch.randn(4, 1, 2), torch.randn(3, 1, 1), None, k=2)


def test_gradient_through_time_matches_manual_unroll():
    rnn = lstmkit.RNN(2, 4)
    x = torch.randn(7, 3, 2)
    probe = lstmkit.gradient_through_time(rnn, x)
    assert probe.hidden_state.shape == (7, 1) and probe.cell_state is None
    assert all(p.grad is None for p in rnn.parameters())  # probe leaves parameter grads alone
    h = torch.zeros(3, 4)
    hs = []
    for t in range(7):
        h = torch.tanh(x[t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
        h.retain_grad()
        hs.append(h)
    hs[-1].sum().backward()
    manual = torch.stack([g.grad.norm(dim=-1).mean() for g in hs])
    torch.testing.assert_close(probe.hidden_state[:, 0], manual)


def test_gradient_through_time_shows_vanishing_in_plain_rnn_not_in_remembering_lstm():
    torch.manual_seed(0)
    x = torch.randn(60, 8, 2)
    rnn = lstmkit.RNN(2, 16)
    curve = lstmkit.gradient_through_time(rnn, x).hidden_state[:, 0]
    assert curve[0] < curve[-1] * 1e-6  # vanished over 60 steps
    lstm = lstmkit.LSTM(2, 16, forget_bias=5.0)  # forget gate ~1: the cell state carries it
    probe = lstmkit.gradient_through_time(lstm, x)
    assert probe.cell_state.shape == (60, 1)
    assert probe.cell_state[0, 0] > probe.cell_state[-1, 0] * 1e-2
