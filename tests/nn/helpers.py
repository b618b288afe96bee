"""Shared helpers for the nn tests: run a module and collect outputs and gradients."""

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
