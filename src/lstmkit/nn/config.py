"""The typed description of a recurrent layer stack, validated once at the door.

A :class:`RecurrentConfig` is everything needed to rebuild an :class:`lstmkit.LSTM`, ``GRU``
or ``RNN`` (it is saved with every model). It is built with keywords only
(``RecurrentConfig(cell="lstm", input_size=8, hidden_size=32)``). Bad arguments raise
``ValueError`` naming the argument, what was expected and what came. What depends on the kind
of cell (gates, state, options) comes from its :class:`~lstmkit.nn.cell_specs.CellSpec`,
``config.spec``.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

from .cell_specs import CELL_SPECS, LSTM_OPTIONS, CellSpec

CELLS = tuple(CELL_SPECS)
INITS = ("torch", "keras")
BACKENDS = ("auto", "fused", "reference")


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_probability(name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= float(value) < 1.0
    ):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RecurrentConfig:
    """Sizes and options of a stack of recurrent layers (keyword arguments only).

    ``cell`` is ``"lstm"``, ``"gru"``, ``"rnn_tanh"`` or ``"rnn_relu"``. The LSTM-only options
    (``proj_size``, ``peephole``, ``layer_norm``, ``cifg``, ``forget_bias``,
    ``recurrent_dropout``, ``zoneout``) must keep their defaults for the other cells.
    """

    cell: str
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    proj_size: int = 0
    peephole: bool = False
    layer_norm: bool = False
    cifg: bool = False
    forget_bias: float = 0.0
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    init: str = "torch"
    backend: str = "auto"

    def __post_init__(self) -> None:
        _check_choice("cell", self.cell, CELLS)
        _check_positive_int("input_size", self.input_size)
        _check_positive_int("hidden_size", self.hidden_size)
        _check_positive_int("num_layers", self.num_layers)
        _check_probability("dropout", self.dropout)
        _check_probability("recurrent_dropout", self.recurrent_dropout)
        _check_probability("zoneout", self.zoneout)
        _check_choice("init", self.init, INITS)
        _check_choice("backend", self.backend, BACKENDS)
        for flag in ("bias", "batch_first", "bidirectional", "peephole", "layer_norm", "cifg"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        if isinstance(self.proj_size, bool) or not isinstance(self.proj_size, numbers.Integral):
            raise ValueError(f"proj_size must be an integer, got {self.proj_size!r}")
        if self.proj_size < 0:
            raise ValueError(f"proj_size must be >= 0 (0 means no projection), got {self.proj_size}")
        if self.proj_size >= self.hidden_size:
            raise ValueError(
                f"proj_size must be smaller than hidden_size, got proj_size={self.proj_size} "
                f"and hidden_size={self.hidden_size}"
            )
        if not isinstance(self.forget_bias, numbers.Real) or isinstance(self.forget_bias, bool):
            raise ValueError(f"forget_bias must be a number, got {self.forget_bias!r}")
        if self.forget_bias != 0.0 and not self.bias:
            raise ValueError("forget_bias needs bias=True: there is no bias to add it to")
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name in LSTM_OPTIONS:
            if name not in self.spec.options and getattr(self, name) != defaults[name]:
                raise ValueError(f"{name} is an LSTM option; the {self.cell} cell has none")

    @property
    def spec(self) -> CellSpec:
        """The cell's specification: gates, state, reference step, kernels, torch twin."""
        return CELL_SPECS[self.cell]

    @property
    def gate_count(self) -> int:
        """G, the number of gate blocks stacked in the weight rows (3 for a CIFG LSTM)."""
        return self.spec.gate_count(self.cifg)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """H_out: the size of the hidden state h_t (``proj_size`` when projecting)."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def is_plain(self) -> bool:
        """True when the layer is exactly a torch.nn one (no variant option on)."""
        return not (
            self.peephole
            or self.layer_norm
            or self.cifg
            or self.recurrent_dropout
            or self.zoneout
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RecurrentConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown RecurrentConfig fields: {', '.join(unknown)}")
        return cls(**data)
