"""Checks at the door shared by the layers (:mod:`lstmkit.nn.stack`) and the cells
(:mod:`lstmkit.nn.cell_modules`): ``ValueError`` naming the argument, what was expected and
what came."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def one_step_input(value: Any, name: str, input_size: int) -> tuple[Tensor, bool]:
    """``value`` checked as one timestep's input, ``(N, H_in)`` or unbatched ``(H_in,)``:
    returns it as ``(N, H_in)`` and whether it was unbatched. ``name`` names it in messages."""
    if not isinstance(value, Tensor) or value.dim() not in (1, 2):
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{name} must be 2-D (N, H_in) or 1-D (H_in,), got {shape}")
    if value.shape[-1] != input_size:
        raise ValueError(f"{name} must have {input_size} features (input_size), got {value.shape[-1]}")
    unbatched = value.dim() == 1
    return (value.unsqueeze(0) if unbatched else value), unbatched
