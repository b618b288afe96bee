"""The anomaly detector's input: time series as ``forecast`` reads them, plus 0/1 columns.

:func:`read_detect_data` reads one series or many (long format) with
:func:`lstmkit.data.read_timeseries`, one or more target columns (a multivariate series:
every target is watched), optional covariates (read by the network, not scored), and two
optional 0/1 columns checked cell by cell before anything else: ``label`` (1 = anomalous,
for evaluation) and ``normal`` (1 = a step the user vouches for, the training span). A label
that is missing, or anything but 0 or 1, is bad input naming the file, column and row.
"""

from __future__ import annotations

import re

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lstmkit.data import TimeSeriesData, read_timeseries
from lstmkit.data.tables import (  # noqa: F401 - STEP_ORIGIN, to_steps: importable from here too
    STEP_ORIGIN,
    MissingCells,
    TableSource,
    TableWording,
    blank_rows,
    column_hint,
    fmt_time,
    open_table,
    parse_numbers,
    show,
    step_times,
    to_steps,
)
from lstmkit.data.timeseries import MISSING_TOKENS, step_numbers
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
    steps: bool = False  # the time column held plain step numbers (read as seconds after STEP_ORIGIN)

    def output_times(self, times: pd.DatetimeIndex):
        """``times`` as the input wrote them: step numbers for step data."""
        return to_steps(times) if self.steps else times

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


#: A 0/1 column may also say so in words (a boolean column as pandas writes it).
_TRUTH = {"true": "1", "false": "0"}


def _truth_words(col: pd.Series) -> pd.Series | None:
    """``col`` with ``true`` / ``false`` (any case) written as 1 / 0, when it holds such words
    among 0s, 1s and empty cells; None when it holds none (or anything else)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return None
    text = col.astype(object).where(col.notna(), "").astype(str).str.strip()
    lower = text.str.lower()
    words = lower.isin(list(_TRUTH))
    if not words.any() or not (words | lower.isin(["0", "1", "0.0", "1.0", ""])).all():
        return None
    return text.where(~words, lower.map(_TRUTH))


def _step_table(data: Any, time: str, binary: Sequence[str] = ()) -> tuple[Any, TableSource | None, bool]:
    """``data`` made ready for the reader, its source when it was rewritten (for messages),
    and whether the time column holds plain step numbers. When it holds them
    (:func:`~lstmkit.data.timeseries.step_numbers`, as the UCR/TimeEval anomaly files write
    them), step i is written as the time i seconds after :data:`STEP_ORIGIN`; a ``binary``
    column (labels) of true/false words is written as 1/0; the rows keep the file's numbers."""
    table, src = open_table(data, _WORDING)
    columns = [str(c) for c in table.columns]
    frame = None
    use = ~blank_rows(table, _MISSING)
    steps = step_numbers(table[time][use]) if time in columns else None
    if steps is not None:
        values = np.zeros(len(table), dtype=np.int64)
        values[use] = steps
        frame = table.copy()
        stamps = STEP_ORIGIN + pd.to_timedelta(values, unit="s")
        frame[time] = np.where(use, pd.Series(stamps).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(), "")
    for column in binary:
        words = _truth_words(table[column]) if column in columns else None
        if words is not None:
            frame = table.copy() if frame is None else frame
            frame[column] = words.to_numpy()
    if frame is None:
        return data, None, False
    if src.kind != "frame":
        frame.index = pd.RangeIndex(2 if src.kind == "csv" else 1, len(frame) + (2 if src.kind == "csv" else 1))
    return frame, src, steps is not None


def time_column_kind(data: Any, time: str) -> str | None:
    """``"step numbers"`` or ``"times"``: what ``data``'s ``time`` column holds; None when
    the table cannot be opened or has no such column."""
    try:
        table, _ = open_table(data, _WORDING)
    except InputError:
        return None
    if time not in [str(c) for c in table.columns]:
        return None
    use = ~blank_rows(table, _MISSING)
    return "step numbers" if step_numbers(table[time][use]) is not None else "times"


def _as_source(exc: InputError, src: TableSource) -> InputError:
    """An error about the converted step table, told about the file it came from."""
    if src.kind == "frame":
        return exc
    template = exc.template.replace("DataFrame: ", f"{src.name}: ", 1)
    # the converted table is indexed by the file's row numbers: "index 4 to 9" names rows 4 to 9
    template = re.sub(r"\bindex (\S+) (to|and) ", r"rows \1 \2 ", template)
    template = re.sub(r"\bindex (\S+)", r"row \1", template)
    return InputError(template, param=exc.param, expected=exc.expected, got=exc.got)


def _check_binary(data: Any, column: str, param: str, what: str) -> None:
    """Refuse a ``column`` of ``data`` that is absent or holds anything but 0 and 1."""
    table, src = open_table(data, _WORDING)
    columns = [str(c) for c in table.columns]
    if column not in columns:
        raise src.fail(f"no column {column!r} (the {what} column){column_hint(column, columns)}; "
                       f"the columns are: {show(columns, None)}", param=param, got=column)
    rows = np.flatnonzero(~blank_rows(table, _MISSING))
    col = table[column].iloc[rows].reset_index(drop=True)
    words = _truth_words(col)
    values, missing, bad, text = parse_numbers(col if words is None else words, _MISSING)
    src.refuse_first(missing, rows, column, f"the {what} is missing; every row needs 0 or 1")

    def got(i: int) -> str:
        return f"expected 0 or 1 (the {what}), got {text.iloc[i] if text is not None else values[i]!r}"

    src.refuse_first(bad | ~np.isin(values, (0.0, 1.0)), rows, column, got)


def _label_windows(path: Any, ts: TimeSeriesData, steps: bool = False) -> np.ndarray:
    """0/1 labels from a table of labelled windows: columns ``start`` and ``end`` (times,
    inclusive) and, for data with many series, the id column. A window that is not a pair of
    times in order, or covers no step of its series, is bad input."""
    table, src = open_table(path, _WORDING)
    columns = [str(c) for c in table.columns]
    needed = ["start", "end"] + ([ts.roles.id] if ts.has_id else [])
    for column in needed:
        if column not in columns:
            raise src.fail(f"no column {column!r}; a file of labelled windows needs the columns "
                           f"{', '.join(map(repr, needed))}; the columns are: {show(columns, None)}",
                           param="label_windows")
    frame = ts.frame
    labels = np.zeros(len(frame), dtype=np.int64)
    times = pd.DatetimeIndex(frame[ts.roles.time])
    ids = frame[ts.roles.id].to_numpy()
    rows = np.flatnonzero(~blank_rows(table, _MISSING))
    if len(rows) == 0:
        raise src.fail("holds no labelled window; expected rows of start, end", param="label_windows")
    for pos in rows:
        where = f"{src.row(int(pos))}"
        bounds = []
        for column in ("start", "end"):
            cell = str(table[column].iloc[pos]).strip()
            try:
                bounds.append(parse_time(cell, "label_windows", steps))
            except InputError:
                raise src.fail(f"{where}, column {column!r}: cannot read {cell!r} as a time",
                               param="label_windows") from None
            if bounds[-1] is pd.NaT:
                raise src.fail(f"{where}, column {column!r}: the time is missing", param="label_windows")
        with step_times(steps):  # a window of step numbers is named by them
            first, last = fmt_time(bounds[0]), fmt_time(bounds[1])
        if bounds[0] > bounds[1]:
            raise src.fail(f"{where}: the window starts ({first}) after it ends ({last})",
                           param="label_windows")
        inside = np.asarray((times >= bounds[0]) & (times <= bounds[1]))
        if ts.has_id:
            uid = str(table[ts.roles.id].iloc[pos]).strip()
            if uid not in set(ids):
                raise src.fail(f"{where}, column {ts.roles.id!r}: no series {uid!r} in the data",
                               param="label_windows")
            inside &= ids == uid
        if not inside.any():
            raise src.fail(f"{where}: the window {first} .. {last} covers no step of the data; "
                           f"the labels do not line up with it", param="label_windows")
        labels[inside] = 1
    return labels


def read_detect_data(data: Any, *, time: str = "ds", target: str | Sequence[str] = "y", id: str | None = None,
                     covariates: Sequence[str] = (), freq: str | None = None, fill: str | None = None,
                     label: str | None = None, normal: str | None = None,
                     label_windows: Any = None) -> DetectData:
    """Read and validate ``data`` (a CSV/Parquet path or a DataFrame) for the detector.

    ``target``: one column or several (a multivariate series); ``label``: a 0/1 column of
    known anomalies, or ``label_windows``: a CSV/Parquet file (or DataFrame) of labelled
    windows (``start``, ``end``, and the id column for many series); ``normal``: a 0/1
    column marking the steps to train on. The other arguments are
    :func:`lstmkit.data.read_timeseries`'s.
    """
    if label is not None and label_windows is not None:
        raise InputError("give the labels as a column (label) or as a file of windows (label_windows), "
                         "not both", param="label_windows")
    targets = (target,) if isinstance(target, str) else tuple(target)
    if not targets:
        raise InputError("give at least one target column", param="target")
    covariates = tuple(covariates)
    for column, param, what in ((label, "label", "label"), (normal, "normal", "normal-span")):
        if column is not None:
            _check_binary(data, column, param, what)
    extra = tuple(c for c in (label, normal) if c is not None and c not in targets + covariates)
    table, step_src, steps = _step_table(data, time, [c for c in (label, normal) if c is not None])
    try:
        with step_times(steps):  # its messages name steps, not the times they are held as
            ts = read_timeseries(table, time=time, target=targets[0], id=id,
                                 past_covariates=targets[1:] + covariates + extra, freq=freq, fill=fill)
    except InputError as exc:
        raise (_as_source(exc, step_src) if step_src is not None else exc) from None
    if step_src is not None:
        ts.source = step_src.name
    labels = None if label is None else np.rint(ts.frame[label].to_numpy()).astype(np.int64)
    normal_mask = None if normal is None else np.rint(ts.frame[normal].to_numpy()).astype(np.int64)
    if label_windows is not None:
        labels = _label_windows(label_windows, ts, steps)
        label = f"windows in {label_windows if not isinstance(label_windows, pd.DataFrame) else 'a DataFrame'}"
    return DetectData(ts, targets, covariates, labels, normal_mask, label, steps)


def check_labels(d: DetectData) -> None:
    """Refuse labels the metrics cannot score against: no labelled anomaly (no 1), or every
    step labelled anomalous (no 0: any score would be perfect)."""
    if d.labels is None:
        return
    if not d.labels.any():
        raise InputError(f"{d.ts.source}: the labels ({d.label_column}) mark no anomaly (no 1); the metrics "
                         f"need at least one labelled anomaly", param="label")
    if d.labels.all():
        raise InputError(f"{d.ts.source}: the labels ({d.label_column}) mark every step as an anomaly (no 0); "
                         f"the metrics need normal steps too", param="label")


def normal_mask(times: pd.DatetimeIndex, until: Any, column: np.ndarray | None) -> np.ndarray:
    """Which steps of one series train the model: those at or before ``until`` (a time), and
    where ``column`` is 1; every step when neither is given."""
    mask = np.ones(len(times), dtype=bool)
    if until is not None:
        mask &= np.asarray(times <= pd.Timestamp(until))
    if column is not None:
        mask &= column == 1
    return mask


def parse_time(value: Any, param: str, steps: bool = False) -> pd.Timestamp | None:
    """``value`` as a time (None stays None; a whole number is a step number for step data);
    InputError naming ``param`` otherwise."""
    if value is None:
        return None
    if steps:
        try:
            number = float(str(value).strip())
        except ValueError:
            number = None
        if number is not None and number == int(number):
            return STEP_ORIGIN + pd.Timedelta(seconds=int(number))
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(f"{param_ref(param)}: cannot read {value!r} as a time; give e.g. 2024-01-31 or "
                         f"2024-01-31 13:00", param=param, got=value) from None


__all__ = ["STEP_ORIGIN", "DetectData", "normal_mask", "parse_time", "read_detect_data", "to_steps"]
