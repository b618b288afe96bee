"""The one dispatch point between the reference scan and the fused kernels.

``backend="reference"`` always runs the readable Python scan (:mod:`lstmkit.nn.scan`).
``backend="fused"`` asks for the compiled kernels; ``backend="auto"`` picks the fastest path
that is correct for the layer's options, device and dtype. A layer records the path it took
in ``last_backend``.
"""

from __future__ import annotations

from torch import Tensor

from .config import RecurrentConfig


def resolve_backend(requested: str, config: RecurrentConfig, x: Tensor | None) -> str:
    """The backend that will run ``config`` on ``x`` (``x=None``: check at construction)."""
    if requested == "fused":
        raise NotImplementedError(
            "backend='fused' is not available yet (the fused kernels are still being built); "
            "use backend='auto' or backend='reference'"
        )
    return "reference"


def describe_backends() -> list[str]:
    """One line per backend: whether it can run here."""
    return [
        "backend reference: available (the readable Python scan, any device and dtype)",
        "backend fused:     not available yet",
    ]
