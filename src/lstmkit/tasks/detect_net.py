r"""The anomaly detector's two networks (see :mod:`lstmkit.tasks.detect`).

**Prediction** (Hundman et al. 2018, Telemanom): a stateful one-step-ahead forecaster over the
standardised channels ``x_t ∈ R^C`` (the targets, then any covariates)::

    h_t = LSTM(x_t, h_{t-1})           forget_gate, input gate, cell_state, hidden_state
    ŷ_{t+1} = x_t[:K] + W h_t + b      K targets; the head starts at zero (a naive forecast)

Over a whole series it is one ``forward`` from a zero state; a stream runs the same LSTM one
step per value with :meth:`lstmkit.LSTM.streamer` (the compiled step), so both give the same
predictions. It trains on chunks of ``lookback`` steps of normal data, the loss the mean
squared one-step error after the first ``warmup`` steps of each chunk.

**Reconstruction** (Malhotra et al. 2016, EncDec-AD): windows ``x_1..x_L`` are encoded, and
decoded in reverse order from the encoder's final state::

    (h_E, c_E) = Encoder(x_1..x_L)
    x'_L = W h_E + b;  h^D_i = Decoder(x_{i+1} (training) | x'_{i+1} (inference), h^D_{i+1});
    x'_i = W h^D_i + b,   i = L-1 .. 1

trained to minimise ``Σ_i ||x_i - x'_i||²`` with teacher forcing (the decoder reads the true
``x_{i+1}``); at inference it reads its own reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lstmkit.nn import LSTM


@dataclass
class DetectNetConfig:
    method: str  # "prediction" or "reconstruction"
    n_channels: int  # C: targets then covariates, the network's input
    n_targets: int  # K: the channels predicted / reconstructed (the first K)
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    backend: str = "auto"


class DetectNet(nn.Module):
    """Either network; ``encoder`` is the lstmkit LSTM that reads the series."""

    def __init__(self, config: DetectNetConfig) -> None:
        super().__init__()
        self.config = c = config
        dropout = c.dropout if c.num_layers > 1 else 0.0
        self.encoder = LSTM(c.n_channels, c.hidden_size, c.num_layers, batch_first=True,
                            dropout=dropout, backend=c.backend)
        self.head = nn.Linear(c.hidden_size, c.n_targets)
        if c.method == "prediction":
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        else:
            self.decoder = LSTM(c.n_targets, c.hidden_size, c.num_layers, batch_first=True,
                                dropout=dropout, backend=c.backend)

    # ------------------------------------------------------------------ prediction
    def predict_next(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, T, C)`` -> one-step predictions ``(N, T, K)``: row t predicts x_{t+1}."""
        hidden_state, _ = self.encoder(x)  # (N, T, H)
        return x[..., : self.config.n_targets] + self.head(hidden_state)

    # ------------------------------------------------------------------ reconstruction
    def reconstruct(self, x: torch.Tensor, teacher_forcing: bool = False) -> torch.Tensor:
        """``x`` ``(N, L, C)`` -> reconstruction ``(N, L, K)`` of its first K channels."""
        k = self.config.n_targets
        _, state = self.encoder(x)  # (layers, N, H) each
        last = self.head(state[0][-1])  # x'_L: (N, K)
        length = x.shape[1]
        if length == 1:
            return last.unsqueeze(1)
        if teacher_forcing:
            inputs = x[:, 1:, :k].flip(1)  # x_L .. x_2: (N, L-1, K)
            hidden_state, _ = self.decoder(inputs, state)
            rest = self.head(hidden_state).flip(1)  # x'_1 .. x'_{L-1}
            return torch.cat([rest, last.unsqueeze(1)], dim=1)
        outputs = [last]
        previous = last
        for _ in range(length - 1):
            y, state = self.decoder.step(previous, state)  # (N, H)
            previous = self.head(y)
            outputs.append(previous)
        return torch.stack(outputs[::-1], dim=1)  # (N, L, K), in time order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.method == "prediction":
            return self.predict_next(x)
        return self.reconstruct(x)


__all__ = ["DetectNet", "DetectNetConfig"]
