"""Baselines for sequence classification, run beside :class:`~lstmkit.tasks.classify.Classifier`
on the same train and test split: MiniRocket (Dempster, Schmidt & Webb 2021), from the optional
package aeon (``pip install aeon``, or ``lstmkit[datasets]``).

MiniRocket turns every series into about 10,000 features of random (but fixed) dilated
convolutions and fits a ridge classifier on them; it takes about a second on small UCR/UEA
sets and is the tool a user would pick instead of a neural network, so ``lstmkit classify``
prints it beside the model and ``benchmarks/bench_classify.py`` runs it on every set.

MiniRocket needs equal-length series. :func:`minirocket_baseline` refuses unequal lengths
(:class:`BaselineSkipped`, with the reason) unless ``pad=True``, which repeats each series' last
value up to the longest training series (and cuts longer test series), a common way to
feed unequal-length sets to it; the benchmark says when it did so.

aeon's kernels run on numba's OpenMP threading layer, which shares the OpenMP runtime with torch:
a MiniRocket fit left torch at numba's thread count (2 on a 2-core machine after
``torch.set_num_threads(1)``), so a script that fitted a network after it ran on more threads
than it had set, 40-50x slower on a machine whose other core was busy. :func:`minirocket_baseline` puts torch's
thread count back as it found it.

The first MiniRocket fit on a machine compiles aeon's numba kernels (tens of seconds, cached
on disk by numba afterwards); the seconds reported include whatever that run paid.

This module imports numpy; aeon is imported only when a baseline is run.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import numpy as np

__all__ = ["BaselineSkipped", "aeon_available", "minirocket_baseline", "to_panel"]


class BaselineSkipped(Exception):
    """A baseline cannot run on this data (the message says why)."""


def aeon_available() -> bool:
    """Whether the optional package aeon is installed (found without importing it)."""
    return importlib.util.find_spec("aeon") is not None


def to_panel(data, length: int | None = None) -> np.ndarray:
    """``data``'s sequences as aeon's 3-D array ``(n_cases, n_channels, n_timepoints)``, float64.

    With ``length`` given, each sequence is cut to it or padded to it by repeating its last
    value; without it, every sequence must have the same length (else :class:`BaselineSkipped`).
    """
    lengths = data.lengths
    if length is None:
        if len(set(lengths.tolist())) > 1:
            raise BaselineSkipped(f"the sequences have unequal lengths ({lengths.min()}..{lengths.max()})")
        length = int(lengths[0])
    out = np.empty((len(data), data.n_channels, length), dtype=np.float64)
    for i, seq in enumerate(data.sequences):  # seq: (L_i, C)
        seq = seq[:length]
        out[i, :, : len(seq)] = seq.T
        out[i, :, len(seq):] = seq[-1][:, None]
    return out


def minirocket_baseline(train, test, *, seed: int = 0, pad: bool = False) -> dict[str, Any]:
    """Fit aeon's MiniRocketClassifier on ``train`` and score it on ``test`` (both labelled
    :class:`~lstmkit.data.sequences.SequenceData`).

    Returns ``{"accuracy", "seconds" (fit + predict), "padded_to" (None unless padded),
    "n_kernels", "random_state"}``.

    Raises:
        BaselineSkipped: aeon is not installed; the data has unequal lengths and ``pad`` is
            False; or the series are shorter than MiniRocket's 9-step kernels.
    """
    if not aeon_available():
        raise BaselineSkipped("aeon is not installed (pip install aeon)")
    lengths = np.concatenate([train.lengths, test.lengths])
    equal = len(set(lengths.tolist())) == 1
    if not equal and not pad:
        raise BaselineSkipped(f"MiniRocket takes equal-length series only; these have "
                              f"lengths {lengths.min()}..{lengths.max()}")
    length = None if equal else int(train.lengths.max())
    if (length or int(lengths[0])) < 9:
        raise BaselineSkipped(f"MiniRocket needs series of 9 steps or more; these have {lengths.max()}")
    x_train, x_test = to_panel(train, length), to_panel(test, length)
    from aeon.classification.convolution_based import MiniRocketClassifier

    import torch

    threads = torch.get_num_threads()
    started = time.perf_counter()
    try:
        model = MiniRocketClassifier(random_state=seed)
        model.fit(x_train, np.asarray(train.labels))
        predicted = model.predict(x_test)
    finally:
        torch.set_num_threads(threads)  # numba's OpenMP layer resets the shared runtime's count
    seconds = time.perf_counter() - started
    return {
        "accuracy": float(np.mean(predicted == np.asarray(test.labels))),
        "seconds": round(seconds, 2),
        "padded_to": length,
        "n_kernels": int(model.n_kernels),
        "random_state": seed,
    }
