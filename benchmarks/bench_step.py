"""Benchmark: one streaming timestep at batch 1, lstmkit against torch.nn.LSTMCell.

Per-call microseconds (I = H, one layer, ``torch.no_grad()``, state carried from call to
call), timed in the same process, interleaved (order alternating every repetition), medians:

* ``torch.nn.LSTMCell``: ``h, c = cell(x, (h, c))``;
* ``lstmkit.LSTM.step(x, state)``: the compiled step (``lstmkit/nn/csrc/lstm_step.cpp``);
* ``lstmkit.LSTM.streamer().step(x)``: the same kernel, state kept inside;
* the reference ``LSTM.step`` (``backend="reference"``), for scale.

Target (the streaming issue): ``step()`` at batch 1 >= 4x faster per call than
``torch.nn.LSTMCell``.  The same table is ``lstmkit bench --mode step``.

Usage::

    python benchmarks/bench_step.py                      # H = 64, 256; torch's threads
    python benchmarks/bench_step.py --step-sizes 64,128,256,512 --threads 2 --reps 21
"""

from __future__ import annotations

import sys

from lstmkit.cli.bench import main

if __name__ == "__main__":
    sys.exit(main(["--mode", "step", *sys.argv[1:]]))
