"""Recurrent cells and layers: the reference mathematics and torch.nn-compatible modules."""

from .cell_modules import GRUCell, LSTMCell, RNNCell
from .cells import gru_cell, lstm_cell, rnn_cell
from .config import RecurrentConfig
from .modules import GRU, LSTM, RNN, from_torch, to_torch
from .trace import Trace

__all__ = [
    "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell",
    "lstm_cell", "gru_cell", "rnn_cell", "RecurrentConfig", "Trace", "from_torch", "to_torch",
]
