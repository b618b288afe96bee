"""One timestep of each recurrent cell, written out gate by gate.

These functions are the reference mathematics of lstmkit: every faster path (the fused
kernels) is tested against them. They map ``(x_t, state) -> state`` and know nothing of time,
layers, directions or lengths; :mod:`lstmkit.nn.scan` owns those.

Symbols: N batch size, I input size, H hidden size, P projection size (``proj_size``).
Weights follow torch.nn's layout: the gate blocks are stacked along the rows, so ``weight_ih``
is ``(G*H, I)`` and ``weight_hh`` is ``(G*H, H)`` (or ``(G*H, P)`` with a projection), with
the gate order

* LSTM: input, forget, candidate (g), output — ``i, f, g, o`` (G = 4);
* LSTM with ``cifg=True``: forget, candidate, output — ``f, g, o`` (G = 3), the input gate
  being ``1 - f``;
* GRU: reset, update, new — ``r, z, n`` (G = 3);
* RNN: a single block (G = 1).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F


class LSTMStep(NamedTuple):
    """What one LSTM step computes. All ``(N, H)`` except ``hidden_state`` ``(N, P or H)``."""

    hidden_state: Tensor  # h_t, short-term memory and the cell's output
    cell_state: Tensor  # c_t, long-term memory
    input_gate: Tensor  # i_t
    forget_gate: Tensor  # f_t
    candidate: Tensor  # g_t, the candidate cell state
    output_gate: Tensor  # o_t


class GRUStep(NamedTuple):
    """What one GRU step computes, each ``(N, H)``."""

    hidden_state: Tensor  # h_t
    reset_gate: Tensor  # r_t
    update_gate: Tensor  # z_t
    new_gate: Tensor  # n_t, the candidate hidden state


class RNNStep(NamedTuple):
    """What one plain RNN step computes: ``(N, H)``."""

    hidden_state: Tensor


class LayerNormParams(NamedTuple):
    """Gains and biases of the layer-normalised LSTM (Ba, Kiros & Hinton 2016).

    ``ih`` and ``hh`` normalise the input and recurrent contributions to the gates, each over
    all ``G*H`` gate units; ``cell`` normalises the cell state before its tanh.
    """

    ih_weight: Tensor  # (G*H,)
    ih_bias: Tensor  # (G*H,)
    hh_weight: Tensor  # (G*H,)
    hh_bias: Tensor  # (G*H,)
    cell_weight: Tensor  # (H,)
    cell_bias: Tensor  # (H,)


LAYER_NORM_EPS = 1e-5


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return F.linear(x, weight, bias)


def layer_norm(x: Tensor, gain: Tensor, bias: Tensor, eps: float = LAYER_NORM_EPS) -> Tensor:
    """LN(x) = gain * (x - mean(x)) / sqrt(var(x) + eps) + bias, over the last dimension."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    return gain * (x - mean) / torch.sqrt(var + eps) + bias


def lstm_cell(
    x_t: Tensor,
    hidden_state: Tensor,
    cell_state: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    weight_hr: Tensor | None = None,
    peephole: tuple[Tensor, Tensor, Tensor] | None = None,
    layer_norm_params: LayerNormParams | None = None,
    cifg: bool = False,
) -> LSTMStep:
    r"""One step of the LSTM cell.

    With ``z_t = [h_{t-1}, x_t]`` seen as the two products ``W_i· x_t`` and ``W_h· h_{t-1}``::

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)          input gate
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)          forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)       candidate
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)          output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                         cell state (long-term memory)
        h_t = o_t ⊙ tanh(c_t)                                   hidden state (short-term memory)

    Options (any combination):

    * ``peephole=(w_ci, w_cf, w_co)``, each ``(H,)``: the gates look at the cell state,
      ``i_t += w_ci ⊙ c_{t-1}``, ``f_t += w_cf ⊙ c_{t-1}``, ``o_t += w_co ⊙ c_t`` (inside σ;
      Gers & Schmidhuber 2000).
    * ``layer_norm_params``: ``pre_t = LN_ih(W_i x_t) + LN_hh(W_h h_{t-1}) + b_i + b_h`` and
      ``h_t = o_t ⊙ tanh(LN_c(c_t))`` (Ba et al. 2016); the biases come after the norms.
    * ``cifg=True``: coupled input and forget gates, ``i_t = 1 - f_t``; the weights then hold
      only the ``f, g, o`` blocks.
    * ``weight_hr`` ``(P, H)``: a projection, ``h_t = W_hr (o_t ⊙ tanh(c_t))`` (Sak et al. 2014,
      torch's ``proj_size``).

    Shapes: ``x_t (N, I)``, ``hidden_state (N, P or H)``, ``cell_state (N, H)``.
    """
    gates_x = _linear(x_t, weight_ih, None)  # (N, G*H)
    gates_h = _linear(hidden_state, weight_hh, None)  # (N, G*H)
    if layer_norm_params is not None:
        ln = layer_norm_params
        gates_x = layer_norm(gates_x, ln.ih_weight, ln.ih_bias)
        gates_h = layer_norm(gates_h, ln.hh_weight, ln.hh_bias)
    preactivation = gates_x + gates_h
    if bias_ih is not None:
        preactivation = preactivation + bias_ih
    if bias_hh is not None:
        preactivation = preactivation + bias_hh

    if cifg:
        f_pre, g_pre, o_pre = preactivation.chunk(3, dim=-1)  # each (N, H)
    else:
        i_pre, f_pre, g_pre, o_pre = preactivation.chunk(4, dim=-1)  # each (N, H)
    if peephole is not None:
        w_ci, w_cf, w_co = peephole
        f_pre = f_pre + w_cf * cell_state
        if not cifg:
            i_pre = i_pre + w_ci * cell_state

    forget_gate = torch.sigmoid(f_pre)
    input_gate = 1.0 - forget_gate if cifg else torch.sigmoid(i_pre)
    candidate = torch.tanh(g_pre)
    new_cell_state = forget_gate * cell_state + input_gate * candidate

    if peephole is not None:
        o_pre = o_pre + w_co * new_cell_state
    output_gate = torch.sigmoid(o_pre)

    squashed_cell = new_cell_state
    if layer_norm_params is not None:
        squashed_cell = layer_norm(
            new_cell_state, layer_norm_params.cell_weight, layer_norm_params.cell_bias
        )
    new_hidden_state = output_gate * torch.tanh(squashed_cell)
    if weight_hr is not None:
        new_hidden_state = _linear(new_hidden_state, weight_hr, None)  # (N, P)
    return LSTMStep(
        new_hidden_state, new_cell_state, input_gate, forget_gate, candidate, output_gate
    )


def gru_cell(
    x_t: Tensor,
    hidden_state: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> GRUStep:
    r"""One step of the GRU cell, in torch's convention (gate order r, z, n)::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)                  reset gate
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)                  update gate
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))       new gate
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Note ``b_hn`` sits inside the reset gate's product, as in torch and cuDNN.
    Shapes: ``x_t (N, I)``, ``hidden_state (N, H)``.
    """
    gates_x = _linear(x_t, weight_ih, bias_ih)  # (N, 3H)
    gates_h = _linear(hidden_state, weight_hh, bias_hh)  # (N, 3H)
    r_x, z_x, n_x = gates_x.chunk(3, dim=-1)
    r_h, z_h, n_h = gates_h.chunk(3, dim=-1)
    reset_gate = torch.sigmoid(r_x + r_h)
    update_gate = torch.sigmoid(z_x + z_h)
    new_gate = torch.tanh(n_x + reset_gate * n_h)
    new_hidden_state = (1.0 - update_gate) * new_gate + update_gate * hidden_state
    return GRUStep(new_hidden_state, reset_gate, update_gate, new_gate)


def rnn_cell(
    x_t: Tensor,
    hidden_state: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    nonlinearity: str = "tanh",
) -> RNNStep:
    r"""One step of the plain (Elman) RNN::

        h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   φ = tanh or relu

    Shapes: ``x_t (N, I)``, ``hidden_state (N, H)``.
    """
    preactivation = _linear(x_t, weight_ih, bias_ih) + _linear(hidden_state, weight_hh, bias_hh)
    if nonlinearity == "tanh":
        return RNNStep(torch.tanh(preactivation))
    return RNNStep(torch.relu(preactivation))
