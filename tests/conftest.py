"""Suite-wide settings: ``backend="auto"`` does not measure (``LSTMKIT_AUTOTUNE=0``), so it
runs the fused kernel wherever it can, the same on every run and machine; subprocesses (the
CLI tests) inherit it. The tuner's own tests (tests/nn/test_autotune.py) turn it on with fake
timings.

Under pytest-xdist (``make test`` runs ``-n``), each worker gets an equal share of the cores
for its OpenMP threads (``OMP_NUM_THREADS``, which the CLI tests' subprocesses inherit too),
unless the caller set it: two workers each running two OpenMP threads on two cores spin in
each other's barriers and run many times slower.

Tests marked ``slow`` (each 6 s or more on a 2-core machine: training runs, subprocesses)
are left out by ``pytest -m "not slow"`` for a quicker pass (the 50 of them took 470 of the
suite's 850 CPU seconds on an AMD EPYC Zen 1)."""

import os

os.environ["LSTMKIT_AUTOTUNE"] = "0"

_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
if _workers > 1 and "OMP_NUM_THREADS" not in os.environ:
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["OMP_NUM_THREADS"] = str(max(1, _cores // _workers))

