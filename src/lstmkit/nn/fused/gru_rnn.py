"""The fused GRU and plain-RNN layer-directions as ``torch.autograd.Function`` s.

One layer, one direction of ``torch.nn.GRU`` (gate order r, z, n along the 3H rows)::

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

or of ``torch.nn.RNN``: ``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, phi = tanh or
relu.  The forward and the backward are each ONE call into the compiled kernel
(``lstmkit/nn/csrc/gru_rnn_fused.cpp``, extension ``"gru_rnn"``) for the whole sequence.

Buffers saved for the backward (besides the inputs and the output): the GRU's activated
gates and ``W_hn h_{t-1} + b_hn``, ``(T, N, 4H)`` in the kernel's block layout; the RNN saves
nothing else (phi' is a function of the output).
"""

from __future__ import annotations

import torch

from .build import load
from .inputs import check_tensor, checked_lengths, grad_or_zeros, graph_inputs

_CELLS = {"gru": 0, "tanh": 1, "relu": 2}


def _ext():
    return load("gru_rnn")


class FusedGRUFunction(torch.autograd.Function):
    """``apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse, lengths, save) -> (output, h_n, gates)``.

    Tensors validated and contiguous (``gru_layer`` does it).  ``gates`` (T, N, 4H), block
    layout, is filled when ``save`` or when training (else empty) and is not differentiable.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, lengths, save):
        training = any(ctx.needs_input_grad[:6])
        output, h_n, gates = _ext().gru_rnn_forward(0, x, h0, w_ih, w_hh, b_ih, b_hh, bool(reverse), lengths,
                                                    bool(training or save))
        if training:
            ctx.save_for_backward(x, h0, w_ih, w_hh, output, gates)
            ctx.set_materialize_grads(False)  # None for an unused output: see grad_or_zeros
            ctx.lengths = lengths
            ctx.reverse = bool(reverse)
            ctx.has_b = (b_ih is not None, b_hh is not None)
        ctx.mark_non_differentiable(gates)
        return output, h_n, gates

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_hn, _dg):
        x, h0, w_ih, w_hh, output, gates = ctx.saved_tensors
        need = ctx.needs_input_grad
        need_b = (need[4] and ctx.has_b[0], need[5] and ctx.has_b[1])
        dx, dh0, dw_ih, dw_hh, db_ih, db_hh = _ext().gru_rnn_backward(
            0, x, h0, w_ih, w_hh, output, gates, grad_or_zeros(d_out, output.shape), grad_or_zeros(d_hn, h0.shape),
            ctx.reverse, ctx.lengths, [need[0], need[1], need[2], need[3], any(need_b)],
        )
        return (dx if need[0] else None, dh0 if need[1] else None, dw_ih if need[2] else None,
                dw_hh if need[3] else None, db_ih if need_b[0] else None, db_hh if need_b[1] else None,
                None, None, None)


class FusedRNNFunction(torch.autograd.Function):
    """``apply(x, h0, w_ih, w_hh, b_ih, b_hh, cell, reverse, lengths) -> (output, h_n)``,
    ``cell`` 1 (tanh) or 2 (relu)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, cell, reverse, lengths):
        training = any(ctx.needs_input_grad[:6])
        output, h_n, _ = _ext().gru_rnn_forward(cell, x, h0, w_ih, w_hh, b_ih, b_hh, bool(reverse), lengths, False)
        if training:
            ctx.save_for_backward(x, h0, w_ih, w_hh, output)
            ctx.set_materialize_grads(False)  # None for an unused output: see grad_or_zeros
            ctx.lengths = lengths
            ctx.reverse = bool(reverse)
            ctx.cell = cell
            ctx.has_b = (b_ih is not None, b_hh is not None)
        return output, h_n

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_hn):
        x, h0, w_ih, w_hh, output = ctx.saved_tensors
        need = ctx.needs_input_grad
        need_b = (need[4] and ctx.has_b[0], need[5] and ctx.has_b[1])
        dx, dh0, dw_ih, dw_hh, db, _ = _ext().gru_rnn_backward(
            ctx.cell, x, h0, w_ih, w_hh, output, output.new_empty(0), grad_or_zeros(d_out, output.shape),
            grad_or_zeros(d_hn, h0.shape),
            ctx.reverse, ctx.lengths, [need[0], need[1], need[2], need[3], any(need_b)],
        )
        db_ih = db if need_b[0] else None
        db_hh = (db.clone() if db_ih is not None else db) if need_b[1] else None
        return (dx if need[0] else None, dh0 if need[1] else None, dw_ih if need[2] else None,
                dw_hh if need[3] else None, db_ih, db_hh, None, None, None)


def _validate(fn, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, lengths, G, checked=False):
    c = lambda t: None if t is None else t.contiguous()  # noqa: E731
    if checked:  # lstmkit's own modules: shapes, dtype and device follow from their config
        H = weight_hh.shape[1]
        if h0 is None:
            h0 = x.new_zeros(x.shape[1], H)
        lengths = checked_lengths(fn, lengths, x.shape[1], x.shape[0])
        return c(x), c(h0), c(weight_ih), c(weight_hh), c(bias_ih), c(bias_hh), lengths, H

    def check(name, t, shape, optional=False):
        check_tensor(fn, name, t, shape, optional=optional)

    check("x", x, None)
    if x.dim() != 3:
        raise ValueError(f"{fn}: x must be 3-D (T, N, I), got shape {tuple(x.shape)}")
    T, N, I = x.shape
    check("weight_hh", weight_hh, None)
    if weight_hh.dim() != 2 or weight_hh.shape[0] != G * weight_hh.shape[1]:
        raise ValueError(f"{fn}: weight_hh must have shape ({G}H, H), got {tuple(weight_hh.shape)}")
    H = weight_hh.shape[1]
    check("weight_ih", weight_ih, (G * H, I))
    if h0 is None:
        h0 = x.new_zeros(N, H)
    check("h0", h0, (N, H))
    check("bias_ih", bias_ih, (G * H,), optional=True)
    check("bias_hh", bias_hh, (G * H,), optional=True)
    if T < 1:
        raise ValueError(f"{fn}: the sequence must have at least one step (T >= 1)")
    lengths = checked_lengths(fn, lengths, N, T)
    return c(x), c(h0), c(weight_ih), c(weight_hh), c(bias_ih), c(bias_hh), lengths, H


def gru_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, reverse=False, lengths=None,
              return_trace=False, _checked=False):
    """One layer, one direction of a GRU over a whole sequence, with the fused CPU kernel.

    Args:
        x: (T, N, I) float32 CPU input, time-major (made contiguous if it is not).
        h0: (N, H) initial hidden state (``None`` means zeros).
        weight_ih: (3H, I); weight_hh: (3H, H); bias_ih, bias_hh: (3H,) or None.  Gate order
            along the rows: r, z, n (torch's).
        reverse: scan from t = T-1 down to 0 (``output[t]`` is still the state at position t).
        lengths: optional int64 CPU tensor (N,), 1 <= lengths[b] <= T, any order: outputs at
            t >= lengths[b] are 0, h_n is the state after the sequence's last real step (with
            ``reverse`` the scan of sequence b starts at t = lengths[b]-1 from h0).
        return_trace: also return a :class:`~lstmkit.nn.cells.GRUStep` of (T, N, H) tensors
            equal to the reference scan's trace (0 past a sequence's end); its gates are not
            differentiable, its ``hidden_state`` is the output.

    Returns:
        ``(output (T, N, H), h_n (N, H)[, trace])``, differentiable w.r.t. every tensor
        argument except ``lengths``.
    """
    x, h0, w_ih, w_hh, b_ih, b_hh, lengths, H = _validate("gru_layer", x, h0, weight_ih, weight_hh, bias_ih,
                                                          bias_hh, lengths, 3, _checked)
    if torch.is_grad_enabled():
        output, h_n, gates = FusedGRUFunction.apply(*graph_inputs(x, h0, w_ih, w_hh, b_ih, b_hh), bool(reverse),
                                                    lengths, bool(return_trace))
    else:  # no graph to record: the kernel alone
        output, h_n, gates = _ext().gru_rnn_forward(0, x, h0, w_ih, w_hh, b_ih, b_hh, bool(reverse), lengths,
                                                    bool(return_trace))
    if not return_trace:
        return output, h_n
    from ..cells import GRUStep

    r, z, n = gates.index_select(2, _ext().block_index(H, 4)[: 3 * H]).split(H, dim=2)
    return output, h_n, GRUStep(output, r, z, n)


def rnn_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, nonlinearity="tanh", reverse=False,
              lengths=None, return_trace=False, _checked=False):
    """One layer, one direction of a plain (Elman) RNN over a whole sequence, fused.

    ``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` with phi = ``nonlinearity``
    (``"tanh"`` or ``"relu"``); weight_ih (H, I), weight_hh (H, H), biases (H,) or None.
    The other arguments and the return value are those of :func:`gru_layer` (the trace is an
    :class:`~lstmkit.nn.cells.RNNStep` holding the output).
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, h0, w_ih, w_hh, b_ih, b_hh, lengths, _ = _validate("rnn_layer", x, h0, weight_ih, weight_hh, bias_ih,
                                                          bias_hh, lengths, 1, _checked)
    if torch.is_grad_enabled():
        output, h_n = FusedRNNFunction.apply(*graph_inputs(x, h0, w_ih, w_hh, b_ih, b_hh), _CELLS[nonlinearity],
                                             bool(reverse), lengths)
    else:  # no graph to record: the kernel alone
        output, h_n, _ = _ext().gru_rnn_forward(_CELLS[nonlinearity], x, h0, w_ih, w_hh, b_ih, b_hh, bool(reverse),
                                                lengths, False)
    if not return_trace:
        return output, h_n
    from ..cells import RNNStep

    return output, h_n, RNNStep(output)
