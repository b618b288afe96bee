"""Bad arguments raise ValueError naming the argument."""

import pytest
import torch

import lstmkit


@pytest.mark.parametrize("kwargs,match", [
    ({"input_size": -1}, "input_size must be a positive integer, got -1"),
    ({"hidden_size": 0}, "hidden_size must be a positive integer, got 0"),
    ({"hidden_size": 2.5}, "hidden_size must be a positive integer"),
    ({"num_layers": 0}, "num_layers must be a positive integer"),
    ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1.0"),
    ({"dropout": -0.1}, r"dropout must be a number in \[0, 1\)"),
    ({"proj_size": 8}, "proj_size must be smaller than hidden_size, got proj_size=8 and hidden_size=8"),
    ({"proj_size": -1}, "proj_size must be >= 0"),
    ({"recurrent_dropout": 1.5}, r"recurrent_dropout must be a number in \[0, 1\)"),
    ({"zoneout": -0.5}, r"zoneout must be a number in \[0, 1\)"),
    ({"init": "xavier"}, "init must be one of 'torch', 'keras', got 'xavier'"),
    ({"backend": "cuda"}, "backend must be one of 'auto', 'fused', 'reference'"),
    ({"bias": False, "forget_bias": 1.0}, "forget_bias needs bias=True"),
    ({"bidirectional": "yes"}, "bidirectional must be True or False"),
])
def test_lstm_constructor_errors(kwargs, match):
    args = {"input_size": 3, "hidden_size": 8, **kwargs}
    with pytest.raises(ValueError, match=match):
        lstmkit.LSTM(**args)


def test_rnn_and_gru_constructor_errors():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        lstmkit.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer, got -4"):
        lstmkit.GRU(3, -4)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), got 2"):
        lstmkit.GRUCell(3, 4) and lstmkit.GRU(3, 4, dropout=2)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="dropout applies between layers"):
        lstmkit.LSTM(3, 4, dropout=0.5)


def test_forward_errors():
    m = lstmkit.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input must be 3-D \\(batched\\) or 2-D \\(unbatched\\), got a 4-D"):
        m(torch.randn(2, 3, 4, 3))
    with pytest.raises(ValueError, match="input must be 3-D"):
        m(torch.randn(3))
    with pytest.raises(ValueError, match="input must have 3 features \\(input_size\\) in its last dimension, got 5"):
        m(torch.randn(6, 2, 5))
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 2, 4\)"):
        m(torch.randn(6, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"c_0 must have shape \(2, 2, 4\)"):
        m(torch.randn(6, 2, 3), (torch.zeros(2, 2, 4), torch.zeros(2, 3, 4)))
    with pytest.raises(ValueError, match="hx must be a tuple"):
        m(torch.randn(6, 2, 3), torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 6\]"):
        m(torch.randn(6, 2, 3), lengths=torch.tensor([7, 2]))
    with pytest.raises(ValueError, match=r"lengths must have shape \(2,\)"):
        m(torch.randn(6, 2, 3), lengths=torch.tensor([6, 2, 1]))
    with pytest.raises(ValueError, match="lengths= needs batched"):
        m(torch.randn(6, 3), lengths=torch.tensor([6]))
    with pytest.raises(ValueError, match="h_0 must have shape"):
        lstmkit.GRU(3, 4)(torch.randn(6, 2, 3), torch.zeros(1, 3, 4))


def test_cell_errors():
    cell = lstmkit.LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"h_0 must have shape \(2, 4\), got \(2, 5\)"):
        cell(torch.randn(2, 3), (torch.zeros(2, 5), torch.zeros(2, 4)))
    with pytest.raises(ValueError, match="input must be 2-D"):
        cell(torch.randn(1, 2, 3))
