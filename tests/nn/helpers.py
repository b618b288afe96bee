"""Shared helpers for the nn tests: run a module and collect outputs and gradients; run it on
a named backend."""

import contextlib
from unittest import mock

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence


def outputs_of(result):
    """Flatten (output, state) into a list of tensors (PackedSequence -> its data)."""
    output, state = result[0], result[1]
    out = [output.data if isinstance(output, PackedSequence) else output]
    out += list(state) if isinstance(state, tuple) else [state]
    return out


def run_with_grads(module, make_input, hx=None, seed=123):
    """Forward, then backward a fixed random projection of every output.

    Returns (outputs, gradients of [input, *hx, *parameters]).
    """
    inp = make_input()
    leaf = inp.data if isinstance(inp, PackedSequence) else inp
    hx_leaves = [] if hx is None else ([t for t in hx] if isinstance(hx, tuple) else [hx])
    result = module(inp, hx)
    outs = outputs_of(result)
    gen = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    wrt = [leaf] + hx_leaves + list(module.parameters())
    grads = torch.autograd.grad(loss, wrt, allow_unused=True, materialize_grads=True)
    return [o.detach() for o in outs], grads


def assert_close_lists(a, b, atol, what):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.shape == y.shape, f"{what}[{i}]: shape {tuple(x.shape)} != {tuple(y.shape)}"
        torch.testing.assert_close(x, y, atol=atol, rtol=atol, msg=lambda m: f"{what}[{i}]: {m}")


# ------------------------------------------------------------------ backends
BACKENDS = ("reference", "fused", "torch")
EXTENSIONS = {"lstm": "lstm", "gru": "gru_rnn", "rnn": "gru_rnn"}  # the compiled kernels of each kind


def fused_missing(kind="lstm"):
    """Why the fused kernels of ``kind`` cannot run here (None: they can; compiles them once)."""
    from lstmkit.nn import fused

    extension = EXTENSIONS[kind]
    return None if fused.available(extension) else f"the fused {extension} kernels are unavailable: " \
        f"{fused.unavailable_reason(extension)}"


def requested(backend):
    """The ``backend=`` argument that runs ``backend``: ``"torch"`` is what ``"auto"`` picks
    for a plain configuration where the fused kernels cannot compile (see :func:`on`)."""
    return "auto" if backend == "torch" else backend


@contextlib.contextmanager
def on(backend, kind="lstm"):
    """Inside, a module built with ``backend=requested(backend)`` runs on ``backend``.
    ``"fused"`` skips the test, saying why, where the kernels cannot compile; ``"torch"``:
    the fused backend answers that its kernel is unavailable, as where it cannot compile."""
    if backend == "fused":
        reason = fused_missing(kind)
        if reason is not None:
            pytest.skip(reason)
    if backend != "torch":
        yield
        return
    from lstmkit.nn.backend import FUSED

    with mock.patch.object(FUSED, "unavailable", lambda call: "the fused kernel is unavailable (off in this test)"):
        yield


def runnable_backends(kind="lstm"):
    """The backends of :data:`BACKENDS` that can run here (for loops that cannot skip)."""
    return [b for b in BACKENDS if b != "fused" or fused_missing(kind) is None]
