"""The anomaly detector's input: time series as ``forecast`` reads them, plus 0/1 columns.

:func:`read_detect_data` reads one series or many (long format) with
:func:`lstmkit.data.read_timeseries`, one or more target columns (a multivariate series:
every target is watched), optional covariates (read by the network, not scored), and two
optional 0/1 columns checked cell by cell before anything else: ``label`` (1 = anomalous,
for evaluation) and ``normal`` (1 = a step the user vouches for, the training span). A label
that is missing, or anything but 0 or 1, is bad input naming the file, column and row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lstmkit.data import TimeSeriesData, read_timeseries
from lstmkit.data.tables import (MissingCells, TableWording, blank_rows, column_hint, open_table, parse_numbers,
                                 show)
from lstmkit.data.timeseries import MISSING_TOKENS
from lstmkit.errors import InputError, param_ref

_MISSING = MissingCells(MISSING_TOKENS)
_WORDING = TableWording(columns="a time column and a value column", empty="a header line such as 'ds,y' and data rows")


@dataclass
class DetectData:
    """Validated series for the detector.

    ``ts``: the series (targets and covariates as numeric columns of ``ts.frame``);
    ``targets``: the watched columns; ``covariates``: read, not scored; ``labels`` and
    ``normal``: 0/1 arrays aligned with ``ts.frame``'s rows, or None.
    """

    ts: TimeSeriesData
    targets: tuple[str, ...]
    covariates: tuple[str, ...]
    labels: np.ndarray | None = None
    normal: np.ndarray | None = None
    label_column: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        return self.targets + self.covariates

    def series(self):
        """``(id, times, values (T, C), labels (T,) | None, normal (T,) | None)`` per series,
        in the frame's order (by id, then time)."""
        frame = self.ts.frame
        ids = frame[self.ts.roles.id].to_numpy()
        starts = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1, len(ids)]
        for a, b in zip(starts[:-1], starts[1:]):
            rows = slice(int(a), int(b))
            yield (str(ids[a]), pd.DatetimeIndex(frame[self.ts.roles.time].iloc[rows]),
                   frame[list(self.channels)].iloc[rows].to_numpy(np.float64),
                   None if self.labels is None else self.labels[rows],
                   None if self.normal is None else self.normal[rows])


def _check_binary(data: Any, column: str, param: str, what: str) -> None:
    """Refuse a ``column`` of ``data`` that is absent or holds anything but 0 and 1."""
    table, src = open_table(data, _WORDING)
    columns = [str(c) for c in table.columns]
    if column not in columns:
        raise src.fail(f"no column {column!r} (the {what} column){column_hint(column, columns)}; "
                       f"the columns are: {show(columns, None)}", param=param, got=column)
    rows = np.flatnonzero(~blank_rows(table, _MISSING))
    col = table[column].iloc[rows].reset_index(drop=True)
    values, missing, bad, text = parse_numbers(col, _MISSING)
    src.refuse_first(missing, rows, column, f"the {what} is missing; every row needs 0 or 1")

    def got(i: int) -> str:
        return f"expected 0 or 1 (the {what}), got {text.iloc[i] if text is not None else values[i]!r}"

    src.refuse_first(bad | ~np.isin(values, (0.0, 1.0)), rows, column, got)


def read_detect_data(data: Any, *, time: str = "ds", target: str | Sequence[str] = "y", id: str | None = None,
                     covariates: Sequence[str] = (), freq: str | None = None, fill: str | None = None,
                     label: str | None = None, normal: str | None = None) -> DetectData:
    """Read and validate ``data`` (a CSV/Parquet path or a DataFrame) for the detector.

    ``target``: one column or several (a multivariate series); ``label``: a 0/1 column of
    known anomalies; ``normal``: a 0/1 column marking the steps to train on. The other
    arguments are :func:`lstmkit.data.read_timeseries`'s.
    """
    targets = (target,) if isinstance(target, str) else tuple(target)
    if not targets:
        raise InputError("give at least one target column", param="target")
    covariates = tuple(covariates)
    for column, param, what in ((label, "label", "label"), (normal, "normal", "normal-span")):
        if column is not None:
            _check_binary(data, column, param, what)
    extra = tuple(c for c in (label, normal) if c is not None and c not in targets + covariates)
    ts = read_timeseries(data, time=time, target=targets[0], id=id,
                         past_covariates=targets[1:] + covariates + extra, freq=freq, fill=fill)
    labels = None if label is None else np.rint(ts.frame[label].to_numpy()).astype(np.int64)
    normal_mask = None if normal is None else np.rint(ts.frame[normal].to_numpy()).astype(np.int64)
    return DetectData(ts, targets, covariates, labels, normal_mask, label)


def normal_mask(times: pd.DatetimeIndex, until: Any, column: np.ndarray | None) -> np.ndarray:
    """Which steps of one series train the model: those at or before ``until`` (a time), and
    where ``column`` is 1; every step when neither is given."""
    mask = np.ones(len(times), dtype=bool)
    if until is not None:
        mask &= np.asarray(times <= pd.Timestamp(until))
    if column is not None:
        mask &= column == 1
    return mask


def parse_time(value: Any, param: str) -> pd.Timestamp | None:
    """``value`` as a time (None stays None); InputError naming ``param`` otherwise."""
    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{param_ref(param)}: cannot read {value!r} as a time; give e.g. 2024-01-31 or "
                         f"2024-01-31 13:00", param=param, got=value) from None


__all__ = ["DetectData", "normal_mask", "parse_time", "read_detect_data"]
