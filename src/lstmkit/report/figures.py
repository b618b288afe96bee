"""The figures of ``lstmkit inspect``, each returned as PNG bytes (matplotlib, no screen needed).

They draw what :mod:`lstmkit.report.numbers` computed: a :class:`~lstmkit.report.numbers.LayerTrace`
(arrays ``(N, L, H)``: N sequences, L steps, H units) and the per layer-direction dicts of
:func:`~lstmkit.report.numbers.analyse`. One sequence (``sample``) and its first ``steps``
steps are drawn; ``labels`` (L names, e.g. dates) name the time axis when given.

* :func:`gate_heatmap`: forget, input and output gate (a GRU's update and reset gate) of one
  layer-direction, unit by time;
* :func:`cell_trajectories`: c_t (a GRU's h_t) of the most active units, one panel per layer-direction;
* :func:`saturation_plot`: per unit, the fraction left- against right-saturated, one panel
  per gate (Karpathy, Johnson & Fei-Fei 2015).
"""

from __future__ import annotations

import numpy as np

from lstmkit.report.numbers import LEFT, RIGHT, LayerTrace
from lstmkit.report.plots import png_bytes, pyplot

__all__ = ["cell_trajectories", "gate_heatmap", "saturation_plot"]


def _time_ticks(ax, labels: list[str] | None, steps: int) -> None:
    """At most 10 x ticks, named by ``labels`` (e.g. dates) when given."""
    if not labels:
        return
    positions = np.unique(np.linspace(0, steps - 1, min(steps, 10)).round().astype(int))
    ax.set_xticks(positions)
    ax.set_xticklabels([labels[p] for p in positions], rotation=30, ha="right", fontsize=8)


def _unit_ticks(ax, units: int) -> None:
    if units <= 16:
        ax.set_yticks(range(units))
        ax.tick_params(axis="y", labelsize=7 if units > 8 else 8)


def gate_heatmap(lt: LayerTrace, sample: int, steps: int, labels: list[str] | None, what: str) -> bytes:
    """The gates (forget, input and output; a GRU's update and reset) of sequence ``sample``'s
    first ``steps`` steps, one panel each: unit on y, time on x, activation from 0 (dark, shut)
    to 1 (yellow, open)."""
    plt = pyplot()
    gates = lt.gates
    units = lt.fields[gates[0]].shape[-1]
    panel = min(6.0, max(1.8, 1.0 + units / 40))
    fig, axes = plt.subplots(len(gates), 1, figsize=(11, panel * len(gates) + 1.0), sharex=True,
                             squeeze=False, layout="constrained")
    image = None
    for ax, gate in zip(axes[:, 0], gates):
        values = lt.fields[gate][sample, :steps].T  # (H, steps)
        image = ax.imshow(values, aspect="auto", origin="lower", vmin=0.0, vmax=1.0, cmap="viridis",
                          interpolation="nearest", extent=(-0.5, steps - 0.5, -0.5, units - 0.5))
        ax.set_ylabel(f"{gate.replace('_', ' ')}\nunit")
        _unit_ticks(ax, units)
    axes[-1, 0].set_xlabel("time" if labels else "time step")
    _time_ticks(axes[-1, 0], labels, steps)
    fig.suptitle(f"{lt.name}: gate activations of {what}", fontsize=11)
    fig.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.03, pad=0.01, label="activation")
    return png_bytes(fig)


def cell_trajectories(layers: list[LayerTrace], analysis: list[dict], sample: int, steps: int,
                      labels: list[str] | None, what: str) -> bytes:
    """c_t (a GRU's h_t, the state its update gate keeps) of the most active units
    (``analysis[k][memory]["most_active_units"]``) along sequence ``sample``'s first ``steps``
    steps, one panel per layer-direction."""
    plt = pyplot()
    fig, axes = plt.subplots(len(layers), 1, figsize=(11, 3.2 * len(layers) + 0.6), squeeze=False,
                             layout="constrained")
    for ax, lt, info in zip(axes[:, 0], layers, analysis):
        memory = info[lt.memory]
        symbol = "c" if lt.memory == "cell_state" else "h"
        c = lt.fields[lt.memory][sample, :steps]  # (steps, H)
        for unit in memory["most_active_units"]:
            ax.plot(np.arange(steps), c[:, unit], lw=1.0,
                    label=f"unit {unit} (mean |{symbol}| {memory['mean_abs'][unit]:.2f})")
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_title(f"{lt.name}: {lt.memory.replace('_', ' ')} {symbol}_t of the most active units", fontsize=10)
        ax.set_ylabel(f"{symbol}_t")
        ax.set_xlim(0, max(steps - 1, 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        _time_ticks(ax, labels, steps)
    axes[-1, 0].set_xlabel("time" if labels else "time step")
    fig.suptitle(f"{layers[0].memory.split('_')[0]}-state trajectories of {what}", fontsize=11)
    return png_bytes(fig)


def saturation_plot(analysis: list[dict]) -> bytes:
    """One panel per gate: a point per unit at (fraction left-saturated, fraction
    right-saturated), one colour per layer-direction; the dotted diagonal is left + right = 1."""
    plt = pyplot()
    gates = list(analysis[0]["saturation"])
    fig, axes = plt.subplots(1, len(gates), figsize=(4 * len(gates), 4.6), squeeze=False, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, gate in zip(axes[0], gates):
        ax.plot([0, 1], [1, 0], color="grey", ls=":", lw=0.8)
        for k, info in enumerate(analysis):
            s = info["saturation"][gate]
            ax.scatter(s["per_unit_left"], s["per_unit_right"], s=18, alpha=0.65,
                       color=colours[k % len(colours)],
                       label=f"{info['name']}: left {s['left']:.0%}, right {s['right']:.0%}")
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.03, 1.03)
        ax.set_aspect("equal")
        ax.set_xlabel(f"fraction left-saturated (< {LEFT:g})")
        ax.set_ylabel(f"fraction right-saturated (> {RIGHT:g})")
        ax.set_title(gate.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle("gate saturation, one point per unit (Karpathy, Johnson & Fei-Fei 2015)", fontsize=11)
    return png_bytes(fig)
