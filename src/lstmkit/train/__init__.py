"""The training engine shared by every task (Lightning with lstmkit's defaults)."""

from .engine import FitResult, TrainingConfig, fit, seed_everything

__all__ = ["FitResult", "TrainingConfig", "fit", "seed_everything"]
