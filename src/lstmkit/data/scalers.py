"""Per-series standard scaling, undone on output.

For each series ``i`` and column ``c`` the scaler keeps the mean and standard deviation
(population, ``ddof=0``, missing values ignored) of the data it was fitted on::

    z = (x - mean[i, c]) / scale[i, c]        x = z * scale[i, c] + mean[i, c]

where ``scale = std``, or 1 when ``std`` is below ``eps`` or not finite (a constant series is
only centred, never divided by zero). The state is plain JSON (:meth:`to_dict`) so it can be
saved beside a model.

Two ways in:

* frames (:meth:`~SeriesScaler.fit`, :meth:`~SeriesScaler.transform`,
  :meth:`~SeriesScaler.inverse_transform`): long-format DataFrames with an id column;
* series (:meth:`~SeriesScaler.fit_series`, :meth:`~SeriesScaler.transform_series`,
  :meth:`~SeriesScaler.inverse_target`): validated time series
  (:class:`~lstmkit.data.timeseries.TimeSeriesData`, or
  :class:`~lstmkit.data.windows.SeriesArrays`), the columns being the target, the past and
  the future covariates; the target may be log-transformed first (``transform="log"``, or
  ``"auto"``: when every target value is positive), and the statistics may come from the
  first ``end[i]`` steps of each series only (the history before a backtest cut-off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from lstmkit.data.tables import fmt_time, show
from lstmkit.data.windows import SeriesArrays
from lstmkit.errors import InputError, param_ref

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.data.timeseries import TimeSeriesData

Series = Union["TimeSeriesData", Sequence[SeriesArrays]]
#: Accepted values of ``transform`` in :meth:`SeriesScaler.fit_series`.
TRANSFORMS = ("auto", "log", "none")

__all__ = ["SeriesScaler"]


class SeriesScaler:
    """Standard scaler with one mean and scale per series id and column.

    Args:
        columns: the columns to scale; None: set by :meth:`fit` (default: ``["y"]``).
        id_col: the series-id column of the frames given.
        eps: standard deviations below this count as zero (scale 1).
    """

    KIND = "series_standard"
    VERSION = 2

    def __init__(self, columns: Sequence[str] | None = None, id_col: str = "unique_id", eps: float = 1e-8):
        self.columns: list[str] | None = list(columns) if columns is not None else None
        self.id_col = id_col
        self.eps = float(eps)
        self.stats: dict[str, dict[str, tuple[float, float]]] = {}
        #: set by :meth:`fit_series`: the target column, then the past and future covariates
        self.target: str | None = None
        self.past: tuple[str, ...] = ()
        self.future: tuple[str, ...] = ()
        #: whether the target is log-transformed before it is standardised (series only)
        self.log = False

    # ----------------------------------------------------------------- fitting

    @property
    def fitted(self) -> bool:
        return bool(self.stats)

    def fit(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> "SeriesScaler":
        """Learn the mean and scale of each column of each series in a long-format frame."""
        if columns is not None:
            self.columns = list(columns)
        if self.columns is None:
            self.columns = ["y"]
        self._need(frame, [self.id_col, *self.columns])
        grouped = frame.groupby(self.id_col, sort=True)[self.columns]
        mean = grouped.mean()
        std = grouped.std(ddof=0)
        self.stats = {}
        for uid in mean.index:
            self.stats[str(uid)] = {
                c: (_finite(mean.at[uid, c], 0.0), self._scale(std.at[uid, c])) for c in self.columns
            }
        return self

    def fit_arrays(self, ids: Iterable[str], values: Iterable[np.ndarray], column: str = "y") -> "SeriesScaler":
        """Fit one column from per-series arrays (e.g. the history before a backtest cut-off)."""
        if self.columns is None:
            self.columns = [column]
        elif column not in self.columns:
            self.columns.append(column)
        for uid, v in zip(ids, values):
            v = np.asarray(v, dtype=np.float64)
            v = v[np.isfinite(v)]
            mean = float(v.mean()) if v.size else 0.0
            std = float(v.std()) if v.size else 0.0
            self.stats.setdefault(str(uid), {})[column] = (mean, self._scale(std))
        return self

    def _scale(self, std: Any) -> float:
        std = float(std) if std is not None else float("nan")
        return std if np.isfinite(std) and std >= self.eps else 1.0

    # ----------------------------------------------------------------- frames

    def transform(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """A copy of ``frame`` with ``columns`` (default: the fitted ones present) scaled."""
        return self._apply(frame, columns, inverse=False, stats_from=None)

    def inverse_transform(
        self,
        frame: pd.DataFrame,
        columns: Sequence[str] | None = None,
        stats_from: str | Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """A copy of ``frame`` with ``columns`` put back on the original scale.

        ``stats_from`` names the fitted column whose statistics to use, for columns that were
        not fitted themselves: e.g. ``inverse_transform(fc, ["yhat", "lo_90", "hi_90"],
        stats_from="y")``; a mapping gives one per column.
        """
        return self._apply(frame, columns, inverse=True, stats_from=stats_from)

    def _apply(self, frame, columns, inverse, stats_from) -> pd.DataFrame:
        self._check_fitted()
        if columns is None:
            columns = [c for c in self.columns if c in frame.columns]
        columns = list(columns)
        self._need(frame, [self.id_col, *columns])
        out = frame.copy()
        ids = out[self.id_col].astype(str).to_numpy()
        for c in columns:
            src = _source(c, stats_from)
            mean, scale = self._vectors(ids, src)
            x = out[c].to_numpy(np.float64)
            out[c] = x * scale + mean if inverse else (x - mean) / scale
        return out

    # ----------------------------------------------------------------- arrays

    def transform_values(self, ids: Sequence[str] | str, values: np.ndarray, column: str | None = None) -> np.ndarray:
        """Scale an array whose first axis runs over ``ids`` (or one id for the whole array)."""
        mean, scale = self._broadcast(ids, values, column)
        return (np.asarray(values, dtype=np.float64) - mean) / scale

    def inverse_values(self, ids: Sequence[str] | str, values: np.ndarray, column: str | None = None) -> np.ndarray:
        """Undo :meth:`transform_values`; e.g. forecasts of shape ``(n_series, horizon)``."""
        mean, scale = self._broadcast(ids, values, column)
        return np.asarray(values, dtype=np.float64) * scale + mean

    def _broadcast(self, ids, values, column):
        self._check_fitted()
        column = column or self.columns[0]
        values = np.asarray(values)
        if isinstance(ids, str):
            mean, scale = self._vectors(np.array([ids]), column)
            return mean[0], scale[0]
        ids = np.asarray([str(i) for i in ids])
        if values.ndim == 0 or values.shape[0] != len(ids):
            raise ValueError(f"expected the first axis of values to have {len(ids)} entries, got shape {values.shape}")
        mean, scale = self._vectors(ids, column)
        shape = (len(ids),) + (1,) * (values.ndim - 1)
        return mean.reshape(shape), scale.reshape(shape)

    def _vectors(self, ids: np.ndarray, column: str) -> tuple[np.ndarray, np.ndarray]:
        uniq, inv = np.unique(ids, return_inverse=True)
        mean = np.empty(len(uniq))
        scale = np.empty(len(uniq))
        for k, uid in enumerate(uniq.tolist()):
            uid = str(uid)
            st = self.stats.get(uid)
            if st is None:
                raise InputError(f"series {uid!r} was not seen when the scaler was fitted; fit on every series first")
            if column not in st:
                raise InputError(f"column {column!r} was not fitted for series {uid!r}; fitted: {', '.join(st)}")
            mean[k], scale[k] = st[column]
        return mean[inv], scale[inv]


    # ----------------------------------------------------------------- series

    def fit_series(
        self,
        data: Series,
        end: int | Sequence[int] | None = None,
        transform: str = "auto",
    ) -> "SeriesScaler":
        """Learn, per series, the mean and scale of the target (log-transformed when
        :attr:`log`), of each past covariate and of each future covariate.

        Args:
            data: validated series (:class:`~lstmkit.data.timeseries.TimeSeriesData`, whose
                column names the scaler keeps) or :class:`~lstmkit.data.windows.SeriesArrays`
                (columns named ``y``, ``past_1``, ..., ``future_1``, ...).
            end: fit on the first ``end`` steps of every series (one value, or one per series
                in order); None: on all of them. The log decision looks at every step.
            transform: ``"log"`` (the target must be positive), ``"none"``, or ``"auto"``:
                log when every target value of every series is positive.

        Raises:
            InputError: ``transform`` is not one of :data:`TRANSFORMS`; ``"log"`` with a
                target value <= 0 (naming it and the column).
        """
        if transform not in TRANSFORMS:
            raise InputError(f"{param_ref('transform')}: expected one of {', '.join(TRANSFORMS)}; got {transform!r}",
                             param="transform", expected=f"one of {', '.join(TRANSFORMS)}", got=transform)
        series, names, where = _series_of(data)
        target = np.concatenate([s.target for s in series]) if series else np.zeros(0)
        log = transform == "log" or (transform == "auto" and bool((target > 0).all()))
        if log and not (target > 0).all():
            s = next(s for s in series if not (s.target > 0).all())
            k = int(np.argmax(s.target <= 0))
            at = f" at {fmt_time(s.times[k])}" if s.times is not None and len(s.times) > k else f" at step {k}"
            who = "" if len(series) == 1 else f" of series {s.id!r}"
            raise InputError(f"{where}column {names[0]!r}{who} has a value <= 0 ({s.target[k]:g}){at}, "
                             f"which has no logarithm; use {param_ref('transform', 'none')}", param="transform")
        ends = _per_series(end, len(series))
        n_past = series[0].n_past if series else 0
        self.columns = list(names)
        self.target, self.past, self.future = names[0], tuple(names[1:1 + n_past]), tuple(names[1 + n_past:])
        self.log = log
        self.stats = {}
        for i, s in enumerate(series):
            values = np.column_stack([_forward(s.target, log), s.past, s.future[: s.length]])
            values = values if ends[i] is None else values[: ends[i]]
            mean = values.mean(axis=0)
            std = values.std(axis=0)
            std = np.where(std > self.eps, std, 1.0)
            self.stats[s.id] = {c: (m, d) for c, m, d in zip(names, mean.tolist(), std.tolist())}
        return self

    def transform_series(self, data: Series) -> list[SeriesArrays]:
        """The series on the fitted scale: target (its log when :attr:`log`), past and future
        covariates standardised with the statistics of their own series.

        Raises:
            InputError: a series the scaler was not fitted on (naming it), or a target value
                <= 0 when :attr:`log`.
            ValueError: the series do not have the fitted number of covariates.
        """
        self._check_series_fitted()
        series, _, where = _series_of(data)
        out = []
        n_past = len(self.past)
        for s in series:
            if (s.n_past, s.n_future) != (n_past, len(self.future)):
                raise ValueError(f"series {s.id!r} has {s.n_past} past and {s.n_future} future covariates; "
                                 f"the scaler was fitted on {n_past} and {len(self.future)}")
            if self.log and not (s.target > 0).all():
                v = s.target[int(np.argmax(s.target <= 0))]
                raise InputError(f"{where}series {s.id!r} has a value <= 0 ({v}) in column {self.target!r}, "
                                 "which has no logarithm; the scaler was fitted on its logarithm")
            mean, std = self._series_stats(s.id, where)
            target = (_forward(s.target, self.log) - mean[0]) / std[0]
            past = (s.past - mean[1:1 + n_past]) / std[1:1 + n_past]
            future = (s.future - mean[1 + n_past:]) / std[1 + n_past:]
            out.append(SeriesArrays(s.id, target, past, future, s.times))
        return out

    def transform_target(self, ids: Sequence[str] | str, values: np.ndarray) -> np.ndarray:
        """Target values (first axis over ``ids``, or one id) on the fitted scale."""
        self._check_series_fitted()
        return self.transform_values(ids, _forward(np.asarray(values, dtype=np.float64), self.log), self.target)

    def inverse_target(self, ids: Sequence[str] | str, values: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform_target`: e.g. forecasts ``(n, horizon, quantiles)`` whose
        first axis runs over ``ids``, back in the target's units.

        Raises:
            InputError: an id the scaler was not fitted on.
        """
        self._check_series_fitted()
        return _inverse(self.inverse_values(ids, values, self.target), self.log)

    def _series_stats(self, uid: str, where: str) -> tuple[np.ndarray, np.ndarray]:
        st = self.stats.get(uid)
        if st is None:
            raise InputError(f"{where}series {uid!r} was not in the training data; the model has no scale for it")
        return np.asarray([st[c][0] for c in self.columns]), np.asarray([st[c][1] for c in self.columns])

    def _check_series_fitted(self) -> None:
        if self.target is None:
            raise RuntimeError("the scaler is not fitted on series; call fit_series() first")

    def to_lists(self) -> dict[str, dict[str, list[float]]]:
        """The statistics of :meth:`fit_series` as ``{id: {"mean": [...], "std": [...]}}``, one
        entry per column (target, past, future covariates), e.g. for a model's config."""
        self._check_series_fitted()
        return {uid: {"mean": [st[c][0] for c in self.columns], "std": [st[c][1] for c in self.columns]}
                for uid, st in self.stats.items()}

    @classmethod
    def from_lists(
        cls,
        scale: Mapping[str, Mapping[str, Sequence[float]]],
        *,
        target: str,
        past_covariates: Sequence[str] = (),
        future_covariates: Sequence[str] = (),
        log: bool = False,
        eps: float = 1e-8,
    ) -> "SeriesScaler":
        """A scaler as :meth:`fit_series` left it, from :meth:`to_lists` and the column names.

        Raises:
            ValueError: a series whose lists do not have one entry per column.
        """
        names = [target, *past_covariates, *future_covariates]
        out = cls(columns=names, eps=eps)
        out.target, out.past, out.future = target, tuple(past_covariates), tuple(future_covariates)
        out.log = bool(log)
        for uid, st in scale.items():
            mean, std = list(st["mean"]), list(st["std"])
            if len(mean) != len(names) or len(std) != len(names):
                raise ValueError(f"series {uid!r}: expected {len(names)} means and scales ({', '.join(names)}), "
                                 f"got {len(mean)} and {len(std)}")
            out.stats[str(uid)] = {c: (float(m), float(d)) for c, m, d in zip(names, mean, std)}
        return out

    # ----------------------------------------------------------------- saving

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able state."""
        return {
            "kind": self.KIND,
            "version": self.VERSION,
            "id_col": self.id_col,
            "columns": list(self.columns or []),
            "eps": self.eps,
            "target": self.target,
            "past": list(self.past),
            "future": list(self.future),
            "log": self.log,
            "stats": {
                uid: {c: {"mean": m, "scale": s} for c, (m, s) in cols.items()} for uid, cols in self.stats.items()
            },
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> "SeriesScaler":
        """Rebuild a scaler saved by :meth:`to_dict`."""
        if state.get("kind") != cls.KIND:
            raise ValueError(f"not a {cls.KIND} scaler state: kind={state.get('kind')!r}")
        if int(state.get("version", 0)) > cls.VERSION:
            raise ValueError(f"scaler state version {state['version']} is newer than this lstmkit reads ({cls.VERSION})")
        out = cls(columns=state["columns"], id_col=state["id_col"], eps=state["eps"])
        out.target = state.get("target")
        out.past, out.future = tuple(state.get("past", ())), tuple(state.get("future", ()))
        out.log = bool(state.get("log", False))
        out.stats = {
            str(uid): {c: (float(v["mean"]), float(v["scale"])) for c, v in cols.items()}
            for uid, cols in state["stats"].items()
        }
        return out

    # ----------------------------------------------------------------- helpers

    def _check_fitted(self) -> None:
        if not self.stats:
            raise RuntimeError("the scaler is not fitted; call fit() first")

    @staticmethod
    def _need(frame: pd.DataFrame, columns: Sequence[str]) -> None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"no column {missing[0]!r} to scale; the columns are: {show(frame.columns, None)}"
            )

    def __repr__(self) -> str:
        return f"SeriesScaler(columns={self.columns!r}, id_col={self.id_col!r}, series={len(self.stats)})"


def _finite(v: Any, default: float) -> float:
    v = float(v)
    return v if np.isfinite(v) else default


def _forward(values: np.ndarray, log: bool) -> np.ndarray:
    return np.log(values) if log else values


def _inverse(values: np.ndarray, log: bool) -> np.ndarray:
    return np.exp(values) if log else values


def _series_of(data: Series) -> tuple[list[SeriesArrays], list[str], str]:
    """``(series, column names, where)`` of validated series or of SeriesArrays; ``where``
    starts the messages (``"data.csv: "``, or nothing for arrays)."""
    from lstmkit.data.timeseries import TimeSeriesData

    if isinstance(data, TimeSeriesData):
        return data.to_arrays(), list(data.roles.values), f"{data.source}: "
    series = list(data)
    p = series[0].n_past if series else 0
    f = series[0].n_future if series else 0
    names = ["y"] + [f"past_{k + 1}" for k in range(p)] + [f"future_{k + 1}" for k in range(f)]
    return series, names, ""


def _per_series(end, n: int) -> list[int | None]:
    if end is None or np.isscalar(end):
        return [None if end is None else int(end)] * n
    end = list(end)
    if len(end) != n:
        raise ValueError(f"expected one end per series ({n}), got {len(end)}")
    return [int(e) for e in end]


def _source(column: str, stats_from: str | Mapping[str, str] | None) -> str:
    if stats_from is None:
        return column
    if isinstance(stats_from, str):
        return stats_from
    return stats_from.get(column, column)
