"""A small end-to-end demonstration: forecast a generated signal with an LSTM and a plain RNN.

The signal is two sines and noise; each model reads a window of past values and predicts the
next one. Both are trained the same way (Adam, gradient clipping) and compared with the naive
forecast (the last value), together with how far their gradients reach back in time at
initialisation (the vanishing-gradient curve of :func:`lstmkit.gradient_through_time`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from lstmkit.nn import LSTM, RNN
from lstmkit.nn.bptt import clip_grad_norm, gradient_through_time


@dataclass
class ModelReport:
    name: str
    test_rmse: float
    gradient_reach: float  # ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ at initialisation
    backend: str


def make_signal(length: int, generator: torch.Generator) -> torch.Tensor:
    t = torch.arange(length, dtype=torch.float32)
    noise = 0.05 * torch.randn(length, generator=generator)
    return torch.sin(0.2 * t) + 0.5 * torch.sin(0.05 * t + 1.0) + noise


def windows(series: torch.Tensor, lookback: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(L, B, 1)`` (time-major) and next-value targets ``(B, 1)``."""
    x = series.unfold(0, lookback + 1, 1)  # (B, lookback + 1)
    return x[:, :lookback].T.unsqueeze(-1).contiguous(), x[:, lookback:].contiguous()


class Forecaster(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.encoder(x)
        return self.head(output[-1])


def run_demo(seed: int = 0, steps: int = 300, lookback: int = 40, hidden: int = 32,
             progress=None) -> tuple[list[ModelReport], float]:
    """Train both models; returns their reports and the naive forecast's test RMSE."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    series = make_signal(1200, generator)
    split = 900
    train_x, train_y = windows(series[:split], lookback)
    test_x, test_y = windows(series[split - lookback:], lookback)
    naive_rmse = math.sqrt(float(((test_x[-1] - test_y) ** 2).mean()))

    reports = []
    for name, encoder in (("lstm", LSTM(1, hidden, forget_bias=1.0)), ("rnn", RNN(1, hidden))):
        model = Forecaster(encoder)
        reach = gradient_through_time(encoder, test_x[:, :16]).hidden_state[:, 0]
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for step in range(steps):
            batch = torch.randint(0, train_x.shape[1], (64,), generator=generator)
            loss = nn.functional.mse_loss(model(train_x[:, batch]), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm(model.parameters(), 1.0)
            optimizer.step()
            if progress is not None and (step + 1) % 50 == 0:
                progress(name, step + 1, steps, loss.item())
        model.eval()
        with torch.no_grad():
            rmse = math.sqrt(float(nn.functional.mse_loss(model(test_x), test_y)))
        reports.append(ModelReport(name, rmse, float(reach[0] / reach[-1]), encoder.last_backend))
    return reports, naive_rmse
