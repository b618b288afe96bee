"""The training engine shared by every task (Lightning with lstmkit's defaults).

The engine's names load on first use (PEP 562), so that importing a light submodule such as
:mod:`lstmkit.train.memory` (which the ``lstmkit`` command does before parsing its arguments)
does not import torch and Lightning: ``lstmkit --help`` and a usage error answer at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["FitResult", "TrainingConfig", "fit", "seed_everything"]

if TYPE_CHECKING:  # pragma: no cover
    from .engine import FitResult, TrainingConfig, fit, seed_everything


def __getattr__(name: str):
    if name in __all__:
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
