"""Cutting series into windows for a forecaster.

A *sample* looks back ``lookback`` steps and forecasts the next ``horizon`` ones. For a sample
whose forecast starts at index ``c`` of its series (the *cut-off*: the history is
``target[:c]``)::

    x[t]        = [target[c - L + t], past[c - L + t, :], future[c - L + t, :]]   t = 0 .. L-1
    y[k]        = target[c + k]                                                  k = 0 .. H-1
    x_future[k] = future[c + k, :]                                               k = 0 .. H-1

so ``x`` has shape ``(L, 1 + P + F)`` (target first, then the past covariates, then the future
covariates) and ``x_future`` ``(H, F)``. Training samples take every cut-off from ``L`` to
``T - H`` stepping back from the end by ``stride`` (so the most recent window is always in);
:func:`last_windows` takes ``c = T`` (the forecast of the unknown future, ``y`` is absent);
:func:`windows_at` takes given cut-offs (a rolling-origin backtest).

numpy only; :meth:`Windows.to_torch` imports torch when called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from lstmkit.data.tables import check_whole
from lstmkit.errors import InputError

__all__ = ["SeriesArrays", "Windows", "last_windows", "make_windows", "windows_at"]


@dataclass
class SeriesArrays:
    """The arrays of one series.

    Attributes:
        id: the series id.
        target: shape ``(T,)``.
        past: past covariates, shape ``(T, P)`` (``P`` may be 0).
        future: known-future covariates, shape ``(T + E, F)``: the ``E`` rows past the end of
            the target are the known future (``F`` may be 0; then any ``E`` is fine).
        times: optional time stamps of the target (length ``T``), carried along for output.
    """

    id: str
    target: np.ndarray
    past: np.ndarray | None = None
    future: np.ndarray | None = None
    times: Any = None

    def __post_init__(self) -> None:
        self.target = np.asarray(self.target, dtype=np.float64).reshape(-1)
        t = len(self.target)
        self.past = _as_2d(self.past, t, f"series {self.id!r}: past covariates")
        self.future = _as_2d(self.future, t, f"series {self.id!r}: future covariates", at_least=True)

    @property
    def length(self) -> int:
        return len(self.target)

    @property
    def n_past(self) -> int:
        return self.past.shape[1]

    @property
    def n_future(self) -> int:
        return self.future.shape[1]

    @property
    def n_known_ahead(self) -> int:
        """How many steps past the end the future covariates are known."""
        return self.future.shape[0] - self.length if self.n_future else 0


def _as_2d(a: np.ndarray | None, t: int, what: str, at_least: bool = False) -> np.ndarray:
    if a is None:
        return np.zeros((t, 0), dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D array (time, covariate), got shape {a.shape}")
    if a.shape[1] == 0:
        return np.zeros((max(t, a.shape[0]) if at_least else t, 0), dtype=np.float64)
    if (a.shape[0] < t) if at_least else (a.shape[0] != t):
        need = f"at least {t}" if at_least else str(t)
        raise ValueError(f"{what}: expected {need} rows (the target's length), got {a.shape[0]}")
    return a


@dataclass
class Windows:
    """A batch of samples (see the module docstring for the layout).

    Attributes:
        x: ``(N, L, 1 + P + F)`` float32 inputs over the lookback.
        x_future: ``(N, H, F)`` float32 future covariates over the horizon.
        y: ``(N, H)`` float32 targets over the horizon, or None (forecasting the unknown).
        series_index: ``(N,)`` index of each sample's series in the list given.
        cutoff: ``(N,)`` the cut-off ``c`` of each sample (the first forecast step's index).
        ids: the ids of the series given, so ``ids[series_index[i]]`` names sample ``i``.
    """

    x: np.ndarray
    x_future: np.ndarray
    y: np.ndarray | None
    series_index: np.ndarray
    cutoff: np.ndarray
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to_torch(self, dtype: Any = None, device: Any = None) -> dict[str, Any]:
        """The arrays as torch tensors (float32 unless ``dtype`` says otherwise)."""
        import torch

        dtype = dtype or torch.float32
        out = {
            "x": torch.as_tensor(self.x, dtype=dtype, device=device),
            "x_future": torch.as_tensor(self.x_future, dtype=dtype, device=device),
            "series_index": torch.as_tensor(self.series_index, dtype=torch.long, device=device),
            "cutoff": torch.as_tensor(self.cutoff, dtype=torch.long, device=device),
        }
        if self.y is not None:
            out["y"] = torch.as_tensor(self.y, dtype=dtype, device=device)
        return out


def _check_sizes(lookback: int, horizon: int) -> None:
    check_whole("lookback", lookback)
    check_whole("horizon", horizon)


def _check_same_covariates(series: Sequence[SeriesArrays]) -> tuple[int, int]:
    if not series:
        raise ValueError("no series given")
    p, f = series[0].n_past, series[0].n_future
    for s in series[1:]:
        if (s.n_past, s.n_future) != (p, f):
            raise ValueError(
                f"series {s.id!r} has {s.n_past} past and {s.n_future} future covariates, "
                f"series {series[0].id!r} has {p} and {f}"
            )
    return p, f


def _gather(s: SeriesArrays, cutoffs: np.ndarray, lookback: int, horizon: int, with_y: bool):
    """Samples of one series at the given cut-offs (all valid)."""
    lb = cutoffs[:, None] - lookback + np.arange(lookback)[None, :]  # (n, L)
    parts = [s.target[lb][:, :, None], s.past[lb], s.future[lb]]
    x = np.concatenate(parts, axis=2)
    hz = cutoffs[:, None] + np.arange(horizon)[None, :]  # (n, H)
    xf = s.future[hz] if s.n_future else np.zeros((len(cutoffs), horizon, 0))
    y = s.target[hz] if with_y else None
    return x, xf, y


def _stack(chunks, n_feat: int, n_fut: int, lookback: int, horizon: int, with_y: bool, ids) -> Windows:
    if chunks:
        x = np.concatenate([c[0] for c in chunks]).astype(np.float32)
        xf = np.concatenate([c[1] for c in chunks]).astype(np.float32)
        y = np.concatenate([c[2] for c in chunks]).astype(np.float32) if with_y else None
        si = np.concatenate([c[3] for c in chunks]).astype(np.int64)
        co = np.concatenate([c[4] for c in chunks]).astype(np.int64)
    else:
        x = np.zeros((0, lookback, n_feat), np.float32)
        xf = np.zeros((0, horizon, n_fut), np.float32)
        y = np.zeros((0, horizon), np.float32) if with_y else None
        si = np.zeros(0, np.int64)
        co = np.zeros(0, np.int64)
    return Windows(x=x, x_future=xf, y=y, series_index=si, cutoff=co, ids=ids)


def make_windows(
    series: Sequence[SeriesArrays],
    lookback: int,
    horizon: int,
    stride: int = 1,
    end: int | Sequence[int] | None = None,
) -> Windows:
    """Training samples from every series.

    The cut-offs of series ``s`` are ``e - H, e - H - stride, ...`` down to ``L``, where ``e``
    is ``end`` (the number of steps usable for training, e.g. a backtest cut-off; one value or
    one per series) or the series length. A series shorter than ``L + H`` gives no sample.
    Samples are ordered by series, then by cut-off.

    Raises:
        InputError: ``lookback``, ``horizon`` or ``stride`` is not a whole number >= 1.
        ValueError: the series disagree on their covariates, or ``end`` has not one value
            per series.
    """
    _check_sizes(lookback, horizon)
    check_whole("stride", stride)
    p, f = _check_same_covariates(series)
    ends = _per_series(end, series)
    chunks = []
    for i, s in enumerate(series):
        e = min(s.length, ends[i])
        last = e - horizon
        if last < lookback:
            continue
        cut = np.arange(last, lookback - 1, -stride)[::-1]
        x, xf, y = _gather(s, cut, lookback, horizon, True)
        chunks.append((x, xf, y, np.full(len(cut), i), cut))
    return _stack(chunks, 1 + p + f, f, lookback, horizon, True, [s.id for s in series])


def _per_series(values, series: Sequence[SeriesArrays]) -> list[int]:
    if values is None:
        return [s.length for s in series]
    if np.isscalar(values):
        return [int(values)] * len(series)
    values = [int(v) for v in values]
    if len(values) != len(series):
        raise ValueError(f"expected one value per series ({len(series)}), got {len(values)}")
    return values


def last_windows(series: Sequence[SeriesArrays], lookback: int, horizon: int) -> Windows:
    """One sample per series with the cut-off at its end, to forecast the unknown future.

    ``y`` is None. The future covariates must be known ``horizon`` steps past the end.

    Raises:
        InputError: a series shorter than ``lookback``, or future covariates that stop short.
    """
    _check_sizes(lookback, horizon)
    p, f = _check_same_covariates(series)
    chunks = []
    for i, s in enumerate(series):
        if s.length < lookback:
            raise InputError(f"series {s.id!r} has {s.length} time steps; the lookback needs at least {lookback}")
        if f and s.n_known_ahead < horizon:
            raise InputError(
                f"series {s.id!r}: the future covariates are known {s.n_known_ahead} steps past the end; "
                f"the forecast needs {horizon}"
            )
        cut = np.array([s.length])
        x, xf, _ = _gather(s, cut, lookback, horizon, False)
        chunks.append((x, xf, None, np.array([i]), cut))
    return _stack(chunks, 1 + p + f, f, lookback, horizon, False, [s.id for s in series])


def windows_at(
    series: Sequence[SeriesArrays],
    cutoffs: Sequence[int] | Sequence[Sequence[int]],
    lookback: int,
    horizon: int,
) -> Windows:
    """Samples at given cut-offs, with their true ``y``: a backtest.

    ``cutoffs`` is one list for every series (e.g. from
    :func:`lstmkit.tasks.forecast_metrics.rolling_origin`) or one list per series. Each
    cut-off ``c`` needs ``lookback <= c <= T - horizon``.

    Raises:
        InputError: a cut-off that leaves too little history or too little future.
    """
    _check_sizes(lookback, horizon)
    p, f = _check_same_covariates(series)
    cutoffs = list(cutoffs)
    per_series = bool(cutoffs) and not np.isscalar(cutoffs[0])
    if per_series and len(cutoffs) != len(series):
        raise ValueError(f"expected one list of cut-offs per series ({len(series)}), got {len(cutoffs)}")
    chunks = []
    for i, s in enumerate(series):
        cut = np.asarray(cutoffs[i] if per_series else cutoffs, dtype=np.int64).reshape(-1)
        if len(cut) == 0:
            continue
        if cut.min() < lookback:
            raise InputError(
                f"series {s.id!r}: cut-off {int(cut.min())} leaves {int(cut.min())} steps of history; "
                f"the lookback needs {lookback}"
            )
        if cut.max() > s.length - horizon:
            raise InputError(
                f"series {s.id!r} has {s.length} time steps: cut-off {int(cut.max())} leaves "
                f"{s.length - int(cut.max())} to compare with a horizon of {horizon}"
            )
        x, xf, y = _gather(s, cut, lookback, horizon, True)
        chunks.append((x, xf, y, np.full(len(cut), i), cut))
    return _stack(chunks, 1 + p + f, f, lookback, horizon, True, [s.id for s in series])
