"""Reading and validating time series, once, at the door.

:func:`read_timeseries` takes a CSV file, a Parquet file or a pandas DataFrame holding either
one series (a time column and a value column) or many series in long format (Nixtla's
convention: ``unique_id``, ``ds``, ``y``; every name is configurable), checks it, and returns a
:class:`TimeSeriesData`: the validated long-format frame sorted by id then time, the column
roles, the frequency (a pandas offset alias) and the season length.

Everything that is wrong with the input raises :class:`lstmkit.errors.InputError` with one
line that names the file, the column and the row, says what was expected and what came, and
how to fix it where that helps. Rows are numbered as a spreadsheet shows them: in a CSV file
the header is row 1 and the first data row is row 2 (the row number is the line number). In a
Parquet file, which has no header line, the first data row is row 1. For a DataFrame the
message gives the index label.

Missing values (an empty cell, ``NA``, ``NaN``, ``null``, ``None``, ``N/A``, ``#N/A``) and
missing time steps of a regular series (gaps) are refused unless ``fill`` is one of
:data:`FILL_METHODS`; then the gaps are inserted as rows and every value column is filled
within its own series.

Known-future covariates: when ``future_covariates`` are named, the rows at the end of a series
whose target is empty are not missing values but the future: they are kept apart in
:attr:`TimeSeriesData.future` (id, time and the future covariates) for the forecast.

The reading itself is :mod:`lstmkit.data.tables` (shared with the sequence reader), the
frequency :mod:`lstmkit.data.frequency`, the checks of the series (duplicates, grid, gaps,
fill) :mod:`lstmkit.data.timeseries_checks`; every public name stays importable from here.
Messages name the parameters of :func:`read_timeseries` (``fill='ffill'``); the ``lstmkit``
command prints them as its flags.

This module imports pandas and numpy, never torch.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence, Union

import numpy as np
import pandas as pd

from lstmkit.data.frequency import normalize_freq, season_length_for, to_offset
from lstmkit.data.seasonality import detect_season
from lstmkit.data.tables import (
    MissingCells,
    TableSource,
    TableWording,
    as_text,
    blank_rows,
    check_whole,
    column_hint,
    missing_mask,
    open_table,
    STEP_ORIGIN,
    parse_numbers,
    show,
    step_times,
)
from lstmkit.data.timeseries_checks import (
    check_duplicates,
    check_future_covariates,
    check_grid,
    check_min_length,
    common_freq,
    fill_missing,
    refuse_missing_cells,
    split_future,
    trim_target_edges,
)
from lstmkit.errors import InputError, bad_value, param_ref

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.data.windows import SeriesArrays

__all__ = [
    "DEFAULT_ID",
    "DEFAULT_TARGET",
    "DEFAULT_TIME",
    "FILL_METHODS",
    "MISSING_TOKENS",
    "ColumnRoles",
    "TimeSeriesData",
    "check_future_covariates",
    "check_min_length",
    "normalize_freq",
    "read_timeseries",
    "season_length_for",
]

DEFAULT_TIME = "ds"
DEFAULT_TARGET = "y"
DEFAULT_ID = "unique_id"
#: The id given to the one series of an input that has no id column.
SINGLE_SERIES_ID = "series"
#: Accepted values of ``fill``.
FILL_METHODS = ("ffill", "bfill", "interpolate", "zero")
#: Cell texts read as a missing value (compared without case and surrounding spaces).
MISSING_TOKENS = frozenset({"", "na", "n/a", "#n/a", "nan", "null", "none", "nat"})

_MISSING = MissingCells(MISSING_TOKENS)
_OTHER_FORMATS = {
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".ods": "a spreadsheet",
    ".json": "a JSON file",
    ".feather": "a Feather file",
    ".arrow": "an Arrow file",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".h5": "an HDF5 file",
}
_WORDING = TableWording(
    columns="a time column and a value column",
    empty="a header line such as 'ds,y' and data rows",
    blank="the file has no header line (only blank lines); expected a header such as 'ds,y' and data rows",
    binary_what="CSV text",
    binary_offset=False,
    utf8_fix="save the file as UTF-8 (in Excel: 'CSV UTF-8')",
    pyarrow_fix="pip install pyarrow, or give a CSV file",
)

PathOrFrame = Union[str, "os.PathLike[str]", pd.DataFrame]


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class ColumnRoles:
    """Which column of :attr:`TimeSeriesData.frame` plays which part."""

    time: str = DEFAULT_TIME
    target: str = DEFAULT_TARGET
    id: str = DEFAULT_ID
    past_covariates: tuple[str, ...] = ()
    future_covariates: tuple[str, ...] = ()

    @property
    def covariates(self) -> tuple[str, ...]:
        """Past then future covariates."""
        return self.past_covariates + self.future_covariates

    @property
    def values(self) -> tuple[str, ...]:
        """The numeric columns: the target, then the past and the future covariates."""
        return (self.target,) + self.covariates


@dataclass
class TimeSeriesData:
    """Validated time series in long format.

    Attributes:
        frame: columns ``[id, time, target, *past_covariates, *future_covariates]`` (names as
            in :attr:`roles`), sorted by id then time, one row per time step with no gap and
            no missing value; the id is a string, the time a datetime, the values float64.
        roles: the column names.
        freq: the pandas offset alias of the time step, e.g. ``"MS"``, ``"D"``, ``"W-SUN"``.
        season_length: the number of steps in a season (1: no season), see
            :func:`season_length_for`; for step numbers, read from the values.
        source: the file as the user named it, or ``"DataFrame"``.
        has_id: False when the input was one series with no id column (the frame then has an
            id column all ``"series"``, which output should leave out).
        future: rows past the last target of each series holding the known-future covariates
            (columns ``[id, time, *future_covariates]``), or None when there are none.
        n_filled: how many values ``fill`` supplied (gaps and empty cells).
        n_trimmed: how many rows ``fill`` left out, before a series' first target value or
            after its last (nothing observed there to fill from).
        steps: the time column held plain step numbers (0, 1, 2, ...); step i is held as the
            time i seconds after :data:`~lstmkit.data.tables.STEP_ORIGIN` (``freq`` ``s``, or
            ``5s`` for every fifth step), and output gives the numbers back
            (:func:`~lstmkit.data.tables.to_steps`).
        years: the time column held years as numbers (``1949``): output writes years back.
        season_detected: the season length was read from the series' autocorrelation
            (:func:`~lstmkit.data.seasonality.detect_season`: step numbers, no season given).
    """

    frame: pd.DataFrame
    roles: ColumnRoles
    freq: str
    season_length: int
    source: str = "DataFrame"
    has_id: bool = True
    future: pd.DataFrame | None = None
    n_filled: int = 0
    n_trimmed: int = 0
    steps: bool = False
    years: bool = False
    season_detected: bool = False

    @property
    def ids(self) -> list[str]:
        """The series ids, sorted."""
        return list(pd.unique(self.frame[self.roles.id]))

    @property
    def n_series(self) -> int:
        return int(self.frame[self.roles.id].nunique())

    def lengths(self) -> dict[str, int]:
        """Number of time steps of each series."""
        counts = self.frame.groupby(self.roles.id, sort=True).size()
        return {str(k): int(v) for k, v in counts.items()}

    def series(self, uid: str) -> pd.DataFrame:
        """The rows of one series."""
        out = self.frame[self.frame[self.roles.id] == uid]
        if out.empty:
            raise KeyError(uid)
        return out

    def label(self, uid: str) -> str:
        """How messages name a series: ``series 'A'``, or ``the series`` for a single one."""
        return f"series {uid!r}" if self.has_id else "the series"

    def to_arrays(self) -> list["SeriesArrays"]:
        """One :class:`~lstmkit.data.windows.SeriesArrays` per series, in id order.

        The future-covariate array runs on past the target over the rows of :attr:`future`.
        """
        from lstmkit.data.windows import SeriesArrays

        r = self.roles
        future_groups: dict[str, pd.DataFrame] = {}
        if self.future is not None and r.future_covariates:
            future_groups = {str(k): g for k, g in self.future.groupby(r.id, sort=False)}
        out = []
        for uid, g in self.frame.groupby(r.id, sort=True):
            uid = str(uid)
            fut = g[list(r.future_covariates)].to_numpy(np.float64)
            times = pd.DatetimeIndex(g[r.time])
            if uid in future_groups:
                fg = future_groups[uid]
                fut = np.concatenate([fut, fg[list(r.future_covariates)].to_numpy(np.float64)])
            out.append(
                SeriesArrays(
                    id=uid,
                    target=g[r.target].to_numpy(np.float64),
                    past=g[list(r.past_covariates)].to_numpy(np.float64),
                    future=fut,
                    times=times,
                )
            )
        return out


# --------------------------------------------------------------------------- cell parsing


def _numbers(col: pd.Series, name: str, src: TableSource, rows: np.ndarray) -> np.ndarray:
    """float64 values of a target or covariate column; NaN where missing."""
    values, _, bad, text = parse_numbers(col, _MISSING)
    src.refuse_first(bad, rows, name, lambda i: f"expected a number, got {text.iloc[i]!r}{_number_hint(text.iloc[i])}")

    def infinite(i: int) -> str:
        got = text.iloc[i] if text is not None else str(values[i])
        return f"expected a finite number, got {got!r}"

    src.refuse_first(np.isinf(values), rows, name, infinite)
    return values


def _number_hint(text: str) -> str:
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return " (remove the thousands separators)"
    if re.fullmatch(r"[-+]?\d+,\d+", text):
        return " (use a dot as the decimal mark)"
    return ""


#: Whole numbers from here on are not read as step numbers: compact dates (20240131) and Unix
#: times are left to the date reader.
_MAX_STEP = 10_000_000
#: A time column of whole numbers all within these years (those pandas can hold) reads as years.
YEARS = (1678, 2261)


def step_numbers(col: pd.Series) -> np.ndarray | None:
    """The time column's values when it holds plain step numbers (0, 1, 2, ..., as M4 in
    statsforecast's long format and the UCR/TimeEval files write them): every cell a whole
    number from 0 to below :data:`_MAX_STEP`, not all of them within :data:`YEARS` (those read
    as years). None otherwise, also when a cell is missing or not a number: the date reader
    then names it."""
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_bool_dtype(col) or len(col) == 0:
        return None
    if not pd.api.types.is_numeric_dtype(col):  # text: a first cell that is no number settles it
        try:
            float(str(col.iloc[0]))
        except ValueError:
            return None  # (dates: parsing a million of them as numbers cost a third of the read)
    values, missing, bad, _ = parse_numbers(col, _MISSING)
    if (missing | bad).any() or not np.isfinite(values).all() or not (values == np.round(values)).all():
        return None
    if values.min() < 0 or values.max() >= _MAX_STEP or (values.min() >= YEARS[0] and values.max() <= YEARS[1]):
        return None
    return values.astype(np.int64)


_UTC_OFFSET = r"\s*(?:Z|[+-]\d\d(?::?\d\d)?)$"


def _wall_clock_days(text: pd.Series, utc: pd.Series) -> pd.Series:
    """Times written with UTC offsets that change within the column (daylight saving time,
    or series in several zones), read in UTC: hourly local times are regular there (a wall clock
    skips or repeats an hour). Where every local time is a midnight (daily or coarser data)
    the local dates are kept instead, without the offsets: in UTC those midnights would fall
    an hour apart either side of a change."""
    try:
        wall = pd.to_datetime(text.str.replace(_UTC_OFFSET, "", regex=True), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return utc
    return wall if (wall == wall.dt.normalize()).all() else utc


def _year_numbers(col: pd.Series) -> np.ndarray | None:
    """The time column's years when it holds them as numbers (``1949``, or ``1700.0`` as pandas
    writes a float column of years), every one within :data:`YEARS`; else None. A text column
    is parsed as numbers only when its first cell is one (dates are not)."""
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_bool_dtype(col) or len(col) == 0:
        return None
    if not pd.api.types.is_numeric_dtype(col):
        try:
            float(str(col.iloc[0]))
        except ValueError:
            return None
    values, missing, bad, _ = parse_numbers(col, _MISSING)
    if (missing | bad).any() or not np.isfinite(values).all() or not (values == np.round(values)).all():
        return None
    if values.min() < YEARS[0] or values.max() > YEARS[1]:
        return None
    return values.astype(np.int64)


def _times(col: pd.Series, name: str, src: TableSource, rows: np.ndarray) -> pd.Series:
    """Datetime values of the time column; refuses missing and unreadable ones."""
    text = None
    numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
    if numeric or pd.api.types.is_datetime64_any_dtype(col):
        missing = col.isna().to_numpy()
    else:
        text = as_text(col).reset_index(drop=True)
        missing = missing_mask(text, _MISSING)
    src.refuse_first(missing, rows, name, "the time is missing; every row needs a time")
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.reset_index(drop=True)
    if numeric:
        values = col.to_numpy(np.float64)
        year = (values == np.round(values)) & (values >= YEARS[0]) & (values <= YEARS[1])
        src.refuse_first(~year, rows, name, lambda i: f"expected a date or a year, got the number {col.iloc[i]}; "
                         "write dates such as 2024-01-31")
        return pd.to_datetime(pd.Series([f"{y:04d}" for y in values.astype(np.int64).tolist()]), format="%Y")
    assert text is not None
    years = _year_numbers(text)  # 1700.0: years written with a decimal point
    if years is not None:
        return pd.to_datetime(pd.Series([f"{y:04d}" for y in years.tolist()]), format="%Y")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kwargs in ({}, {"format": "ISO8601"}, {"utc": True}, {"format": "ISO8601", "utc": True}):
            try:
                parsed = pd.to_datetime(text, **kwargs)
            except (ValueError, TypeError, OverflowError):
                continue
            if pd.api.types.is_datetime64_any_dtype(parsed):  # not pandas' objects of mixed UTC offsets
                return _wall_clock_days(text, parsed) if kwargs.get("utc") else parsed
        bad = np.zeros(len(text), dtype=bool)
        try:
            bad = pd.to_datetime(text, errors="coerce").isna().to_numpy()
        except (ValueError, TypeError, OverflowError):
            pass
        if not bad.any():  # parse failed for a reason coerce hides: name the first row
            bad[0] = True

    def unreadable(i: int) -> str:
        got = text.iloc[i]
        steps = (f"; whole numbers are read as step numbers (0, 1, 2, ...) only below {_MAX_STEP} and as "
                 "dates when they are written as 20240131: write dates" if got.isdigit() else "")
        day_first = re.fullmatch(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b.*", got)
        if day_first and int(day_first.group(1)) > 12:  # 13/01/2021: the column's earlier rows read month first
            d, m, y = day_first.groups()
            steps = (f"; day-first dates are not read (is 01/02/{y} the 1st of February or the 2nd of January?): "
                     f"write them year first, as {y}-{int(m):02d}-{int(d):02d}")
        return (f"cannot read {got!r} as a date; expected a date such as 2024-01-31 or 2024-01-31 13:00, "
                f"in one format for the whole column{steps}")

    src.refuse_first(bad, rows, name, unreadable)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- validation


def _check_roles(roles: ColumnRoles, has_id: bool) -> None:
    named: list[tuple[str, str]] = [("time", roles.time), ("target", roles.target)]
    if has_id:
        named.append(("id", roles.id))
    named += [("past covariate", c) for c in roles.past_covariates]
    named += [("future covariate", c) for c in roles.future_covariates]
    seen: dict[str, str] = {}
    for role, name in named:
        if not name:
            raise InputError(f"the {role} column needs a name; got an empty one", param=_PARAMS[role])
        if name in seen:
            raise InputError(f"column {name!r} is named as both the {seen[name]} and the {role}; give each column one role",
                             param=_PARAMS[role])
        seen[name] = role


#: the parameter of :func:`read_timeseries` that names the column of each role
_PARAMS = {
    "time": "time",
    "target": "target",
    "id": "id",
    "past covariate": "past_covariates",
    "future covariate": "future_covariates",
}


def _require_columns(table: pd.DataFrame, roles: ColumnRoles, id_given: bool, src: TableSource) -> bool:
    """Check the named columns exist; return whether the input has an id column."""
    columns = [str(c) for c in table.columns]
    wanted: list[tuple[str, str]] = [("time", roles.time), ("target", roles.target)]
    if id_given:
        wanted.append(("id", roles.id))
    wanted += [("past covariate", c) for c in roles.past_covariates]
    wanted += [("future covariate", c) for c in roles.future_covariates]
    for role, name in wanted:
        if name not in columns:
            raise src.fail(
                f"no column {name!r} (the {role} column){column_hint(name, columns)}; "
                f"the columns are: {show(columns, None)}; name the {role} column with {param_ref(_PARAMS[role])}",
                param=_PARAMS[role], expected=f"a column of {src.name}", got=name,
            )
    return id_given or roles.id in columns


def read_timeseries(
    data: PathOrFrame,
    *,
    time: str = DEFAULT_TIME,
    target: str = DEFAULT_TARGET,
    id: str | None = None,
    past_covariates: Sequence[str] = (),
    future_covariates: Sequence[str] = (),
    freq: str | None = None,
    fill: str | None = None,
    season_length: int | None = None,
) -> TimeSeriesData:
    """Read and validate one or many time series.

    Args:
        data: a CSV path (any extension but ``.parquet``; ``;``, tab and ``|`` separators are
            detected from the header line; gzip is read), a Parquet path, or a DataFrame.
        time, target: names of the time and target columns.
        id: name of the series-id column. None: ``"unique_id"`` if there is such a column,
            otherwise the input is one series. A name that is given must exist.
        past_covariates: numeric columns known only up to the present.
        future_covariates: numeric columns known in advance; rows at the end of a series with
            an empty target carry their future values (see :attr:`TimeSeriesData.future`).
        freq: a pandas frequency alias; None infers it from every series (they must agree).
        fill: how to fill missing values and gaps: ``"ffill"`` (then ``bfill`` for leading
            ones), ``"bfill"`` (then ``ffill`` for trailing ones), ``"interpolate"`` (linear;
            the edges take the nearest value) or ``"zero"``. None refuses them.
        season_length: override the season length derived from the frequency (or, for a time
            column of step numbers, read from the values' autocorrelation).

    Raises:
        InputError: one line naming the file, column and row, for anything wrong.
    """
    if fill is not None and fill not in FILL_METHODS:
        raise bad_value("fill", f"one of {', '.join(FILL_METHODS)}", fill)
    if season_length is not None:
        season_length = check_whole("season_length", season_length)
    freq = normalize_freq(freq) if freq is not None else None
    id_given = id is not None
    roles = ColumnRoles(
        time=str(time),
        target=str(target),
        id=str(id) if id_given else DEFAULT_ID,
        past_covariates=tuple(str(c) for c in past_covariates),
        future_covariates=tuple(str(c) for c in future_covariates),
    )
    table, src = open_table(data, _WORDING, _OTHER_FORMATS)
    has_id = _require_columns(table, roles, id_given, src)
    _check_roles(roles, has_id)

    # Rows with every cell empty are blank lines: skip them (row numbers stay those of the file).
    keep_cols = [roles.time, roles.target, *roles.covariates] + ([roles.id] if has_id else [])
    blank = blank_rows(table, _MISSING)
    rows = np.flatnonzero(~blank)
    if len(rows) == 0:
        if src.kind == "csv":
            raise src.fail("the file has a header (row 1) but no data rows; expected data from row 2 on")
        raise src.fail("has no data rows, only empty ones; expected at least one row of data")
    table = table.iloc[rows][keep_cols].reset_index(drop=True)

    if has_id:
        ids = as_text(table[roles.id])
        src.refuse_first(missing_mask(ids, _MISSING), rows, roles.id, "the series id is missing; every row needs one")
        id_values = ids.to_numpy(dtype=object)
    else:
        id_values = np.full(len(table), SINGLE_SERIES_ID, dtype=object)

    step_values = step_numbers(table[roles.time])
    steps = step_values is not None
    if steps and freq is not None and not isinstance(to_offset(freq), pd.offsets.Second):
        raise InputError(
            f"{param_ref('freq')}: {src.name}'s time column {roles.time!r} holds step numbers (0, 1, 2, ...), "
            f"which have no calendar frequency; leave {param_ref('freq')} out "
            f"({param_ref('season_length')} gives the season)",
            param="freq", expected="no frequency for step numbers", got=freq,
        )
    frame = pd.DataFrame(
        {
            roles.id: pd.Series(id_values, dtype=object).astype(str),
            roles.time: (pd.Series(STEP_ORIGIN + pd.to_timedelta(step_values, unit="s")) if steps
                         else _times(table[roles.time], roles.time, src, rows)),
        }
    )
    with step_times() if steps else contextlib.nullcontext():  # (a caller's step_times holds otherwise)
        ts = _validated(frame, table, roles, src, rows, has_id, freq, fill, season_length, steps)
    ts.years = not steps and _year_numbers(table[roles.time]) is not None  # output writes years back
    return ts


def _validated(frame: pd.DataFrame, table: pd.DataFrame, roles: ColumnRoles, src: TableSource, rows: np.ndarray,
               has_id: bool, freq: str | None, fill: str | None, season_length: int | None,
               steps: bool) -> TimeSeriesData:
    """The rest of :func:`read_timeseries`: the values, then one row per time on one grid."""
    for c in roles.values:
        frame[c] = _numbers(table[c], c, src, rows)
    frame["_row"] = rows
    frame = frame.sort_values([roles.id, roles.time], kind="mergesort").reset_index(drop=True)
    single = not has_id

    def label(uid: str) -> str:
        return "the series" if single else f"series {uid!r}"

    check_duplicates(frame, roles, src, label)
    frame, future = split_future(frame, roles)
    if future is not None:
        lost = sorted(set(future[roles.id]) - set(frame[roles.id]))
        if lost:
            raise src.fail(f"{label(lost[0])} has no values in column {roles.target!r}; expected numbers in it")

    n_trimmed = 0
    if fill is None:  # empty cells first: they have a row to name
        refuse_missing_cells(frame, roles, list(roles.values), src, label)
        if future is not None:
            refuse_missing_cells(future, roles, list(roles.future_covariates), src, label, future=True)
    else:  # fill only between a series' first and last target values
        frame, n_trimmed = trim_target_edges(frame, roles)
    if freq is None:
        freq = common_freq(frame, roles, src, label)
    check_grid(frame, roles, freq, src, label)
    if future is not None:
        check_grid(future, roles, freq, src, label, after=frame.groupby(roles.id)[roles.time].max())

    n_filled = 0
    frame, n = fill_missing(frame, roles, list(roles.values), freq, fill, src, label)
    n_filled += n
    if future is not None:
        last = frame.groupby(roles.id)[roles.time].max()
        future, n = fill_missing(
            future, roles, list(roles.future_covariates), freq, fill, src, label, after=last
        )
        n_filled += n
        future = future[[roles.id, roles.time, *roles.future_covariates]].reset_index(drop=True)

    frame = frame[[roles.id, roles.time, *roles.values]].reset_index(drop=True)
    detected = season_length is None and steps
    if season_length is not None:
        season = int(season_length)
    elif steps:  # step numbers carry no calendar: the season is read from the values
        season = detect_season([g.to_numpy(np.float64) for _, g in frame.groupby(roles.id, sort=True)[roles.target]])
    else:
        season = season_length_for(freq)
    return TimeSeriesData(
        frame=frame,
        roles=roles,
        freq=freq,
        season_length=season,
        source=src.name,
        has_id=has_id,
        future=future,
        n_filled=n_filled,
        n_trimmed=n_trimmed,
        steps=steps,
        season_detected=detected,
    )


