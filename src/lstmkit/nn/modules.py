r"""``LSTM``, ``GRU`` and ``RNN``: stacks of recurrent layers, drop-in for their torch.nn twins.

Symbols: N batch size, L sequence length, D = 2 if bidirectional else 1, H_in input size,
H hidden size, H_out = proj_size if > 0 else H.

Shapes (as torch.nn): input ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first=True``,
``(L, H_in)`` unbatched, or a ``PackedSequence`` (lengths in any order). Output
``(L, N, D*H_out)`` (same layout rules); ``h_n`` ``(D*num_layers, N, H_out)``; the LSTM's
``c_n`` ``(D*num_layers, N, H)``. Missing initial states are zeros.

On top of torch.nn:

* ``lengths=`` a tensor ``(N,)`` of sequence lengths instead of a PackedSequence: outputs past
  a sequence's end are 0 and its final state is the state at its last real step;
* ``return_trace=True``: a third return value, the :class:`~lstmkit.nn.trace.Trace` of every
  gate and state at every step, for every layer and direction;
* ``step(x_t, state)``: one timestep through all layers, for streaming;
* the LSTM variants (``peephole``, ``layer_norm``, ``cifg``, ``forget_bias``,
  ``recurrent_dropout``, ``zoneout``) and ``init="keras"``;
* ``backend=``: ``"reference"`` (the readable Python scan), ``"fused"`` or ``"auto"``;
  ``last_backend`` says which one ran last, ``backend_counts`` how often each ran.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import parameters
from .backend import resolve_backend
from .config import RecurrentConfig
from .scan import ScanResult, StepMasks, cell_function, scan
from .trace import Trace


class RecurrentStack(nn.Module):
    """Common body of :class:`LSTM`, :class:`GRU` and :class:`RNN`."""

    mode: str = ""

    def __init__(self, config: RecurrentConfig, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        if config.dropout > 0 and config.num_layers == 1:
            warnings.warn(
                "dropout applies between layers, so with num_layers=1 it does nothing "
                f"(got dropout={config.dropout} and num_layers=1)",
                stacklevel=3,
            )
        resolve_backend(config.backend, config, None)  # a backend that cannot run fails here
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
        states = self._initial_states(hx, batch, unbatched, x)

        backend = resolve_backend(c.backend, c, x, keep_trace=return_trace)
        self.last_backend = backend
        self.backend_counts[backend] = self.backend_counts.get(backend, 0) + 1
        if backend == "torch":
            output, final = self._forward_torch(x, states, lengths)
            return self._restore_layout(output, final, None, packed, unbatched, return_trace)
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
        h_n = torch.stack([s[0] for s in final_states])
        final = (h_n, torch.stack([s[1] for s in final_states])) if c.cell == "lstm" else h_n
        trace = Trace(trace_rows, type(trace_rows[0][0])._fields) if return_trace else None
        return self._restore_layout(output, final, trace, packed, unbatched, return_trace)

    def _restore_layout(self, output, final, trace, packed, unbatched, return_trace):
        """From time-major ``(L, N, *)`` back to the caller's layout."""
        c = self.config
        if packed is not None:
            output = _pack_like(output, packed)
        elif unbatched:
            output = output.squeeze(1)
            final = tuple(s.squeeze(1) for s in final) if c.cell == "lstm" else final.squeeze(1)
            if trace is not None:
                trace = trace.map(lambda t: t.squeeze(1))
        elif c.batch_first:
            output = output.transpose(0, 1)
            if trace is not None:
                trace = trace.map(lambda t: t.transpose(0, 1))
        if return_trace:
            return output, final, trace
        return output, final

    def _forward_torch(self, x: Tensor, states, lengths):
        """The whole stack on torch's kernels, with this module's parameters."""
        from torch.func import functional_call

        c = self.config
        twin = self.__dict__.get("_torch_twin")
        if twin is None:
            twin = _torch_twin(c)
            self.__dict__["_torch_twin"] = twin
        twin.train(self.training)
        h0 = torch.stack([s[0] for s in states])
        hx = (h0, torch.stack([s[1] for s in states])) if c.cell == "lstm" else h0
        inp = x
        if lengths is not None:
            inp = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        output, final = functional_call(twin, dict(self.named_parameters()), (inp, hx))
        if lengths is not None:
            output, _ = pad_packed_sequence(output, total_length=x.shape[0])
        return output, final

    def _scan_layer(self, backend, layer, direction, x, state, lengths, keep_trace) -> ScanResult:
        weights = self.layer_weights(layer, direction)
        masks = self._draw_masks(x, state)
        if backend == "fused" and self.config.cell != "lstm":
            from .fused import gru_layer, rnn_layer

            args = (x, state[0], weights.weight_ih, weights.weight_hh, weights.bias_ih, weights.bias_hh)
            kw = dict(reverse=direction == 1, lengths=lengths, return_trace=keep_trace)
            if self.config.cell == "gru":
                result = gru_layer(*args, **kw)
            else:
                result = rnn_layer(*args, nonlinearity=self.config.cell.removeprefix("rnn_"), **kw)
            return ScanResult(result[0], (result[1],), result[2] if keep_trace else None)
        if backend == "fused":
            from .fused import lstm_layer

            result = lstm_layer(
                x, state[0], state[1], weights.weight_ih, weights.weight_hh, weights.bias_ih,
                weights.bias_hh, reverse=direction == 1, lengths=lengths, weight_hr=weights.weight_hr,
                peephole=weights.peephole, layer_norm=weights.layer_norm, cifg=self.config.cifg,
                recurrent_mask=masks.recurrent, zoneout_masks=masks.zoneout, return_trace=keep_trace,
            )
            return ScanResult(result[0], (result[1], result[2]), result[3] if keep_trace else None)
        return scan(
            cell_function(self.config, weights), x, state,
            reverse=direction == 1, lengths=lengths, masks=masks, keep_trace=keep_trace,
        )

    def _draw_masks(self, x: Tensor, state: tuple[Tensor, ...]) -> StepMasks:
        """Recurrent-dropout and zoneout masks for one layer-direction (training only)."""
        c = self.config
        if not self.training:
            return StepMasks()
        recurrent = zoneout = None
        if c.recurrent_dropout > 0:
            keep = 1.0 - c.recurrent_dropout
            recurrent = torch.bernoulli(torch.full_like(state[0], keep)) / keep
        if c.zoneout > 0:
            num_steps = x.shape[0]
            zoneout = tuple(
                torch.rand((num_steps,) + s.shape, device=s.device) < c.zoneout for s in state
            )
        return StepMasks(recurrent, zoneout)

    # ------------------------------------------------------------- validation
    def _state_shapes(self, batch: int) -> list[tuple[str, tuple[int, ...]]]:
        c = self.config
        stacked = c.num_layers * c.num_directions
        shapes = [("h_0", (stacked, batch, c.output_size))]
        if c.cell == "lstm":
            shapes.append(("c_0", (stacked, batch, c.hidden_size)))
        return shapes

    def _initial_states(self, hx, batch: int, unbatched: bool, x: Tensor) -> list[tuple[Tensor, ...]]:
        """``hx`` checked against the expected shapes and split per layer-direction."""
        c = self.config
        shapes = self._state_shapes(batch)
        if hx is None:
            tensors = [x.new_zeros(shape) for _, shape in shapes]
        else:
            if c.cell == "lstm":
                if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                    raise ValueError("hx must be a tuple (h_0, c_0) for an LSTM")
                given = list(hx)
            else:
                if not isinstance(hx, Tensor):
                    raise ValueError(f"hx must be a Tensor h_0 for a {type(self).__name__}")
                given = [hx]
            tensors = []
            for (name, shape), tensor in zip(shapes, given):
                if not isinstance(tensor, Tensor):
                    raise ValueError(f"{name} must be a Tensor, got {type(tensor).__name__}")
                expected = (shape[0], shape[2]) if unbatched else shape
                if tuple(tensor.shape) != expected:
                    raise ValueError(
                        f"{name} must have shape {expected} (D*num_layers, "
                        f"{'' if unbatched else 'N, '}{'H_out' if name == 'h_0' else 'H'}), "
                        f"got {tuple(tensor.shape)}"
                    )
                tensors.append(tensor.unsqueeze(1) if unbatched else tensor)
        return [tuple(t[i] for t in tensors) for i in range(c.num_layers * c.num_directions)]

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
        regularisers (dropout, recurrent dropout, zoneout) act in ``forward`` only: ``step``
        always computes the evaluation-mode cell. Unidirectional stacks only.

        An LSTM runs the compiled step (:mod:`lstmkit.nn.fused.step`, one C++ call for all
        layers) when no gradient is needed (``torch.no_grad()``, or nothing requires grad), on
        float32 CPU tensors, unless ``backend="reference"``; otherwise, and for the GRU and
        the RNN, the reference cell runs. For a stream with the state kept inside, see
        :meth:`LSTM.streamer`.
        """
        d = self.__dict__
        core = d.get("_step_core")
        if core is None or d.get("_step_config") is not self.config:
            core = self._build_step_core()
        if core is not False:
            out = core.try_step(x_t, state)  # None: the reference must run (and validate)
            if out is not None:
                return out
        c = self.config
        if c.bidirectional:
            raise ValueError(
                "step() streams forward in time, but this layer is bidirectional: its reverse "
                "direction needs the whole sequence; call forward() instead"
            )
        if not isinstance(x_t, Tensor) or x_t.dim() not in (1, 2):
            shape = tuple(x_t.shape) if isinstance(x_t, Tensor) else type(x_t).__name__
            raise ValueError(f"x_t must be a 2-D (N, H_in) or 1-D (H_in,) tensor, got {shape}")
        if x_t.shape[-1] != c.input_size:
            raise ValueError(f"x_t must have {c.input_size} features (input_size), got {x_t.shape[-1]}")
        unbatched = x_t.dim() == 1
        x = x_t.reshape(1, 1 if unbatched else x_t.shape[0], c.input_size)  # (1, N, H_in)
        states = self._initial_states(state, x.shape[1], unbatched, x)
        layer_input = x[0]
        new_states = []
        for layer in range(c.num_layers):
            record = cell_function(c, self.layer_weights(layer))(layer_input, states[layer])
            new_state = tuple(record[: len(states[layer])])
            new_states.append(new_state)
            layer_input = new_state[0]
        h = torch.stack([s[0] for s in new_states])
        new = (h, torch.stack([s[1] for s in new_states])) if c.cell == "lstm" else h
        y_t = layer_input
        if unbatched:
            y_t = y_t.squeeze(0)
            new = tuple(s.squeeze(1) for s in new) if c.cell == "lstm" else new.squeeze(1)
        return y_t, new

    def _build_step_core(self):
        """The compiled step bound to this module's parameters (cached in ``__dict__`` with the
        config it was built for; copies and pickles of the module drop it), or False."""
        core = False
        if self.config.cell == "lstm":
            from .fused.step import make_step_core, step_applies, step_unavailable_reason

            if step_applies(self.config) is None:
                core = make_step_core(self) or False
                if core is False and self.config.backend == "fused":
                    from .backend import _warn_once

                    _warn_once(f"lstmkit: the compiled step is unavailable ({step_unavailable_reason()}); "
                               "step() runs the reference cell")
        self.__dict__["_step_core"] = core
        self.__dict__["_step_config"] = self.config
        return core


def _torch_twin(config: RecurrentConfig) -> nn.Module:
    """A torch.nn layer of the same shape with no storage of its own (its parameters are
    supplied at each call by ``functional_call``)."""
    c = config
    common = dict(num_layers=c.num_layers, bias=c.bias, batch_first=False, dropout=c.dropout,
                  bidirectional=c.bidirectional, device="meta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if c.cell == "lstm":
            return nn.LSTM(c.input_size, c.hidden_size, proj_size=c.proj_size, **common)
        if c.cell == "gru":
            return nn.GRU(c.input_size, c.hidden_size, **common)
        return nn.RNN(c.input_size, c.hidden_size, nonlinearity=c.cell.removeprefix("rnn_"), **common)


def _pack_like(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack ``padded`` ``(L, N, *)`` (original batch order) with ``like``'s batch sizes and order."""
    sorted_indices = like.sorted_indices
    if sorted_indices is not None:
        padded = padded.index_select(1, sorted_indices.to(padded.device))
    pieces = [padded[t, : int(size)] for t, size in enumerate(like.batch_sizes)]
    return PackedSequence(torch.cat(pieces), like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class LSTM(RecurrentStack):
    r"""A stack of LSTM layers, the torch.nn.LSTM contract plus lstmkit's variants.

    For each element of the input sequence each layer computes::

        i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)          input gate
        f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)          forget gate
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)       candidate
        o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)          output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                         cell state, long-term memory
        h_t = o_t ⊙ tanh(c_t)                                   hidden state, short-term memory

    Args (torch.nn's, same order): ``input_size``, ``hidden_size``, ``num_layers=1``,
    ``bias=True``, ``batch_first=False``, ``dropout=0.0`` (between layers, training only),
    ``bidirectional=False``, ``proj_size=0`` (``h_t = W_hr (o_t ⊙ tanh c_t)``), ``device``,
    ``dtype``. Keyword-only, lstmkit's own:

    * ``peephole``: i and f see ``c_{t-1}``, o sees ``c_t``, through diagonal weights;
    * ``layer_norm``: LN on the input and recurrent gate contributions and on ``c_t`` before
      its tanh (Ba et al. 2016);
    * ``cifg``: coupled input-forget gate, ``i_t = 1 - f_t`` (weights hold f, g, o only);
    * ``forget_bias``: added to the forget gate's bias at init (1.0 per Jozefowicz et al. 2015);
    * ``recurrent_dropout``: one dropout mask per sequence on ``h_{t-1}`` as it enters the gates
      (Gal & Ghahramani 2016), training only;
    * ``zoneout``: each unit of h and c keeps its previous value with this probability
      (Krueger et al. 2016), training only (identity at evaluation);
    * ``init``: ``"torch"`` (U(±1/√H), torch's) or ``"keras"`` (Glorot, orthogonal, unit forget
      bias); ``backend``: ``"auto"``, ``"fused"`` or ``"reference"``.

    Weights are torch's (see :mod:`lstmkit.nn.parameters`): ``weight_ih_l{k}`` ``(4H, I)``
    with gate blocks i, f, g, o; ``weight_hh_l{k}`` ``(4H, H_out)``; ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` ``(4H,)``; ``weight_hr_l{k}`` ``(P, H)``; ``_reverse`` for direction 2.
    """

    mode = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        cifg: bool = False,
        forget_bias: float = 0.0,
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        init: str = "torch",
        backend: str = "auto",
    ) -> None:
        config = RecurrentConfig(
            "lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size, peephole, layer_norm, cifg, forget_bias,
            recurrent_dropout, zoneout, init, backend,
        )
        super().__init__(config, device=device, dtype=dtype)

    def streamer(self, state: Any = None):
        """A :class:`~lstmkit.nn.fused.step.Streamer` over this LSTM: ``y_t = s.step(x_t)``
        with the state kept inside (``s.state``, ``s.reset(state=None)``), one compiled call
        per timestep (float32 CPU; the reference cell otherwise). Inference only: no gradient
        flows through it. ``state``: the ``(h, c)`` to start from (zeros when None)."""
        from .fused.step import Streamer

        return Streamer(self, state)


class GRU(RecurrentStack):
    r"""A stack of GRU layers, the torch.nn.GRU contract. Each layer computes::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)                  reset gate
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)                  update gate
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))       new gate
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Args as torch.nn.GRU (``input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, device, dtype``) plus keyword-only
    ``init`` and ``backend``. Weights ``weight_ih_l{k}`` ``(3H, I)`` with blocks r, z, n.
    """

    mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        init: str = "torch",
        backend: str = "auto",
    ) -> None:
        config = RecurrentConfig(
            "gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, init=init, backend=backend,
        )
        super().__init__(config, device=device, dtype=dtype)


class RNN(RecurrentStack):
    r"""A stack of plain (Elman) RNN layers, the torch.nn.RNN contract::

        h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),   φ = tanh or relu (``nonlinearity``)

    Args as torch.nn.RNN (``input_size, hidden_size, num_layers=1, nonlinearity="tanh",
    bias=True, batch_first=False, dropout=0.0, bidirectional=False, device, dtype``) plus
    keyword-only ``init`` and ``backend``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        init: str = "torch",
        backend: str = "auto",
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        config = RecurrentConfig(
            f"rnn_{nonlinearity}", input_size, hidden_size, num_layers, bias, batch_first,
            dropout, bidirectional, init=init, backend=backend,
        )
        super().__init__(config, device=device, dtype=dtype)

    @property
    def nonlinearity(self) -> str:
        return self.config.cell.removeprefix("rnn_")

    @property
    def mode(self) -> str:  # type: ignore[override]
        return "RNN_TANH" if self.config.cell == "rnn_tanh" else "RNN_RELU"
