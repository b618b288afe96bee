"""The one dispatch point between the reference scan and the faster paths.

Backends a layer can run on (``last_backend`` records which one ran):

* ``"reference"`` — the readable Python scan of :mod:`lstmkit.nn.scan`, every option, any
  device and dtype; the oracle the others are tested against.
* ``"torch"`` — torch's own kernels (oneDNN on CPU, cuDNN on CUDA) through the same
  parameters, for the configurations torch.nn has (no variant option, no trace).
* ``"fused"`` — lstmkit's compiled kernels (arriving with the fused-kernel issue).

``backend="auto"`` picks the fastest correct path: ``"torch"`` for a configuration torch.nn
has, the reference otherwise. ``backend="reference"`` always runs the reference.
"""

from __future__ import annotations

from torch import Tensor

from .config import RecurrentConfig


def resolve_backend(requested: str, config: RecurrentConfig, x: Tensor | None, *,
                    keep_trace: bool = False) -> str:
    """The backend that will run ``config`` on ``x`` (``x=None``: check at construction)."""
    if requested == "fused":
        raise NotImplementedError(
            "backend='fused' is not available yet (the fused kernels are still being built); "
            "use backend='auto' or backend='reference'"
        )
    if requested == "reference" or x is None:
        return "reference"
    if config.is_plain and not keep_trace:
        return "torch"
    return "reference"


def describe_backends() -> list[str]:
    """One line per backend: whether it can run here."""
    return [
        "backend reference: available (the readable Python scan, every option, any device and dtype)",
        "backend torch:     available (torch's kernels, for configurations torch.nn has; chosen by auto)",
        "backend fused:     not available yet",
    ]
