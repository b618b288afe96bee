"""Benchmark: lstmkit's fused LSTM kernels vs torch.nn.LSTM and the reference path.

A thin wrapper: the logic lives in :mod:`lstmkit.bench` (also ``lstmkit bench``).

Usage::

    python benchmarks/bench_fused_lstm.py                 # default shapes and variants
    python benchmarks/bench_fused_lstm.py --threads 1 --reps 15 --variants plain,layer_norm
    python benchmarks/bench_fused_lstm.py --memory
"""

from __future__ import annotations

import sys

from lstmkit.bench import (  # noqa: F401  (re-exported for older scripts)
    _fused_step, _make, _memory_child, _torch_step, bench_shape, main, memory, mm_ceiling,
)

if __name__ == "__main__":
    sys.exit(main())
