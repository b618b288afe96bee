r"""The forecaster's network: an lstmkit encoder and a direct multi-horizon quantile head
that corrects the seasonal-naive forecast (see :mod:`lstmkit.tasks.forecast` for the model).

With a window ``x_1..x_L`` of the target (then covariates), its mean μ and standard deviation
σ, m the season length and H the horizon::

    h_L = Encoder((x - μ) / σ)                          LSTM (default), GRU or RNN
    ŷ_{L+k} = x_{L+k-m⌈k/m⌉} + σ · head(h_L, x_future)_k,   k = 1..H, per quantile

The head starts at zero, so an untrained network is the seasonal-naive forecast. Quantiles
are trained with the pinball loss ``ρ_q(e) = max(q e, (q - 1) e)``, ``e = y - ŷ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from lstmkit.nn import GRU, LSTM, RNN
from lstmkit.tasks import forecast_metrics as fm

#: the encoder's cell -> its lstmkit module
ENCODERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


@dataclass
class ForecastNetConfig:
    n_past: int
    n_future: int
    lookback: int
    horizon: int
    season_length: int  # the baseline's season: the data's, or 1 when naive fits it better
    quantiles: tuple[float, ...] = (0.5,)
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    backend: str = "auto"
    cell: str = "lstm"  # the encoder: "lstm", "gru" or "rnn" (tanh)


class ForecastNet(nn.Module):
    """LSTM encoder + direct multi-horizon quantile head correcting the seasonal-naive forecast.

    Input ``x`` ``(N, L, 1 + P + F)`` (target first) and ``x_future`` ``(N, H, F)``, both in
    per-series standardised units; output ``(N, H, Q)`` in the same units.
    """

    def __init__(self, config: ForecastNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = ENCODERS[c.cell](
            1 + c.n_past + c.n_future, c.hidden_size, c.num_layers, batch_first=True,
            dropout=c.dropout if c.num_layers > 1 else 0.0, backend=c.backend,
        )
        self.head = nn.Linear(c.hidden_size + c.horizon * c.n_future, c.horizon * len(c.quantiles))
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.season = c.season_length if 1 < c.season_length <= c.lookback else 1

    def baseline(self, target: torch.Tensor) -> torch.Tensor:
        """The seasonal-naive forecast ``(N, H)`` of target windows ``(N, L)``."""
        return fm.seasonal_naive(target, self.config.horizon, self.season)

    def forward(self, x: torch.Tensor, x_future: torch.Tensor) -> torch.Tensor:
        target = x[..., 0]  # (N, L)
        mu = target.mean(dim=1, keepdim=True)  # (N, 1)
        sigma = target.std(dim=1, unbiased=False, keepdim=True).clamp_min(1e-2)  # (N, 1)
        normalised = torch.cat([((target - mu) / sigma).unsqueeze(-1), x[..., 1:]], dim=-1)
        output, _ = self.encoder(normalised)  # (N, L, hidden)
        features = torch.cat([output[:, -1], x_future.flatten(1)], dim=-1)
        correction = self.head(features).view(x.shape[0], self.config.horizon, -1)  # (N, H, Q)
        return self.baseline(target).unsqueeze(-1) + sigma.unsqueeze(-1) * correction


class ForecastEnsemble(nn.ModuleList):
    """Members (:class:`ForecastNet`, lookbacks ``L_k`` at most the first's) trained together:
    ``x`` ``(N, L_0, ·)`` -> ``(M, N, H, Q)``, member k reading the last ``L_k`` steps. The
    loss of the ensemble is the mean of its members' losses, so each member learns as if
    alone (only early stopping and gradient clipping see them together)."""

    def forward(self, x: torch.Tensor, x_future: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x[:, x.shape[1] - net.config.lookback:], x_future) for net in self])


def pinball_loss(prediction: torch.Tensor, y: torch.Tensor, quantiles: torch.Tensor,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over samples, steps and quantiles of ``max(q e, (q - 1) e)``, ``e = y - ŷ``
    (``prediction`` ``(..., N, H, Q)``: leading dimensions, e.g. ensemble members, broadcast).

    With ``weight`` ``(M, N)`` (prediction ``(M, N, H, Q)``): member k's loss is the
    ``weight[k]``-weighted mean over its samples (a member with no weight in the batch adds 0),
    and the result the mean over members (``weight`` 0/1 = which windows each member trains on)."""
    error = y.unsqueeze(-1) - prediction  # (..., N, H, Q)
    loss = torch.maximum(quantiles * error, (quantiles - 1) * error)
    if weight is None:
        return loss.mean()
    per_sample = loss.mean(dim=(-1, -2))  # (M, N)
    return ((weight * per_sample).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)).mean()


def baseline_season(windows, season_length: int, lookback: int) -> int:
    """The season of the baseline the network corrects: the data's season when seasonal
    naive forecasts the training windows better than naive (lower MAE), else 1 (naive).
    A trending series without a real season (quarterly GDP, say) is better served by naive."""
    if season_length <= 1 or season_length > lookback:
        return 1
    target = windows.x[..., 0]  # (N, L)
    horizon = windows.y.shape[1]
    seasonal = fm.seasonal_naive(target, horizon, season_length)
    naive = fm.seasonal_naive(target, horizon, 1)
    seasonal_error = np.abs(windows.y - seasonal).mean()
    naive_error = np.abs(windows.y - naive).mean()
    return season_length if seasonal_error <= naive_error else 1


def encoder_windows(series, lookback: int, max_sequences: int):
    """Lookback windows of every series (:class:`~lstmkit.data.SeriesArrays`, in the model's
    units) as the encoder reads them: ``(x (N, L, 1 + past + future), step labels per window,
    a name per window, the stride between cut-offs)``; at most about ``max_sequences``, evenly
    spaced, the last window of every series always in (its cut-off is the series' end T)."""
    total = sum(s.length - lookback + 1 for s in series)
    stride = max(1, math.ceil(total / max(1, max_sequences)))
    xs, labels, names = [], [], []
    for s in series:
        cuts = np.arange(s.length, lookback - 1, -stride)[::-1]  # cut-offs, the last is T
        lb = cuts[:, None] - lookback + np.arange(lookback)[None, :]
        xs.append(np.concatenate([s.target[lb][:, :, None], s.past[lb], s.future[lb]], axis=2))
        times = s.times if s.times is not None else pd.RangeIndex(s.length)
        for cut in cuts:
            window = times[cut - lookback:cut]
            if isinstance(window, pd.DatetimeIndex):
                step_labels = [str(t.date()) if t == t.normalize() else str(t) for t in window]
            else:
                step_labels = [str(t) for t in window]
            labels.append(step_labels)
            names.append(f"series {s.id!r}, window {step_labels[0]} .. {step_labels[-1]}")
    return np.concatenate(xs), labels, names, stride
