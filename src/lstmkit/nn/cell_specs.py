"""One table that says, for each kind of cell, everything the layers and backends need.

The layers (:mod:`lstmkit.nn.stack`, :mod:`lstmkit.nn.cell_modules`), the parameters and
the backends never branch on the cell's name: they read its :class:`CellSpec`
(``config.spec``). Per kind (``"lstm"``, ``"gru"``, ``"rnn_tanh"``, ``"rnn_relu"``):

==================  ==============================================================
field               meaning
==================  ==============================================================
``gates``           the G blocks stacked along the weight rows, torch's order:
                    LSTM ``input_gate, forget_gate, candidate, output_gate`` (G = 4),
                    GRU ``reset_gate, update_gate, new_gate`` (G = 3), RNN one block
``coupled_gates``   the LSTM's blocks with ``cifg=True`` (G = 3, ``i_t = 1 - f_t``)
``states``          ``(hidden_state, cell_state)`` for the LSTM, ``(hidden_state,)``
                    otherwise; ``forward`` takes and returns the LSTM's as ``(h, c)``
                    and the others' as the tensor ``h``
``step``            the reference step of :mod:`lstmkit.nn.cells`:
                    ``step(x_t, *state, W_ih, W_hh, b_ih, b_hh, **options)``
``trace_type``      the record ``step`` returns (``LSTMStep``, ``GRUStep``, ``RNNStep``)
``layer``           the fused layer-direction of :mod:`lstmkit.nn.fused`, run by the
                    compiled ``extension``
``compiled_step``   whether the streaming step kernel (``lstm_step.cpp``) covers it
``torch_class``     the torch.nn twin (``"LSTM"``, ``"GRU"``, ``"RNN"``) and ``mode``
``options``         the :class:`~lstmkit.nn.config.RecurrentConfig` options only this
                    cell takes (the LSTM's variants)
==================  ==============================================================
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from torch import Tensor, nn

from .cells import GRUStep, LSTMStep, RNNStep, gru_cell, lstm_cell, rnn_cell
from .fused import gru_layer, lstm_layer, rnn_layer
from .scan import ScanResult, State, StepMasks

if TYPE_CHECKING:
    from .config import RecurrentConfig
    from .parameters import LayerWeights

# The LSTM's options, in the order RecurrentConfig checks them (the other cells take none).
LSTM_OPTIONS = ("proj_size", "peephole", "layer_norm", "cifg", "forget_bias", "recurrent_dropout", "zoneout")


@dataclass(frozen=True)
class CellSpec:
    """What one kind of recurrent cell is: its gates, state, step, kernels and torch twin.

    ``cell_options(config, weights)`` and ``layer_options(config, weights, masks)`` give the
    keyword arguments ``step`` and ``layer`` take beyond the inputs, the state and the four
    torch weights; ``torch_options(config)`` those of the torch.nn twin beyond torch's common
    ones.
    """

    kind: str
    mode: str  # torch.nn's mode string: "LSTM", "GRU", "RNN_TANH", "RNN_RELU"
    gates: tuple[str, ...]
    states: tuple[str, ...]
    step: Callable[..., NamedTuple]
    trace_type: type
    layer: Callable[..., tuple]
    extension: str
    torch_class: str
    cell_options: Callable[[Any, Any], dict]
    layer_options: Callable[[Any, Any, StepMasks], dict]
    torch_options: Callable[[Any], dict]
    coupled_gates: tuple[str, ...] | None = None
    options: tuple[str, ...] = ()
    nonlinearity: str | None = None
    compiled_step: bool = False

    # ------------------------------------------------------------------ gates
    def gate_names(self, cifg: bool = False) -> tuple[str, ...]:
        """The weight-row blocks in order (the coupled ones when ``cifg``)."""
        return self.coupled_gates if cifg and self.coupled_gates else self.gates

    def gate_count(self, cifg: bool = False) -> int:
        """G: the number of blocks of H rows in ``weight_ih`` and ``weight_hh``."""
        return len(self.gate_names(cifg))

    def gate_rows(self, gate: str, hidden_size: int, cifg: bool = False) -> slice:
        """The rows of ``gate``'s block in ``weight_ih``, ``weight_hh`` and the biases."""
        k = self.gate_names(cifg).index(gate)
        return slice(k * hidden_size, (k + 1) * hidden_size)

    # ----------------------------------------------------------------- states
    @property
    def state_arity(self) -> int:
        """How many tensors the recurrent state has: 2 for the LSTM's (h, c), else 1."""
        return len(self.states)

    def state_sizes(self, config: RecurrentConfig) -> list[tuple[str, int]]:
        """``(name, units)`` of each initial state: ``h_0`` has H_out units, ``c_0`` has H."""
        sizes = {"hidden_state": ("h_0", config.output_size), "cell_state": ("c_0", config.hidden_size)}
        return [sizes[name] for name in self.states]

    def public_state(self, tensors) -> Tensor | tuple[Tensor, ...]:
        """The state as the torch.nn API passes it: ``(h, c)`` for the LSTM, ``h`` otherwise."""
        tensors = tuple(tensors)
        return tensors if self.state_arity > 1 else tensors[0]

    def state_tensors(self, state) -> tuple[Tensor, ...]:
        """The inverse of :meth:`public_state` (no checks)."""
        return tuple(state) if self.state_arity > 1 else (state,)

    def check_state(self, hx: Any, owner: str) -> tuple:
        """``hx`` as given by a caller, split into its tensors (shapes unchecked); ``owner``
        names the module in the message."""
        if self.state_arity > 1:
            if not (isinstance(hx, (tuple, list)) and len(hx) == self.state_arity):
                raise ValueError(f"hx must be a tuple (h_0, c_0) for an {owner}")
            return tuple(hx)
        if not isinstance(hx, Tensor):
            raise ValueError(f"hx must be a Tensor h_0 for a {owner}")
        return (hx,)

    # ------------------------------------------------------------- computing
    def cell_function(self, config: RecurrentConfig, weights: LayerWeights) -> Callable[[Tensor, State], NamedTuple]:
        """The reference step ``(x_t, state) -> record`` with these weights."""
        w = weights
        options = self.cell_options(config, w)
        return lambda x_t, state: self.step(
            x_t, *state, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, **options
        )

    def fused_layer(self, config: RecurrentConfig, weights: LayerWeights, x: Tensor, state: State, *,
                    reverse: bool, lengths: Tensor | None, masks: StepMasks, keep_trace: bool) -> ScanResult:
        """One layer-direction over ``x`` ``(L, N, I)`` on the fused kernel, as the reference
        :func:`~lstmkit.nn.scan.scan` returns it. The module checked the input and built the
        weights from ``config``, so the layer skips its own argument checks (``_checked``)."""
        w = weights
        result = self.layer(
            x, *state, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, reverse=reverse, lengths=lengths,
            return_trace=keep_trace, _checked=True, **self.layer_options(config, w, masks),
        )
        n = self.state_arity
        return ScanResult(result[0], tuple(result[1:1 + n]), result[1 + n] if keep_trace else None)

    def torch_twin(self, config: RecurrentConfig) -> nn.Module:
        """A torch.nn layer of ``config``'s shape with no storage of its own (on the meta
        device: its parameters are supplied at each call by ``functional_call``)."""
        c = config
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(nn, self.torch_class)(
                c.input_size, c.hidden_size, num_layers=c.num_layers, bias=c.bias, batch_first=False,
                dropout=c.dropout, bidirectional=c.bidirectional, device="meta", **self.torch_options(c),
            )


# ------------------------------------------------------------------------------ the table
def _lstm_cell_options(config, w) -> dict:
    return {"weight_hr": w.weight_hr, "peephole": w.peephole, "layer_norm_params": w.layer_norm,
            "cifg": config.cifg}


def _lstm_layer_options(config, w, masks) -> dict:
    return {"weight_hr": w.weight_hr, "peephole": w.peephole, "layer_norm": w.layer_norm, "cifg": config.cifg,
            "recurrent_mask": masks.recurrent, "zoneout_masks": masks.zoneout,
            "zoneout_expectation": masks.zoneout_expectation}


def _no_options(*_) -> dict:
    return {}


def _rnn_spec(nonlinearity: str) -> CellSpec:
    def options(*_) -> dict:
        return {"nonlinearity": nonlinearity}

    return CellSpec(
        kind=f"rnn_{nonlinearity}", mode=f"RNN_{nonlinearity.upper()}",
        gates=("hidden_state",),  # one block: h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), no gate
        states=("hidden_state",), step=rnn_cell, trace_type=RNNStep, layer=rnn_layer, extension="gru_rnn",
        torch_class="RNN", cell_options=options, layer_options=options, torch_options=options,
        nonlinearity=nonlinearity,
    )


CELL_SPECS: dict[str, CellSpec] = {
    "lstm": CellSpec(
        kind="lstm", mode="LSTM",
        gates=("input_gate", "forget_gate", "candidate", "output_gate"),
        coupled_gates=("forget_gate", "candidate", "output_gate"),
        states=("hidden_state", "cell_state"), step=lstm_cell, trace_type=LSTMStep,
        layer=lstm_layer, extension="lstm", compiled_step=True, torch_class="LSTM",
        cell_options=_lstm_cell_options, layer_options=_lstm_layer_options,
        torch_options=lambda config: {"proj_size": config.proj_size}, options=LSTM_OPTIONS,
    ),
    "gru": CellSpec(
        kind="gru", mode="GRU", gates=("reset_gate", "update_gate", "new_gate"), states=("hidden_state",),
        step=gru_cell, trace_type=GRUStep, layer=gru_layer, extension="gru_rnn", torch_class="GRU",
        cell_options=_no_options, layer_options=_no_options, torch_options=_no_options,
    ),
    "rnn_tanh": _rnn_spec("tanh"),
    "rnn_relu": _rnn_spec("relu"),
}


def spec_of(cell: str) -> CellSpec:
    """The :class:`CellSpec` of ``cell`` (one of :data:`CELL_SPECS`)."""
    return CELL_SPECS[cell]
