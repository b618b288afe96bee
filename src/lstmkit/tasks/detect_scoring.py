r"""The detector's arrays: training chunks, one-step prediction errors, reconstruction errors
and the Gaussian anomaly score (see :mod:`lstmkit.tasks.detect`)."""

from __future__ import annotations

import numpy as np
import torch

from lstmkit.errors import InputError, param_ref

#: windows scored per forward when reconstructing
_BATCH = 1024

#: The largest standardised value the network reads, in normal-span standard deviations: a
#: value beyond it (1e308 from a broken sensor) is read as +-Z_LIMIT, off the scale yet finite,
#: so the float32 network's state and the scores stay finite (an infinity made every later
#: prediction NaN: no event found, or a stream flagged for good). Values within it are unchanged.
Z_LIMIT = 1e4


def clip_standardised(z: np.ndarray) -> np.ndarray:
    """``z`` clipped to ``[-Z_LIMIT, Z_LIMIT]``."""
    return np.clip(z, -Z_LIMIT, Z_LIMIT)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of True in ``mask``."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def training_chunks(scaled, lookback: int, method: str, max_chunks: int = 4000) -> tuple[np.ndarray, np.ndarray | None]:
    """Training and validation arrays from ``scaled`` = ``[(id, z (T, C), normal mask (T,))]``.

    Prediction: chunks of ``lookback + 1`` normal steps (the network reads the first L and
    predicts the last L); reconstruction: windows of ``lookback`` normal steps. They start
    at every step (every k-th when there would be more than ``max_chunks``). The latest fifth
    of each series' chunks validates (when it has at least 10)."""
    length = lookback + 1 if method == "prediction" else lookback
    possible = sum(max(0, b - a - length + 1) for _, _, mask in scaled for a, b in _runs(mask))
    stride = max(1, -(-possible // max_chunks))
    train, val = [], []
    for _, z, mask in scaled:
        chunks = [z[s:s + length] for a, b in _runs(mask) for s in range(a, b - length + 1, stride)]
        n_val = len(chunks) // 5 if len(chunks) >= 10 else 0
        train += chunks[: len(chunks) - n_val]
        val += chunks[len(chunks) - n_val:]
    if not train:
        raise InputError(f"no run of {length} consecutive normal steps to train on; use a shorter "
                         f"{param_ref('lookback')} or a longer normal span", param="lookback")
    return np.stack(train), (np.stack(val) if val else None)


def prediction_errors(net, z: np.ndarray) -> np.ndarray:
    """``e_t = mean_k |z_{t,k} - ẑ_{t,k}|`` over the targets, ``(T,)``; ``e_0 = 0`` (nothing
    predicts the first step). One forward over the whole series from a zero state."""
    x = torch.as_tensor(z, dtype=torch.float32).unsqueeze(0)  # (1, T, C)
    with torch.no_grad():
        predicted = net.eval().predict_next(x)[0].double().numpy()  # (T, K): row t predicts t+1
    k = net.config.n_targets
    actual = x[0, :, :k].double().numpy()
    return np.r_[0.0, np.abs(actual[1:] - predicted[:-1]).mean(axis=1)]


def reconstruction_errors(net, z: np.ndarray, lookback: int) -> np.ndarray:
    """``|x_i - x'_i|`` of every sliding window (stride 1): ``(T - L + 1, L, K)``."""
    x = torch.as_tensor(z, dtype=torch.float32)
    windows = x.unfold(0, lookback, 1).permute(0, 2, 1)  # (W, L, C)
    k = net.config.n_targets
    out = []
    with torch.no_grad():
        for start in range(0, windows.shape[0], _BATCH):
            batch = windows[start:start + _BATCH]
            out.append((batch[..., :k] - net.eval().reconstruct(batch)).abs().double().numpy())
    return np.concatenate(out)


def window_mask(mask: np.ndarray, lookback: int) -> np.ndarray:
    """Which sliding windows of ``lookback`` steps lie wholly where ``mask`` holds."""
    counts = np.convolve(mask.astype(np.int64), np.ones(lookback, dtype=np.int64), mode="valid")
    return counts == lookback


def reconstruction_score(errors: np.ndarray, mean: np.ndarray, precision: np.ndarray, n: int) -> np.ndarray:
    """Every step's ``(e - μ)ᵀ Σ⁻¹ (e - μ)``, averaged over the windows holding it: ``(n,)``."""
    centred = errors - mean  # (W, L, K)
    a = np.einsum("wlk,kj,wlj->wl", centred, precision, centred)  # (W, L)
    n_windows, lookback = a.shape
    total = np.zeros(n)
    count = np.zeros(n)
    for i in range(lookback):
        total[i:i + n_windows] += a[:, i]
        count[i:i + n_windows] += 1
    return total / count


__all__ = ["Z_LIMIT", "clip_standardised", "prediction_errors", "reconstruction_errors", "reconstruction_score", "training_chunks",
           "window_mask"]
