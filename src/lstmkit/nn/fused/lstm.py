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
from .inputs import check_tensor, checked_lengths, grad_or_zeros, graph_inputs


def _check(name: str, t: torch.Tensor | None, shape: tuple[int, ...] | None, *, optional: bool = False) -> None:
    check_tensor("lstm_layer", name, t, shape, optional=optional)


class FusedLSTMFunction(torch.autograd.Function):
    """Autograd wrapper: ``apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, lengths)``.

    All tensors must already be validated and contiguous (``lstm_layer`` does it).
    Returns ``(output (T,N,P), h_n (N,P), c_n (N,H))`` (P = H without projection).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse, lengths):
        ext = load()
        # all False under no_grad / inference_mode (lstm_layer detaches the inputs there): nothing saved
        training = any(ctx.needs_input_grad[:8])
        output, h_n, c_n, gates, cells, rbuf = ext.lstm_forward(
            x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, bool(reverse), lengths, training
        )
        if training:
            ctx.save_for_backward(x, h0, c0, w_ih, w_hh, w_hr, output, gates, cells, rbuf)
            ctx.set_materialize_grads(False)  # None for an unused output: see grad_or_zeros
            ctx.shapes = (output.shape, h_n.shape, c_n.shape)
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
            *(grad_or_zeros(g, shape) for g, shape in zip((d_out, d_hn, d_cn), ctx.shapes)),
            ctx.reverse, ctx.lengths, flags,
        )
        db_ih = db if (need[5] and ctx.has_b[0]) else None
        db_hh = (db.clone() if db_ih is not None else db) if (need[6] and ctx.has_b[1]) else None
        return (dx if need[0] else None, dh0 if need[1] else None, dc0 if need[2] else None,
                dw_ih if need[3] else None, dw_hh if need[4] else None, db_ih, db_hh,
                dw_hr if flags[6] else None, None, None)


def _validate(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, G):
    """:func:`lstm_layer`'s argument checks; returns T, N, I, H, P and the initial states
    (zeros where None)."""
    _check("x", x, None)
    if x.dim() != 3:
        raise ValueError(f"lstm_layer: x must be 3-D (T, N, I), got shape {tuple(x.shape)}")
    T, N, I = x.shape
    _check("weight_hh", weight_hh, None)
    if weight_hh.dim() != 2:
        raise ValueError(f"lstm_layer: weight_hh must have shape (G*H, P), got {tuple(weight_hh.shape)}")
    if weight_hh.shape[0] % G != 0:
        raise ValueError(f"lstm_layer: weight_hh must have shape ({G}H, P), got {tuple(weight_hh.shape)}")
    H, P = weight_hh.shape[0] // G, weight_hh.shape[1]
    if weight_hr is None:
        if P != H:
            raise ValueError(f"lstm_layer: weight_hh must have shape (4H, H), got {tuple(weight_hh.shape)}")
    else:
        _check("weight_hr", weight_hr, (P, H))
        if P >= H:
            raise ValueError(f"lstm_layer: the projection size must be smaller than the hidden size "
                             f"(torch's rule), got P={P} >= H={H}")
    _check("weight_ih", weight_ih, (G * H, I))
    if h0 is None:
        h0 = x.new_zeros(N, P)
    if c0 is None:
        c0 = x.new_zeros(N, H)
    _check("h0", h0, (N, P))
    _check("c0", c0, (N, H))
    _check("bias_ih", bias_ih, (G * H,), optional=True)
    _check("bias_hh", bias_hh, (G * H,), optional=True)
    if T < 1:
        raise ValueError("lstm_layer: the sequence must have at least one step (T >= 1)")
    return T, N, I, H, P, h0, c0


def lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *, reverse=False, lengths=None,
               weight_hr=None, peephole=None, layer_norm=None, cifg=False, recurrent_mask=None,
               zoneout_masks=None, zoneout_expectation=None, return_trace=False, _checked=False):
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

        peephole: optional ``(w_ci, w_cf, w_co)``, each (H,) (``w_ci`` None with ``cifg``).
        layer_norm: optional :class:`~lstmkit.nn.cells.LayerNormParams` (gains and biases of
            LN_ih, LN_hh (G*H,) and LN_c (H,)).
        cifg: coupled input-forget gate; the weights then hold the f, g, o blocks (G = 3).
        recurrent_mask: optional (N, P) scaled keep-mask multiplied into h_{t-1} where it
            enters the gates (recurrent dropout).
        zoneout_masks: optional ``(keep_h (T, N, P), keep_c (T, N, H))`` booleans: True where
            a unit keeps its previous value.
        zoneout_expectation: optional ``(p_h, p_c)``, each in [0, 1): zoneout's expectation
            in place of masks (evaluation mode): ``h_t = p_h h_{t-1} + (1 - p_h) h_new``, and
            ``c_t`` alike with ``p_c``.  Not with ``zoneout_masks``.
        return_trace: also return the step record (see below).

    The variants (any of the five options above, or ``return_trace``) run on the variant
    kernel; the plain LSTM keeps the block-layout kernel.  The equations are those of
    :func:`lstmkit.nn.cells.lstm_cell` and :func:`lstmkit.nn.scan.scan`.

    Returns:
        ``(output (T, N, P), h_n (N, P), c_n (N, H))``, differentiable w.r.t. every tensor
        argument except ``lengths`` and the masks; with ``return_trace`` a fourth value, an
        :class:`~lstmkit.nn.cells.LSTMStep` of (T, N, *) tensors equal to the reference
        scan's trace (0 past a sequence's end; ``cell_state``/``hidden_state`` the carried
        states after zoneout).  Its gates and ``cell_state`` are not differentiable.
    """
    G = 3 if cifg else 4
    if _checked:  # lstmkit's own modules: shapes, dtype and device follow from their config
        T, N, I = x.shape
        H, P = weight_hh.shape[0] // G, weight_hh.shape[1]
        if h0 is None:
            h0 = x.new_zeros(N, P)
        if c0 is None:
            c0 = x.new_zeros(N, H)
    else:
        T, N, I, H, P, h0, c0 = _validate(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, G)
    lengths = checked_lengths("lstm_layer", lengths, N, T)

    c = lambda t: None if t is None else t.contiguous()  # noqa: E731
    zx = (0.0, 0.0)
    if zoneout_expectation is not None:
        if zoneout_masks is not None:
            raise ValueError("lstm_layer: zoneout_masks and zoneout_expectation are exclusive (training or evaluation)")
        zx = tuple(float(p) for p in zoneout_expectation)
        if len(zx) != 2 or not all(0.0 <= p < 1.0 for p in zx):
            raise ValueError(f"lstm_layer: zoneout_expectation must be (p_h, p_c), each in [0, 1), got {zoneout_expectation!r}")
    variant = (peephole is not None or layer_norm is not None or cifg or recurrent_mask is not None
               or zoneout_masks is not None or zx != (0.0, 0.0) or return_trace)
    if variant:
        w_ci = w_cf = w_co = None
        if peephole is not None:
            w_ci, w_cf, w_co = peephole
            if cifg:
                w_ci = None
            if not _checked:
                if not cifg:
                    _check("w_ci", w_ci, (H,))
                _check("w_cf", w_cf, (H,))
                _check("w_co", w_co, (H,))
        ln = [None] * 6
        if layer_norm is not None:
            ln = list(layer_norm)
            for name, t, size in zip(("ln_ih_w", "ln_ih_b", "ln_hh_w", "ln_hh_b", "ln_c_w", "ln_c_b"), ln,
                                     (G * H, G * H, G * H, G * H, H, H)):
                if not _checked:
                    _check(name, t, (size,))
        if recurrent_mask is not None and not _checked:
            _check("recurrent_mask", recurrent_mask, (N, P))
        zh = zc = None
        if zoneout_masks is not None:
            zh, zc = zoneout_masks
            for name, t, shape in (("keep_h", zh, (T, N, P)), ("keep_c", zc, (T, N, H))):
                if _checked:
                    break
                if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape or t.device.type != "cpu":
                    raise ValueError(f"lstm_layer: zoneout mask {name} must be a CPU tensor of shape {shape}")
            zh, zc = zh.to(torch.bool).contiguous(), zc.to(torch.bool).contiguous()
        if torch.is_grad_enabled():
            output, h_n, c_n, gates, cells = FusedLSTMVariantFunction.apply(
                *graph_inputs(c(x), c(h0), c(c0), c(weight_ih), c(weight_hh), c(bias_ih), c(bias_hh), c(weight_hr),
                              c(w_ci), c(w_cf), c(w_co), *(c(t) for t in ln)),
                c(recurrent_mask), zh, zc, zx, bool(cifg), bool(reverse), lengths, bool(return_trace),
            )
        else:  # no graph to record: the kernel alone (the buffers saved only for a trace)
            extra = _extra(*(c(t) for t in (w_ci, w_cf, w_co, *ln)))
            output, h_n, c_n, gates, cells = load().lstm_var_forward(
                c(x), c(h0), c(c0), c(weight_ih), c(weight_hh), c(bias_ih), c(bias_hh), c(weight_hr), extra,
                c(recurrent_mask), zh, zc, *zx, bool(cifg), bool(reverse), lengths, bool(return_trace))[:5]
        if not return_trace:
            return output, h_n, c_n
        return output, h_n, c_n, _trace(output, gates, cells, H, cifg, lengths)
    if not torch.is_grad_enabled():  # no graph to record: the kernel alone (no autograd.Function around it)
        output, h_n, c_n, *_ = load().lstm_forward(c(x), c(h0), c(c0), c(weight_ih), c(weight_hh), c(bias_ih),
                                                   c(bias_hh), c(weight_hr), bool(reverse), lengths, False)
        return output, h_n, c_n
    return FusedLSTMFunction.apply(
        *graph_inputs(c(x), c(h0), c(c0), c(weight_ih), c(weight_hh), c(bias_ih), c(bias_hh), c(weight_hr)),
        bool(reverse), lengths,
    )


# --------------------------------------------------------------------------- variants
_EMPTY = None


def _empty() -> torch.Tensor:
    global _EMPTY
    if _EMPTY is None:
        # a normal tensor even when first made under inference_mode (it is saved for backward)
        with torch.inference_mode(False):
            _EMPTY = torch.empty(0)
    return _EMPTY


def _extra(*tensors) -> list[torch.Tensor]:
    """The kernel's ``extra`` list (w_ci, w_cf, w_co, the six layer-norm tensors), absent
    ones as the empty tensor."""
    e = _empty()
    return [e if t is None else t for t in tensors]


class FusedLSTMVariantFunction(torch.autograd.Function):
    """Autograd wrapper of the variant kernel (``lstm_var_forward`` / ``lstm_var_backward``).

    ``apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, w_ci, w_cf, w_co, ln_ih_w, ln_ih_b,
    ln_hh_w, ln_hh_b, ln_c_w, ln_c_b, rd_mask, zh_mask, zc_mask, zoneout_expectation, cifg, reverse,
    lengths, save)`` with ``zoneout_expectation`` ``(p_h, p_c)`` ((0, 0): none)
    with absent tensors as None.  Returns ``(output, h_n, c_n, gates, cells)``; ``gates``
    (T, N, G*H) activated, torch gate order, and ``cells`` (T, N, H) the carried c_t are
    filled only when ``save`` (or when training) and are not differentiable.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, w_ci, w_cf, w_co,
                ln_ih_w, ln_ih_b, ln_hh_w, ln_hh_b, ln_c_w, ln_c_b,
                rd_mask, zh_mask, zc_mask, zx, cifg, reverse, lengths, save):
        ext = load()
        training = any(ctx.needs_input_grad[:17])
        extra = _extra(w_ci, w_cf, w_co, ln_ih_w, ln_ih_b, ln_hh_w, ln_hh_b, ln_c_w, ln_c_b)
        res = ext.lstm_var_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, extra, rd_mask, zh_mask, zc_mask, *zx,
                                   bool(cifg), bool(reverse), lengths, bool(training or save))
        output, h_n, c_n, gates, cells = res[:5]
        if training:
            ctx.save_for_backward(x, h0, c0, w_ih, w_hh, w_hr, *extra, *res[3:14])
            ctx.set_materialize_grads(False)  # None for an unused output: see grad_or_zeros
            ctx.shapes = (output.shape, h_n.shape, c_n.shape)
            ctx.masks = (rd_mask, zh_mask, zc_mask, zx, lengths)
            ctx.flags = (bool(cifg), bool(reverse), b_ih is not None, b_hh is not None, w_ci is not None,
                         w_cf is not None, ln_ih_w is not None)
        ctx.mark_non_differentiable(gates, cells)
        return output, h_n, c_n, gates, cells

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_hn, d_cn, _dg, _dc):
        ext = load()
        saved = ctx.saved_tensors
        x, h0, c0, w_ih, w_hh, w_hr = saved[:6]
        extra = list(saved[6:15])
        buffers = list(saved[15:26])
        rd_mask, zh_mask, zc_mask, zx, lengths = ctx.masks
        cifg, reverse, has_bih, has_bhh, has_ci, has_peep, has_ln = ctx.flags
        need = ctx.needs_input_grad
        need_bias = (need[5] and has_bih) or (need[6] and has_bhh)
        flags = [need[0], need[1], need[2], need[3], need[4], need_bias, need[7] and w_hr is not None,
                 has_peep and any(need[8:11]), has_ln and any(need[11:17])]
        g = ext.lstm_var_backward(x, h0, c0, w_ih, w_hh, w_hr, extra, rd_mask, zh_mask, zc_mask, *zx, cifg,
                                  reverse, lengths, buffers,
                                  *(grad_or_zeros(g, shape) for g, shape in zip((d_out, d_hn, d_cn), ctx.shapes)),
                                  flags)
        dx, dh0, dc0, dw_ih, dw_hh, db, dw_hr, dwci, dwcf, dwco, dlnih_w, dlnih_b, dlnhh_w, dlnhh_b, dlnc_w, dlnc_b = g
        db_ih = db if (need[5] and has_bih) else None
        db_hh = (db.clone() if db_ih is not None else db) if (need[6] and has_bhh) else None
        pick = lambda i, v: v if need[i] else None  # noqa: E731
        return (pick(0, dx), pick(1, dh0), pick(2, dc0), pick(3, dw_ih), pick(4, dw_hh), db_ih, db_hh,
                dw_hr if flags[6] else None,
                pick(8, dwci) if has_ci else None, pick(9, dwcf), pick(10, dwco),
                pick(11, dlnih_w), pick(12, dlnih_b), pick(13, dlnhh_w), pick(14, dlnhh_b),
                pick(15, dlnc_w), pick(16, dlnc_b),
                None, None, None, None, None, None, None, None)


def _trace(output, gates, cells, H, cifg, lengths):
    """The reference scan's trace record from the kernel's saved buffers."""
    from ..cells import LSTMStep

    T, N = output.shape[:2]
    active = None
    if lengths is not None:
        active = (torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0)).unsqueeze(2)  # (T, N, 1)
    if cifg:
        f, g, o = gates.split(H, dim=2)
        i = 1.0 - f if active is None else (1.0 - f) * active
    else:
        i, f, g, o = gates.split(H, dim=2)
    cell = cells if active is None else cells * active
    return LSTMStep(output, cell, i, f, g, o)
