"""The fused LSTM layer-direction as a ``torch.autograd.Function``.

One layer, one direction of ``torch.nn.LSTM`` (gate order i, f, g, o along the 4H rows)::

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh        (N, 4H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

The forward and the backward are each ONE call into the compiled kernel
(``lstmkit/nn/csrc/lstm_fused.cpp``) for the whole sequence.

Buffers saved for the backward (besides the inputs and the output)::

    gates  (T, N, 4H)  activated gates, in the kernel's block layout (see the C++ header)
    cells  (T, N, H)   c_t at every step (the frozen state at steps past a sequence's end)
"""

from __future__ import annotations

import torch

from .build import load


def _check(name: str, t: torch.Tensor | None, shape: tuple[int, ...] | None, *, optional: bool = False) -> None:
    if t is None:
        if optional:
            return
        raise TypeError(f"lstm_layer: {name} must be a tensor, got None")
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"lstm_layer: {name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"lstm_layer: {name} must be on the CPU, got device {t.device}")
    if t.dtype != torch.float32:
        raise TypeError(f"lstm_layer: {name} must be float32, got {t.dtype}")
    if shape is not None and tuple(t.shape) != shape:
        raise ValueError(f"lstm_layer: {name} must have shape {shape}, got {tuple(t.shape)}")


class FusedLSTMFunction(torch.autograd.Function):
    """Autograd wrapper: ``apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, lengths)``.

    All tensors must already be validated and contiguous (``lstm_layer`` does it).
    Returns ``(output (T,N,P), h_n (N,P), c_n (N,H))`` (P = H without projection).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, lengths):
        ext = load()
        # needs_input_grad is all False under no_grad / inference_mode: then nothing is saved.
        training = any(ctx.needs_input_grad[:8])
        output, h_n, c_n, gates, cells, rbuf = ext.lstm_forward(
            x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, bool(reverse), lengths, training
        )
        if training:
            ctx.save_for_backward(x, h0, c0, w_ih, w_hh, w_hr, output, gates, cells, rbuf)
            ctx.lengths = lengths
            ctx.reverse = bool(reverse)
            ctx.has_b = (b_ih is not None, b_hh is not None)
        return output, h_n, c_n

    @staticmethod
    @torch.autograd.function.once_differentiable  # the kernel's backward is not itself differentiable
    def backward(ctx, d_out, d_hn, d_cn):
        ext = load()
        x, h0, c0, w_ih, w_hh, w_hr, output, gates, cells, rbuf = ctx.saved_tensors
        need = list(ctx.needs_input_grad[:8])
        need_bias = (need[5] and ctx.has_b[0]) or (need[6] and ctx.has_b[1])
        flags = [need[0], need[1], need[2], need[3], need[4], need_bias, need[7] and w_hr is not None]
        dx, dh0, dc0, dw_ih, dw_hh, db, dw_hr = ext.lstm_backward(
            x, h0, c0, w_ih, w_hh, w_hr, output, gates, cells, rbuf,
            d_out.contiguous(), d_hn.contiguous(), d_cn.contiguous(),
            ctx.reverse, ctx.lengths, flags,
        )
        db_ih = db if (need[5] and ctx.has_b[0]) else None
        db_hh = (db.clone() if db_ih is not None else db) if (need[6] and ctx.has_b[1]) else None
        return (dx if need[0] else None, dh0 if need[1] else None, dc0 if need[2] else None,
                dw_ih if need[3] else None, dw_hh if need[4] else None, db_ih, db_hh,
                dw_hr if flags[6] else None, None, None)


def lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, reverse=False, lengths=None,
               weight_hr=None):
    """One layer, one direction of an LSTM over a whole sequence, with the fused CPU kernel.

    Args:
        x: (T, N, I) float32 CPU input, time-major (made contiguous if it is not).
        h0: (N, P) initial hidden state, c0: (N, H) initial cell state (``None`` means zeros);
            P = H unless ``weight_hr`` is given.
        weight_ih: (4H, I); weight_hh: (4H, P); bias_ih, bias_hh: (4H,) or None.
            Gate order along the 4H rows: i, f, g, o (torch's).
        reverse: scan from t = T-1 down to 0 (``output[t]`` is still the state at position t).
        lengths: optional int64 CPU tensor (N,), 1 <= lengths[b] <= T, any order.  Outputs at
            t >= lengths[b] are 0 and the state is frozen outside [0, lengths[b]): h_n/c_n are
            the state after the sequence's last real step (with ``reverse`` the scan of sequence
            b starts at t = lengths[b]-1 from h0/c0).
        weight_hr: optional (P, H) projection (``torch.nn.LSTM(proj_size=P)``):
            h_t = W_hr (o * tanh(c_t)).

    Returns:
        ``(output (T, N, P), h_n (N, P), c_n (N, H))``, differentiable w.r.t. every tensor
        argument except ``lengths``.
    """
    _check("x", x, None)
    if x.dim() != 3:
        raise ValueError(f"lstm_layer: x must be 3-D (T, N, I), got shape {tuple(x.shape)}")
    T, N, I = x.shape
    _check("weight_hh", weight_hh, None)
    if weight_hh.dim() != 2 or weight_hh.shape[0] % 4 != 0:
        raise ValueError(f"lstm_layer: weight_hh must have shape (4H, P), got {tuple(weight_hh.shape)}")
    H, P = weight_hh.shape[0] // 4, weight_hh.shape[1]
    if weight_hr is None:
        if P != H:
            raise ValueError(f"lstm_layer: weight_hh must have shape (4H, H), got {tuple(weight_hh.shape)}")
    else:
        _check("weight_hr", weight_hr, (P, H))
        if P >= H:
            raise ValueError(f"lstm_layer: the projection size must be smaller than the hidden size "
                             f"(torch's rule), got P={P} >= H={H}")
    _check("weight_ih", weight_ih, (4 * H, I))
    if h0 is None:
        h0 = x.new_zeros(N, P)
    if c0 is None:
        c0 = x.new_zeros(N, H)
    _check("h0", h0, (N, P))
    _check("c0", c0, (N, H))
    _check("bias_ih", bias_ih, (4 * H,), optional=True)
    _check("bias_hh", bias_hh, (4 * H,), optional=True)
    if T < 1:
        raise ValueError("lstm_layer: the sequence must have at least one step (T >= 1)")
    if lengths is not None:
        if not isinstance(lengths, torch.Tensor):
            lengths = torch.as_tensor(lengths)
        if lengths.device.type != "cpu" or lengths.dim() != 1 or lengths.shape[0] != N:
            raise ValueError(f"lstm_layer: lengths must be a CPU tensor of shape ({N},), got {tuple(lengths.shape)}")
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise TypeError(f"lstm_layer: lengths must be integers, got {lengths.dtype}")
        lengths = lengths.to(torch.int64).contiguous()
        if N > 0 and (int(lengths.min()) < 1 or int(lengths.max()) > T):
            raise ValueError(f"lstm_layer: lengths must lie in [1, T={T}], got min {int(lengths.min())}, "
                             f"max {int(lengths.max())}")
        if N > 0 and int(lengths.min()) == T:
            lengths = None  # all full length: the plain path is identical and faster

    c = lambda t: None if t is None else t.contiguous()  # noqa: E731
    return FusedLSTMFunction.apply(
        c(x), c(h0), c(c0), c(weight_ih), c(weight_hh), c(bias_ih), c(bias_hh), c(weight_hr), bool(reverse), lengths
    )
