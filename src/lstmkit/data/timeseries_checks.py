"""The checks of validated time series: one row per time, one frequency, no gap and no
missing value unless ``fill`` supplies them; and the checks a forecast makes later
(:func:`check_min_length`, :func:`check_future_covariates`).

The frames these functions take are long-format (:class:`~lstmkit.data.timeseries.ColumnRoles`
names the columns) and sorted by id then time, with a ``_row`` column holding the position of
each row in the table as read, for :class:`~lstmkit.data.tables.TableSource` to name it.
``label(uid)`` words a series in messages (``series 'A'``, or ``the series``).

Every refusal is an :class:`lstmkit.errors.InputError` of one line naming the file, the column
and the row. This module imports pandas and numpy, never torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from lstmkit.data.frequency import infer_freq, normalize_freq, time_grid, to_offset
from lstmkit.data.tables import TableSource, fmt_freq, fmt_time, show
from lstmkit.errors import InputError, param_ref

if TYPE_CHECKING:  # pragma: no cover
    from lstmkit.data.timeseries import ColumnRoles, TimeSeriesData

__all__ = ["check_future_covariates", "check_min_length"]

Label = Callable[[str], str]


def _fill_hint() -> str:
    return f"pass {param_ref('fill', 'ffill')}, bfill, interpolate or zero"


def _step_size(freq: str) -> str:
    """``MS steps``, ``15min steps``; ``2 steps`` for a series timed by step numbers."""
    shown = fmt_freq(freq)
    return shown if shown != str(freq) else f"{freq} steps"


def check_duplicates(frame: pd.DataFrame, roles: ColumnRoles, src: TableSource, label) -> None:
    dup = frame.duplicated([roles.id, roles.time], keep=False).to_numpy()
    if not dup.any():
        return
    rows = frame.loc[dup, [roles.id, roles.time, "_row"]]
    # the first duplicate in file order, with the row it repeats
    second = frame.loc[frame.duplicated([roles.id, roles.time], keep="first")].sort_values("_row").iloc[0]
    same = rows[(rows[roles.id] == second[roles.id]) & (rows[roles.time] == second[roles.time])]
    first_row = int(same["_row"].min())
    t = fmt_time(second[roles.time])
    raise src.fail(
        f"{src.row(int(second['_row']))}: {label(second[roles.id])} has time {t} twice "
        f"(also at {src.row(first_row)}); each series needs one row per time: remove or aggregate the duplicates"
    )


def split_future(frame: pd.DataFrame, roles: ColumnRoles) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Move the rows after the last target of each series to the future frame."""
    if not roles.future_covariates:
        return frame, None
    has_y = frame[roles.target].notna()
    # position in the series counted from its end; rows after the last non-missing target
    rev_cum = has_y[::-1].groupby(frame[roles.id][::-1]).cumsum()[::-1]
    tail = (rev_cum == 0).to_numpy()
    return frame.loc[~tail].reset_index(drop=True), frame.loc[tail].reset_index(drop=True)


def trim_target_edges(frame: pd.DataFrame, roles: ColumnRoles) -> tuple[pd.DataFrame, int]:
    """The rows of every series from its first target value to its last (``fill`` fills the
    gaps between them; before and after them nothing was observed: a table padded to a common
    date range, or rows left for the future, would be filled with made-up history), and how many
    rows were dropped. A series without any target value is kept whole for its error."""
    has_y = frame[roles.target].notna()
    keys = frame[roles.id]
    since_first = has_y.groupby(keys, sort=False).cummax()
    until_last = has_y[::-1].groupby(keys[::-1], sort=False).cummax()[::-1]
    empty = ~has_y.groupby(keys, sort=False).transform("any")
    keep = ((since_first & until_last) | empty).to_numpy()
    if keep.all():
        return frame, 0
    return frame.loc[keep].reset_index(drop=True), int((~keep).sum())


def _spans(frame: pd.DataFrame, roles: ColumnRoles) -> list[tuple[str, int, int]]:
    """``(id, start, stop)`` of each series in a frame sorted by id."""
    ids = frame[roles.id].to_numpy(dtype=object)
    if len(ids) == 0:
        return []
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.r_[0, change]
    stops = np.r_[change, len(ids)]
    return [(str(ids[a]), int(a), int(b)) for a, b in zip(starts, stops)]


def common_freq(frame: pd.DataFrame, roles: ColumnRoles, src: TableSource, label) -> str:
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
            grid = time_grid(times[0], times[-1], chosen[1])
            if grid is not None and times.isin(grid).all():
                if len(times) >= 0.5 * len(grid):
                    continue
                # sparse under the common frequency: gaps, or another frequency?
                f = infer_freq(times)
                own = None if f is None else time_grid(times[0], times[-1], f)
                if own is None or len(own) >= len(grid):
                    continue
        f = f or infer_freq(times)
        if f is None:
            rows = all_rows[a:b]
            shown = ", ".join(fmt_time(t) for t in times[:4]) + (", ..." if len(times) > 4 else "")
            raise src.fail(
                f"cannot infer the frequency of {label(uid)} ({src.rows(int(rows.min()), int(rows.max()))}): "
                f"its times are not evenly spaced ({shown}); pass {param_ref('freq')}, e.g. {param_ref('freq', 'D')}",
                param="freq",
            )
        if chosen is None:
            chosen = (uid, f)
        else:
            raise src.fail(
                f"{label(chosen[0])} has frequency {fmt_freq(chosen[1])} but {label(uid)} has {fmt_freq(f)}; "
                f"all series must share one frequency: resample them, or pass {param_ref('freq')} "
                f"(with {param_ref('fill')} for the gaps)",
                param="freq",
            )
    if chosen is None:
        uid, a, b = spans[0]
        n = b - a
        raise src.fail(
            f"cannot infer the frequency: {label(uid)} has only {n} time step{'s' if n != 1 else ''} "
            f"(3 needed); pass {param_ref('freq')}, e.g. {param_ref('freq', 'D')}",
            param="freq",
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


def check_grid(frame: pd.DataFrame, roles: ColumnRoles, freq: str, src: TableSource, label, after=None) -> None:
    """Every time must be a whole number of ``freq`` steps after the series' first time
    (after its last observed time, for future rows)."""
    off = to_offset(freq)
    spans = _spans(frame, roles)
    all_times = pd.DatetimeIndex(frame[roles.time])
    all_rows = frame["_row"].to_numpy()
    for (uid, a, b), start in zip(spans, _starts(spans, all_times, off, after)):
        times = all_times[a:b]
        if not off.is_on_offset(start):
            raise src.fail(
                f"{src.row(int(all_rows[a]))}, column {roles.time!r}: time {fmt_time(start)} of {label(uid)} is not a "
                f"{freq} time (the next one is {fmt_time(off.rollforward(start))}); check the times or pass the right {param_ref('freq')}"
            )
        on = times.isin(pd.date_range(start, times[-1], freq=off))
        if not on.all():
            bad = int(np.flatnonzero(~on)[0])
            base = start if after is None else start - off
            raise src.fail(
                f"{src.row(int(all_rows[a + bad]))}, column {roles.time!r}: time {fmt_time(times[bad])} of {label(uid)} "
                f"is not a whole number of {_step_size(freq)} after {fmt_time(base)}; check the times or pass the right {param_ref('freq')}"
            )


def fill_missing(
    frame: pd.DataFrame,
    roles: ColumnRoles,
    columns: list[str],
    freq: str,
    fill: str | None,
    src: TableSource,
    label,
    after=None,
) -> tuple[pd.DataFrame, int]:
    """Refuse or fill empty cells and gaps; returns the frame with the gaps inserted."""
    if fill is None:
        refuse_missing_cells(frame, roles, columns, src, label, future=after is not None)
    off = to_offset(freq)
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
                f"{label(uid)} has no {kind} for {fmt_time(first)} ({between}, frequency {fmt_freq(freq)}){more}; "
                f"add the rows or {_fill_hint()}"
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
                f"column {columns[j]!r} of {label(uid)} has no values at all; {param_ref('fill', fill)} has nothing to fill from",
                param="fill",
            )
    return out, n_filled


def refuse_missing_cells(
    frame: pd.DataFrame, roles: ColumnRoles, columns: list[str], src: TableSource, label, future: bool = False
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
        f"{src.row(int(frame['_row'].iloc[i]))}, column {columns[j]!r}: missing {what}{where}; fill it in or {_fill_hint()}"
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
    fix = hint or f"use a shorter {param_ref('lookback')} or {param_ref('horizon')}, or leave the short series out"
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
                f"{ts.source}: {ts.label(uid)} has {k} future row{'s' if k != 1 else ''} after {fmt_time(last)}; "
                f"the forecast needs the future covariates ({show(r.future_covariates, None)}) for {horizon} steps: "
                f"add {horizon - k} more rows with an empty {r.target!r}"
            )
