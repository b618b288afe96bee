"""Suite-wide settings: ``backend="auto"`` does not measure (``LSTMKIT_AUTOTUNE=0``), so it
runs the fused kernel wherever it can, the same on every run and machine; subprocesses (the
CLI tests) inherit it. The tuner's own tests (tests/nn/test_autotune.py) turn it on with fake
timings."""

import os

os.environ["LSTMKIT_AUTOTUNE"] = "0"
