r"""The body shared by :class:`~lstmkit.nn.modules.LSTM`, ``GRU`` and ``RNN``: a stack of
recurrent layers, validated at the door, run on the backend :mod:`lstmkit.nn.backend` picks.

Symbols: N batch size, L sequence length, D = 2 if bidirectional else 1, H_in input size,
H hidden size, H_out = proj_size if > 0 else H.

Shapes (as torch.nn): input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first=True``,
``(L, H_in)`` unbatched, or a ``PackedSequence`` (lengths in any order). Output
``(L, N, D*H_out)`` (same layout rules); ``h_n`` ``(D*num_layers, N, H_out)``; the LSTM's
``c_n`` ``(D*num_layers, N, H)``. Missing initial states are zeros.

Layer k > 0 takes layer k-1's output, the D directions concatenated, with dropout between
layers in training; each layer-direction runs on the chosen backend's ``run_layer`` (or the
whole stack on ``run_stack``, torch's kernels).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from . import backend as backends
from . import parameters
from .config import RecurrentConfig
from .scan import ScanResult, StepMasks, zoneout_blend
from .trace import Trace
from .validation import one_step_input


class RecurrentStack(nn.Module):
    """Common body of :class:`LSTM`, :class:`GRU` and :class:`RNN` (see the module's docstring)."""

    def __init__(self, config: RecurrentConfig, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        if config.dropout > 0 and config.num_layers == 1:
            warnings.warn(
                "dropout applies between layers, so with num_layers=1 it does nothing "
                f"(got dropout={config.dropout} and num_layers=1)",
                stacklevel=3,
            )
        factory_kwargs = {"device": device, "dtype": dtype}
        self._suffixes: list[list[str]] = []
        for layer in range(config.num_layers):
            layer_input_size = (
                config.input_size if layer == 0 else config.output_size * config.num_directions
            )
            row = []
            for direction in range(config.num_directions):
                name_suffix = parameters.suffix(layer, direction)
                parameters.register(self, config, layer_input_size, name_suffix, factory_kwargs)
                row.append(name_suffix)
            self._suffixes.append(row)
        self.last_backend: str | None = None
        self.backend_counts: dict[str, int] = {}  # forward calls per backend, for reports
        self.reset_parameters()

    # torch.nn attribute names, read-only views of the config
    input_size = property(lambda self: self.config.input_size)
    hidden_size = property(lambda self: self.config.hidden_size)
    num_layers = property(lambda self: self.config.num_layers)
    bias = property(lambda self: self.config.bias)
    batch_first = property(lambda self: self.config.batch_first)
    dropout = property(lambda self: self.config.dropout)
    bidirectional = property(lambda self: self.config.bidirectional)
    proj_size = property(lambda self: self.config.proj_size)
    backend = property(lambda self: self.config.backend)
    mode = property(lambda self: self.config.spec.mode)  # torch.nn's: "LSTM", "GRU", "RNN_TANH", "RNN_RELU"

    def reset_parameters(self) -> None:
        """Initialise every parameter by ``config.init`` (torch's order and distribution)."""
        for row in self._suffixes:
            for name_suffix in row:
                parameters.initialize(self, self.config, name_suffix)

    def flatten_parameters(self) -> None:
        """Does nothing; here so code written for torch.nn.LSTM runs unchanged."""

    def layer_weights(self, layer: int, direction: int = 0) -> parameters.LayerWeights:
        """The tensors of one layer-direction, by role (``weight_ih``, ``weight_hh``...)."""
        return parameters.gather(self, self.config, self._suffixes[layer][direction])

    def extra_repr(self) -> str:
        c = self.config
        parts = [f"{c.input_size}, {c.hidden_size}"]
        defaults = RecurrentConfig(cell=c.cell, input_size=c.input_size, hidden_size=c.hidden_size)
        for name, value in c.to_dict().items():
            if name in ("cell", "input_size", "hidden_size"):
                continue
            if value != getattr(defaults, name):
                parts.append(f"{name}={value!r}")
        return ", ".join(parts)

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Any = None,
        *,
        lengths: Tensor | None = None,
        return_trace: bool = False,
    ):
        c = self.config
        packed = input if isinstance(input, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError("lengths= cannot be combined with a PackedSequence input, which carries its own")
            x, lengths = pad_packed_sequence(packed)  # (L, N, H_in), original batch order
            unbatched = False
        else:
            if not isinstance(input, Tensor):
                raise ValueError(f"input must be a Tensor or a PackedSequence, got {type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"input must be 3-D (batched) or 2-D (unbatched), got a {input.dim()}-D tensor "
                    f"of shape {tuple(input.shape)}"
                )
            unbatched = input.dim() == 2
            if unbatched:
                x = input.unsqueeze(1)
            else:
                x = input.transpose(0, 1) if c.batch_first else input
        if x.shape[-1] != c.input_size:
            raise ValueError(
                f"input must have {c.input_size} features (input_size) in its last dimension, "
                f"got {x.shape[-1]} (input shape {tuple(x.shape if packed is None else input.data.shape)})"
            )
        if x.shape[0] == 0:
            raise ValueError("input must have at least one time step, got a sequence of length 0")
        num_steps, batch = x.shape[0], x.shape[1]
        if lengths is not None and packed is None:
            lengths = self._check_lengths(lengths, batch, num_steps, unbatched)
        backend = backends.select_for(self, c, x, keep_trace=return_trace, ragged=lengths is not None)
        self.__dict__["last_backend"] = backend.name  # a plain attribute: nn.Module.__setattr__ costs ~4 us
        self.backend_counts[backend.name] = self.backend_counts.get(backend.name, 0) + 1
        if backend.runs_stack:
            # the whole stack from hx as torch.nn takes it, (D*layers, N, *) (None: zeros)
            tensors = None if hx is None else self._checked_hx(hx, batch, unbatched)
            output, final = backend.run_stack(self, x, None if tensors is None else c.spec.public_state(tensors),
                                              lengths)
            return self._restore_layout(output, final, None, packed, unbatched, return_trace)
        if hx is None and backend.zeros_itself:
            states = [(None,) * c.spec.state_arity] * (c.num_layers * c.num_directions)
        else:
            states = self._initial_states(hx, batch, unbatched, x)
        layer_input = x
        final_states: list[tuple[Tensor, ...]] = []
        trace_rows: list[list] = []
        for layer in range(c.num_layers):
            outputs, trace_row = [], []
            for direction in range(c.num_directions):
                index = layer * c.num_directions + direction
                result = self._scan_layer(
                    backend, layer, direction, layer_input, states[index], lengths, return_trace
                )
                outputs.append(result.output)
                final_states.append(result.state)
                trace_row.append(result.trace)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if c.dropout > 0 and self.training and layer < c.num_layers - 1:
                layer_input = F.dropout(layer_input, p=c.dropout, training=True)
            trace_rows.append(trace_row)

        output = layer_input  # (L, N, D*H_out)
        final = c.spec.public_state(torch.stack(column) for column in zip(*final_states))  # (D*layers, N, *)
        trace = Trace(trace_rows, c.spec.trace_type._fields) if return_trace else None
        return self._restore_layout(output, final, trace, packed, unbatched, return_trace)

    def _restore_layout(self, output, final, trace, packed, unbatched, return_trace):
        """From time-major ``(L, N, *)`` back to the caller's layout."""
        c = self.config
        if packed is not None:
            output = _pack_like(output, packed)
        elif unbatched:
            output = output.squeeze(1)
            final = c.spec.public_state(s.squeeze(1) for s in c.spec.state_tensors(final))
            if trace is not None:
                trace = trace.map(lambda t: t.squeeze(1))
        elif c.batch_first:
            output = output.transpose(0, 1)
            if trace is not None:
                trace = trace.map(lambda t: t.transpose(0, 1))
        if return_trace:
            return output, final, trace
        return output, final

    def _scan_layer(self, backend, layer, direction, x, state, lengths, keep_trace) -> ScanResult:
        """One layer-direction on ``backend`` (the one :func:`backend.select` chose)."""
        return backend.run_layer(
            self.config, self.layer_weights(layer, direction), x, state, reverse=direction == 1,
            lengths=lengths, masks=self._draw_masks(x), keep_trace=keep_trace,
        )

    def _draw_masks(self, x: Tensor) -> StepMasks:
        """Recurrent-dropout and zoneout masks for one layer-direction (training), or in
        evaluation zoneout's expectation (each state keeps ``zoneout`` of its previous value)."""
        c = self.config
        if not self.training:
            if c.zoneout > 0:
                return StepMasks(zoneout_expectation=(c.zoneout,) * c.spec.state_arity)
            return StepMasks()
        recurrent = zoneout = None
        if c.recurrent_dropout > 0 or c.zoneout > 0:
            shapes = [(x.shape[1], units) for _, units in c.spec.state_sizes(c)]  # the state's (N, units)
        if c.recurrent_dropout > 0:
            keep = 1.0 - c.recurrent_dropout
            recurrent = torch.bernoulli(x.new_full(shapes[0], keep)) / keep
        if c.zoneout > 0:
            num_steps = x.shape[0]
            zoneout = tuple(bernoulli_mask((num_steps,) + shape, c.zoneout, x.device) for shape in shapes)
        return StepMasks(recurrent, zoneout)

    # ------------------------------------------------------------- validation
    def _initial_states(self, hx, batch: int, unbatched: bool, x: Tensor) -> list[tuple[Tensor, ...]]:
        """``hx`` checked against the expected shapes and split per layer-direction."""
        c = self.config
        stacked = c.num_layers * c.num_directions
        if hx is None:
            tensors = [x.new_zeros((stacked, batch, units)) for _, units in c.spec.state_sizes(c)]
        else:
            tensors = self._checked_hx(hx, batch, unbatched)
        return [tuple(t[i] for t in tensors) for i in range(stacked)]

    def _checked_hx(self, hx, batch: int, unbatched: bool) -> list[Tensor]:
        """The tensors of ``hx`` (``h_0``, and ``c_0`` for an LSTM) checked against their
        shapes, each ``(D*num_layers, N, units)`` (a batch dimension added to unbatched ones)."""
        c = self.config
        stacked = c.num_layers * c.num_directions
        given = c.spec.check_state(hx, c.spec.torch_class)
        tensors = []
        for (name, units), tensor in zip(c.spec.state_sizes(c), given):
            if not isinstance(tensor, Tensor):
                raise ValueError(f"{name} must be a Tensor, got {type(tensor).__name__}")
            expected = (stacked, units) if unbatched else (stacked, batch, units)
            if tuple(tensor.shape) != expected:
                raise ValueError(
                    f"{name} must have shape {expected} (D*num_layers, "
                    f"{'' if unbatched else 'N, '}{'H_out' if name == 'h_0' else 'H'}), "
                    f"got {tuple(tensor.shape)}"
                )
            tensors.append(tensor.unsqueeze(1) if unbatched else tensor)
        return tensors

    @staticmethod
    def _check_lengths(lengths, batch: int, num_steps: int, unbatched: bool) -> Tensor:
        if unbatched:
            raise ValueError("lengths= needs batched (3-D) input")
        lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.shape[0] != batch:
            raise ValueError(f"lengths must have shape ({batch},), one length per sequence, got {tuple(lengths.shape)}")
        if lengths.is_floating_point() or lengths.is_complex():
            raise ValueError(f"lengths must hold integers, got dtype {lengths.dtype}")
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1 or high > num_steps:
            raise ValueError(f"lengths must lie in [1, {num_steps}] (the sequence length), got values in [{low}, {high}]")
        return lengths.to(torch.int64)

    # -------------------------------------------------------------- streaming
    def step(self, x_t: Tensor, state: Any = None):
        """One timestep through all layers: ``(x_t, state) -> (y_t, state)``.

        ``x_t`` is ``(N, H_in)`` or ``(H_in,)``; ``state`` is what ``forward`` takes as ``hx``
        (``(h, c)`` for an LSTM, ``h`` otherwise; zeros when None) and what it returns.
        Calling ``step`` over a sequence gives ``forward``'s outputs one at a time. The
        regularisers (dropout, recurrent dropout, zoneout's masks) act in ``forward`` only:
        ``step`` always computes the evaluation-mode cell (with zoneout, its expectation: each
        state keeps ``zoneout`` of its previous value). Unidirectional stacks only.

        The backend registry picks the step once per configuration (:attr:`step_core`): an
        LSTM runs the compiled step (:mod:`lstmkit.nn.fused.step`, one C++ call for all
        layers) unless ``backend="reference"``, at each call where no gradient is needed
        (``torch.no_grad()``, or nothing requires grad) and the tensors are float32 on the
        CPU; otherwise, and for the GRU and the RNN, the reference cell runs. For a stream
        with the state kept inside, see :meth:`LSTM.streamer`.
        """
        core = self.step_core
        if core is not None:
            out = core.try_step(x_t, state)  # None: the reference must run (and validate)
            if out is not None:
                return out
        c = self.config
        if c.bidirectional:
            raise ValueError(
                "step() streams forward in time, but this layer is bidirectional: its reverse "
                "direction needs the whole sequence; call forward() instead"
            )
        x, unbatched = one_step_input(x_t, "x_t", c.input_size)
        x = x.unsqueeze(0)  # (1, N, H_in)
        states = self._initial_states(state, x.shape[1], unbatched, x)
        layer_input = x[0]
        new_states = []
        for layer in range(c.num_layers):
            record = c.spec.cell_function(c, self.layer_weights(layer))(layer_input, states[layer])
            new_state = tuple(record[: c.spec.state_arity])
            if c.zoneout > 0:  # the evaluation-mode cell: zoneout's expectation
                new_state = zoneout_blend((c.zoneout,) * c.spec.state_arity, states[layer], new_state)
            new_states.append(new_state)
            layer_input = new_state[0]
        y_t = layer_input
        new = [torch.stack(column) for column in zip(*new_states)]  # each (layers, N, *)
        if unbatched:
            y_t = y_t.squeeze(0)
            new = [s.squeeze(1) for s in new]
        return y_t, c.spec.public_state(new)

    @property
    def step_core(self):
        """The compiled step :meth:`step` runs, bound to this module's parameters, or None
        where the reference cell runs (chosen by :func:`lstmkit.nn.backend.select` for the
        current config). Its ``calls`` counts the steps it computed. Built on first use and
        kept with the config it was built for; copies and pickles of the module drop it."""
        d = self.__dict__
        core = d.get("_step_core")
        if core is None or d.get("_step_config") is not self.config:
            chosen = backends.select(backends.step_call(self.config))
            core = chosen.step_core(self) or False  # False: decided, the reference cell
            d["_step_core"] = core
            d["_step_config"] = self.config
        return core or None


def bernoulli_mask(shape: tuple[int, ...], p: float, device) -> Tensor:
    """A boolean mask of ``shape``, each element True with probability ``k / 65536``,
    ``k = round(p * 65536)`` (``p`` to within 2^-17), independently.

    One 64-bit seed is drawn from torch's generator (so ``torch.manual_seed`` fixes the mask);
    the stream is SplitMix64 over a counter (word ``w`` = SplitMix64(seed + (w + 1) * gamma)),
    and element ``e`` compares the 16-bit slice ``e % 4`` of word ``e // 4`` with the threshold.
    Where the fused LSTM kernels are loaded the compiled fill computes the bits (about 20x
    faster than torch's ``random_``, whose masks cost zoneout 0.8 ms of a 5 ms inference call
    at (100, 32, 128)); elsewhere :func:`splitmix_words` computes the same bits with torch's
    integer operators, on any device."""
    k = round(p * 65536)
    numel = 1
    for size in shape:
        numel *= size
    if k <= 0 or numel == 0:
        return torch.zeros(shape, dtype=torch.bool, device=device)
    seed = int(torch.empty((), dtype=torch.int64).random_(-(2**63), None))
    threshold = k - 32769  # int16 slices, uniform on [-32768, 32767]: <= k - 32769 for exactly k values
    if torch.device(device).type == "cpu":
        from .fused.build import loaded

        extension = loaded("lstm")
        if extension is not None:
            mask = torch.empty(shape, dtype=torch.bool)
            extension.bernoulli_mask_fill(mask, seed, threshold)
            return mask
    words = splitmix_words(seed, (numel + 3) // 4, device)
    return words.view(torch.int16)[:numel].view(shape) <= threshold


_GAMMA, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _signed(value: int) -> int:
    """A 64-bit unsigned constant as torch's int64 holds it."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift_right(z: Tensor, bits: int) -> Tensor:
    """Logical right shift of int64 words (torch's ``>>`` is arithmetic: the sign bits are masked off)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def splitmix_words(seed: int, count: int, device) -> Tensor:
    """Words 0..count-1 of the stream :func:`bernoulli_mask` reads, as int64: SplitMix64
    (Steele, Lea & Flood 2014) of the counter ``seed + (w + 1) * gamma``,

        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        word = z ^ (z >> 31)

    in wrapping 64-bit arithmetic (torch's int64 products wrap as the C++ fill's uint64 ones)."""
    z = torch.arange(1, count + 1, dtype=torch.int64, device=device) * _signed(_GAMMA) + seed
    z = (z ^ _shift_right(z, 30)) * _signed(_MIX1)
    z = (z ^ _shift_right(z, 27)) * _signed(_MIX2)
    return z ^ _shift_right(z, 31)


def _pack_like(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack ``padded`` ``(L, N, *)`` (original batch order) with ``like``'s batch sizes and order."""
    sorted_indices = like.sorted_indices
    if sorted_indices is not None:
        padded = padded.index_select(1, sorted_indices.to(padded.device))
    pieces = [padded[t, : int(size)] for t, size in enumerate(like.batch_sizes)]
    return PackedSequence(torch.cat(pieces), like.batch_sizes, like.sorted_indices, like.unsorted_indices)
