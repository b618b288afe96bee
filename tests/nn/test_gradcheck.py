"""float64 gradcheck of every cell and variant through the reference path."""

import pytest
import torch

import lstmkit

T, N, I, H = 3, 2, 3, 4

LSTM_VARIANTS = {
    "plain": {},
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "cifg": {"cifg": True},
    "proj": {"proj_size": 2},
    "forget_bias": {"forget_bias": 1.0},
    "recurrent_dropout": {"recurrent_dropout": 0.4},
    "zoneout": {"zoneout": 0.4},
    "keras_init": {"init": "keras"},
    "everything": {"peephole": True, "layer_norm": True, "cifg": True, "proj_size": 2,
                   "recurrent_dropout": 0.3, "zoneout": 0.3, "num_layers": 2,
                   "bidirectional": True},
    "bidirectional_two_layers": {"num_layers": 2, "bidirectional": True},
    "no_bias": {"bias": False, "peephole": True},
}


def gradcheck_module(module, lengths=None, fast_mode=False):
    module = module.double()
    params = list(module.parameters())
    names = [n for n, _ in module.named_parameters()]
    x = torch.randn(T, N, module.input_size, dtype=torch.float64, requires_grad=True)

    def fn(x, *flat):
        # reseed so the random masks repeat exactly at every evaluation
        torch.manual_seed(1234)
        out, state = torch.func.functional_call(module, dict(zip(names, flat)), (x,),
                                                {"lengths": lengths})
        state = state if isinstance(state, tuple) else (state,)
        return (out,) + state

    inputs = (x,) + tuple(p.detach().clone().requires_grad_() for p in params)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=fast_mode)


#: Stacks of parts each checked in full above: checked along random directions (gradcheck's
#: fast mode: u^T J v against the numerical one, for random u, v), which still fails on any
#: wrong gradient of a part or of their wiring, at a tenth of the full Jacobian's time.
STACKS = {"everything", "bidirectional_two_layers"}


@pytest.mark.parametrize("variant", sorted(LSTM_VARIANTS))
def test_lstm_variant_gradcheck(variant):
    module = lstmkit.LSTM(I, H, **LSTM_VARIANTS[variant])
    module.train()  # the regularisers act in training mode
    gradcheck_module(module, fast_mode=variant in STACKS)


@pytest.mark.parametrize("factory", [
    lambda: lstmkit.GRU(I, H, num_layers=2, bidirectional=True),
    lambda: lstmkit.RNN(I, H, nonlinearity="tanh"),
    lambda: lstmkit.RNN(I, H, nonlinearity="relu", bidirectional=True),
], ids=["gru", "rnn_tanh", "rnn_relu"])
@pytest.mark.slow
def test_gru_and_rnn_gradcheck(factory):
    gradcheck_module(factory())


def test_gradcheck_with_lengths():
    module = lstmkit.LSTM(I, H, bidirectional=True, peephole=True)
    gradcheck_module(module, lengths=torch.tensor([2, 3]))


@pytest.mark.parametrize("options", [{}, {"peephole": True, "layer_norm": True}, {"cifg": True}])
def test_lstm_cell_gradcheck(options):
    cell = lstmkit.LSTMCell(I, H, **options).double()
    names = [n for n, _ in cell.named_parameters()]
    x = torch.randn(N, I, dtype=torch.float64, requires_grad=True)
    h = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    c = torch.randn(N, H, dtype=torch.float64, requires_grad=True)

    def fn(x, h, c, *flat):
        return torch.func.functional_call(cell, dict(zip(names, flat)), (x, (h, c)))

    inputs = (x, h, c) + tuple(p.detach().clone().requires_grad_() for p in cell.parameters())
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
