r"""Anomaly detection in time series with an LSTM: ``lstmkit.AnomalyDetector``.

Two methods (``method=``):

* ``"prediction"`` (default; Hundman et al., KDD 2018, *Telemanom*): a stateful LSTM predicts
  every step from the ones before it (:mod:`lstmkit.tasks.detect_net`); the one-step error
  ``e_t = mean_k |z_{t,k} - ẑ_{t,k}|`` (z: the channels standardised with the normal span's
  mean and standard deviation, k over the targets) is smoothed by an EWMA and judged by the
  nonparametric dynamic threshold with pruning (:mod:`lstmkit.tasks.detect_threshold`, the
  paper's defaults). The **flags** are the threshold's. The **score** looks at several time
  scales: ``score_t = max_s |e_s,t - m_s| / d_s`` over a ladder of EWMA spans s from 1 step to
  the threshold's span (``score_scales``, default 5: 1, 3, 10, 33, 105), where ``m_s`` and
  ``d_s`` are the smoothed error's mean and standard deviation on the normal span — upward
  when the model is surprised, downward when the signal turns too predictable (a flat-line),
  the two sides Telemanom's threshold judges (errors and mirrored errors). A one-step spike
  stands out at span 1, which the 105-step average dilutes a hundredfold; a level shift or a
  changed rhythm at the long spans. (``score_scales=1``: the threshold's span alone, in
  standard deviations; a model saved before the ladder keeps its ``|e_s,t / ē - 1|``.)
* ``"reconstruction"`` (Malhotra et al., 2016, *EncDec-AD*): an LSTM encoder-decoder
  reconstructs sliding windows of ``lookback`` steps; a Gaussian ``N(μ, Σ)`` is fitted to the
  reconstruction errors ``e_i = |x_i - x'_i|`` (one per target) on the normal span, and a
  step's anomaly score is ``a = (e - μ)ᵀ Σ⁻¹ (e - μ)`` averaged over the windows that hold
  it. Flags: scores above the ``threshold_quantile`` (default 0.995) of the normal span's.

Training uses the normal span only: every step (unsupervised) by default, or the steps at or
before ``normal_until`` and/or where the ``normal`` column is 1. Series are read as
:class:`~lstmkit.tasks.forecast.Forecaster` reads them (one or many, long format), with one
target or several (multivariate) and covariates that the network reads but nothing scores.

>>> det = AnomalyDetector().fit("ecg.csv", normal_until="2024-01-02")
>>> result = det.detect("ecg.csv")           # result.scores, result.events
>>> det.evaluate("ecg.csv", label="is_anomaly")  # VUS-PR, AUC-PR, ... and the baselines
>>> s = det.stream(); s.update(0.3)           # one new value, scored at once
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lstmkit.errors import InputError, param_ref
from lstmkit.tasks import detect_baselines as bl
from lstmkit.tasks import detect_metrics as dm
from lstmkit.tasks import detect_threshold as th
from lstmkit.tasks.base import EncoderView, Estimator, dataclass_from_dict
from lstmkit.tasks.detect_data import (
    DetectData,
    check_labels,
    normal_mask,
    parse_time,
    read_detect_data,
    time_column_kind,
)
from lstmkit.tasks.detect_net import DetectNet, DetectNetConfig
from lstmkit.tasks.detect_scoring import (
    clip_standardised,
    prediction_errors,
    reconstruction_errors,
    reconstruction_score,
    training_chunks,
    window_mask,
)
from lstmkit.train import TrainingConfig, fit

KIND = "detect"
METHODS = ("prediction", "reconstruction")


@dataclass
class DetectorParams:
    """The user's choices (all saved with the model). The threshold's defaults are Telemanom's."""

    method: str = "prediction"
    lookback: int | None = None  # training chunk (prediction, default 250) / window (reconstruction, 64)
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    backend: str = "auto"
    warmup: int = 10  # prediction: steps of a chunk before the loss counts (the state settles)
    smoothing: float = 0.05  # EWMA span = threshold_step * threshold_windows * smoothing (105)
    threshold_step: int = 70  # Telemanom's batch_size
    threshold_windows: int = 30  # Telemanom's window_size (windows of 2100 steps)
    error_buffer: int = 100
    prune: float = 0.13  # Telemanom's p
    guard: float = 2.0  # prediction: errors below guard x the normal span's mean are never flagged
    score_scales: int = 5  # prediction: EWMA spans of the score, 1 step .. the threshold's span (1: that span only)
    threshold_quantile: float = 0.995  # reconstruction: flags above this quantile of the normal scores
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(max_epochs=40, learning_rate=5e-3, batch_size=32, patience=8))

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {self.method!r}")
        for name in ("lookback", "threshold_step", "threshold_windows", "error_buffer", "warmup", "score_scales"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or int(value) != value or value < (0 if name == "warmup" else 1)):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not 0.0 < self.prune < 1.0 or not 0.0 < self.smoothing <= 1.0 or not 0.0 < self.threshold_quantile < 1.0:
            raise ValueError("prune, smoothing and threshold_quantile must lie in (0, 1)")

    @property
    def threshold(self) -> th.ThresholdConfig:
        return th.ThresholdConfig(batch_size=self.threshold_step, window_size=self.threshold_windows,
                                  smoothing_perc=self.smoothing, error_buffer=self.error_buffer, p=self.prune)


@dataclass
class _DetectSpec:
    """What the fitted model knows of its data: columns, per-series scales, error levels."""

    time: str
    id: str
    has_id: bool
    targets: tuple[str, ...]
    covariates: tuple[str, ...]
    freq: str
    season_length: int
    lookback: int
    ignore: int
    mean: dict[str, list[float]]  # series id -> per-channel mean of the normal span
    std: dict[str, list[float]]
    error_level: dict[str, float]  # prediction: mean smoothed error on the normal span
    epsilon: dict[str, float]  # prediction: the threshold of the normal span (a stream's first)
    gauss_mean: list[float] = field(default_factory=list)  # reconstruction: μ
    gauss_precision: list[list[float]] = field(default_factory=list)  # reconstruction: Σ⁻¹
    cutoff: float = 0.0  # reconstruction: the flag threshold on the score
    period: dict[str, int] = field(default_factory=dict)  # the baselines' season per series
    # prediction: the score's EWMA spans, and per series the smoothed errors' normal-span mean
    # and standard deviation at each (empty in models saved before the multi-scale score)
    score_spans: list[int] = field(default_factory=list)
    score_mean: dict[str, list[float]] = field(default_factory=dict)
    score_std: dict[str, list[float]] = field(default_factory=dict)
    steps: bool | None = None  # the time column held step numbers (None: a model saved before this was kept)


@dataclass
class Detection:
    """What :meth:`AnomalyDetector.detect` finds. ``scores``: one row per step (time, series,
    score, flag; ``label`` when given); ``events``: one row per flagged run (series, start,
    end, peak_score, steps); ``values``: the input rows (for plots)."""

    scores: pd.DataFrame
    events: pd.DataFrame
    values: pd.DataFrame


class AnomalyDetector(Estimator):
    """Find anomalies in time series with an LSTM (see the module docstring for the maths)."""

    KIND = KIND
    Params = DetectorParams
    NetConfig = DetectNetConfig
    Net = DetectNet

    def reset(self) -> None:
        self.spec: _DetectSpec | None = None
        self.data: DetectData | None = None

    # --------------------------------------------------------------------- reading
    def read(self, data: Any = None, **read_kwargs) -> DetectData:
        """``data`` read and validated (:func:`~lstmkit.tasks.detect_data.read_detect_data`:
        ``time``, ``target`` (one name or several), ``id``, ``covariates``, ``freq``,
        ``fill``, ``label``, ``normal``). Once fitted, the training columns are the defaults;
        ``data=None`` is the training data."""
        if data is None:
            if self.data is None:
                raise InputError("give the data (this model was loaded without its training data)", param="data")
            if read_kwargs.get("label_windows") is not None or (
                    read_kwargs.get("label") and self.data.label_column != read_kwargs["label"]):
                raise InputError("give the data to read the labels from", param="data")
            return self.data
        if isinstance(data, DetectData):
            return data
        kwargs: dict[str, Any] = {}
        if self.spec is not None:
            s = self.spec
            kwargs = dict(time=s.time, target=s.targets, id=s.id if s.has_id else None, covariates=s.covariates,
                          freq=s.freq)
        kwargs.update({k: v for k, v in read_kwargs.items() if v is not None})
        if self.spec is None or self.spec.steps is None:
            return read_detect_data(data, **kwargs)
        trained = "step numbers" if self.spec.steps else "times"
        try:
            d = read_detect_data(data, **kwargs)
        except InputError:  # read on the model's time grid: a file timed the other way fails it
            given = time_column_kind(data, self.spec.time)
            if given is not None and given != trained:
                where = data if isinstance(data, (str, Path)) else "DataFrame"
                raise InputError(f"{where}: its time column {self.spec.time!r} holds {given}; the model "
                                 f"was trained on data timed by {trained}: give it data timed alike") from None
            raise
        if d.steps != self.spec.steps:
            given = "step numbers" if d.steps else "times"
            raise InputError(f"{d.ts.source}: its time column {self.spec.time!r} holds {given}; the model was "
                             f"trained on data timed by {trained}: give it data timed alike")
        return d

    # --------------------------------------------------------------------- fitting
    def fit(self, data: Any, *, normal_until: Any = None, run_dir: str | Path | None = None,
            resume_from: str | Path | None = None, **read_kwargs) -> AnomalyDetector:
        """Train on the normal span of every series of ``data``: the steps at or before
        ``normal_until`` (a time) and where the ``normal`` column (a read argument) is 1;
        every step when neither is given."""
        d = self.read(data, **read_kwargs)
        until = parse_time(normal_until, "normal_until", d.steps)
        p = self.params
        series = list(d.series())
        masks = {uid: normal_mask(times, until, normal) for uid, times, _, _, normal in series}
        for uid, mask in masks.items():
            if not mask.any():
                where = f" at or before {param_ref('normal_until')}" if until is not None else ""
                raise InputError(f"{d.ts.source}: {d.ts.label(uid)} has no normal step{where} to train on",
                                 param="normal_until" if until is not None else "normal")
        mean, std = {}, {}
        for uid, _, x, _, _ in series:
            normal_values = x[masks[uid]]
            mean[uid] = normal_values.mean(axis=0).tolist()
            std[uid] = np.where(normal_values.std(axis=0) > 1e-8, normal_values.std(axis=0), 1.0).tolist()
        shortest = min(int(m.sum()) for m in masks.values())
        default = 250 if p.method == "prediction" else 64
        lookback = int(p.lookback or max(4, min(default, shortest // 4)))
        if shortest < lookback + 1:
            raise InputError(f"{d.ts.source}: the shortest normal span has {shortest} steps; needs at least "
                             f"{lookback + 1} ({param_ref('lookback')} {lookback} + 1); use a shorter "
                             f"{param_ref('lookback')} or a longer normal span", param="lookback")
        ts = d.ts
        self.data = d
        season = 1 if d.steps else ts.season_length  # step numbers (held as seconds) have no calendar
        self.spec = _DetectSpec(ts.roles.time, ts.roles.id, ts.has_id, d.targets, d.covariates, ts.freq,
                                season, lookback, 0, mean, std, {}, {}, steps=d.steps)
        torch.manual_seed(p.training.seed)
        self.net = self.build_net(DetectNetConfig(p.method, len(d.channels), len(d.targets), p.hidden_size,
                                                  p.num_layers, p.dropout, p.backend))
        scaled = [(uid, self._standardise(uid, x), masks[uid]) for uid, _, x, _, _ in series]
        train, val = training_chunks(scaled, lookback, p.method)
        self.fit_result = fit(self.net, self._loss, self._loader(train, True),
                              None if val is None else self._loader(val, False), p.training, run_dir,
                              resume_from=resume_from)
        self.net.eval()
        self._calibrate(scaled, {uid: x for uid, _, x, _, _ in series})
        return self

    def _loss(self, net, batch):
        (x,) = batch
        if self.params.method == "prediction":
            k = net.config.n_targets
            prediction = net.predict_next(x[:, :-1])[:, self.params.warmup:]
            return torch.mean((prediction - x[:, 1 + self.params.warmup:, :k]) ** 2)
        reconstruction = net.reconstruct(x, teacher_forcing=True)
        return torch.mean((reconstruction - x[..., : net.config.n_targets]) ** 2)

    def _loader(self, chunks: np.ndarray, shuffle: bool):
        from torch.utils.data import DataLoader, TensorDataset

        generator = torch.Generator().manual_seed(self.params.training.seed)
        return DataLoader(TensorDataset(torch.as_tensor(chunks, dtype=torch.float32)),
                          batch_size=self.params.training.batch_size, shuffle=shuffle, generator=generator)

    def _standardise(self, uid: str, x: np.ndarray) -> np.ndarray:
        """``(x - μ) / σ`` with the series' normal-span scales (a series the model has not seen
        is standardised with its own)."""
        s = self.spec
        key = self._known(uid)
        if key is not None:
            return clip_standardised((x - np.asarray(s.mean[key])) / np.asarray(s.std[key]))
        std = x.std(axis=0)
        return clip_standardised((x - x.mean(axis=0)) / np.where(std > 1e-8, std, 1.0))

    def _known(self, uid: str) -> str | None:
        """The series whose normal-span statistics (scales, error level, thresholds) score
        series ``uid``: itself when the model trained on it; for a model trained on one series
        (no id column), that series, for every series of a file given to it, so that each is
        scored as it would be alone; else None (a series the model has not seen: its own)."""
        s = self.spec
        if uid in s.mean:
            return uid
        if not s.has_id and len(s.mean) == 1:
            return next(iter(s.mean))
        return None

    def _calibrate(self, scaled, raw: dict[str, np.ndarray]) -> None:
        """The normal span's error levels and thresholds (after training)."""
        s, cfg = self.spec, self.params.threshold
        for uid, z, mask in scaled:
            estimated = bl.estimate_period(raw[uid][mask][:, 0])  # the data's own period first
            s.period[uid] = estimated if estimated > 1 else s.season_length
        if self.params.method == "prediction":
            s.ignore = 0
            start = self.params.warmup + 1
            s.score_spans = list(th.span_ladder(cfg.span, self.params.score_scales))
            for uid, z, mask in scaled:
                errors = prediction_errors(self.net, z)
                normal = self._smooth(errors)[start:][mask[start:]]
                s.error_level[uid] = float(max(normal.mean(), 1e-8))
                s.epsilon[uid] = float(th.find_epsilon(normal, cfg))
                s.score_mean[uid], s.score_std[uid] = th.scale_statistics(errors[start:], s.score_spans,
                                                                          mask[start:])
            return
        errors = [reconstruction_errors(self.net, z, s.lookback)[window_mask(mask, s.lookback)]
                  for _, z, mask in scaled]
        errors = np.concatenate([e.reshape(-1, e.shape[-1]) for e in errors])
        mu = errors.mean(axis=0)
        cov = np.atleast_2d(np.cov(errors, rowvar=False)) + 1e-6 * np.eye(errors.shape[1])
        s.gauss_mean, s.gauss_precision = mu.tolist(), np.linalg.inv(cov).tolist()
        normal_scores = np.concatenate([self._reconstruction_score(z)[mask] for _, z, mask in scaled])
        s.cutoff = float(np.quantile(normal_scores, self.params.threshold_quantile))

    def _smooth(self, errors: np.ndarray) -> np.ndarray:
        """The EWMA of the one-step ``errors`` at the threshold's span, ``(T,)``; 0 for the
        first ``warmup + 1`` steps (the state settles there, and nothing predicts step 0)."""
        start = self.params.warmup + 1
        return np.r_[np.zeros(min(start, len(errors))), th.ewma(errors[start:], self.params.threshold.span)]

    def scale_score(self, uid: str, errors: np.ndarray | None = None) -> th.ScaleScore | None:
        """The multi-scale score of series ``uid`` (its normal span's statistics; a series the
        model has not seen uses those of ``errors``, its own errors after the warmup); None for
        a model saved before the multi-scale score (it scores the one span, as it did)."""
        s = self.spec
        if not s.score_spans:
            return None
        if uid not in s.score_mean:
            if errors is None:
                raise InputError(f"no series {uid!r} in this model", param="series", got=uid)
            means, stds = th.scale_statistics(errors, s.score_spans, np.ones(len(errors), dtype=bool))
            return th.ScaleScore(s.score_spans, means, stds)
        return th.ScaleScore(s.score_spans, s.score_mean[uid], s.score_std[uid])

    def _reconstruction_score(self, z: np.ndarray) -> np.ndarray:
        s = self.spec
        errors = reconstruction_errors(self.net, z, s.lookback)  # (W, L, K)
        return reconstruction_score(errors, np.asarray(s.gauss_mean), np.asarray(s.gauss_precision), len(z))

    # --------------------------------------------------------------------- scoring
    def _score_series(self, uid: str, x: np.ndarray, source: str = "the data", single: bool = True
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score, flags and standardised values of one series (``source`` and ``single``: how a
        message names it)."""
        s, cfg = self.spec, self.params.threshold
        z = self._standardise(uid, x)
        if len(z) < s.lookback + 1:
            who = "the series" if single else f"series {uid!r}"
            raise InputError(f"{source}: {who} has {len(z)} steps; the model needs at least {s.lookback + 1} "
                             f"(its lookback {s.lookback} + 1): give a longer stretch of it")
        if self.params.method == "reconstruction":
            score = self._reconstruction_score(z)
            return score, (score > s.cutoff).astype(np.int64), z
        errors = prediction_errors(self.net, z)
        smoothed = self._smooth(errors)
        start = min(self.params.warmup + 1, len(z))  # the zeros before the EWMA starts are not judged
        key = self._known(uid) or uid
        level = s.error_level.get(key) or float(np.mean(smoothed[start:])) or 1.0
        flags = np.zeros(len(z), dtype=np.int64)
        flags[start:], _ = th.dynamic_flags(smoothed[start:], self.params.guard * level, cfg,
                                            ignore=_telemanom_ignore(len(z) - start, s.lookback))
        score = np.zeros(len(z))
        scorer = self.scale_score(key, errors[start:])
        if scorer is None:
            score[start:] = np.abs(smoothed[start:] / level - 1.0)
        else:
            score[start:] = th.scale_scores(errors[start:], scorer)
        return score, flags, z

    def score(self, data: Any = None, **read_kwargs) -> pd.DataFrame:
        """The anomaly score of every step (columns: time, series id when the data has one,
        score)."""
        return self.detect(data, **read_kwargs).scores.drop(columns=["flag"])

    def detect(self, data: Any = None, **read_kwargs) -> Detection:
        """Score every step of ``data`` (default: the training data), flag anomalies and group
        the flags into events."""
        self.require_fitted()
        d = self.read(data, **read_kwargs)
        s = self.spec
        frames, events = [], []
        with_id = s.has_id or d.ts.has_id  # the data's series named, whatever the model was trained on
        for uid, times, x, labels, _ in d.series():
            score, flags, _ = self._score_series(uid, x, d.ts.source, not d.ts.has_id)
            times = d.output_times(times)
            frame = pd.DataFrame({s.time: times, "score": score, "flag": flags})
            if with_id:
                frame.insert(1, s.id if s.has_id else d.ts.roles.id, uid)
            if labels is not None:
                frame["label"] = labels
            frames.append(frame)
            for a, b, peak in th.events(flags, score):
                events.append({"series": uid, "start": times[a], "end": times[b], "peak_score": peak,
                               "steps": b - a + 1})
        event_frame = pd.DataFrame(events, columns=["series", "start", "end", "peak_score", "steps"])
        if not with_id:
            event_frame = event_frame.drop(columns="series")
        values = d.ts.frame
        if d.steps:
            values = values.assign(**{s.time: d.output_times(values[s.time])})
        return Detection(pd.concat(frames, ignore_index=True), event_frame, values)

    # --------------------------------------------------------------------- evaluating
    def evaluate(self, data: Any = None, *, label: str | None = None, label_windows: Any = None,
                 detection: Detection | None = None, max_buffer: int = dm.MAX_BUFFER, **read_kwargs) -> dict[str, Any]:
        """Score the detector and the baselines against the known anomalies of ``data``: its
        0/1 ``label`` column, or ``label_windows`` (a file of start, end times; see
        :func:`~lstmkit.tasks.detect_data.read_detect_data`). Default: the labels read with
        the training data.

        Returns ``{"detector": {VUS-PR, AUC-PR, range P/R/F1, point F1, point-adjusted F1},
        "rolling_zscore": {VUS-PR, AUC-PR}, "seasonal_naive": ..., "random": ...,
        "anomaly_rate": ..., "labelled_events": ..., "seasonal_naive_period": {series: m}}`` over
        all series laid end to end (``m``: the seasonal-naive baseline's lag in that series)."""
        self.require_fitted()
        if isinstance(data, DetectData):
            d = data
        elif data is None and label is None and label_windows is None and self.data is not None:
            d = self.data
        else:
            d = self.read(data, label=label, label_windows=label_windows, **read_kwargs)
        if d.labels is None:
            raise InputError("give the labels to evaluate against (a 0/1 label column, or label_windows)",
                             param="label")
        check_labels(d)
        detection = detection or self.detect(d)
        y = detection.scores["label"].to_numpy()
        score, flags = detection.scores["score"].to_numpy(), detection.scores["flag"].to_numpy()
        out: dict[str, Any] = {"detector": {**dm.score_metrics(y, score, max_buffer), **dm.flag_metrics(y, flags)}}
        baseline: dict[str, list[np.ndarray]] = {name: [] for name in bl.BASELINES}
        periods: dict[str, int] = {}
        for i, (uid, _, x, _, _) in enumerate(d.series()):
            z = self._standardise(uid, x)[:, : len(self.spec.targets)]
            period = periods[uid] = int(self.spec.period.get(uid) or bl.estimate_period(z[:, 0]))
            for name, values in bl.baseline_scores(z, period, seed=self.params.training.seed + i).items():
                baseline[name].append(values)
        for name, parts in baseline.items():
            out[name] = dm.score_metrics(y, np.concatenate(parts), max_buffer)
        out["anomaly_rate"] = float(y.mean())
        out["labelled_events"] = len(dm.ranges(y))
        out["seasonal_naive_period"] = periods
        return out

    # --------------------------------------------------------------------- streaming
    def stream(self, series: str | None = None):
        """A :class:`~lstmkit.tasks.detect_stream.DetectorStream` scoring one new observation
        per ``update(value)`` (prediction method; the compiled LSTM step, state kept inside),
        the same scores as :meth:`detect` over the same values. ``series``: whose scales to
        use (default: the only or first series trained on)."""
        from lstmkit.tasks.detect_stream import DetectorStream

        self.require_fitted()
        return DetectorStream(self, series)

    # --------------------------------------------------------------------- inspecting
    def encoder_view(self, data=None, *, max_sequences: int = 512, max_chars: int = 2000) -> EncoderView:
        """Windows of ``lookback`` steps of ``data`` (default: the training data), standardised
        as the encoder reads them; at most ``max_sequences``, evenly spaced."""
        self.require_fitted()
        d = self.read(data)
        s = self.spec
        xs, labels, names = [], [], []
        series = [(uid, times, self._standardise(uid, x)) for uid, times, x, _, _ in d.series()]
        total = sum(max(0, len(z) - s.lookback + 1) for _, _, z in series)
        stride = max(1, -(-total // max(1, max_sequences)))
        for uid, times, z in series:
            for start in range(0, len(z) - s.lookback + 1, stride):
                xs.append(z[start:start + s.lookback])
                window = [str(t) for t in times[start:start + s.lookback]]
                labels.append(window)
                names.append(f"series {uid!r}, window {window[0]} .. {window[-1]}")
        if not xs:
            raise InputError(f"{d.ts.source}: every series is shorter than the model's lookback {s.lookback}")
        inputs = torch.as_tensor(np.stack(xs), dtype=torch.float32)
        source = "the training data" if data is None else str(data)
        notes = {"lookback": s.lookback, "window_stride": stride, "series": len(series), "method": self.params.method}
        return EncoderView(self.net.encoder, inputs, None, None, source, labels, names, notes)

    # --------------------------------------------------------------------- persistence
    def fitted_state(self) -> dict[str, Any]:
        return {"data": asdict(self.spec)}

    def restore_state(self, state: dict[str, Any]) -> None:
        self.spec = dataclass_from_dict(_DetectSpec, state["data"])


def _telemanom_ignore(n: int, lookback: int) -> int:
    """Telemanom's steps ignored at the start of the first window: 2 l_s from 2500 steps on,
    l_s from 1800, else none (l_s: the lookback)."""
    return 2 * lookback if n >= 2500 else lookback if n >= 1800 else 0


__all__ = ["METHODS", "AnomalyDetector", "Detection", "DetectorParams"]
