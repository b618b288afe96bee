"""What a recurrent stack computed at every step: gates and states, for inspection.

``lstm(x, return_trace=True)`` returns a third value, a :class:`Trace`. ``trace[layer,
direction]`` is a named tuple of tensors shaped like the output: ``(L, N, H)``, or
``(N, L, H)`` with ``batch_first=True``, or ``(L, H)`` for unbatched input (L steps, N
sequences, H hidden units; ``hidden_state`` has H_out = proj_size units when projecting).
Fields, in the documents' terms:

* LSTM: ``input_gate``, ``forget_gate``, ``candidate``, ``output_gate``, ``cell_state``,
  ``hidden_state``;
* GRU: ``reset_gate``, ``update_gate``, ``new_gate``, ``hidden_state``;
* RNN: ``hidden_state``.

Entries at steps past a sequence's length are zero. ``cell_state`` and ``hidden_state`` are
the states carried to the next step (after zoneout, when it is on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor


@dataclass
class Trace:
    """Per layer and direction, the step records stacked over time."""

    layers: list[list[NamedTuple]]  # [layer][direction] -> record of (L, N, *) tensors
    fields: tuple[str, ...]

    def __getitem__(self, index: tuple[int, int] | int) -> NamedTuple:
        if isinstance(index, tuple):
            layer, direction = index
            return self.layers[layer][direction]
        return self.layers[index][0]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_directions(self) -> int:
        return len(self.layers[0])

    def stack(self, field: str) -> Tensor:
        """One field for every layer and direction: ``(num_layers, D, *shape)``."""
        if field not in self.fields:
            raise ValueError(f"field must be one of {', '.join(self.fields)}, got {field!r}")
        return torch.stack(
            [torch.stack([getattr(rec, field) for rec in directions]) for directions in self.layers]
        )

    def map(self, fn) -> "Trace":
        """A new Trace with ``fn`` applied to every tensor (used for layout changes)."""
        return Trace(
            [[type(rec)(*(fn(t) for t in rec)) for rec in directions] for directions in self.layers],
            self.fields,
        )
