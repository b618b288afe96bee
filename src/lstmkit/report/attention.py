"""Attention heat maps of a translation (matplotlib, no screen needed).

:func:`attention_heatmap` draws the weights α_ts of :class:`lstmkit.Translator` (one row per
written target token t, ``</s>`` included; one column per source token s; each row sums to 1)
as a grey-scale map: the darker the cell, the more the decoder read that source token when it
wrote that target token (Bahdanau et al. 2015, figure 3).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lstmkit.report.plots import png_bytes, pyplot

__all__ = ["attention_heatmap"]


def _label(token: str) -> str:
    return token.replace("\u2581", "_") if token.strip("\u2581") else "_"


def attention_heatmap(source_tokens: Sequence[str], target_tokens: Sequence[str], weights: np.ndarray,
                      title: str = "") -> bytes:
    """PNG bytes of ``weights`` ``(len(target_tokens), len(source_tokens))``; token labels show
    a leading space (sentencepiece's ▁) as ``_``."""
    weights = np.asarray(weights, dtype=float)
    rows, cols = weights.shape
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(min(16, 1.5 + 0.42 * cols), min(16, 1.5 + 0.36 * rows)), layout="constrained")
    image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    xlabels = [_label(t) for t in source_tokens[:cols]] + [""] * max(0, cols - len(source_tokens))
    ylabels = [_label(t) for t in target_tokens[:rows]] + [""] * max(0, rows - len(target_tokens))
    ax.set_xticks(range(cols), xlabels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(rows), ylabels, fontsize=8)
    ax.set_xlabel("source token")
    ax.set_ylabel("written token")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="attention weight")
    return png_bytes(fig)
