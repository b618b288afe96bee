"""The table plumbing of the readers: CSV, Parquet and DataFrame in, cells out.

:mod:`lstmkit.data.timeseries` and :mod:`lstmkit.data.sequences` read tables the same way:

* :func:`open_table` takes a path (CSV, gzip-compressed CSV or Parquet, told apart by their
  first bytes) or a DataFrame and gives the raw table, every CSV cell as text, with a
  :class:`TableSource` that names its rows; :func:`parse_csv`, :func:`read_parquet` and
  :func:`from_frame` are its parts;
* :func:`as_text`, :func:`missing_mask`, :func:`blank_rows` and :func:`parse_numbers` read the
  cells, with the missing-value spellings of each reader (:class:`MissingCells`);
* :func:`column_hint`, :func:`show`, :func:`clip`, :func:`plural`, :func:`fmt_time` word the
  messages.

Rows are numbered as a spreadsheet shows them: in a CSV file the header is row 1 and the
first data row is row 2 (the row number is the line number); in a Parquet file the first data
row is row 1; a DataFrame's rows are named by their index label.

Every refusal is an :class:`lstmkit.errors.InputError` whose one line starts with the file as
the user named it (``DataFrame`` for a frame). This module imports pandas and numpy, never
torch.
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from lstmkit.data.files import decode_utf8, read_file_bytes, sniff
from lstmkit.errors import InputError, bad_value

__all__ = [
    "MissingCells",
    "TableSource",
    "TableWording",
    "as_text",
    "blank_rows",
    "cell_text",
    "check_whole",
    "clip",
    "column_hint",
    "fmt_freq",
    "fmt_time",
    "STEP_ORIGIN",
    "step_times",
    "to_steps",
    "from_frame",
    "missing_mask",
    "open_table",
    "parse_csv",
    "parse_numbers",
    "plain",
    "plural",
    "printable",
    "read_parquet",
    "show",
]

PathOrFrame = Union[str, "os.PathLike[str]", pd.DataFrame]


# --------------------------------------------------------------------------- sources


class TableSource:
    """Where the rows of a table come from, for the messages.

    Args:
        name: the file as the user named it, or ``"DataFrame"``.
        kind: ``"csv"``, ``"parquet"`` or ``"frame"``.
        index: the index of the DataFrame as given (``kind="frame"``), naming its rows.
    """

    def __init__(self, name: str, kind: str, index: pd.Index | None = None):
        self.name = name
        self.kind = kind
        self.index = index

    def row_no(self, pos: int) -> str:
        """The number (or index label) of the row at position ``pos`` of the table as read."""
        if self.kind == "csv":
            return str(pos + 2)
        if self.kind == "parquet":
            return str(pos + 1)
        assert self.index is not None
        return plain(self.index[pos])

    def row(self, pos: int) -> str:
        """``row 12`` (``index 'a'`` for a DataFrame)."""
        return ("index " if self.kind == "frame" else "row ") + self.row_no(pos)

    def rows(self, first: int, last: int) -> str:
        """``rows 2 to 9`` (``index 0 to 7``)."""
        word = "index" if self.kind == "frame" else "rows"
        return f"{word} {self.row_no(first)} to {self.row_no(last)}"

    def refuse_first(self, mask: np.ndarray, positions: np.ndarray, column: str, message) -> None:
        """Refuse the first cell of ``column`` where ``mask`` holds, if any:
        ``<row>, column '<column>': <message>``. ``positions[i]`` is the position in the table
        of entry ``i`` of ``mask``; ``message`` is text or a function of ``i`` giving it."""
        hits = np.flatnonzero(mask)
        if len(hits):
            i = int(hits[0])
            text = message(i) if callable(message) else message
            raise self.fail(f"{self.row(int(positions[i]))}, column {column!r}: {text}")

    def fail(self, message: str, **details) -> InputError:
        """An :class:`InputError` naming this source first (``details``: its ``param``,
        ``expected``, ``got``)."""
        return InputError(f"{self.name}: {message}", **details)


@dataclass(frozen=True)
class TableWording:
    """What one reader's messages say a file or table should be (the defaults: a CSV or
    Parquet file of any table).

    Attributes:
        columns: what a table with no columns should have held.
        rows: what a table with no rows should have held.
        blank: the whole message for a CSV file of blank lines only.
        expected: what the file should be.
        empty: what an empty file should have held.
        text: what a binary or non-UTF-8 file should have been.
        zip: the whole message for a ZIP archive.
        binary_what: what a binary file is not, e.g. ``"CSV text"``.
        binary_offset: whether the message on a NUL byte gives the byte offset.
        utf8_fix: the advice on a file that is not UTF-8.
        pyarrow_fix: the advice when pyarrow is missing.
    """

    columns: str = "a header line naming the columns"
    rows: str = "at least one row of data"
    blank: str = "holds only blank lines; expected a header line and data rows"
    expected: str = "a CSV or Parquet file"
    empty: str = "a CSV or Parquet file"
    text: str = "a UTF-8 CSV or a Parquet file"
    zip: str = "is a ZIP archive (an Excel workbook?), not CSV text; save it as CSV (UTF-8) or Parquet"
    binary_what: str = "text"
    binary_offset: bool = True
    utf8_fix: str = "save the file as UTF-8"
    pyarrow_fix: str = "pip install pyarrow"


# --------------------------------------------------------------------------- opening


def open_table(
    data: PathOrFrame,
    wording: TableWording,
    other_formats: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, TableSource]:
    """The raw table of a CSV file (cells as text), a Parquet file or a DataFrame.

    A file is Parquet when its first bytes are Parquet's magic bytes, else CSV text (gzip is
    read). A file named ``.parquet``/``.pq`` that is not Parquet, and a file whose suffix is in
    ``other_formats`` (suffix -> what it is, e.g. ``".json": "a JSON file"``), are refused.

    Raises:
        InputError: see :func:`read_file_bytes`, :func:`decode_utf8`, :func:`parse_csv`,
            :func:`read_parquet` and :func:`from_frame`; a ZIP archive; not a path nor a frame.
    """
    if isinstance(data, pd.DataFrame):
        return from_frame(data, wording)
    if not isinstance(data, (str, os.PathLike)):
        raise InputError(f"expected a file path or a pandas DataFrame, got {type(data).__name__}")
    name = str(data)
    path = Path(data).expanduser()
    raw = read_file_bytes(path, wording.expected, name, empty=wording.empty)
    kind = sniff(raw)
    if kind == "parquet":
        return read_parquet(raw, name, wording), TableSource(name, "parquet")
    if kind == "zip":
        raise InputError(f"{name}: {wording.zip}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        raise InputError(f"{name}: is named .parquet but is not a Parquet file (no PAR1 magic bytes); check the file")
    if other_formats and suffix in other_formats:
        raise InputError(f"{name}: is {other_formats[suffix]} ({suffix}); expected {wording.expected}")
    text = decode_utf8(raw, name, wording.text, what=wording.binary_what, offset=wording.binary_offset,
                       fix=wording.utf8_fix)
    return parse_csv(text, name, wording), TableSource(name, "csv")


def from_frame(frame: pd.DataFrame, wording: TableWording) -> tuple[pd.DataFrame, TableSource]:
    """A DataFrame as a table: a named index (an id, a time) becomes a column, the columns
    are named by text, the rows by the index as given.

    Raises:
        InputError: no columns, no rows, two columns of one name.
    """
    if frame.index.names != [None] and not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    src = TableSource("DataFrame", "frame", frame.index)
    if len(frame.columns) == 0:
        raise src.fail(f"has no columns; expected {wording.columns}")
    if len(frame) == 0:
        raise src.fail(f"has no rows; expected {wording.rows}")
    frame = frame.reset_index(drop=True)
    _name_columns(frame, src)
    return frame, src


def parse_csv(text: str, name: str, wording: TableWording) -> pd.DataFrame:
    """The cells of CSV text as stripped-name columns of text, blank lines kept as rows of
    empty cells (so positions map to lines). The separator is a comma unless the header line
    has none and has a semicolon, a tab or a bar.

    Raises:
        InputError: only blank lines, a line pandas cannot split, rows with more fields than
            the header has names, a header but no data rows.
    """
    header = text.split("\n", 1)[0]
    sep = ","
    if "," not in header:
        sep = next((c for c in (";", "\t", "|") if c in header), ",")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: {wording.blank}") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")
        raise InputError(f"{name}: cannot be read as CSV ({detail}); check the separators and quotes on that line") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the extra leading fields as an index
        extra = frame.index.nlevels
        raise InputError(
            f"{name}: the data rows have {plural(extra, 'field')} more than the header (row 1) has column names; "
            "name every column in the header, or check the separators"
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise InputError(f"{name}: the file has a header (row 1) but no data rows; expected data from row 2 on")
    _name_columns(frame, TableSource(name, "csv"))
    return frame


def read_parquet(data: bytes, name: str, wording: TableWording) -> pd.DataFrame:
    """The table of a Parquet file's bytes, column names as stripped text.

    Raises:
        InputError: pyarrow is missing, the bytes are not a readable Parquet file, the table
            has no columns or no rows, or two columns of one name.
    """
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except ImportError:
        raise InputError(f"{name}: reading Parquet needs pyarrow, which cannot be imported; {wording.pyarrow_fix}") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow raises its own classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{name}: cannot be read as Parquet ({first}); expected a Parquet file") from None
    if len(frame.columns) == 0:
        raise InputError(f"{name}: the Parquet file has no columns; expected {wording.columns}")
    if len(frame) == 0:
        raise InputError(f"{name}: the Parquet file has no rows; expected {wording.rows}")
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    _name_columns(frame, TableSource(name, "parquet"))
    return frame


def _name_columns(frame: pd.DataFrame, src: TableSource) -> None:
    """Name the columns by text, refusing two of one name."""
    cols = [str(c) for c in frame.columns]
    seen: set[str] = set()
    for c in cols:
        if c in seen:
            raise src.fail(f"has two columns named {c!r}; give each column its own name")
        seen.add(c)
    frame.columns = cols


# --------------------------------------------------------------------------- cells


class MissingCells:
    """The cell texts one reader takes as a missing value, compared without case and
    surrounding spaces (an absent cell, None or NaN, is missing too)."""

    def __init__(self, tokens: Iterable[str]):
        self.tokens = frozenset(t.lower() for t in tokens)
        # every spelling, upper or lower case letter by letter: isin() is faster than lower()
        self.spellings = frozenset(v for t in self.tokens for v in _case_variants(t))


def _case_variants(word: str) -> set[str]:
    out = {""}
    for ch in word:
        out = {p + c for p in out for c in {ch.lower(), ch.upper()}}
    return out


def _is_plain_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col)


def as_text(col: pd.Series, whole_floats: bool = False) -> pd.Series:
    """Cells as stripped text (object dtype); a missing cell (None, NaN) is ``""``.
    ``whole_floats``: a float that is a whole number is written without its ``.0``."""
    if not _is_plain_numeric(col):
        try:
            stripped = col.str.strip()
        except (AttributeError, TypeError):
            stripped = None
        if stripped is not None:
            odd = stripped.isna().to_numpy() & col.notna().to_numpy()
            if not odd.any():  # all text (or missing): the fast way
                return stripped.fillna("").astype(object)
    if whole_floats:
        return col.astype(object).where(col.notna(), "").map(cell_text).astype(object)
    return col.astype(object).where(col.notna(), "").astype(str).str.strip().astype(object)


def cell_text(v) -> str:
    """One cell as stripped text; a float that is a whole number without its ``.0``."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def missing_mask(text: pd.Series, missing: MissingCells) -> np.ndarray:
    """True where stripped text (:func:`as_text`) is a missing value."""
    return text.isin(missing.spellings).to_numpy()


def cell_missing(col: pd.Series, missing: MissingCells) -> np.ndarray:
    """True where a cell of ``col`` is a missing value."""
    if _is_plain_numeric(col):
        return col.isna().to_numpy()
    return missing_mask(as_text(col), missing)


def blank_rows(table: pd.DataFrame, missing: MissingCells) -> np.ndarray:
    """True for the rows with every cell missing (the blank lines of a CSV)."""
    blank = np.ones(len(table), dtype=bool)
    for c in range(table.shape[1]):
        idx = np.flatnonzero(blank)  # only the rows still blank so far
        if len(idx) == 0:
            break
        blank[idx] = cell_missing(table.iloc[idx, c], missing)
    return blank


def parse_numbers(col: pd.Series, missing: MissingCells) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Series | None]:
    """The numbers of a column: ``(values, missing, bad, text)``.

    ``values`` is float64, NaN where a cell is missing or not a number (``bad``); ``text`` is
    the cells as stripped text (None for a column of numbers), for the messages. Infinite
    values (``inf``, ``1e999``) are left to the caller.
    """
    if pd.api.types.is_bool_dtype(col) or (
        pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_complex_dtype(col)
    ):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isnan(values), np.zeros(len(values), dtype=bool), None
    text = as_text(col)
    gone = missing_mask(text, missing)
    with np.errstate(over="ignore", invalid="ignore"):
        numbers = pd.to_numeric(text.where(~gone, None), errors="coerce")
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~gone & np.isnan(values)
    return values, gone, bad, text


# --------------------------------------------------------------------------- settings


def check_whole(param: str, value, minimum: int = 1) -> int:
    """``value`` as an int when it is a whole number >= ``minimum`` (``3``, ``3.0``).

    Raises:
        InputError: ``param: expected a whole number >= minimum; got value``.
    """
    try:
        ok = not isinstance(value, (bool, str)) and int(value) == value and value >= minimum
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise bad_value(param, f"a whole number >= {minimum}", value)
    return int(value)


# --------------------------------------------------------------------------- wording


def column_hint(name: str, columns: Sequence[str]) -> str:
    """`` (did you mean 'Date'?)`` for the column spelled like ``name`` but for case, or the
    closest one; ``""`` when none is close."""
    lower = [c for c in columns if c.lower() == str(name).lower()]
    if lower:
        return f" (did you mean {lower[0]!r}?)"
    close = difflib.get_close_matches(str(name), list(columns), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return ""


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (``\\n``, ``\\x1e``),
    so that a name from a file cannot break the one line of a message."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def show(items: Iterable, limit: int | None = 12) -> str:
    """Items (escaped by :func:`printable`) joined by commas, the first ``limit`` only (None:
    all) with the count after."""
    items = [printable(str(x)) for x in items]
    if limit is None or len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", ... ({len(items)} in all)"


def clip(text: str, n: int = 40) -> str:
    """``text`` cut to ``n`` characters, ``...`` marking the cut."""
    return text if len(text) <= n else text[: n - 3] + "..."


def plural(n: int, word: str) -> str:
    """``1 value``, ``2 values``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


#: A series timed by plain step numbers (0, 1, 2, ...) is held with step i at the time i
#: seconds after this origin, so that the date-based checks and windows apply unchanged;
#: :func:`to_steps` gives the numbers back for output.
STEP_ORIGIN = pd.Timestamp("1970-01-01")

_STEP_TIMES: ContextVar[bool] = ContextVar("lstmkit_step_times", default=False)


def to_steps(times) -> np.ndarray:
    """Times held as seconds after :data:`STEP_ORIGIN` back to the step numbers (int64)."""
    return ((pd.DatetimeIndex(times) - STEP_ORIGIN) // pd.Timedelta(seconds=1)).to_numpy()


@contextmanager
def step_times(on: bool = True) -> Iterator[None]:
    """Within it, :func:`fmt_time` and :func:`fmt_freq` word times as step numbers
    (``step 42``, ``every 2 steps``): the messages about a series timed by steps."""
    token = _STEP_TIMES.set(on)
    try:
        yield
    finally:
        _STEP_TIMES.reset(token)


def fmt_freq(freq: str) -> str:
    """A frequency as messages word it: the pandas alias (``MS``, ``15min``), or within
    :func:`step_times` the step (``s`` -> ``1 step``, ``5s`` -> ``5 steps``)."""
    if _STEP_TIMES.get():
        n = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)) // pd.Timedelta(seconds=1)
        return plural(int(n), "step")
    return str(freq)


def fmt_time(t) -> str:
    """A time as a person writes it: ``2024-01-31``, or ``2024-01-31 13:00:00`` with a time
    of day; within :func:`step_times` the step number (``step 42``)."""
    t = pd.Timestamp(t)
    if _STEP_TIMES.get():
        return f"step {int(to_steps([t])[0])}"
    if t == t.normalize():
        return t.strftime("%Y-%m-%d")
    return t.isoformat(sep=" ")


def plain(label) -> str:
    """An index label as a person writes it: ``12``, ``'a'``, ``2020-01-01``."""
    if isinstance(label, str):
        return repr(label)
    if isinstance(label, (pd.Timestamp, np.datetime64)) and not pd.isna(label):
        return fmt_time(label)
    if isinstance(label, np.generic):
        return str(label.item())
    return str(label)
