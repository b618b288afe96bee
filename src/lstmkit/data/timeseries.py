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

This module imports pandas and numpy, never torch.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, Union

import numpy as np
import pandas as pd

from lstmkit.errors import InputError

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

_FILL_HINT = "pass --fill ffill, bfill, interpolate or zero"
_FREQ_EXAMPLES = "D, B, W-SUN, MS, ME, QS, YS, h or 15min"
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
_CHUNK = 1 << 20

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
            :func:`season_length_for`.
        source: the file as the user named it, or ``"DataFrame"``.
        has_id: False when the input was one series with no id column (the frame then has an
            id column all ``"series"``, which output should leave out).
        future: rows past the last target of each series holding the known-future covariates
            (columns ``[id, time, *future_covariates]``), or None when there are none.
        n_filled: how many values ``fill`` supplied (gaps and empty cells).
    """

    frame: pd.DataFrame
    roles: ColumnRoles
    freq: str
    season_length: int
    source: str = "DataFrame"
    has_id: bool = True
    future: pd.DataFrame | None = None
    n_filled: int = 0

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


# --------------------------------------------------------------------------- frequency


_LEGACY_ALIASES = {
    "M": "ME",
    "BM": "BME",
    "SM": "SME",
    "Q": "QE",
    "BQ": "BQE",
    "Y": "YE",
    "A": "YE",
    "BY": "BYE",
    "BA": "BYE",
    "AS": "YS",
    "BAS": "BYS",
    "H": "h",
    "BH": "bh",
    "T": "min",
    "S": "s",
    "L": "ms",
    "U": "us",
    "N": "ns",
}


_MODERN_ALIASES = {
    "ME": "M",
    "BME": "BM",
    "SME": "SM",
    "QE": "Q",
    "BQE": "BQ",
    "YE": "A",
    "BYE": "BA",
    "YS": "AS",
    "BYS": "BAS",
    "h": "H",
    "bh": "BH",
    "min": "T",
    "s": "S",
    "ms": "L",
    "us": "U",
    "ns": "N",
}


def normalize_freq(freq: str) -> str:
    """Check a pandas frequency alias and return its canonical spelling.

    Old aliases that pandas >= 2.2 renamed (``M``, ``Q``, ``Y``/``A``, ``H``, ``T``, ``S``) are
    accepted and translated. Raises :class:`InputError` naming examples when ``freq`` is not
    a frequency.
    """
    text = str(freq).strip()
    try:
        return _to_offset(text).freqstr
    except ValueError:
        pass
    m = re.fullmatch(r"(\d*)([A-Za-z]+)(-[A-Za-z]+)?", text)
    if m:
        # pandas >= 2.2 renamed M -> ME, H -> h, ...; accept either spelling on any pandas
        for alias in (_LEGACY_ALIASES.get(m.group(2)), _MODERN_ALIASES.get(m.group(2))):
            if alias is None:
                continue
            try:
                return _to_offset(m.group(1) + alias + (m.group(3) or "")).freqstr
            except ValueError:
                pass
    raise InputError(f"--freq: {text!r} is not a pandas frequency; use an alias such as {_FREQ_EXAMPLES}")


def _to_offset(freq: str) -> pd.DateOffset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.tseries.frequencies.to_offset(freq)


def season_length_for(freq: str) -> int:
    """Number of steps in one season of a series with frequency ``freq``.

    The season is the natural cycle of the time step: a year for monthly (12), quarterly (4),
    semi-monthly (24) and weekly (52) data, a week for daily (7) and business-daily (5) data,
    a day for hourly (24) and minutely (1440) data, an hour for data in seconds (3600). Yearly
    data, and anything else, has no season (1). A multiple of the step divides the cycle when
    it can (``2h`` -> 12, ``15min`` -> 96, ``2W`` -> 26) and gives 1 when it cannot (``5D``).
    """
    off = _to_offset(normalize_freq(freq))
    o = pd.offsets
    table: list[tuple[tuple[type, ...], int]] = [
        ((o.YearBegin, o.YearEnd, o.BYearBegin, o.BYearEnd), 1),
        ((o.QuarterBegin, o.QuarterEnd, o.BQuarterBegin, o.BQuarterEnd), 4),
        ((o.SemiMonthBegin, o.SemiMonthEnd), 24),
        ((o.MonthBegin, o.MonthEnd, o.BusinessMonthBegin, o.BusinessMonthEnd), 12),
        ((o.Week,), 52),
        ((o.BusinessDay,), 5),
        ((o.Day,), 7),
        ((o.Hour,), 24),
        ((o.Minute,), 1440),
        ((o.Second,), 3600),
    ]
    for classes, cycle in table:
        if type(off) in classes:
            n = abs(int(off.n)) or 1
            return cycle // n if cycle % n == 0 else 1
    return 1


def _infer_freq(times: pd.DatetimeIndex) -> str | None:
    """The frequency of sorted, unique ``times``, tolerating gaps; None if there is none.

    ``pandas.infer_freq`` needs every step present; when it fails (a gap), it is asked about
    short runs of consecutive times along the series, and the coarsest candidate whose grid
    holds every time is taken.
    """
    n = len(times)
    if n < 3:
        return None
    whole = _pandas_infer(times)
    if whole is not None:
        return whole
    k = 3
    positions = np.unique(np.linspace(0, n - k, num=min(40, n - k + 1)).astype(int))
    counts: Counter[str] = Counter()
    for p in positions:
        f = _pandas_infer(times[p : p + k])
        if f is not None:
            counts[f] += 1
    # the commonest and the smallest step, for series whose gaps leave no 3 evenly spaced
    # times: kept only when the series holds at least half of that grid
    from_steps: set[str] = set()
    steps = pd.Series(times[1:] - times[:-1])
    for step in {steps.mode().iloc[0], steps.min()}:
        days = step / pd.Timedelta(days=1)
        if step == pd.Timedelta(days=7):
            f = f"W-{times[0].day_name()[:3].upper()}"
        elif days == int(days) and days >= 1:
            f = "D" if days == 1 else f"{int(days)}D"
        elif step > pd.Timedelta(0):
            f = _to_offset(step).freqstr
        else:
            continue
        if f not in counts:
            from_steps.add(f)
    best: tuple[int, str] | None = None
    for f in [f for f, _ in counts.most_common()] + sorted(from_steps):
        grid = _grid(times[0], times[-1], f)
        if grid is None or not times.isin(grid).all():
            continue
        if f in from_steps and len(times) < 0.5 * len(grid):
            continue
        if best is None or len(grid) < best[0]:
            best = (len(grid), f)
    return None if best is None else best[1]


def _pandas_infer(times: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            f = pd.infer_freq(times)
        except (TypeError, ValueError):
            return None
    if f is None:
        return None
    return f if isinstance(f, str) else f.freqstr


def _grid(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> pd.DatetimeIndex | None:
    try:
        return pd.date_range(start, end, freq=freq)
    except (ValueError, OverflowError):
        return None


# --------------------------------------------------------------------------- reading


class _Source:
    """Where rows come from, for the messages."""

    def __init__(self, name: str, kind: str, index: pd.Index | None = None):
        self.name = name
        self.kind = kind  # "csv", "parquet" or "frame"
        self.index = index

    def row(self, pos: int) -> str:
        """Name the row at position ``pos`` of the table as read."""
        if self.kind == "csv":
            return f"row {pos + 2}"
        if self.kind == "parquet":
            return f"row {pos + 1}"
        assert self.index is not None
        return f"index {_plain(self.index[pos])}"

    def rows(self, first: int, last: int) -> str:
        """Name the rows from position ``first`` to ``last``."""
        if self.kind == "frame":
            assert self.index is not None
            return f"index {_plain(self.index[first])} to {_plain(self.index[last])}"
        a, b = self.row(first), self.row(last)
        return f"rows {a[4:]} to {b[4:]}"

    def fail(self, message: str) -> InputError:
        return InputError(f"{self.name}: {message}")


def _plain(label) -> str:
    """An index label as a person writes it: 12, 'a', 2020-01-01."""
    if isinstance(label, str):
        return repr(label)
    if isinstance(label, (pd.Timestamp, np.datetime64)):
        return _fmt_time(label)
    if isinstance(label, np.generic):
        return str(label.item())
    return str(label)


def _sniff_bytes(path: Path, src: _Source) -> str:
    """Check the file is there and readable; return "parquet", "csv" or "gzip"."""
    if not path.exists():
        raise src.fail(f"no such file; check the path (relative paths start at {os.getcwd()})")
    if path.is_dir():
        raise src.fail("is a directory; expected a CSV or Parquet file")
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise src.fail(f"cannot be read ({exc.strerror or exc}); check its permissions") from None
    if size == 0:
        raise src.fail("the file is empty (0 bytes); expected a header line such as 'ds,y' and data rows")
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PK\x03\x04"):
        raise src.fail("is a ZIP archive (an Excel workbook?), not CSV text; save it as CSV (UTF-8) or Parquet")
    suffix = path.suffix.lower()
    if suffix == ".parquet" or suffix == ".pq":
        raise src.fail("is named .parquet but is not a Parquet file (no PAR1 magic bytes); check the file")
    if suffix in _OTHER_FORMATS:
        raise src.fail(f"is {_OTHER_FORMATS[suffix]} ({suffix}); expected a CSV or Parquet file")
    _check_text(path, src)
    return "csv"


def _check_text(path: Path, src: _Source) -> None:
    """Refuse binary and non-UTF-8 files, naming the line of the first bad byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            nul = chunk.find(b"\x00")
            if nul >= 0:
                where = line + chunk.count(b"\n", 0, nul)
                raise src.fail(
                    f"is a binary file, not CSV text (a NUL byte on line {where}); "
                    "expected a UTF-8 CSV or a Parquet file"
                )
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                pos = max(0, min(len(chunk), exc.start - (len(exc.object) - len(chunk))))
                bad = chunk[pos] if pos < len(chunk) else exc.object[exc.start]
                where = line + chunk.count(b"\n", 0, pos)
                raise src.fail(
                    f"line {where} is not UTF-8 text (byte 0x{bad:02x} at offset {offset + pos}); "
                    "save the file as UTF-8 (in Excel: 'CSV UTF-8')"
                ) from None
            if final:
                return
            line += chunk.count(b"\n")
            offset += len(chunk)


def _separator(path: Path, compression: str | None) -> str:
    """Comma, unless the header line has none and has semicolons or tabs."""
    import gzip

    opener = gzip.open if compression == "gzip" else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as fh:  # type: ignore[operator]
        header = fh.readline()
    if "," not in header:
        for sep in (";", "\t", "|"):
            if sep in header:
                return sep
    return ","


def _read_table(data: PathOrFrame) -> tuple[pd.DataFrame, _Source]:
    if isinstance(data, pd.DataFrame):
        if data.index.names != [None] and not isinstance(data.index, pd.RangeIndex):
            data = data.reset_index()  # a time or id held in the index becomes a column
        src = _Source("DataFrame", "frame", data.index)
        if len(data.columns) == 0:
            raise src.fail("has no columns; expected a time column and a value column")
        if len(data) == 0:
            raise src.fail("has no rows; expected at least one row of data")
        return data.reset_index(drop=True), src
    if not isinstance(data, (str, os.PathLike)):
        raise InputError(f"expected a file path or a pandas DataFrame, got {type(data).__name__}")
    path = Path(data).expanduser()
    src = _Source(str(data), "csv")
    kind = _sniff_bytes(path, src)
    if kind == "parquet":
        src.kind = "parquet"
        try:
            table = pd.read_parquet(path)
        except ImportError:
            raise InputError(
                f"{src.name}: reading Parquet needs pyarrow, which cannot be imported; pip install pyarrow, or give a CSV file"
            ) from None
        except Exception as exc:  # pyarrow raises its own classes
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise src.fail(f"cannot be read as Parquet ({first}); expected a Parquet file") from None
        if len(table.columns) == 0:
            raise src.fail("the Parquet file has no columns; expected a time column and a value column")
        if len(table) == 0:
            raise src.fail("the Parquet file has no rows; expected at least one row of data")
        return table.reset_index(drop=True), src
    compression = "gzip" if kind == "gzip" else None
    try:
        table = pd.read_csv(
            path,
            sep=_separator(path, compression),
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,
            encoding="utf-8-sig",
            compression=compression,
        )
    except pd.errors.EmptyDataError:
        raise src.fail("the file has no header line (only blank lines); expected a header such as 'ds,y' and data rows") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")
        raise src.fail(f"cannot be read as CSV ({detail}); check the separators and quotes on that line") from None
    except UnicodeDecodeError as exc:
        raise src.fail(f"is not UTF-8 text ({exc.reason}); save the file as UTF-8") from None
    table.columns = [str(c).strip() for c in table.columns]
    if len(table) == 0:
        raise src.fail("the file has a header (row 1) but no data rows; expected data from row 2 on")
    return table, src


# --------------------------------------------------------------------------- cell parsing


def _case_variants(word: str) -> set[str]:
    out = {""}
    for ch in word:
        out = {p + c for p in out for c in {ch.lower(), ch.upper()}}
    return out


#: every spelling of the missing tokens, upper or lower case letter by letter
_MISSING_SPELLINGS = frozenset(v for t in MISSING_TOKENS for v in _case_variants(t))


def _as_text(col: pd.Series) -> pd.Series:
    """Cells as stripped text; a missing cell (None, NaN) is ""."""
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)):
        try:
            stripped = col.str.strip()
        except AttributeError:
            stripped = None
        if stripped is not None:
            odd = stripped.isna().to_numpy() & col.notna().to_numpy()
            if not odd.any():  # all text (or missing): the fast way
                return stripped.fillna("").astype(object)
    return col.astype(object).where(col.notna(), "").astype(str).str.strip().astype(object)


def _missing_text(text: pd.Series) -> np.ndarray:
    """True where stripped text is a missing value."""
    return text.isin(_MISSING_SPELLINGS).to_numpy()


def _missing(col: pd.Series) -> np.ndarray:
    """True where a cell is a missing value."""
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
        return col.isna().to_numpy()
    return _missing_text(_as_text(col))


def _blank_rows(table: pd.DataFrame) -> np.ndarray:
    """True for rows with every cell missing (blank lines of a CSV)."""
    blank = np.ones(len(table), dtype=bool)
    for c in table.columns:
        col = table[c]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
            blank &= col.isna().to_numpy()
        else:
            idx = np.flatnonzero(blank)  # only the rows still blank so far
            if len(idx) == 0:
                break
            blank[idx] = _missing(col.iloc[idx])
    return blank


def _numbers(col: pd.Series, name: str, src: _Source, rows: np.ndarray) -> np.ndarray:
    """float64 values of a target or covariate column; NaN where missing."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype(np.float64).to_numpy()
    if pd.api.types.is_numeric_dtype(col):
        values = pd.to_numeric(col, errors="coerce").astype(np.float64).to_numpy()
        text = None
    else:
        text = _as_text(col)
        missing = _missing_text(text)
        values = pd.to_numeric(text.where(~missing, None), errors="coerce").astype(np.float64).to_numpy()
        bad = ~missing & np.isnan(values)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            got = text.iloc[i]
            raise src.fail(f"{src.row(int(rows[i]))}, column {name!r}: expected a number, got {got!r}{_number_hint(got)}")
    inf = np.isinf(values)
    if inf.any():
        i = int(np.flatnonzero(inf)[0])
        got = text.iloc[i] if text is not None else str(values[i])
        raise src.fail(f"{src.row(int(rows[i]))}, column {name!r}: expected a finite number, got {got!r}")
    return values


def _number_hint(text: str) -> str:
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", text):
        return " (remove the thousands separators)"
    if re.fullmatch(r"[-+]?\d+,\d+", text):
        return " (use a dot as the decimal mark)"
    return ""


def _times(col: pd.Series, name: str, src: _Source, rows: np.ndarray) -> pd.Series:
    """Datetime values of the time column; refuses missing and unreadable ones."""
    text = None
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
        missing = col.isna().to_numpy()
    else:
        text = _as_text(col).reset_index(drop=True)
        missing = _missing_text(text)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise src.fail(f"{src.row(int(rows[i]))}, column {name!r}: the time is missing; every row needs a time")
    if pd.api.types.is_datetime64_any_dtype(col):
        return col.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        values = col.to_numpy(np.float64)
        if np.all(values == np.round(values)) and np.all((values >= 1) & (values <= 9999)):
            return pd.to_datetime(pd.Series(values.astype(np.int64).astype(str)), format="%Y")
        i = int(np.flatnonzero(~((values == np.round(values)) & (values >= 1) & (values <= 9999)))[0])
        raise src.fail(
            f"{src.row(int(rows[i]))}, column {name!r}: expected a date or a year, got the number {col.iloc[i]}; "
            "write dates such as 2024-01-31"
        )
    assert text is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kwargs in ({}, {"format": "ISO8601"}, {"utc": True}, {"format": "ISO8601", "utc": True}):
            try:
                return pd.to_datetime(text, **kwargs)
            except (ValueError, TypeError, OverflowError):
                continue
        parsed = pd.to_datetime(text, errors="coerce")
        bad = parsed.isna().to_numpy()
        if not bad.any():  # pragma: no cover - parse failed for a reason coerce hides
            bad[:] = False
            bad[0] = True
        i = int(np.flatnonzero(bad)[0])
    got = text.iloc[i]
    steps = "; plain step numbers are not dates: write dates or four-digit years" if got.isdigit() else ""
    raise src.fail(
        f"{src.row(int(rows[i]))}, column {name!r}: cannot read {got!r} as a date; "
        f"expected a date such as 2024-01-31 or 2024-01-31 13:00, in one format for the whole column{steps}"
    )


def _column_hint(name: str, columns: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    lower = [c for c in columns if c.lower() == name.lower()]
    if lower:
        return f" (did you mean {lower[0]!r}?)"
    if close:
        return f" (did you mean {close[0]!r}?)"
    return ""


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
            raise InputError(f"the {role} column needs a name; got an empty one")
        if name in seen:
            raise InputError(f"column {name!r} is named as both the {seen[name]} and the {role}; give each column one role")
        seen[name] = role


_FLAGS = {
    "time": "--time",
    "target": "--target",
    "id": "--id",
    "past covariate": "--covariates",
    "future covariate": "--future-covariates",
}


def _require_columns(table: pd.DataFrame, roles: ColumnRoles, id_given: bool, src: _Source) -> bool:
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
                f"no column {name!r} (the {role} column){_column_hint(name, columns)}; "
                f"the columns are: {', '.join(columns)}; name the {role} column with {_FLAGS[role]}"
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
        season_length: override the season length derived from the frequency.

    Raises:
        InputError: one line naming the file, column and row, for anything wrong.
    """
    if fill is not None and fill not in FILL_METHODS:
        raise InputError(f"--fill: expected one of {', '.join(FILL_METHODS)}; got {fill!r}")
    if season_length is not None and (int(season_length) != season_length or season_length < 1):
        raise InputError(f"--season-length: expected a whole number >= 1; got {season_length!r}")
    freq = normalize_freq(freq) if freq is not None else None
    id_given = id is not None
    roles = ColumnRoles(
        time=str(time),
        target=str(target),
        id=str(id) if id_given else DEFAULT_ID,
        past_covariates=tuple(str(c) for c in past_covariates),
        future_covariates=tuple(str(c) for c in future_covariates),
    )
    table, src = _read_table(data)
    has_id = _require_columns(table, roles, id_given, src)
    _check_roles(roles, has_id)

    # Rows with every cell empty are blank lines: skip them (row numbers stay those of the file).
    keep_cols = [roles.time, roles.target, *roles.covariates] + ([roles.id] if has_id else [])
    blank = _blank_rows(table)
    rows = np.flatnonzero(~blank)
    if len(rows) == 0:
        if src.kind == "csv":
            raise src.fail("the file has a header (row 1) but no data rows; expected data from row 2 on")
        raise src.fail("has no data rows, only empty ones; expected at least one row of data")
    table = table.iloc[rows][keep_cols].reset_index(drop=True)

    if has_id:
        ids = _as_text(table[roles.id])
        empty = _missing_text(ids)
        if empty.any():
            i = int(np.flatnonzero(empty)[0])
            raise src.fail(f"{src.row(int(rows[i]))}, column {roles.id!r}: the series id is missing; every row needs one")
        id_values = ids.to_numpy(dtype=object)
    else:
        id_values = np.full(len(table), SINGLE_SERIES_ID, dtype=object)

    frame = pd.DataFrame(
        {
            roles.id: pd.Series(id_values, dtype=object).astype(str),
            roles.time: _times(table[roles.time], roles.time, src, rows),
        }
    )
    for c in roles.values:
        frame[c] = _numbers(table[c], c, src, rows)
    frame["_row"] = rows
    frame = frame.sort_values([roles.id, roles.time], kind="mergesort").reset_index(drop=True)
    single = not has_id

    def label(uid: str) -> str:
        return "the series" if single else f"series {uid!r}"

    _check_duplicates(frame, roles, src, label)
    frame, future = _split_future(frame, roles)
    if future is not None:
        lost = sorted(set(future[roles.id]) - set(frame[roles.id]))
        if lost:
            raise src.fail(f"{label(lost[0])} has no values in column {roles.target!r}; expected numbers in it")

    if fill is None:  # empty cells first: they have a row to name
        _refuse_missing_cells(frame, roles, list(roles.values), src, label)
        if future is not None:
            _refuse_missing_cells(future, roles, list(roles.future_covariates), src, label, future=True)
    if freq is None:
        freq = _common_freq(frame, roles, src, label)
    _check_grid(frame, roles, freq, src, label)
    if future is not None:
        _check_grid(future, roles, freq, src, label, after=frame.groupby(roles.id)[roles.time].max())

    n_filled = 0
    frame, n = _fill_missing(frame, roles, list(roles.values), freq, fill, src, label)
    n_filled += n
    if future is not None:
        last = frame.groupby(roles.id)[roles.time].max()
        future, n = _fill_missing(
            future, roles, list(roles.future_covariates), freq, fill, src, label, after=last
        )
        n_filled += n
        future = future[[roles.id, roles.time, *roles.future_covariates]].reset_index(drop=True)

    frame = frame[[roles.id, roles.time, *roles.values]].reset_index(drop=True)
    season = int(season_length) if season_length is not None else season_length_for(freq)
    return TimeSeriesData(
        frame=frame,
        roles=roles,
        freq=freq,
        season_length=season,
        source=src.name,
        has_id=has_id,
        future=future,
        n_filled=n_filled,
    )


def _check_duplicates(frame: pd.DataFrame, roles: ColumnRoles, src: _Source, label) -> None:
    dup = frame.duplicated([roles.id, roles.time], keep=False).to_numpy()
    if not dup.any():
        return
    rows = frame.loc[dup, [roles.id, roles.time, "_row"]]
    # the first duplicate in file order, with the row it repeats
    second = frame.loc[frame.duplicated([roles.id, roles.time], keep="first")].sort_values("_row").iloc[0]
    same = rows[(rows[roles.id] == second[roles.id]) & (rows[roles.time] == second[roles.time])]
    first_row = int(same["_row"].min())
    t = _fmt_time(second[roles.time])
    raise src.fail(
        f"{src.row(int(second['_row']))}: {label(second[roles.id])} has time {t} twice "
        f"(also at {src.row(first_row)}); each series needs one row per time: remove or aggregate the duplicates"
    )


def _split_future(frame: pd.DataFrame, roles: ColumnRoles) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Move the rows after the last target of each series to the future frame."""
    if not roles.future_covariates:
        return frame, None
    has_y = frame[roles.target].notna()
    # position in the series counted from its end; rows after the last non-missing target
    rev_cum = has_y[::-1].groupby(frame[roles.id][::-1]).cumsum()[::-1]
    tail = (rev_cum == 0).to_numpy()
    return frame.loc[~tail].reset_index(drop=True), frame.loc[tail].reset_index(drop=True)


def _spans(frame: pd.DataFrame, roles: ColumnRoles) -> list[tuple[str, int, int]]:
    """``(id, start, stop)`` of each series in a frame sorted by id."""
    ids = frame[roles.id].to_numpy(dtype=object)
    if len(ids) == 0:
        return []
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.r_[0, change]
    stops = np.r_[change, len(ids)]
    return [(str(ids[a]), int(a), int(b)) for a, b in zip(starts, stops)]


def _common_freq(frame: pd.DataFrame, roles: ColumnRoles, src: _Source, label) -> str:
    """Infer the frequency of every series and check they agree."""
    spans = _spans(frame, roles)
    all_times = pd.DatetimeIndex(frame[roles.time])
    all_rows = frame["_row"].to_numpy()
    chosen: tuple[str, str] | None = None
    for uid, a, b in spans:
        times = all_times[a:b]
        if len(times) < 3:
            continue
        f = None
        if chosen is not None:
            grid = _grid(times[0], times[-1], chosen[1])
            if grid is not None and times.isin(grid).all():
                if len(times) >= 0.5 * len(grid):
                    continue
                # sparse under the common frequency: gaps, or another frequency?
                f = _infer_freq(times)
                own = None if f is None else _grid(times[0], times[-1], f)
                if own is None or len(own) >= len(grid):
                    continue
        f = f or _infer_freq(times)
        if f is None:
            rows = all_rows[a:b]
            shown = ", ".join(_fmt_time(t) for t in times[:4]) + (", ..." if len(times) > 4 else "")
            raise src.fail(
                f"cannot infer the frequency of {label(uid)} ({src.rows(int(rows.min()), int(rows.max()))}): "
                f"its times are not evenly spaced ({shown}); pass --freq, e.g. --freq D"
            )
        if chosen is None:
            chosen = (uid, f)
        else:
            raise src.fail(
                f"{label(chosen[0])} has frequency {chosen[1]} but {label(uid)} has {f}; "
                "all series must share one frequency: resample them, or pass --freq (with --fill for the gaps)"
            )
    if chosen is None:
        uid, a, b = spans[0]
        n = b - a
        raise src.fail(
            f"cannot infer the frequency: {label(uid)} has only {n} time step{'s' if n != 1 else ''} "
            "(3 needed); pass --freq, e.g. --freq D"
        )
    return normalize_freq(chosen[1])


def _starts(spans, all_times: pd.DatetimeIndex, off, after) -> list[pd.Timestamp]:
    """Where each series' grid starts: its first time, or one step after ``after[id]``."""
    out = []
    for uid, a, _ in spans:
        if after is not None and uid in after.index:
            out.append(after[uid] + off)
        else:
            out.append(all_times[a])
    return out


def _check_grid(frame: pd.DataFrame, roles: ColumnRoles, freq: str, src: _Source, label, after=None) -> None:
    """Every time must be a whole number of ``freq`` steps after the series' first time
    (after its last observed time, for future rows)."""
    off = _to_offset(freq)
    spans = _spans(frame, roles)
    all_times = pd.DatetimeIndex(frame[roles.time])
    all_rows = frame["_row"].to_numpy()
    for (uid, a, b), start in zip(spans, _starts(spans, all_times, off, after)):
        times = all_times[a:b]
        if not off.is_on_offset(start):
            raise src.fail(
                f"{src.row(int(all_rows[a]))}, column {roles.time!r}: time {_fmt_time(start)} of {label(uid)} is not a "
                f"{freq} time (the next one is {_fmt_time(off.rollforward(start))}); check the times or pass the right --freq"
            )
        on = times.isin(pd.date_range(start, times[-1], freq=off))
        if not on.all():
            bad = int(np.flatnonzero(~on)[0])
            base = start if after is None else start - off
            raise src.fail(
                f"{src.row(int(all_rows[a + bad]))}, column {roles.time!r}: time {_fmt_time(times[bad])} of {label(uid)} "
                f"is not a whole number of {freq} steps after {_fmt_time(base)}; check the times or pass the right --freq"
            )


def _fill_missing(
    frame: pd.DataFrame,
    roles: ColumnRoles,
    columns: list[str],
    freq: str,
    fill: str | None,
    src: _Source,
    label,
    after=None,
) -> tuple[pd.DataFrame, int]:
    """Refuse or fill empty cells and gaps; returns the frame with the gaps inserted."""
    if fill is None:
        _refuse_missing_cells(frame, roles, columns, src, label, future=after is not None)
    off = _to_offset(freq)
    spans = _spans(frame, roles)
    all_times = pd.DatetimeIndex(frame[roles.time])
    all_rows = frame["_row"].to_numpy()
    grids = []
    for (uid, a, b), start in zip(spans, _starts(spans, all_times, off, after)):
        times = all_times[a:b]
        grid = pd.date_range(start, times[-1], freq=off)
        if len(grid) != len(times) and fill is None:
            missing = grid[~grid.isin(times)]
            first = missing[0]
            k = int(np.searchsorted(times, first))
            rows = all_rows[a:b]
            if k == 0:
                between = f"before {src.row(int(rows[0]))}"
            else:
                between = f"between {src.rows(int(rows[k - 1]), int(rows[k])).replace(' to ', ' and ')}"
            more = f"; {len(missing)} steps are missing in all" if len(missing) > 1 else ""
            kind = "future row" if after is not None else "row"
            raise src.fail(
                f"{label(uid)} has no {kind} for {_fmt_time(first)} ({between}, frequency {freq}){more}; "
                f"add the rows or {_FILL_HINT}"
            )
        grids.append(grid)
    out = frame
    if sum(len(g) for g in grids) != len(frame):  # gaps: insert them as empty rows
        full = pd.DataFrame(
            {
                roles.id: np.repeat([uid for uid, _, _ in spans], [len(g) for g in grids]),
                roles.time: grids[0].append(grids[1:]) if len(grids) > 1 else grids[0],
            }
        )
        full[roles.id] = full[roles.id].astype(frame[roles.id].dtype)
        full[roles.time] = full[roles.time].astype(frame[roles.time].dtype)
        out = full.merge(frame, on=[roles.id, roles.time], how="left", sort=False)
    if fill is None:
        return out, 0
    block = out[columns]
    n_filled = int(block.isna().to_numpy().sum())
    if n_filled:
        out = out.copy()
        out[columns] = _fill_block(block, out[roles.id].to_numpy(dtype=object), _spans(out, roles), fill)
        left = out[columns].isna().to_numpy()
        if left.any():
            i, j = np.argwhere(left)[0]
            uid = str(out[roles.id].iloc[i])
            raise src.fail(
                f"column {columns[j]!r} of {label(uid)} has no values at all; --fill {fill} has nothing to fill from"
            )
    return out, n_filled


def _refuse_missing_cells(
    frame: pd.DataFrame, roles: ColumnRoles, columns: list[str], src: _Source, label, future: bool = False
) -> None:
    """Name the first empty cell, in file order."""
    values = frame[columns].isna().to_numpy()
    if not values.any():
        return
    hits = np.argwhere(values)
    order = np.argsort(frame["_row"].to_numpy()[hits[:, 0]], kind="stable")
    i, j = hits[order[0]]
    uid = frame[roles.id].iloc[i]
    where = "" if label(uid) == "the series" else f" of {label(uid)}"
    what = "future covariate" if future else "value"
    raise src.fail(
        f"{src.row(int(frame['_row'].iloc[i]))}, column {columns[j]!r}: missing {what}{where}; fill it in or {_FILL_HINT}"
    )


def _fill_block(block: pd.DataFrame, keys: np.ndarray, spans, fill: str) -> pd.DataFrame:
    """Fill the NaN of ``block`` within each series (``keys`` holds the id of each row)."""
    if fill == "zero":
        return block.fillna(0.0)
    if fill == "ffill":
        return block.groupby(keys, sort=False).ffill().groupby(keys, sort=False).bfill()
    if fill == "bfill":
        return block.groupby(keys, sort=False).bfill().groupby(keys, sort=False).ffill()
    # linear in the step number; the edges take the nearest value
    values = block.to_numpy(dtype=np.float64, copy=True)
    for _, a, b in spans:
        part = values[a:b]
        for j in range(part.shape[1]):
            v = part[:, j]
            ok = ~np.isnan(v)
            if ok.all() or not ok.any():
                continue
            steps = np.arange(len(v))
            v[~ok] = np.interp(steps[~ok], steps[ok], v[ok])
    return pd.DataFrame(values, columns=block.columns, index=block.index)


def _fmt_time(t) -> str:
    t = pd.Timestamp(t)
    if t == t.normalize():
        return t.strftime("%Y-%m-%d")
    return t.isoformat(sep=" ")


# --------------------------------------------------------------------------- checks used later


def check_min_length(ts: TimeSeriesData, n: int, why: str | None = None, hint: str | None = None) -> None:
    """Refuse series shorter than ``n`` time steps.

    Args:
        ts: validated series.
        n: the minimum number of time steps.
        why: what makes ``n`` the minimum, e.g. ``"lookback + horizon = 36"``.
        hint: how to fix it; defaults to shortening the lookback or horizon.

    Raises:
        InputError: naming the first (in id order) short series, its length and how many more
            are short.
    """
    lengths = ts.lengths()
    short = [(uid, k) for uid, k in lengths.items() if k < n]
    if not short:
        return
    uid, k = short[0]
    because = f" ({why})" if why else ""
    more = f"; {len(short) - 1} more series {'is' if len(short) == 2 else 'are'} shorter too" if len(short) > 1 else ""
    fix = hint or "use a shorter --lookback or --horizon, or leave the short series out"
    raise InputError(
        f"{ts.source}: {ts.label(uid)} has {k} time step{'s' if k != 1 else ''}; needs at least {n}{because}{more}; {fix}"
    )


def check_future_covariates(ts: TimeSeriesData, horizon: int) -> None:
    """Refuse a forecast whose known-future covariates do not cover ``horizon`` steps past
    the end of every series."""
    r = ts.roles
    if not r.future_covariates:
        return
    have: dict[str, int] = {}
    if ts.future is not None:
        have = {str(k): int(v) for k, v in ts.future.groupby(r.id).size().items()}
    for uid in ts.ids:
        k = have.get(uid, 0)
        if k < horizon:
            last = ts.series(uid)[r.time].iloc[-1]
            raise InputError(
                f"{ts.source}: {ts.label(uid)} has {k} future row{'s' if k != 1 else ''} after {_fmt_time(last)}; "
                f"the forecast needs the future covariates ({', '.join(r.future_covariates)}) for {horizon} steps: "
                f"add {horizon - k} more rows with an empty {r.target!r}"
            )
