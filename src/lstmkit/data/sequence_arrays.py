r"""Labelled sequences from in-memory arrays, as scikit-learn, aeon and PyTorch users hold them.

``X`` is one of

* a 3-D array ``(n, channels, steps)``: aeon's and sktime's layout (``layout="NCL"``, the
  default), or ``(n, steps, channels)``: PyTorch's ``batch_first`` and tslearn's
  (``layout="NLC"``);
* a 2-D array ``(n, steps)``: n univariate sequences of one length (scikit-learn's ``X``);
* a list of arrays, one per sequence, for sequences of different lengths: each 1-D
  ``(steps,)``, or 2-D ``(channels, steps)`` (``NCL``; aeon's unequal-length collections) or
  ``(steps, channels)`` (``NLC``).

``y`` holds one label per sequence (strings, integers or floats; None when predicting). A
label becomes the text ``str(label)`` inside lstmkit (files carry their labels as text), and
:func:`label_kind` tells the estimator how to give its predictions back in ``y``'s own type.

Missing values follow the file readers' rules: NaN in every channel at the end of a sequence
is the padding of a shorter one (aeon pads unequal lengths so) and is cut off; a NaN inside a
sequence is filled by linear interpolation in time (:mod:`lstmkit.data.gaps`), or refused with
``missing="refuse"``. An infinite value or one beyond float32, a sequence with no value, or a channel count that
differs between sequences is refused: one line naming ``X[i]``, the channel and the step.

This module imports numpy only.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lstmkit.data.gaps import check_missing_policy, fill_gaps
from lstmkit.data.sequence_data import SequenceData, sort_labels
from lstmkit.data.sequence_formats import trailing_trim, unstorable, why_unstorable
from lstmkit.errors import InputError

__all__ = ["LAYOUTS", "label_kind", "labels_as", "sequences_from_arrays"]

#: The orders of a sequence's axes: channels then steps (aeon, sktime), or steps then channels.
LAYOUTS = ("NCL", "NLC")


def _as_float(i: int, values: Any) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"X[{i}]: holds a value that is not a number ({e})") from None


def _sequence_arrays(X: Any, layout: str) -> list[np.ndarray]:
    """One float64 array ``(channels, steps)`` per sequence, whatever form ``X`` takes."""
    if not isinstance(X, (list, tuple, np.ndarray)) and hasattr(X, "__array__"):  # a torch tensor
        X = np.asarray(X)
    if isinstance(X, np.ndarray) and X.dtype != object:
        arr = _as_float(0, X) if X.ndim else X
        if arr.ndim == 2:  # (n, steps): univariate
            return [row[None, :] for row in arr]
        if arr.ndim == 3:
            return list(arr if layout == "NCL" else arr.transpose(0, 2, 1))
        raise InputError(f"X: a {arr.ndim}-D array; give (n, steps), (n, channels, steps) "
                         f"or a list of one array per sequence")
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence | np.ndarray):
        raise InputError(f"X: a {type(X).__name__}; give an array (n, steps) or (n, channels, steps), "
                         f"or a list of one array per sequence")
    out = []
    for i, item in enumerate(X):
        seq = _as_float(i, item)
        if seq.ndim == 1:
            seq = seq[None, :]
        elif seq.ndim == 2:
            seq = seq if layout == "NCL" else seq.T
        else:
            raise InputError(f"X[{i}]: a {seq.ndim}-D array; each sequence is 1-D (steps,) or 2-D "
                             f"({'channels, steps' if layout == 'NCL' else 'steps, channels'})")
        out.append(seq)
    return out


def _clean(i: int, seq: np.ndarray, missing: str) -> tuple[np.ndarray, int]:
    """Sequence i ``(channels, steps)`` as ``(steps, channels)`` float32, its end padding cut
    and its gaps filled; and how many values were filled."""
    bad = unstorable(seq)
    if bad.any():
        c, t = np.argwhere(bad)[0]
        raise InputError(f"X[{i}]: channel {c}, step {t} {why_unstorable(seq[c, t])} ({seq[c, t]:g})")
    nan = np.isnan(seq)
    keep, gap = trailing_trim(nan) if nan.size else (0, None)
    if keep == 0:
        raise InputError(f"X[{i}]: the sequence has no value (no step, or NaN everywhere)")
    seq = seq[:, :keep]
    gaps = int(np.isnan(seq).sum())
    if gap is not None:
        if missing == "refuse":
            raise InputError(f"X[{i}]: channel {gap[0]}, step {gap[1]} is missing (NaN); "
                             f"fill it, or let missing='interpolate' fill it")
        seq, empty = fill_gaps(seq)
        if empty is not None:
            raise InputError(f"X[{i}]: channel {empty} has no value at all; it cannot be filled")
    return np.ascontiguousarray(seq.T, dtype=np.float32), gaps


def _labels(y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y, dtype=object).reshape(-1) if not isinstance(y, str) else None
    if labels is None or np.ndim(y) != 1:
        raise InputError(f"y: give one label per sequence (a 1-D array or list), got {type(y).__name__} "
                         f"of shape {np.shape(y)}")
    if len(labels) != n:
        raise InputError(f"y: {len(labels)} labels for {n} sequences in X")
    text = []
    for i, lab in enumerate(labels.tolist()):
        if lab is None or (isinstance(lab, float) and np.isnan(lab)) or str(lab).strip() == "":
            raise InputError(f"y[{i}]: the label is missing ({lab!r})")
        text.append(str(lab))
    return np.asarray(text, dtype=str)


def label_kind(y: Any) -> str:
    """How labels given as ``y`` come back from ``predict``: ``"int"``, ``"float"``, ``"bool"``
    when every label is one (numpy's or Python's), else ``"str"``."""
    values = np.asarray(y, dtype=object).reshape(-1).tolist()
    for kind, types in (("bool", (bool, np.bool_)), ("int", (int, np.integer)), ("float", (float, np.floating))):
        if values and all(isinstance(v, types) for v in values):
            return kind
    return "str"


def labels_as(labels: Sequence[str] | np.ndarray, kind: str) -> np.ndarray:
    """Text labels (as lstmkit holds them) in the type :func:`label_kind` named."""
    text = np.asarray(labels, dtype=object)
    if kind == "int":
        return text.astype(np.int64)
    if kind == "float":
        return text.astype(np.float64)
    if kind == "bool":
        return text == "True"
    return text


def sequences_from_arrays(X: Any, y: Any = None, *, layout: str = "NCL", missing: str = "interpolate"
                          ) -> SequenceData:
    """A :class:`SequenceData` from ``X`` and (optional) labels ``y`` (see the module docstring).

    Raises:
        InputError: one line naming ``X[i]`` (and the channel and step) or ``y[i]``.
    """
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}", param="layout",
                         expected=f"one of {', '.join(LAYOUTS)}", got=layout)
    check_missing_policy(missing)
    raw = _sequence_arrays(X, layout)
    if not raw:
        raise InputError("X: holds no sequence")
    width = raw[0].shape[0]
    sequences, filled, filled_values = [], 0, 0
    for i, seq in enumerate(raw):
        if seq.shape[0] != width:
            raise InputError(f"X[{i}]: {seq.shape[0]} channels, X[0] has {width} (is layout right? "
                             f"NCL: (channels, steps), NLC: (steps, channels))")
        clean, gaps = _clean(i, seq, missing)
        sequences.append(clean)
        filled += int(gaps > 0)
        filled_values += gaps
    labels = None if y is None else _labels(y, len(sequences))
    return SequenceData(
        sequences=sequences,
        labels=labels,
        classes=[] if labels is None else sort_labels(labels.tolist()),
        channel_names=[f"dim_{c + 1}" for c in range(width)],
        source="X",
        ids=np.asarray([str(i) for i in range(len(sequences))], dtype=str),
        filled=filled_values,
        filled_sequences=filled,
    )
