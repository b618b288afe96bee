"""Plots as PNG files (matplotlib, no screen needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def forecast_plot(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    backtest: pd.DataFrame | None,
    path: str | Path,
    *,
    time: str,
    target: str,
    id: str | None,
    max_series: int = 6,
) -> Path:
    """History, backtest forecasts and the forecast with its interval, one panel per series.

    ``history`` has columns (id), time, target; ``forecast`` (id), time, ``y_hat`` and
    optional ``y_q*`` columns; ``backtest`` (id), time, ``cutoff``, ``lstm``.
    """
    from lstmkit.runs import atomic_path

    plt = _pyplot()
    ids = list(pd.unique(history[id]))[:max_series] if id else [None]
    fig, axes = plt.subplots(len(ids), 1, figsize=(10, 3.2 * len(ids)), squeeze=False)
    quantile_columns = sorted(c for c in forecast.columns if c.startswith("y_q"))
    for ax, uid in zip(axes[:, 0], ids):
        def pick(frame):
            return frame if uid is None else frame[frame[id] == uid]

        h = pick(history)
        ax.plot(h[time], h[target], color="black", lw=1.2, label="history")
        if backtest is not None:
            b = pick(backtest)
            for k, (_, window) in enumerate(b.groupby("cutoff")):
                ax.plot(window[time], window["lstm"], color="tab:orange", lw=1.2,
                        label="backtest" if k == 0 else None)
        f = pick(forecast)
        ax.plot(f[time], f["y_hat"], color="tab:blue", lw=1.6, label="forecast")
        if len(quantile_columns) >= 2:
            low, high = quantile_columns[0], quantile_columns[-1]
            ax.fill_between(f[time], f[low], f[high], color="tab:blue", alpha=0.2,
                            label=f"{low.removeprefix('y_q')}–{high.removeprefix('y_q')} quantiles")
        ax.set_title(f"{uid}" if uid is not None else target)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path
