"""Labelled sequences in a table (CSV, Parquet or DataFrame), wide or long.

* **wide**: one row per sequence: a label column, an optional id column, then one column per
  time step (univariate); a shorter sequence leaves its last cells empty;
* **long**: many rows per sequence: an id column, a time column, one column per channel, and
  a label that must be the same on every row of a sequence.

:func:`read_table` takes the raw table (from :func:`lstmkit.data.tables.open_table`'s parts)
and its :class:`~lstmkit.data.tables.TableSource`; every refusal is an
:class:`lstmkit.errors.InputError` of one line naming the file, the row and the column. This
module imports pandas and numpy, never torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lstmkit.data.gaps import check_missing_policy, fill_gaps
from lstmkit.data.sequence_data import SequenceData, sort_labels
from lstmkit.data.sequence_formats import MISSING_TOKENS, trailing_trim, unstorable, why_unstorable
from lstmkit.data.tables import (
    MissingCells,
    TableSource,
    TableWording,
    as_text,
    blank_rows,
    cell_text,
    clip,
    column_hint,
    missing_mask,
    parse_numbers,
    show,
)
from lstmkit.errors import param_ref

__all__ = ["LABEL_CANDIDATES", "WORDING", "read_table"]

#: Column names taken as the label column when none is named (compared without case).
LABEL_CANDIDATES = ("label", "class", "target")
#: How the messages of the sequence readers word a table that is not one (CSV and
#: Parquet; :mod:`lstmkit.data.sequences` words the files themselves).
WORDING = TableWording(columns="a table of sequences", rows="a table of sequences",
                       blank="holds only blank lines; expected a header line (e.g. 'id,label,...') and data rows")
_MISSING = MissingCells(MISSING_TOKENS)


def read_table(
    frame: pd.DataFrame,
    src: TableSource,
    *,
    label_column: str | None,
    id_column: str | None,
    time_column: str | None,
    value_columns: Sequence[str] | None,
    missing: str = "interpolate",
) -> SequenceData:
    """The sequences of a table whose columns are named by text, none twice (as
    :func:`~lstmkit.data.tables.parse_csv`, :func:`~lstmkit.data.tables.read_parquet` and
    :func:`~lstmkit.data.tables.from_frame` give them).

    Raises:
        InputError: a named column that is not there, a column named for two parts, no value
            column, a missing label or id, a cell that is not a number, a missing value inside
            a sequence (``missing="refuse"``; else it is filled by linear interpolation in time,
            :func:`lstmkit.data.gaps.fill_gaps`), a time twice in a sequence, a sequence with two labels.
    """
    check_missing_policy(missing)
    cols = list(frame.columns)
    # blank rows (every cell empty) are not sequences
    blank = blank_rows(frame, _MISSING)
    positions = np.flatnonzero(~blank)
    if len(positions) == 0:
        raise src.fail("every row is empty; expected data rows")
    if blank.any():
        frame = frame.iloc[positions].reset_index(drop=True)

    label = _find_column(cols, label_column, LABEL_CANDIDATES, "label", src)
    idc = _find_column(cols, id_column, ("id",), "id", src)
    tc = _find_column(cols, time_column, ("time",) if (idc is not None or id_column is not None) else (), "time", src)
    if time_column is not None and idc is None:
        raise src.fail(
            f"a long table (time column {tc!r}) needs an id column naming the sequence of each row; "
            f"name it ({param_ref('id_column')}; columns: {show(cols, 20)})"
        )
    used = [c for c in (label, idc, tc) if c is not None]
    if len(set(used)) != len(used):
        raise src.fail(f"column {next(c for c in used if used.count(c) > 1)!r} cannot play two parts (label, id, time)")
    values = _value_columns(frame, cols, used, tc, value_columns, src)

    labels = None
    if label is not None:
        labels, lmiss = _cells(frame, label)
        src.refuse_first(lmiss, positions, label, "missing class label; every sequence needs one "
                         "(for data to predict, leave the label column out)")
    common = dict(columns=tuple(cols), label_column=label, source=src.name)
    if tc is not None:
        return _read_long(frame, src, positions, idc, tc, values, labels, common, missing)
    return _read_wide(frame, src, positions, idc, values, labels, common, missing)


def _value_columns(frame, cols, used, tc, value_columns, src: TableSource) -> list[str]:
    """The value columns: those named, else every other column (wide), else every other
    column holding numbers (long)."""
    if value_columns is not None:
        values = []
        for c in value_columns:
            found = _find_column(cols, str(c), (), "value", src)
            if found in used:
                raise src.fail(f"value column {found!r} is also the label, id or time column", param="value_columns")
            values.append(found)
        if not values:
            raise src.fail("value_columns is empty; name at least one value column", param="value_columns")
        return values
    if tc is None:  # wide: every other column is a time step
        values = [c for c in cols if c not in used]
        if not values:
            raise src.fail(f"has no value columns besides {', '.join(repr(c) for c in used)}; expected one column per time step")
        return values
    # long: the other columns that hold numbers are the channels
    values = []
    for c in cols:
        if c in used:
            continue
        _, missing, bad, _ = parse_numbers(frame[c], _MISSING)
        if (~missing & ~bad).any():
            values.append(c)
    if not values:
        raise src.fail(
            f"has no column of numbers besides {', '.join(repr(c) for c in used)}; "
            f"the columns are {show(cols, 20)}"
        )
    return values


def _find_column(cols: list[str], given: str | None, candidates: Sequence[str], what: str, src: TableSource) -> str | None:
    if given is not None:
        if given in cols:
            return given
        lower = [c for c in cols if c.lower() == str(given).lower()]
        if len(lower) == 1:
            return lower[0]
        raise src.fail(
            f"no {what} column {given!r}{column_hint(str(given), cols)}; the columns are {show(cols, 20)}",
            param=_PARAMS[what], expected=f"a column of {src.name}", got=given,
        )
    for cand in candidates:
        hits = [c for c in cols if c.lower() == cand]
        if hits:
            return hits[0]
    return None


#: the parameter of :func:`read_sequences` naming the column of each part
_PARAMS = {"label": "label_column", "id": "id_column", "time": "time_column", "value": "value_columns"}


def _cells(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """The cells of a column as stripped strings (``1.0`` as ``1``), and where they are missing."""
    text = as_text(frame[col], whole_floats=True)
    return text.to_numpy(dtype=object), missing_mask(text, _MISSING)


def _value_block(frame: pd.DataFrame, src: TableSource, positions: np.ndarray, values: list[str]):
    block = frame[values]
    if len(values) > 1 and all(dtype == object for dtype in block.dtypes):
        # cells of text (a CSV's): parsed as one column, row by row, then laid back out: the same
        # numbers as column by column, without pandas' per-column cost (a wide CSV of 20,000
        # steps took 35 s that way)
        cells = pd.Series(block.to_numpy(dtype=object).ravel(), dtype=object)
        shape = (len(block), len(values))
        v, missing, bad = (a.reshape(shape) for a in parse_numbers(cells, _MISSING)[:3])
    else:
        blocks = [parse_numbers(frame[c], _MISSING) for c in values]
        v = np.column_stack([b[0] for b in blocks])
        missing = np.column_stack([b[1] for b in blocks])
        bad = np.column_stack([b[2] for b in blocks])
    if bad.any():
        r, c = np.argwhere(bad)[0]  # row-major: the first bad cell in file order
        col = values[c]
        cell = cell_text(frame[col].iloc[r])
        hint = ""
        if not (~missing[:, c] & ~bad[:, c]).any():
            hint = (
                f" (column {col!r} holds no numbers: if it holds the class labels, name it with {param_ref('label_column')}; "
                "else leave it out by naming the value columns)"
            )
        raise src.fail(f"{src.row(int(positions[r]))}, column {col!r}: {clip(cell)!r} is not a number{hint}")
    odd = unstorable(v)
    if odd.any():
        r, c = np.argwhere(odd)[0]
        raise src.fail(f"{src.row(int(positions[r]))}, column {values[c]!r}: {v[r, c]} {why_unstorable(v[r, c])}")
    return v, missing


def _read_wide(frame, src, positions, idc, values, labels, common, policy) -> SequenceData:
    v, missing = _value_block(frame, src, positions, values)
    ids = [src.row_no(int(p)) for p in positions]
    if idc is not None:
        itext, imiss = _cells(frame, idc)
        src.refuse_first(imiss, positions, idc, "missing id; every sequence needs one")
        seen: dict[str, int] = {}
        for p, uid in enumerate(itext.tolist()):
            if uid in seen:
                raise src.fail(
                    f"{src.row(int(positions[p]))}, column {idc!r}: id {uid!r} again (first at "
                    f"{src.row(int(positions[seen[uid]]))}); in a wide table each row is one sequence: "
                    f"for many rows per sequence name the time column ({param_ref('time_column')})"
                )
            seen[uid] = p
        ids = itext.tolist()
    sequences = []
    filled = filled_sequences = 0
    for r in range(len(v)):
        keep, hole = trailing_trim(missing[r][None, :])
        if keep == 0:
            raise src.fail(
                f"{src.row(int(positions[r]))}: the sequence has no values (every value column is empty); "
                "a sequence needs at least one"
            )
        row = v[r, :keep]
        if hole is not None:
            if policy == "refuse":
                raise src.fail(
                    f"{src.row(int(positions[r]))}, column {values[hole[1]]!r}: missing value inside the sequence; "
                    f"only the last cells of a shorter sequence may be empty ({param_ref('missing', 'refuse')}): "
                    f"fill it in, leave the row out, or pass {param_ref('missing', 'interpolate')}"
                )
            row = fill_gaps(row[None, :])[0][0]
            filled += int(missing[r, :keep].sum())
            filled_sequences += 1
        sequences.append(row.astype(np.float32).reshape(-1, 1))
    return SequenceData(
        sequences=sequences,
        labels=None if labels is None else np.array(labels.tolist(), dtype=str),
        classes=[] if labels is None else sort_labels(labels.tolist()),
        channel_names=["value"],
        ids=np.array(ids, dtype=str),
        filled=filled,
        filled_sequences=filled_sequences,
        **common,
    )


def _read_long(frame, src, positions, idc, tc, values, labels, common, policy) -> SequenceData:
    n = len(frame)
    itext, imiss = _cells(frame, idc)
    src.refuse_first(imiss, positions, idc, "missing id; every row needs the id of its sequence")
    times = _times(frame, src, positions, tc)
    v, missing = _value_block(frame, src, positions, values)
    if missing.any() and policy == "refuse":
        r, c = np.argwhere(missing)[0]
        raise src.fail(
            f"{src.row(int(positions[r]))}, column {values[c]!r}: missing value ({param_ref('missing', 'refuse')}); "
            f"in a long table every row needs every value: fill it in, leave the row out, or pass "
            f"{param_ref('missing', 'interpolate')}"
        )
    codes, uniques = pd.factorize(pd.Series(itext), sort=False)  # ids in order of first appearance
    order = np.lexsort((times, codes))
    sc, st = codes[order], times[order]
    same = (sc[1:] == sc[:-1]) & (st[1:] == st[:-1])
    if same.any():
        k = int(np.flatnonzero(same)[0])
        a, b = sorted((int(order[k]), int(order[k + 1])))
        raise src.fail(
            f"{src.row(int(positions[b]))}, column {tc!r}: sequence {uniques[sc[k]]!r} has time "
            f"{cell_text(frame[tc].iloc[b])!r} twice (also at {src.row(int(positions[a]))}); "
            "each sequence needs one row per time step"
        )
    starts = np.r_[0, np.flatnonzero(sc[1:] != sc[:-1]) + 1]
    stops = np.r_[starts[1:], n]
    sequences, seq_labels = [], []
    filled = filled_sequences = 0
    for a, b in zip(starts, stops):
        rows = order[a:b]
        block = v[rows]
        gaps = missing[rows]
        if gaps.any():  # filled in time order, channel by channel
            block, empty = fill_gaps(block.T)
            if empty is not None:
                raise src.fail(
                    f"{src.row(int(positions[rows.min()]))}, column {values[empty]!r}: missing value, and sequence "
                    f"{uniques[sc[a]]!r} has no value in this column in any of its rows; a missing value can be "
                    "filled only from values of its own column"
                )
            block = block.T
            filled += int(gaps.sum())
            filled_sequences += 1
        sequences.append(np.ascontiguousarray(block, dtype=np.float32))
        if labels is not None:
            labs = labels[rows]
            if (labs != labs[0]).any():
                k = int(np.flatnonzero(labs != labs[0])[0])
                first = rows[0]
                other = rows[k]
                raise src.fail(
                    f"sequence {uniques[sc[a]]!r} has class {labs[0]!r} at {src.row(int(positions[first]))} but "
                    f"{labs[k]!r} at {src.row(int(positions[other]))}; a sequence has one class: "
                    "make its label the same on every row"
                )
            seq_labels.append(str(labs[0]))
    return SequenceData(
        sequences=sequences,
        labels=None if labels is None else np.array(seq_labels, dtype=str),
        classes=[] if labels is None else sort_labels(seq_labels),
        channel_names=list(values),
        ids=np.array([str(u) for u in uniques], dtype=str),
        filled=filled,
        filled_sequences=filled_sequences,
        **common,
    )


def _times(frame: pd.DataFrame, src: TableSource, positions: np.ndarray, tc: str) -> np.ndarray:
    """The time column as sortable float64 (numbers, or dates as nanoseconds)."""
    s = frame[tc]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        missing = s.isna().to_numpy()
        values = None if missing.any() else _sortable(s)
    else:
        values, missing, bad, _ = parse_numbers(s, _MISSING)
        if (~bad & ~missing).any():  # numbers and text mixed?
            src.refuse_first(bad, positions, tc, lambda p: f"{clip(cell_text(s.iloc[p]))!r} is not a number, "
                             "as the other times are; the time column orders the rows of each sequence")
        if bad.any():  # no numbers: dates?
            text = as_text(s)
            miss = missing_mask(text, _MISSING)
            parsed = _dates(text.where(~miss, None))
            nat = parsed.isna().to_numpy() & ~miss
            src.refuse_first(nat, positions, tc, lambda p: f"{clip(text.iloc[p])!r} is neither a number "
                             "nor a date; the time column orders the rows of each sequence")
            missing = miss
            values = None if miss.any() else _sortable(parsed)
    src.refuse_first(missing, positions, tc, "missing time; every row needs one")
    return values



def _dates(text: pd.Series) -> pd.Series:
    """Dates of text cells (NaT where a cell is not one); times with another UTC offset than
    the first are put in UTC."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(text, errors="coerce", format="mixed")
        except (ValueError, TypeError, OverflowError):
            return pd.to_datetime(text, errors="coerce", format="mixed", utc=True)


def _sortable(times: pd.Series) -> np.ndarray:
    """Datetimes with no NaT as float64 numbers in the same order (ticks of their unit)."""
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy().view("int64").astype(np.float64)
