"""Baselines for sequence classification, run beside :class:`~lstmkit.tasks.classify.Classifier`
on the same train and test split: MiniRocket (Dempster, Schmidt & Webb 2021), from the optional
package aeon (``pip install aeon``, or ``lstmkit[datasets]``), and four simple ones that need
nothing beyond torch: the majority class, a logistic regression on each channel's summary
statistics (:func:`summary_statistics_baseline`), which is what a series' shape adds to
its distribution of values: where it is level with the model, the order of the values is
not what the model has learnt to use; the same regression on 30 series features per
channel (:func:`series_features`: those statistics, moments, autocorrelation, spectrum and
thirds), the hand-made features a user would try first; and the same regression on the values
themselves at fixed places of the series (:func:`series_values`), which keeps where a shape lies.
The classifier mixes the series features into its prediction where its cross-validation shows
it helps (``summary_mix``).

MiniRocket turns every series into about 10,000 features of random (but fixed) dilated
convolutions and fits a ridge classifier on them; it takes about a second on small UCR/UEA
sets and is the tool a user would pick instead of a neural network, so ``lstmkit classify``
prints it beside the model and ``benchmarks/bench_classify.py`` runs it on every set.

MiniRocket needs equal-length series. :func:`minirocket_baseline` refuses unequal lengths
(:class:`BaselineSkipped`, with the reason) unless ``pad=True``, which repeats each series' last
value up to the longest training series (and cuts longer test series), a common way to
feed unequal-length sets to it; the benchmark says when it did so.

aeon's kernels run on numba's OpenMP threading layer, which shares the OpenMP runtime with torch:
a MiniRocket fit left torch at numba's thread count (2 on a 2-core machine after
``torch.set_num_threads(1)``), so a script that fitted a network after it ran on more threads
than it had set, 40-50x slower on a machine whose other core was busy. :func:`minirocket_baseline` puts torch's
thread count back as it found it.

The first MiniRocket fit on a machine compiles aeon's numba kernels (tens of seconds, cached
on disk by numba afterwards); the seconds reported include whatever that run paid.

This module imports numpy; aeon is imported only when a baseline is run.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import numpy as np

__all__ = ["BaselineSkipped", "SummaryStatisticsModel", "aeon_available", "majority_baseline",
           "minirocket_baseline", "series_features", "series_values", "summary_statistics",
           "summary_statistics_baseline", "to_panel", "values_points"]

SUMMARY_STATISTICS = ("mean", "std", "p10", "median", "p90", "step_std")
"""Per channel, in this order: the mean, standard deviation, 10th, 50th and 90th percentiles of
the values and the standard deviation of the differences between consecutive steps."""

SUMMARY_C = 1.0
"""The inverse L2 strength of the summary baseline's logistic regression (scikit-learn's ``C``)."""


class BaselineSkipped(Exception):
    """A baseline cannot run on this data (the message says why)."""


def aeon_available() -> bool:
    """Whether the optional package aeon is installed (found without importing it)."""
    return importlib.util.find_spec("aeon") is not None


def to_panel(data, length: int | None = None) -> np.ndarray:
    """``data``'s sequences as aeon's 3-D array ``(n_cases, n_channels, n_timepoints)``, float64.

    With ``length`` given, each sequence is cut to it or padded to it by repeating its last
    value; without it, every sequence must have the same length (else :class:`BaselineSkipped`).
    """
    lengths = data.lengths
    if length is None:
        if len(set(lengths.tolist())) > 1:
            raise BaselineSkipped(f"the sequences have unequal lengths ({lengths.min()}..{lengths.max()})")
        length = int(lengths[0])
    out = np.empty((len(data), data.n_channels, length), dtype=np.float64)
    for i, seq in enumerate(data.sequences):  # seq: (L_i, C)
        seq = seq[:length]
        out[i, :, : len(seq)] = seq.T
        out[i, :, len(seq):] = seq[-1][:, None]
    return out


def minirocket_baseline(train, test, *, seed: int = 0, pad: bool = False) -> dict[str, Any]:
    """Fit aeon's MiniRocketClassifier on ``train`` and score it on ``test`` (both labelled
    :class:`~lstmkit.data.sequences.SequenceData`).

    Returns ``{"accuracy", "seconds" (fit + predict), "padded_to" (None unless padded),
    "n_kernels", "random_state"}``.

    Raises:
        BaselineSkipped: aeon is not installed; the data has unequal lengths and ``pad`` is
            False; or the series are shorter than MiniRocket's 9-step kernels.
    """
    if not aeon_available():
        raise BaselineSkipped("aeon is not installed (pip install aeon)")
    lengths = np.concatenate([train.lengths, test.lengths])
    equal = len(set(lengths.tolist())) == 1
    if not equal and not pad:
        raise BaselineSkipped(f"MiniRocket takes equal-length series only; these have "
                              f"lengths {lengths.min()}..{lengths.max()}")
    length = None if equal else int(train.lengths.max())
    if (length or int(lengths[0])) < 9:
        raise BaselineSkipped(f"MiniRocket needs series of 9 steps or more; these have {lengths.max()}")
    x_train, x_test = to_panel(train, length), to_panel(test, length)
    from aeon.classification.convolution_based import MiniRocketClassifier

    import torch

    threads = torch.get_num_threads()
    started = time.perf_counter()
    try:
        model = MiniRocketClassifier(random_state=seed)
        model.fit(x_train, np.asarray(train.labels))
        predicted = model.predict(x_test)
    finally:
        torch.set_num_threads(threads)  # numba's OpenMP layer resets the shared runtime's count
    seconds = time.perf_counter() - started
    return {
        "accuracy": float(np.mean(predicted == np.asarray(test.labels))),
        "seconds": round(seconds, 2),
        "padded_to": length,
        "n_kernels": int(model.n_kernels),
        "random_state": seed,
    }


def summary_statistics(data) -> np.ndarray:
    """``(n, 6C)`` float64: for every sequence of ``data`` and channel c the
    :data:`SUMMARY_STATISTICS` of its observed values (NaNs left out; a channel with no observed
    value gives 0, one with a single step a step_std of 0), channel by channel."""
    rows = []
    for seq in data.sequences:
        seq = np.asarray(seq, dtype=np.float64)
        if np.isfinite(seq).all():  # every channel at once: (6, C), then channel by channel
            steps = np.diff(seq, axis=0).std(axis=0) if len(seq) > 1 else np.zeros(seq.shape[1])
            stats = np.vstack([seq.mean(axis=0), seq.std(axis=0), np.percentile(seq, [10, 50, 90], axis=0), steps])
            rows.append(stats.T.ravel())
            continue
        row = []
        for c in range(seq.shape[1]):
            x = seq[:, c][np.isfinite(seq[:, c])]
            if len(x) == 0:
                row.extend([0.0] * len(SUMMARY_STATISTICS))
                continue
            p10, p50, p90 = np.percentile(x, [10, 50, 90])
            steps = np.diff(x)
            row.extend([x.mean(), x.std(), p10, p50, p90, steps.std() if len(steps) else 0.0])
        rows.append(row)
    return np.asarray(rows, dtype=np.float64)


SERIES_FEATURE_LAGS = (1, 2, 4, 8, 16, 32)
"""The autocorrelation lags (in steps) of :func:`series_features`."""

SERIES_FEATURE_BANDS = 8
"""The spectrum's bands in :func:`series_features`: log-spaced over the periodogram's bins."""

SERIES_FEATURES = (SUMMARY_STATISTICS + ("skewness", "kurtosis", "mean_abs_step", "crossing_rate")
                   + tuple(f"acf_{lag}" for lag in SERIES_FEATURE_LAGS)
                   + tuple(f"band_{b}" for b in range(SERIES_FEATURE_BANDS))
                   + tuple(f"{part}_{what}" for part in ("first", "middle", "last") for what in ("mean", "std")))
"""Per channel, in this order (30): the :data:`SUMMARY_STATISTICS`; the standardised values'
third and fourth moments; the mean absolute step; the share of steps that cross the mean; the
autocorrelation at :data:`SERIES_FEATURE_LAGS`; the log share of the spectrum's power in each of
:data:`SERIES_FEATURE_BANDS` log-spaced frequency bands; the mean and std of the series' first,
middle and last thirds. All but the mean, std, percentiles, skewness and kurtosis depend on the
values' order."""


def _series_features_one(x: np.ndarray) -> np.ndarray:
    """:data:`SERIES_FEATURES` of the series ``x`` ``(T, C)`` (finite values): ``(30, C)``.

    With z = (x - mean) / std (0 where a channel is constant) and T steps::

        skewness = mean(z^3),  kurtosis = mean(z^4),  mean_abs_step = mean |x_t+1 - x_t|
        crossing_rate = mean [sign z_t+1 != sign z_t],   acf_l = (1/T) sum_t z_t z_t+l (0 if l >= T)
        band_b = log(1e-6 + sum_{f in band b} |Z_f|^2 / sum_{f >= 1} |Z_f|^2)   (Z = rfft(z))
    """
    steps_count, channels = x.shape
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = np.where(std > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0)
    steps = np.diff(x, axis=0) if steps_count > 1 else np.zeros((1, channels))
    rows = [mean, std, *np.percentile(x, [10, 50, 90], axis=0), steps.std(axis=0),
            (z ** 3).mean(axis=0), (z ** 4).mean(axis=0), np.abs(steps).mean(axis=0),
            ((z[1:] > 0) != (z[:-1] > 0)).mean(axis=0) if steps_count > 1 else np.zeros(channels)]
    rows += [(z[lag:] * z[:-lag]).sum(axis=0) / steps_count if lag < steps_count else np.zeros(channels)
             for lag in SERIES_FEATURE_LAGS]
    power = np.abs(np.fft.rfft(z, axis=0)[1:]) ** 2  # the mean's bin left out: z has none
    bins = len(power)
    total = power.sum(axis=0)
    edges = np.round(np.geomspace(1, bins + 1, SERIES_FEATURE_BANDS + 1)).astype(int) - 1 if bins else None
    for b in range(SERIES_FEATURE_BANDS):
        if bins == 0 or edges[b + 1] <= edges[b]:  # a band narrower than one bin: no power of its own
            rows.append(np.full(channels, np.log(1e-6)))
            continue
        share = power[edges[b]:edges[b + 1]].sum(axis=0) / np.where(total > 0, total, 1.0)
        rows.append(np.log(1e-6 + share))
    for part in np.array_split(x, 3):
        rows += ([part.mean(axis=0), part.std(axis=0)] if len(part) else [mean, np.zeros(channels)])
    return np.vstack(rows)


def series_features(data) -> np.ndarray:
    """``(n, 30C)`` float64: for every sequence of ``data`` and channel c the
    :data:`SERIES_FEATURES` of its observed values (NaNs left out, the observed values read in
    order; a channel with no observed value gives 0), channel by channel."""
    width = len(SERIES_FEATURES)
    rows = []
    for seq in data.sequences:
        seq = np.asarray(seq, dtype=np.float64)
        if np.isfinite(seq).all():
            rows.append(_series_features_one(seq).T.ravel())
            continue
        row = np.zeros((seq.shape[1], width))
        for c in range(seq.shape[1]):
            x = seq[:, c][np.isfinite(seq[:, c])]
            if len(x):
                row[c] = _series_features_one(x[:, None])[:, 0]
        rows.append(row.ravel())
    return np.asarray(rows, dtype=np.float64)


VALUES_POINTS = 256
"""The most points per channel :func:`series_values` reads a series at (fewer where the training
series' median length is shorter)."""


def series_values(data, points: int) -> np.ndarray:
    r"""``(n, C * points)`` float64: every sequence of ``data`` read at ``points`` evenly spaced
    places of its own span, channel by channel, each channel standardised within its series::

        v_c(j) = (x_c(t_j) - m_c) / s_c,   t_j = j (T - 1) / (points - 1),  j = 0 .. points - 1

    (m_c and s_c: the mean and std of x_c(t_0) .. x_c(t_{points-1})), with x_c(t) linear between
    the observed steps (NaNs left out; a sequence of another length
    is stretched or squeezed to the same points, so the j-th value of every series lies at the
    same share of its length). A constant channel, one with a single observed value, or none,
    gives zeros. These are the series' values themselves at fixed places: what a shape's
    *position* says, which the series features (orderless within each third) and the
    networks' pooled features (averaged over time) mostly do not."""
    points = int(points)
    if points < 1:
        raise ValueError(f"points must be a whole number >= 1, got {points}")
    grid = np.linspace(0.0, 1.0, points)
    rows = np.zeros((len(data), data.n_channels, points), dtype=np.float64)
    for i, seq in enumerate(data.sequences):
        seq = np.asarray(seq, dtype=np.float64)
        for c in range(seq.shape[1]):
            x = seq[:, c]
            steps = np.flatnonzero(np.isfinite(x))
            if len(steps) < 2:
                continue
            where = steps / float(len(x) - 1)
            v = np.interp(grid, where, x[steps])
            std = v.std()
            if std > 1e-12 * max(1.0, abs(v.mean())):
                rows[i, c] = (v - v.mean()) / std
    return rows.reshape(len(data), -1)


VALUES_COLUMNS = 4096
"""The most values per series :func:`values_points` lets all channels together be read at
(points * channels): a series of many channels is read at fewer places, so the rows of a large
multivariate set stay a few tens of kB per series (1,000 channels at 256 points would be 2 MB)."""


def values_points(data) -> int:
    """The number of points per channel :func:`series_values` reads ``data``'s series at for a
    model fitted on it: the median length, at most :data:`VALUES_POINTS` and at most
    :data:`VALUES_COLUMNS` / channels (at least 2)."""
    most = min(VALUES_POINTS, VALUES_COLUMNS // max(1, int(data.n_channels)))
    return int(max(2, min(most, int(np.median(data.lengths)))))


FEATURE_SETS = {"summary": summary_statistics, "series": series_features, "values": series_values}
"""The feature sets a :class:`SummaryStatisticsModel` reads, by name (``"values"`` at the
points fixed when it is fitted)."""


def majority_baseline(train, test) -> dict[str, Any]:
    """Every test sequence given the training set's most frequent class (the first in
    ``train.classes`` order on a tie): ``{"accuracy", "class"}``."""
    labels = np.asarray(train.labels)
    counts = [int(np.sum(labels == c)) for c in train.classes]
    majority = train.classes[int(np.argmax(counts))]
    return {"accuracy": float(np.mean(np.asarray(test.labels) == majority)), "class": str(majority)}


class SummaryStatisticsModel:
    r"""A multinomial logistic regression on :func:`summary_statistics`, standardised by the
    training rows' mean and std:

        p(k | s) = softmax_k(W_k . z(s) + b_k),    z(s) = (f(s) - μ) / σ
        minimise   (1/n) sum_i -log p(y_i | s_i) + ||W||^2 / (2 C n)

    (scikit-learn's ``LogisticRegression(C=C)`` objective divided by ``C n``: the bias is not
    penalised), by L-BFGS in float64 from zero weights: deterministic, no seed. ``classes``
    fixes the order of the probabilities' columns (default: the training data's). ``features``
    names f: ``"summary"`` (:func:`summary_statistics`, 6 per channel), ``"series"``
    (:func:`series_features`, 30 per channel) or ``"values"`` (:func:`series_values` at
    :func:`values_points` of the training data, kept as :attr:`points`). The values are read as
    they are, μ = 0 and σ = 1: every column is already a standardised value, and dividing by the
    columns' spread would weigh up the places where the series barely differ (ArrowHead: test
    accuracy 0.731 with that division, 0.789 without)."""

    def __init__(self, C: float = SUMMARY_C, features: str = "summary"):
        if features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {', '.join(FEATURE_SETS)}, got {features!r}")
        self.C = float(C)
        self.features = features
        self.points: int | None = None
        self.classes: list = []
        self.mean = self.std = self.weight = self.bias = None

    def fit(self, data, classes=None, rows: np.ndarray | None = None) -> "SummaryStatisticsModel":
        """Fit on ``data``'s labelled sequences; ``rows``: their features, where the caller has
        them already (:meth:`feature_rows` of the same data: a cross-validation computes them once)."""
        import torch

        self.classes = list(data.classes if classes is None else classes)
        index = {c: k for k, c in enumerate(self.classes)}
        if self.features == "values":  # the points read: the training data's, or the rows' own
            self.points = values_points(data) if rows is None else np.shape(rows)[1] // data.n_channels
        x = self.feature_rows(data) if rows is None else np.asarray(rows, dtype=np.float64)
        if self.features == "values":
            self.mean, self.std = np.zeros(x.shape[1]), np.ones(x.shape[1])
        else:
            self.mean, std = x.mean(axis=0), x.std(axis=0)
            self.std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(self.mean)), std, 1.0)
        z = torch.from_numpy((x - self.mean) / self.std)
        y = torch.as_tensor([index[v] for v in np.asarray(data.labels).tolist()], dtype=torch.long)
        weight = torch.zeros(z.shape[1], len(self.classes), dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(len(self.classes), dtype=torch.float64, requires_grad=True)
        penalty = 1.0 / (2.0 * self.C * len(y))
        optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=500, tolerance_grad=1e-7,
                                      tolerance_change=1e-10, history_size=20, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(z @ weight + bias, y) + penalty * (weight ** 2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        self.weight, self.bias = weight.detach().numpy(), bias.detach().numpy()
        return self

    def state(self) -> dict[str, Any]:
        """Everything :meth:`predict_proba` needs, as JSON-ready lists (saved with a model)."""
        return {"C": self.C, "features": self.features, "points": self.points,
                "classes": [str(c) for c in self.classes], "mean": self.mean.tolist(),
                "std": self.std.tolist(), "weight": self.weight.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "SummaryStatisticsModel":
        model = cls(state["C"], state.get("features", "summary"))  # saved before the choice: summary
        model.points = state.get("points")
        model.classes = list(state["classes"])
        model.mean, model.std, model.weight, model.bias = (np.asarray(state[k], dtype=np.float64)
                                                           for k in ("mean", "std", "weight", "bias"))
        return model

    def feature_rows(self, data) -> np.ndarray:
        """``(N, F)``: :attr:`features`' rows of ``data`` (what :meth:`fit` and
        :meth:`predict_proba` read)."""
        if self.features == "values":
            return series_values(data, self.points or values_points(data))
        return FEATURE_SETS[self.features](data)

    def predict_proba(self, data, rows: np.ndarray | None = None) -> np.ndarray:
        """``(N, K)`` class probabilities, columns in :attr:`classes` order (``rows``: the
        features of ``data``, where the caller has them)."""
        x = self.feature_rows(data) if rows is None else np.asarray(rows, dtype=np.float64)
        logits = ((x - self.mean) / self.std) @ self.weight + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, data) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[self.predict_proba(data).argmax(axis=1)]


def summary_statistics_baseline(train, test, *, C: float = SUMMARY_C, features: str = "summary") -> dict[str, Any]:
    """:class:`SummaryStatisticsModel` on ``features`` (``"summary"``, ``"series"`` or
    ``"values"``) fitted on ``train`` and scored on ``test``. Returns ``{"accuracy", "seconds",
    "features", "C"}`` (``features``: the per-channel names; for ``"values"``: ``["value"]``, and
    ``"points"``, the points per channel)."""
    started = time.perf_counter()
    model = SummaryStatisticsModel(C, features).fit(train)
    predicted = model.predict(test)
    accuracy = float(np.mean(predicted == np.asarray(test.labels)))
    names = {"summary": SUMMARY_STATISTICS, "series": SERIES_FEATURES}.get(features, ("value",))
    result = {"accuracy": accuracy, "seconds": round(time.perf_counter() - started, 3), "features": list(names), "C": C}
    if features == "values":
        result["points"] = model.points
    return result
