"""The reference scan: one layer, one direction, the whole sequence, one step at a time.

A cell maps ``(x_t, state) -> state``; the scan owns time: direction, lengths, and the
regularisers that live between steps (recurrent dropout, zoneout). The fused kernels replace
this loop, never the meaning of the cell. A cell's step with its weights comes from
:meth:`lstmkit.nn.cell_specs.CellSpec.cell_function`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

State = tuple[Tensor, ...]  # (h,) or (h, c), each (N, *)


class ScanResult(NamedTuple):
    output: Tensor  # (L, N, H_out): h_t at each step, zero past a sequence's end
    state: State  # the state at each sequence's last real step
    trace: NamedTuple | None  # step records stacked over time, each (L, N, *)


class StepMasks(NamedTuple):
    """The random masks of one layer-direction, drawn once per forward by the layer.

    ``recurrent``: ``(N, H_out)`` scaled keep-mask multiplied into h_{t-1} where it enters the
    gates, the same at every step (Gal & Ghahramani 2016). ``zoneout``: one boolean
    ``(L, N, *)`` mask per state tensor, True where a unit keeps its previous value
    (Krueger et al. 2016). ``zoneout_expectation``: in evaluation mode, the masks' mean in
    their place, one probability ``p`` per state tensor: ``state_t = p * state_{t-1} + (1 - p)
    * new`` (as Krueger et al. evaluate, like dropout's rescaling at test time).
    """

    recurrent: Tensor | None = None
    zoneout: tuple[Tensor, ...] | None = None
    zoneout_expectation: tuple[float, ...] | None = None


def zoneout_blend(keep: tuple[float, ...], old: State, new: State) -> State:
    """Zoneout's expectation: ``p * old + (1 - p) * new`` per state tensor (``p`` from ``keep``)."""
    return tuple(o * p + n * (1.0 - p) if p > 0 else n for p, o, n in zip(keep, old, new))


def scan(
    step: Callable,
    x: Tensor,
    state: State,
    *,
    reverse: bool = False,
    lengths: Tensor | None = None,
    masks: StepMasks = StepMasks(),
    keep_trace: bool = False,
) -> ScanResult:
    """Run ``step`` over ``x`` ``(L, N, I)`` from ``state``.

    With ``lengths`` ``(N,)``, sequence b is real for ``t < lengths[b]``: its outputs after
    that are 0 and its state stays the one of its last real step. ``reverse=True`` walks from
    ``t = L-1`` down to 0, so a short sequence's reverse pass starts at its own last step.
    """
    num_steps = x.shape[0]
    n_state = len(state)
    outputs: list[Tensor | None] = [None] * num_steps
    records: list[NamedTuple | None] = [None] * num_steps
    active = None
    for t in (range(num_steps - 1, -1, -1) if reverse else range(num_steps)):
        gate_input = state
        if masks.recurrent is not None:
            gate_input = (state[0] * masks.recurrent,) + state[1:]
        record = step(x[t], gate_input)
        new_state = tuple(record[:n_state])
        if masks.zoneout is not None:
            new_state = tuple(
                torch.where(keep[t], old, new)
                for keep, old, new in zip(masks.zoneout, state, new_state)
            )
        elif masks.zoneout_expectation is not None:
            new_state = zoneout_blend(masks.zoneout_expectation, state, new_state)
        if lengths is not None:
            active = (t < lengths).unsqueeze(1)  # (N, 1)
            new_state = tuple(torch.where(active, new, old) for new, old in zip(new_state, state))
        state = new_state
        output = state[0] if active is None else state[0] * active
        outputs[t] = output
        if keep_trace:
            record = record._replace(**dict(zip(record._fields[:n_state], state)))
            if active is not None:
                record = type(record)(*(field * active for field in record))
            records[t] = record
    trace = None
    if keep_trace:
        trace = type(records[0])(*(torch.stack(column) for column in zip(*records)))
    return ScanResult(torch.stack(outputs), state, trace)
