r"""Backpropagation through time: its remedies and its diagnosis.

Training a recurrent network unrolls it over the sequence and backpropagates through every
step. The gradient reaching step t is a product of one Jacobian per later step, so over long
sequences it can shrink towards zero (vanishing: the plain RNN forgets long-term
dependencies) or grow without bound (exploding). This module holds:

* :func:`clip_grad_norm` — rescale the gradients when their global norm exceeds a threshold
  (the remedy for exploding gradients, Pascanu et al. 2013), returning the pre-clip norm;
* :func:`truncated_bptt` — run a long sequence in chunks of k steps, backpropagating within a
  chunk and carrying the state, detached, across chunks;
* :func:`gradient_through_time` — for a loss at the last step, the norms of ∂L/∂h_t and
  ∂L/∂c_t at every step t: the vanishing-gradient curve.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, NamedTuple

import torch
from torch import Tensor, nn


def clip_grad_norm(
    parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0
) -> float:
    r"""Scale gradients in place so their global norm is at most ``max_norm``.

    ``total = (Σ_p ‖∇p‖^q)^{1/q}`` over all parameters (q = ``norm_type``, ``inf`` for max);
    if ``total > max_norm`` every gradient is multiplied by ``max_norm / total``. Returns
    ``total`` measured before clipping (inf or nan are returned as they are, and then nothing
    is scaled, so the caller can skip the step).
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(g.detach().abs().max()) for g in grads)
    else:
        total = float(
            torch.stack([torch.linalg.vector_norm(g.detach(), norm_type) for g in grads])
            .norm(norm_type)
        )
    if math.isfinite(total) and total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g.detach().mul_(scale)
    return total


def detach_state(state):
    """The state with its history cut: tensors detached, tuples walked."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


class TBPTTResult(NamedTuple):
    loss: float  # the sum of the chunk losses
    chunk_losses: list[float]
    state: object  # the final state (detached)


def truncated_bptt(
    model: Callable,
    input: Tensor,
    target: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    k: int,
    *,
    state=None,
    optimizer: torch.optim.Optimizer | None = None,
    max_norm: float | None = None,
    time_dim: int = 0,
) -> TBPTTResult:
    """Truncated backpropagation through time over chunks of ``k`` steps.

    ``model(chunk, state) -> (output, state)`` is called on consecutive chunks of ``input``
    along ``time_dim``; each chunk's ``loss_fn(output, target_chunk)`` is backpropagated at
    once (through at most k steps), then the state is detached and carried to the next chunk.
    With an ``optimizer``, a step follows each chunk (after clipping to ``max_norm`` if given)
    and the gradients are zeroed; without one the chunk gradients accumulate, so with ``k``
    at least the sequence length the gradients are exactly those of full BPTT.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer (steps per chunk), got {k!r}")
    length = input.shape[time_dim]
    if target.shape[time_dim] != length:
        raise ValueError(
            f"target must have the input's length {length} along time_dim={time_dim}, "
            f"got {target.shape[time_dim]}"
        )
    losses = []
    for start in range(0, length, k):
        chunk = input.narrow(time_dim, start, min(k, length - start))
        chunk_target = target.narrow(time_dim, start, chunk.shape[time_dim])
        output, state = model(chunk, state)
        loss = loss_fn(output, chunk_target)
        loss.backward()
        if optimizer is not None:
            if max_norm is not None:
                params = [p for group in optimizer.param_groups for p in group["params"]]
                clip_grad_norm(params, max_norm)
            optimizer.step()
            optimizer.zero_grad()
        losses.append(float(loss.detach()))
        state = detach_state(state)
    return TBPTTResult(sum(losses), losses, state)


class GradientTrace(NamedTuple):
    """Norms of ∂L/∂h_t and ∂L/∂c_t, ``(L, num_layers)``, mean over the batch of the L2 norm
    over units. ``cell_state`` is None for cells without one (GRU, RNN)."""

    hidden_state: Tensor
    cell_state: Tensor | None


def gradient_through_time(
    module: nn.Module,
    input: Tensor,
    hx=None,
    loss_fn: Callable[[Tensor], Tensor] | None = None,
) -> GradientTrace:
    r"""How much the loss at the last step reaches back to every earlier step.

    Runs ``module`` (an lstmkit ``LSTM``, ``GRU`` or ``RNN``, unidirectional) one step at a
    time with :meth:`step`, keeps every state, computes ``L = loss_fn(y_T)`` (default: the sum
    of the last output) and returns, per step t and layer, ``mean_batch ‖∂L/∂h_t‖₂`` and, for
    the LSTM, ``‖∂L/∂c_t‖₂``. A plain RNN's curve falls geometrically as t moves away from T
    (vanishing gradients); the LSTM's cell state carries it further.

    ``input`` is ``(L, N, H_in)`` (or ``(N, L, H_in)`` when the module is ``batch_first``).
    Parameter gradients are left untouched.
    """
    if not hasattr(module, "step"):
        raise ValueError("module must be an lstmkit LSTM, GRU or RNN (it needs step())")
    if input.dim() != 3:
        raise ValueError(f"input must be 3-D, got shape {tuple(input.shape)}")
    x = input.transpose(0, 1) if module.batch_first else input  # (L, N, H_in)
    loss_fn = loss_fn or (lambda y: y.sum())
    state = hx
    states = []  # after each step: (h,) or (h, c), each (num_layers, N, *)
    with torch.enable_grad():
        for t in range(x.shape[0]):
            _, state = module.step(x[t], state)
            states.append(state if isinstance(state, tuple) else (state,))
        last_hidden = states[-1][0][-1]  # the top layer's h_T, through the kept state
        loss = loss_fn(last_hidden)
        flat = [tensor for step_state in states for tensor in step_state]
        grads = torch.autograd.grad(loss, flat, allow_unused=True, materialize_grads=True)
    width = len(states[0])

    def curve(which: int) -> Tensor:
        # grad (num_layers, N, units) -> L2 over units, mean over the batch -> (num_layers,)
        rows = [g.detach().norm(dim=-1).mean(dim=-1) for g in grads[which::width]]
        return torch.stack(rows)  # (L, num_layers)

    return GradientTrace(curve(0), curve(1) if width == 2 else None)
