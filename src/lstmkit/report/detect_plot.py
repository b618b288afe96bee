"""The anomaly detector's figure: each series with its flagged spans shaded (and labelled
anomalies marked), the score beneath."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.report.plots import pyplot, quiet_ticks, write_png

#: at most this many series are drawn (the first ones)
MAX_SERIES = 6


def _spans(flags: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.r_[0, (np.asarray(flags) > 0).astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def _axis(column: pd.Series):
    """Times, or step numbers as they are."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy()
    return pd.DatetimeIndex(column)


def detection_plot(values: pd.DataFrame, scores: pd.DataFrame, path: str | Path, *, time: str,
                   targets: tuple[str, ...], id: str | None) -> Path:
    """Write the figure: per series (up to :data:`MAX_SERIES`), the targets over time with
    flagged spans shaded red and labelled anomalies (``scores["label"]``) shaded grey, and
    the score beneath on the same time axis."""
    plt = pyplot()
    groups = list(scores.groupby(id, sort=False)) if id else [(None, scores)]
    groups = groups[:MAX_SERIES]
    fig, axes = plt.subplots(2 * len(groups), 1, figsize=(11, 3.6 * len(groups)), sharex=False,
                             gridspec_kw={"height_ratios": [2, 1] * len(groups)}, squeeze=False)
    for g, (uid, frame) in enumerate(groups):
        top, bottom = axes[2 * g, 0], axes[2 * g + 1, 0]
        rows = values if uid is None else values[values[id] == uid]
        times = _axis(frame[time])
        for target in targets:
            top.plot(_axis(rows[time]), rows[target].to_numpy(), lw=0.8, label=target)
        for ax in (top, bottom):
            if "label" in frame:
                for a, b in _spans(frame["label"].to_numpy()):
                    ax.axvspan(times[a], times[b], color="0.6", alpha=0.5, lw=0,
                               label="labelled" if ax is top and a == _spans(frame["label"].to_numpy())[0][0] else None)
            first = True
            for a, b in _spans(frame["flag"].to_numpy()):
                ax.axvspan(times[a], times[b], color="tab:red", alpha=0.25, lw=0,
                           label="flagged" if ax is top and first else None)
                first = False
        bottom.plot(times, frame["score"].to_numpy(), color="tab:purple", lw=0.8)
        bottom.set_ylabel("score")
        top.set_title(f"series {uid}" if uid is not None else "series", fontsize=10)
        top.legend(loc="upper right", fontsize=8)
        bottom.set_xlim(top.get_xlim())
    with quiet_ticks():
        fig.tight_layout()
    return write_png(fig, path)


__all__ = ["detection_plot"]
