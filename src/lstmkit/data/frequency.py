"""Frequencies of time series: checking an alias, inferring it, and the season it implies.

* :func:`normalize_freq` checks a pandas offset alias (``D``, ``W-SUN``, ``MS``, ``15min``)
  and gives its canonical spelling, old aliases (``M``, ``H``, ``T``) included;
* :func:`season_length_for` gives the steps of one natural season of a frequency;
* :func:`infer_freq` finds the frequency of a series' times, tolerating gaps;
* :func:`time_grid` the regular times from one time to another.

This module imports pandas and numpy, never torch.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd

from lstmkit.errors import InputError, param_ref

__all__ = ["FREQ_EXAMPLES", "infer_freq", "normalize_freq", "season_length_for", "time_grid", "to_offset"]

#: Aliases the messages give as examples.
FREQ_EXAMPLES = "D, B, W-SUN, MS, ME, QS, YS, h or 15min"

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
        return to_offset(text).freqstr
    except ValueError:
        pass
    m = re.fullmatch(r"(\d*)([A-Za-z]+)(-[A-Za-z]+)?", text)
    if m:
        # pandas >= 2.2 renamed M -> ME, H -> h, ...; accept either spelling on any pandas
        for alias in (_LEGACY_ALIASES.get(m.group(2)), _MODERN_ALIASES.get(m.group(2))):
            if alias is None:
                continue
            try:
                return to_offset(m.group(1) + alias + (m.group(3) or "")).freqstr
            except ValueError:
                pass
    raise InputError(
        f"{param_ref('freq')}: {text!r} is not a pandas frequency; use an alias such as {FREQ_EXAMPLES}",
        param="freq", expected="a pandas frequency alias", got=freq,
    )


def to_offset(freq) -> pd.DateOffset:
    """pandas' offset of a frequency alias (or a Timedelta), without pandas' warnings."""
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
    off = to_offset(normalize_freq(freq))
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


def infer_freq(times: pd.DatetimeIndex) -> str | None:
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
            f = to_offset(step).freqstr
        else:
            continue
        if f not in counts:
            from_steps.add(f)
    best: tuple[int, str] | None = None
    for f in [f for f, _ in counts.most_common()] + sorted(from_steps):
        grid = time_grid(times[0], times[-1], f)
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


def time_grid(start: pd.Timestamp, end: pd.Timestamp, freq: str) -> pd.DatetimeIndex | None:
    """The times of frequency ``freq`` from ``start`` to ``end``; None when pandas cannot
    make them."""
    try:
        return pd.date_range(start, end, freq=freq)
    except (ValueError, OverflowError):
        return None

