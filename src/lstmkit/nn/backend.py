"""The one dispatch point between the reference scan and the faster paths.

Backends a layer can run on (``last_backend`` records which one ran):

* ``"reference"`` — the readable Python scan of :mod:`lstmkit.nn.scan`: every option, any
  device and dtype; the oracle the others are tested against.
* ``"fused"`` — lstmkit's compiled CPU kernels (:mod:`lstmkit.nn.fused`): one call per layer
  and direction for the whole sequence, forward and backward. They cover the LSTM in float32
  on the CPU with torch's options (layers, directions, lengths, ``proj_size``, dropout between
  layers), every lstmkit variant (peephole, layer norm, CIFG, recurrent dropout, zoneout, in
  any combination) and ``return_trace`` (its gates and ``cell_state`` are then not
  differentiable); and the GRU and the RNN (tanh, relu) with the same torch options and
  ``return_trace`` (the GRU's gates are then not differentiable). The GRU/RNN kernels are a
  separate extension (``fused.build.load("gru_rnn")``).
* ``"torch"`` — torch's own kernels (oneDNN on CPU, cuDNN on CUDA) through the same
  parameters, for the configurations torch.nn has.

``backend="auto"`` picks the fastest correct path, on the CPU in float32: the fused kernel for
the plain LSTM (training 1.0-1.5x torch.nn.LSTM's speed, inference 1.0-1.1x, see the
README), every LSTM variant, the GRU and the RNN (1.1-2x torch.nn.GRU / torch.nn.RNN measured
at H <= 512, about even at H = 1024), in training and inference, and for a trace under
``torch.no_grad()`` (with gradients on, the trace's gates must be differentiable: the
reference runs); torch's kernels for the plain configurations elsewhere (CUDA, and where the
kernel cannot compile); the reference for everything else.
``backend="fused"`` insists on the kernel where it applies and falls back to the reference,
with one warning, where it cannot compile; ``backend="reference"`` always runs the reference.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from .config import RecurrentConfig

_warned: set[str] = set()


def fused_covers(config: RecurrentConfig) -> str | None:
    """None when the fused kernel computes ``config``, else what it lacks."""
    if config.cell == "lstm":
        return None  # every LSTM variant: peephole, layer_norm, cifg, recurrent_dropout, zoneout
    if not config.is_plain or config.proj_size:  # (RecurrentConfig rejects these for GRU/RNN today)
        return f"LSTM options on the {config.cell.upper().replace('_', ' ')} cell"
    return None  # GRU, RNN tanh / relu: layers, directions, lengths, bias, dropout between layers


def _extension(config: RecurrentConfig) -> str:
    """The compiled extension that runs ``config``'s cell."""
    return "lstm" if config.cell == "lstm" else "gru_rnn"


def _fused_available(config: RecurrentConfig) -> bool:
    from . import fused

    return fused.available(_extension(config))


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def resolve_backend(requested: str, config: RecurrentConfig, x: Tensor | None, *,
                    keep_trace: bool = False) -> str:
    """The backend that will run ``config`` on ``x`` (``x=None``: check at construction)."""
    if requested == "fused" and x is None:
        missing = fused_covers(config)
        if missing is not None:
            raise NotImplementedError(
                f"backend='fused' does not cover {missing} yet; use backend='auto' (which runs "
                "the reference for it) or backend='reference'"
            )
    if requested == "reference" or x is None:
        return "reference"
    cpu_float32 = x.device.type == "cpu" and x.dtype == torch.float32
    fusable = fused_covers(config) is None and cpu_float32
    if requested == "fused":
        if not fusable:
            return "reference"  # float64, CUDA: documented fallbacks
        if _fused_available(config):
            return "fused"
        from . import fused

        _warn_once(f"lstmkit: the fused kernel is unavailable "
                   f"({fused.unavailable_reason(_extension(config))}); running the reference path")
        return "reference"
    # auto
    if fusable and _fused_available(config):
        # with gradients on, a trace's gates must be differentiable: only the reference has them
        if not keep_trace or not torch.is_grad_enabled():
            return "fused"
    if config.is_plain and not keep_trace:
        return "torch"
    return "reference"


def describe_backends() -> list[str]:
    """One line per backend: whether it can run here."""
    from . import fused

    if fused.available():
        fused_line = "available (" + fused.kernel_info() + ")"
    else:
        fused_line = f"unavailable: {fused.unavailable_reason()}"
    if fused.available("gru_rnn"):
        gru_line = "available (GRU, RNN)"
    else:
        gru_line = f"unavailable: {fused.unavailable_reason('gru_rnn')}"
    return [
        "backend reference: available (the readable Python scan, every option, any device and dtype)",
        "backend torch:     available (torch's kernels, for configurations torch.nn has)",
        f"backend fused:     {fused_line}",
        f"                   gru_rnn kernels {gru_line}",
    ]
