"""Checks and preparation of the fused layers' inputs, shared by ``lstm_layer``,
``gru_layer`` and ``rnn_layer``.

``graph_inputs``: inside ``Function.forward`` ``ctx.needs_input_grad`` says only whether each
input ``requires_grad``; it is True for parameters even under ``torch.no_grad()`` and
``torch.inference_mode()``, where no graph is recorded.  The kernels decide from it whether to
save their buffers for a backward, so without detaching they would write (T, N, 5H) floats at
every inference call for a backward that never comes.
"""

from __future__ import annotations

import torch


def graph_inputs(*tensors):
    """``tensors`` unchanged when autograd records (grad mode on), else detached views (and
    None kept as None), so that ``needs_input_grad`` is all False."""
    if torch.is_grad_enabled():
        return tensors
    return tuple(t.detach() if isinstance(t, torch.Tensor) else t for t in tensors)


def check_tensor(fn: str, name: str, t, shape: tuple[int, ...] | None, *, optional: bool = False) -> None:
    """``t`` must be a float32 CPU tensor (of ``shape`` when given); ``fn`` names the caller
    in the message.  None passes when ``optional``."""
    if t is None:
        if optional:
            return
        raise TypeError(f"{fn}: {name} must be a tensor, got None")
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{fn}: {name} must be on the CPU, got device {t.device}")
    if t.dtype != torch.float32:
        raise TypeError(f"{fn}: {name} must be float32, got {t.dtype}")
    if shape is not None and tuple(t.shape) != shape:
        raise ValueError(f"{fn}: {name} must have shape {shape}, got {tuple(t.shape)}")


def checked_lengths(fn: str, lengths, N: int, T: int) -> torch.Tensor | None:
    """``lengths`` as a contiguous int64 CPU tensor (N,) with values in [1, T], or None when
    absent or when every sequence is full length (the plain path is identical and faster)."""
    if lengths is None:
        return None
    if not isinstance(lengths, torch.Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.device.type != "cpu" or lengths.dim() != 1 or lengths.shape[0] != N:
        raise ValueError(f"{fn}: lengths must be a CPU tensor of shape ({N},), got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise TypeError(f"{fn}: lengths must be integers, got {lengths.dtype}")
    lengths = lengths.to(torch.int64).contiguous()
    if N > 0 and (int(lengths.min()) < 1 or int(lengths.max()) > T):
        raise ValueError(f"{fn}: lengths must lie in [1, T={T}], got min {int(lengths.min())}, "
                         f"max {int(lengths.max())}")
    if N > 0 and int(lengths.min()) == T:
        return None
    return lengths


def grad_or_zeros(grad, shape) -> torch.Tensor:
    """An incoming gradient for the kernels' backward: ``grad`` as autograd passes it (the
    kernel makes expanded or strided views contiguous in its own pooled memory), or, for an
    output that did not reach the loss (None), a zero of ``shape`` as a stride-0 view, so
    that no (T, N, H) block of zeros is allocated here."""
    if grad is None:
        return torch.zeros((), dtype=torch.float32).expand(shape)
    return grad
