"""lstmkit: the LSTM recurrent network written out gate by gate, on PyTorch.

Importing ``lstmkit`` is cheap; torch loads on first use of a name below.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "LSTM": "lstmkit.nn",
    "GRU": "lstmkit.nn",
    "RNN": "lstmkit.nn",
    "LSTMCell": "lstmkit.nn",
    "GRUCell": "lstmkit.nn",
    "RNNCell": "lstmkit.nn",
    "RecurrentConfig": "lstmkit.nn",
    "Trace": "lstmkit.nn",
    "from_torch": "lstmkit.nn",
    "to_torch": "lstmkit.nn",
    "clip_grad_norm": "lstmkit.nn.bptt",
    "truncated_bptt": "lstmkit.nn.bptt",
    "gradient_through_time": "lstmkit.nn.bptt",
    "Forecaster": "lstmkit.tasks.forecast",
    "LanguageModel": "lstmkit.tasks.language_model",
    "Classifier": "lstmkit.tasks.classify",
    "LabModel": "lstmkit.tasks.lab",
    "Translator": "lstmkit.tasks.translate",
    "AnomalyDetector": "lstmkit.tasks.detect",
    "Estimator": "lstmkit.tasks.base",
    "load_estimator": "lstmkit.tasks.base",
    "InputError": "lstmkit.errors",
    "retain_freed_memory": "lstmkit.train.memory",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")


def __dir__():
    return __all__
