"""The compiled streaming step: one timestep of a unidirectional LSTM stack per Python call.

Two ways in (both ask :func:`lstmkit.nn.backend.select` whether the compiled step or the
reference cell runs):

* :meth:`lstmkit.LSTM.step` ``(x_t, state) -> (y_t, state)`` runs the compiled step by itself
  when it applies: an LSTM (any variant: ``peephole``, ``layer_norm``, ``cifg``, ``proj_size``),
  unidirectional, ``backend`` other than ``"reference"``, float32 tensors on the CPU, and no
  gradient needed (``torch.no_grad()`` / ``torch.inference_mode()``, or neither the
  parameters nor ``x_t`` / ``state`` require grad).  Otherwise the readable reference cell
  runs (it is the oracle the compiled step is tested against, and the path gradients flow
  through).  ``LSTM.step_core`` is the compiled step it uses (None: the reference cell).
* :meth:`lstmkit.LSTM.streamer` returns a :class:`Streamer` that keeps the state itself:
  ``y_t = streamer.step(x_t)`` is one call straight into C++.

The kernel (``lstmkit/nn/csrc/lstm_step.cpp``) reads the weights in place from the module's
parameters at every call (``[W_ih | W_hh]`` act as one matrix: one pass over each gate row,
the two biases summed in the pointwise pass), so there is no copy of the weights to go stale:
an optimizer step, ``load_state_dict``, an in-place edit (even through ``.data`` or numpy)
or a replaced ``Parameter`` is seen by the next call.  What it keeps between calls is only
what depends on the sizes (the parameter names and shapes, scratch buffers) and, for a
streamer, the state.  Each call re-checks that every parameter is still a float32,
contiguous CPU tensor of its shape (else ``LSTM.step`` falls back to the reference).

Batch 1 is the target (the per-call cost is mostly the Python call and the returned
tensors); any batch works.  Results are bitwise identical at any ``torch.set_num_threads``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .. import backend as backends
from ..config import RecurrentConfig
from ..parameters import ROLES, parameter_shapes, suffix
from .build import available, load, unavailable_reason

__all__ = ["Streamer", "step_available", "step_unavailable_reason", "make_step_core", "step_info"]


def step_available() -> bool:
    """True when the compiled step extension is built and loaded (compiles it on first call)."""
    return available("step")


def step_unavailable_reason() -> str | None:
    return unavailable_reason("step")


def step_info() -> str:
    """One line: vector width, threads, spin time, parallel threshold."""
    return load("step").info()


def _names(config: RecurrentConfig) -> list[list[str]]:
    """Per layer, the parameter name of each role in ``ROLES`` order ('' where absent)."""
    names = []
    for layer in range(config.num_layers):
        layer_input = config.input_size if layer == 0 else config.output_size
        shapes = parameter_shapes(config, layer_input)
        names.append([role + suffix(layer, 0) if role in shapes else "" for role in ROLES])
    return names


def make_step_core(module) -> Any:
    """The compiled step bound to ``module``'s parameter dict (a unidirectional LSTM stack;
    the backend registry decides when it applies).  Compiles the extension on first use;
    raises RuntimeError where it cannot be built."""
    c = module.config
    return load("step").StepCore(
        module._parameters, _names(c), c.input_size, c.hidden_size, c.proj_size,
        c.cifg, c.peephole, c.layer_norm, c.bias, c.zoneout, c,
    )


def _check_state(module, state) -> tuple[Tensor, Tensor, bool]:
    """``state`` = ``(h, c)`` as ``forward`` returns it: ``(L, N, H_out)`` / ``(L, N, H)``, or
    ``(L, H_out)`` / ``(L, H)`` for an unbatched stream.  Returns (h, c, unbatched)."""
    c = module.config
    if not (isinstance(state, (tuple, list)) and len(state) == 2
            and all(isinstance(s, Tensor) for s in state)):
        raise ValueError("state must be a tuple (h, c) of tensors, as forward() returns it")
    h, cs = state
    L, P, H = c.num_layers, c.output_size, c.hidden_size
    if h.dim() == 2:
        expected = ((L, P), (L, H))
    elif h.dim() == 3:
        expected = ((L, h.shape[1], P), (L, h.shape[1], H))
    else:
        raise ValueError(f"h must be (num_layers, N, H_out) or (num_layers, H_out), got {tuple(h.shape)}")
    for name, t, shape in (("h", h, expected[0]), ("c", cs, expected[1])):
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    if h.shape[-2 if h.dim() == 3 else 0] == 0:
        raise ValueError("state has an empty batch")
    return h, cs, h.dim() == 2


class Streamer:
    """Streaming inference over an :class:`lstmkit.LSTM`, state kept inside.

    ``y_t = streamer.step(x_t)``: ``x_t`` ``(N, H_in)`` or ``(H_in,)`` -> ``y_t`` ``(N, H_out)``
    or ``(H_out,)``, a new tensor at every call (never overwritten later).  The first step
    after :meth:`reset` fixes the batch size (and whether the stream is unbatched); a step
    with another one raises ``ValueError`` (call :meth:`reset` to start another stream).

    * :attr:`state`: ``(h, c)`` in ``forward``'s layout (``(L, N, H_out)``, ``(L, N, H)``;
      ``(L, H_out)``, ``(L, H)`` unbatched), fresh copies; None before the first step
      (zeros).
    * :meth:`reset` ``(state=None)``: start again from zeros, or from a given ``(h, c)``.
    * :attr:`compiled`: True when the compiled kernel runs (float32 CPU LSTM, unidirectional,
      extension built: :func:`lstmkit.nn.backend.select` decides); else each step calls
      ``module.step`` (the reference cell).  :attr:`core`: the compiled step (``calls``
      counts its steps), or None.

    Inference only: the step computes as under ``torch.no_grad()`` whatever the grad mode,
    and its outputs never require grad (use ``module.step`` / ``module(...)`` to train).
    Like ``module.step``, it is the evaluation-mode cell (no dropout, recurrent dropout or
    zoneout masks; zoneout as its expectation).  The weights are read from the module at every
    step, so updates to them are seen at once; a parameter changed to another dtype, device or shape makes ``step`` raise
    ``RuntimeError`` (make a new streamer).
    """

    def __init__(self, module, state: Any = None) -> None:
        c = module.config
        if c.cell != "lstm":
            raise ValueError(f"streamer() needs an LSTM, got the {c.cell} cell")
        if c.bidirectional:
            raise ValueError(
                "streamer() streams forward in time, but this layer is bidirectional: its reverse "
                "direction needs the whole sequence; call forward() instead"
            )
        self.module = module
        self._state = None
        chosen = backends.select(backends.step_call(c, module.parameters()))
        self._core = chosen.step_core(module)
        if self._core is not None:
            self.step = self._core.stream  # one call straight into C++ per timestep
        else:
            self.step = self._reference_step
        self.reset(state)

    @property
    def compiled(self) -> bool:
        return self._core is not None

    @property
    def core(self) -> Any | None:
        """The compiled step this streamer runs (its ``calls`` counts the steps), or None."""
        return self._core

    def _reference_step(self, x_t: Tensor) -> Tensor:
        with torch.no_grad():
            y, self._state = self.module.step(x_t, self._state)
        return y

    def step(self, x_t: Tensor) -> Tensor:  # replaced per instance in __init__ (documentation)
        """One timestep: ``x_t`` -> ``y_t`` (the last layer's ``h_t``); the state advances."""
        raise NotImplementedError

    @property
    def state(self) -> tuple[Tensor, Tensor] | None:
        if self._core is not None:
            return self._core.get_state()
        return None if self._state is None else tuple(s.clone() for s in self._state)

    def reset(self, state: Any = None) -> None:
        """Start a new stream from zeros (``state=None``) or from ``(h, c)`` (copied)."""
        if state is None:
            if self._core is not None:
                self._core.clear_state()
            self._state = None
            return
        h, cs, unbatched = _check_state(self.module, state)
        if self._core is not None:
            if not all(t.device.type == "cpu" and t.dtype == torch.float32 for t in (h, cs)):
                raise ValueError(f"state must be float32 CPU tensors, got {h.dtype} on {h.device}")
            self._core.set_state(h.detach(), cs.detach(), unbatched)
        else:
            self._state = (h.detach().clone(), cs.detach().clone())

    def __repr__(self) -> str:
        return f"Streamer({self.module.extra_repr()}, compiled={self.compiled})"
