"""Benchmark: lstmkit's fused LSTM kernels vs torch.nn.LSTM and the reference path.

A thin wrapper: the measuring lives in :mod:`lstmkit.nn.fused.bench`, the table in
:mod:`lstmkit.cli.bench` (also ``lstmkit bench``).

Usage::

    python benchmarks/bench_fused_lstm.py                 # default shapes and variants
    python benchmarks/bench_fused_lstm.py --threads 1 --reps 15 --variants plain,layer_norm
    python benchmarks/bench_fused_lstm.py --memory
"""

from __future__ import annotations

import sys

from lstmkit.cli.bench import main
from lstmkit.nn.fused.bench import (  # noqa: F401  (re-exported for scripts that time single calls)
    bench_shape,
    fused_lstm_call,
    make_lstm,
    memory,
    memory_child,
    mm_ceiling,
    torch_lstm_call,
)

if __name__ == "__main__":
    sys.exit(main())
