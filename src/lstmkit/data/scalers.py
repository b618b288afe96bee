"""Per-series standard scaling, undone on output.

For each series ``i`` and column ``c`` the scaler keeps the mean and standard deviation
(population, ``ddof=0``, missing values ignored) of the data it was fitted on::

    z = (x - mean[i, c]) / scale[i, c]        x = z * scale[i, c] + mean[i, c]

where ``scale = std``, or 1 when ``std`` is below ``eps`` or not finite (a constant series is
only centred, never divided by zero). The state is plain JSON (:meth:`to_dict`) so it can be
saved beside a model.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from lstmkit.errors import InputError

__all__ = ["SeriesScaler"]


class SeriesScaler:
    """Standard scaler with one mean and scale per series id and column.

    Args:
        columns: the columns to scale; None: set by :meth:`fit` (default: ``["y"]``).
        id_col: the series-id column of the frames given.
        eps: standard deviations below this count as zero (scale 1).
    """

    KIND = "series_standard"
    VERSION = 1

    def __init__(self, columns: Sequence[str] | None = None, id_col: str = "unique_id", eps: float = 1e-8):
        self.columns: list[str] | None = list(columns) if columns is not None else None
        self.id_col = id_col
        self.eps = float(eps)
        self.stats: dict[str, dict[str, tuple[float, float]]] = {}

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
        for k, uid in enumerate(uniq):
            st = self.stats.get(str(uid))
            if st is None:
                raise InputError(f"series {uid!r} was not seen when the scaler was fitted; fit on every series first")
            if column not in st:
                raise InputError(f"column {column!r} was not fitted for series {uid!r}; fitted: {', '.join(st)}")
            mean[k], scale[k] = st[column]
        return mean[inv], scale[inv]

    # ----------------------------------------------------------------- saving

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able state."""
        return {
            "kind": self.KIND,
            "version": self.VERSION,
            "id_col": self.id_col,
            "columns": list(self.columns or []),
            "eps": self.eps,
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
                f"no column {missing[0]!r} to scale; the columns are: {', '.join(map(str, frame.columns))}"
            )

    def __repr__(self) -> str:
        return f"SeriesScaler(columns={self.columns!r}, id_col={self.id_col!r}, series={len(self.stats)})"


def _finite(v: Any, default: float) -> float:
    v = float(v)
    return v if np.isfinite(v) else default


def _source(column: str, stats_from: str | Mapping[str, str] | None) -> str:
    if stats_from is None:
        return column
    if isinstance(stats_from, str):
        return stats_from
    return stats_from.get(column, column)
