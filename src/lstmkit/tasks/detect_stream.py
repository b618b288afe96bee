r"""Scoring one new observation at a time: :meth:`AnomalyDetector.stream`.

Per ``update(value)`` (prediction method)::

    z_t = (x_t - μ) / σ                                    the normal span's scales
    e_t = mean_k |z_{t,k} - ẑ_{t,k}|                       ẑ_t predicted at the previous step
    e_s,t = EWMA(e_t) from t = warmup + 1 on (the threshold's span, and each span s of the score)
    score_t = max_s |e_s,t - m_s| / d_s (0 before; detect_threshold.ScaleScore)
    h_t = LSTM.step(z_t) (compiled, state kept inside);  ẑ_{t+1} = z_t[:K] + W h_t + b

so the scores are those of :meth:`AnomalyDetector.detect` over the same values (the batch
path is one ``forward`` from a zero state; the stream steps the same LSTM from zero).

The flags of a stream are causal: ``e_s,t ≥ ε`` (and above the guard), where ε is the threshold of the normal span
at first and, once ``threshold_step · threshold_windows`` values have come, the dynamic
threshold of that trailing window, recomputed every ``threshold_step`` values. The batch
flags prune with hindsight (later errors can reclassify a sequence), so they can differ.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lstmkit.errors import InputError
from lstmkit.tasks import detect_threshold as th
from lstmkit.tasks.detect_scoring import clip_standardised


@dataclass
class StreamPoint:
    """One scored observation: its index in the stream, score, flag and threshold."""

    index: int
    score: float
    flag: bool
    threshold: float


class DetectorStream:
    """The state of one stream: the LSTM's (inside a :class:`lstmkit.nn` ``Streamer``), the
    last prediction, the EWMA and the trailing errors for the threshold."""

    def __init__(self, detector, series: str | None = None) -> None:
        spec = detector.spec
        if detector.params.method != "prediction":
            raise InputError("stream() scores one step at a time with the prediction method; this detector "
                             "reconstructs windows (method='reconstruction'): call detect() on the window",
                             param="method")
        ids = list(spec.mean)
        if series is None:
            series = ids[0]
        if series not in spec.mean:
            raise InputError(f"no series {series!r} in this model; it knows: {', '.join(map(repr, ids))}",
                             param="series", got=series)
        self.series = series
        self.net = detector.net.eval()
        self.mean = np.asarray(spec.mean[series])
        self.std = np.asarray(spec.std[series])
        self.n_channels = len(self.mean)
        self.n_targets = len(spec.targets)
        self.level = spec.error_level[series]
        self.floor = detector.params.guard * self.level
        self.config = detector.params.threshold
        self.initial_epsilon = spec.epsilon[series]
        self.warmup = detector.params.warmup
        self.detector = detector
        self.streamer = self.net.encoder.streamer()
        self.reset()

    @property
    def compiled(self) -> bool:
        """True when the compiled LSTM step runs (else the reference cell)."""
        return self.streamer.compiled

    def reset(self) -> None:
        """Start a new stream (zero state)."""
        self.streamer.reset()
        self.index = 0
        self.predicted: np.ndarray | None = None
        self.smoother = th.EWMA(self.config.span)
        self.scorer = self.detector.scale_score(self.series)  # None: a model saved before it
        size = self.config.batch_size * self.config.window_size
        self.recent: deque[float] = deque(maxlen=size)
        self.epsilon = self.initial_epsilon

    def update(self, value: float | Sequence[float]) -> StreamPoint:
        """Score one new observation (a number, or one per channel: the targets then the
        covariates) and advance the state."""
        x = np.asarray(value, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.n_channels or not np.isfinite(x).all():
            raise InputError(f"expected {self.n_channels} finite value(s) per observation, got {value!r}",
                             param="value", got=value)
        z = torch.as_tensor(clip_standardised((x - self.mean) / self.std), dtype=torch.float32)
        z = z.unsqueeze(0)  # (1, C)
        z64 = z[0, : self.n_targets].double().numpy()
        smoothed = score = 0.0
        if self.index > self.warmup:
            error = float(np.abs(z64 - self.predicted).mean())
            smoothed = self.smoother.update(error)
            self.recent.append(smoothed)
            score = abs(smoothed / self.level - 1.0) if self.scorer is None else self.scorer.update(error)
        with torch.no_grad():
            hidden_state = self.streamer.step(z)  # (1, H)
            self.predicted = (z[:, : self.n_targets] + self.net.head(hidden_state))[0].double().numpy()
        if len(self.recent) == self.recent.maxlen and self.index % self.config.batch_size == 0:
            self.epsilon = th.find_epsilon(np.asarray(self.recent), self.config)
        point = StreamPoint(self.index, score, bool(self.index > self.warmup and smoothed >= self.epsilon
                                 and smoothed > self.floor),
                            self.epsilon)
        self.index += 1
        return point

    def __repr__(self) -> str:
        return f"DetectorStream(series={self.series!r}, step={self.index}, compiled={self.compiled})"


__all__ = ["DetectorStream", "StreamPoint"]
