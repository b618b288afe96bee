"""Shared fixtures of the fused-kernel tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Run on one thread: the oracles (torch.nn, the reference scan: many tiny parallel ops per
    step) slow down badly when the 2-core machine is shared.  The multi-threaded kernel paths
    are checked bitwise against the one-thread results in the *_bitwise / 1-vs-2-thread tests."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
