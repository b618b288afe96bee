"""Plots as PNG files (matplotlib, no screen needed), and the matplotlib setup every
figure of lstmkit shares: :func:`pyplot`, :func:`png_bytes`, :func:`write_png`.

``forecast_plot`` draws a forecaster's history, backtests and forecast; ``lab_plots`` the
vanishing-gradient lab's results. The figures of ``lstmkit inspect`` are in
:mod:`lstmkit.report.figures`.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

#: Resolution of every PNG written (dots per inch).
DPI = 100


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (renders without a screen), imported on first
    use so that importing lstmkit does not import matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def quiet_ticks():
    """A context without numpy's overflow warnings, for laying out and drawing a figure: an
    axis spanning values near the float limit (a sensor's 1e308) overflows in matplotlib's tick
    arithmetic, harmlessly (the figure is drawn)."""
    import numpy as np

    return np.errstate(over="ignore", invalid="ignore")


def _savefig(fig, target) -> None:
    with quiet_ticks():
        fig.savefig(target, format="png", dpi=DPI)


def png_bytes(fig) -> bytes:
    """``fig`` as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    _savefig(fig, buffer)
    pyplot().close(fig)
    return buffer.getvalue()


def write_png(fig, path: str | Path) -> Path:
    """``fig`` as a PNG file at ``path``, written atomically; the figure is closed."""
    from lstmkit.runs import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        _savefig(fig, tmp)
    pyplot().close(fig)
    return path


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
    plt = pyplot()
    ids = list(pd.unique(history[id]))[:max_series] if id else [None]
    fig, axes = plt.subplots(len(ids), 1, figsize=(10, 3.2 * len(ids)), squeeze=False)
    quantile_columns = sorted(c for c in forecast.columns if c.startswith("y_q"))
    for ax, uid in zip(axes[:, 0], ids):
        def pick(frame, uid=uid):
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
    return write_png(fig, path)


LAB_TASK_NAMES = {"adding": "adding problem", "copy": "copy-memory task", "order": "temporal-order task"}


def lab_success_title(task: str, metric: str, seeds: int, config=None) -> str:
    """The title of the lab's ``success.png``: the task, the metric and budget, the
    initialisation, what the error bars and the k/n labels mean."""
    from lstmkit.tasks.lab import SPECS

    budget = f" after at most {config.max_steps} steps" if config is not None else " after training"
    if config is not None and getattr(config, "warmup_steps", 0):
        budget += f" ({config.warmup_steps} of warm-up)"
    init = ""
    if config is not None:
        init = "; chrono init" if config.chrono_init else "; LSTM forget-gate bias 1"
    criterion = ""
    if task in SPECS:
        spec = SPECS[task]
        criterion = f", solved: {metric.replace('mse', 'MSE')} {'>=' if spec.classification else '<'} {spec.threshold:g}"
    metric = metric.replace("mse", "MSE")
    # three short lines: the axes are narrower than the figure (the legend sits to their right)
    return (f"{LAB_TASK_NAMES.get(task, task)}: test {metric}{budget}\n"
            f"by sequence length and cell{init}; mean, min..max over {seeds} seed(s)\n"
            f"k/n = runs solved{criterion} (o all, x not all)")


def lab_plots(results: list, directory: str | Path, *, task: str, config=None) -> list[Path]:
    """``success.png``: the final metric against sequence length per cell, the mean over seeds
    with the min..max range as error bars, each point labelled with the runs that solved it;
    ``gradients.png``: ‖∂L/∂h_t‖ against t, log scale, per cell at the longest length (first
    seed), at initialisation and after training. ``config`` (the :class:`LabConfig`) puts the
    budget and the initialisation into the titles."""
    from lstmkit.tasks.lab import SPECS, summarise

    plt = pyplot()
    directory = Path(directory)
    rows = summarise(results)
    cells = list(dict.fromkeys(r.cell for r in rows))
    colours = {"rnn": "tab:red", "gru": "tab:green", "lstm": "tab:blue"}
    seeds = max((r.runs for r in rows), default=1)
    paths = []

    all_lengths = sorted({r.length for r in rows})
    position = {length: i for i, length in enumerate(all_lengths)}  # lengths as evenly spaced categories
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for k, cell in enumerate(cells):
        shift = (k - (len(cells) - 1) / 2) * 0.08  # side by side, so the ranges do not hide each other
        mine = sorted((r for r in rows if r.cell == cell), key=lambda r: r.length)
        xs = [position[r.length] + shift for r in mine]
        lr = mine[0].learning_rate if mine else 0.0
        label = f"{cell} (lr {lr:g})" if lr else cell
        means = [r.mean_metric for r in mine]
        spread = [[m - r.min_metric for m, r in zip(means, mine)], [r.max_metric - m for m, r in zip(means, mine)]]
        ax.errorbar(xs, means, yerr=spread, fmt="-", color=colours.get(cell), label=label, capsize=3)
        for x, r in zip(xs, mine):
            ax.plot(x, r.mean_metric, "o" if r.solved == r.runs else "x", color=colours.get(cell), ms=8)
            ax.annotate(f"{r.solved}/{r.runs}", (x, r.mean_metric), textcoords="offset points",
                        xytext=(6, -3 if k % 2 else 6), fontsize=8, color=colours.get(cell))
    if results:
        r0 = results[0]
        ax.axhline(r0.baseline_metric, color="grey", ls=":", label="trivial answer")
        if task in SPECS:
            ax.axhline(SPECS[task].threshold, color="black", ls="--", lw=0.8, label="solved beyond this line")
        ax.set_ylabel(f"test {r0.metric.replace('mse', 'MSE')} ({'lower' if r0.metric == 'mse' else 'higher'} "
                      f"is better)")
        if r0.metric == "mse":
            ax.set_yscale("log")
    ax.set_xticks(range(len(all_lengths)), [str(n) for n in all_lengths])
    ax.set_xlim(-0.5, len(all_lengths) - 0.5)
    ax.set_xlabel("sequence length (steps to remember across)")
    ax.set_title(lab_success_title(task, results[0].metric if results else "metric", seeds, config), fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(write_png(fig, directory / "success.png"))

    longest = max(r.length for r in results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, which, title in ((axes[0], "gradient_at_init", "at initialisation"),
                             (axes[1], "gradient_trained", "after training")):
        drawn = set()
        for r in results:
            if r.length == longest and r.cell not in drawn:
                drawn.add(r.cell)
                values = [max(v, 1e-30) for v in getattr(r, which)]
                ax.plot(range(len(values)), values, color=colours.get(r.cell), label=r.cell)
        ax.set_yscale("log")
        ax.set_xlabel("step t")
        span = max((len(getattr(r, which)) for r in results if r.length == longest), default=longest)
        where = f"L={longest}" + (f" ({span} steps in all)" if span != longest else "")
        ax.set_title(f"{LAB_TASK_NAMES.get(task, task)}, {where}: how far back the gradient reaches,\n"
                     f"‖∂L/∂h_t‖ of the loss at the last step, {title} (seed {results[0].seed})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("gradient norm (log scale)")
    fig.tight_layout()
    paths.append(write_png(fig, directory / "gradients.png"))
    return paths
