r"""Missing values inside a labelled sequence, filled by linear interpolation in time.

Some UCR/UEA files hold gaps inside their series (DodgerLoopDay, MelbournePedestrian: a
sensor that was down), written as ``?`` or ``NaN``; the archive's own "adjusted" versions fill
them by linear interpolation, and so do the readers here with ``missing="interpolate"`` (the
default). For one channel of one sequence, a missing step t between the nearest present steps
a < t < b is

    x_t = x_a + (t - a) / (b - a) * (x_b - x_a)

and a missing step before the first present one (after the last) takes that value. Steps
missing in every channel at the end of a sequence are not gaps: they are the padding of a
shorter sequence and are cut off before this (:func:`lstmkit.data.sequence_formats.trailing_trim`).
A channel with no value at all in a sequence cannot be filled and is refused.
``missing="refuse"`` refuses every gap instead, naming the first.

This module imports numpy only.
"""

from __future__ import annotations

import numpy as np

from lstmkit.errors import InputError

__all__ = ["MISSING_POLICIES", "check_missing_policy", "fill_gaps"]

#: What a reader does with a missing value inside a sequence.
MISSING_POLICIES = ("interpolate", "refuse")


def check_missing_policy(missing: str) -> str:
    """``missing`` if it is one of :data:`MISSING_POLICIES`, else an InputError."""
    if missing not in MISSING_POLICIES:
        raise InputError(f"missing must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}", param="missing",
                         expected=f"one of {', '.join(MISSING_POLICIES)}", got=missing)
    return missing


def fill_gaps(values: np.ndarray) -> tuple[np.ndarray, int | None]:
    """``values`` ``(channels, steps)`` with NaN where missing, filled channel by channel by
    linear interpolation in time (held constant before the first and after the last present
    value).

    Returns:
        ``(filled, empty)``: the filled float64 array, and the first channel that has no value
        at all (it cannot be filled; ``filled`` then still holds its NaN), or None.
    """
    filled = np.array(values, dtype=np.float64, copy=True)
    steps = np.arange(filled.shape[1], dtype=np.float64)
    for c, row in enumerate(filled):
        present = ~np.isnan(row)
        if present.all():
            continue
        if not present.any():
            return filled, c
        # np.interp holds the end values beyond the first and last present step
        row[~present] = np.interp(steps[~present], steps[present], row[present])
    return filled, None
