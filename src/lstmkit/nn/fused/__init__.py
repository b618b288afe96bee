"""Fused CPU kernels for one LSTM, GRU or RNN layer-direction (forward and backward through time).

Public API::

    available() -> bool                 # compiles the kernels on first call (cached)
    unavailable_reason() -> str | None  # why available() is False
    lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *,
               reverse=False, lengths=None, weight_hr=None,
               peephole=None, layer_norm=None, cifg=False,          # the LSTM variants
               recurrent_mask=None, zoneout_masks=None, return_trace=False)
        -> (output (T,N,P), h_n (N,P), c_n (N,H)[, trace LSTMStep])  # P = H without weight_hr
    kernel_info(hidden_size=0) -> str   # GEMM path, blocking, vector width, threads
    gru_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, reverse=False,
              lengths=None, return_trace=False) -> (output (T,N,H), h_n (N,H)[, trace GRUStep])
    rnn_layer(..., nonlinearity="tanh", ...)      # same contract, torch.nn.RNN maths
        (extension "gru_rnn": available("gru_rnn"), compiled on first use like the LSTM's)

See :func:`lstmkit.nn.fused.lstm.lstm_layer` for the contract and ``lstmkit/nn/csrc`` for the
kernel.  The first call to ``available()`` or ``lstm_layer`` compiles the C++ source with
``torch.utils.cpp_extension`` into ``$LSTMKIT_CACHE`` (default ``~/.cache/lstmkit``).
"""

from .build import available, unavailable_reason
from .gru_rnn import FusedGRUFunction, FusedRNNFunction, gru_layer, rnn_layer
from .lstm import FusedLSTMFunction, FusedLSTMVariantFunction, lstm_layer


def kernel_info(hidden_size: int = 0) -> str:
    """One line describing the compiled kernel's configuration (GEMM path, blocking, threads)."""
    from .build import load

    return load().info(hidden_size)


__all__ = ["available", "unavailable_reason", "lstm_layer", "FusedLSTMFunction", "FusedLSTMVariantFunction",
           "kernel_info", "gru_layer", "rnn_layer", "FusedGRUFunction", "FusedRNNFunction"]
