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


@pytest.fixture(params=["column_slices", "row_slices"])
def sliced_brgemm(request):
    """The brgemm path on, with a 16 KiB panel budget, so that every right-hand panel over it is
    cut (fused_common.h, brgemm_slices): ``column_slices``, as on a CPU with under 1 MiB of L2,
    into 128-column slices each multiplied in 64-row K slices; ``row_slices``, as with 1 MiB of
    L2 or more, into 64-row K slices of the whole width. Every setting is restored after."""
    from lstmkit.nn.fused.build import load

    ext = load()
    was_on = "brgemm=on" in ext.info(0)
    if not ext.set_brgemm(True):
        pytest.skip("oneDNN brgemm ukernel unavailable here")
    before = ext.set_brgemm_panel(16 * 1024)
    columns_before = ext.set_brgemm_columns(128 if request.param == "column_slices" else 0)
    yield
    ext.set_brgemm_columns(columns_before)
    ext.set_brgemm_panel(before)
    ext.set_brgemm(was_on)
