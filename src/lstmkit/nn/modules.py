r"""``LSTM``, ``GRU`` and ``RNN``: stacks of recurrent layers, drop-in for their torch.nn twins.

Their shapes and the body they share (validation, the layer loop, ``step``) are in
:mod:`lstmkit.nn.stack`: N batch size, L sequence length, D = 2 if bidirectional else 1,
H_in input size, H hidden size, H_out = proj_size if > 0 else H; input ``(L, N, H_in)`` (or
batch first, unbatched, packed), output ``(L, N, D*H_out)``, ``h_n`` ``(D*num_layers, N,
H_out)``, the LSTM's ``c_n`` ``(D*num_layers, N, H)``.

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

from typing import Any

from .config import RecurrentConfig
from .stack import RecurrentStack


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
      (Krueger et al. 2016) in training; in evaluation (and ``step``) its expectation,
      ``h_t = p h_{t-1} + (1 - p) h_new`` and ``c_t`` alike, as the paper evaluates;
    * ``init``: ``"torch"`` (U(±1/√H), torch's) or ``"keras"`` (Glorot, orthogonal, unit forget
      bias); ``backend``: ``"auto"``, ``"fused"`` or ``"reference"``.

    Weights are torch's (see :mod:`lstmkit.nn.parameters`): ``weight_ih_l{k}`` ``(4H, I)``
    with gate blocks i, f, g, o; ``weight_hh_l{k}`` ``(4H, H_out)``; ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` ``(4H,)``; ``weight_hr_l{k}`` ``(P, H)``; ``_reverse`` for direction 2.
    """

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
            cell="lstm", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, bias=bias,
            batch_first=batch_first, dropout=dropout, bidirectional=bidirectional, proj_size=proj_size,
            peephole=peephole, layer_norm=layer_norm, cifg=cifg, forget_bias=forget_bias,
            recurrent_dropout=recurrent_dropout, zoneout=zoneout, init=init, backend=backend,
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
            cell="gru", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, bias=bias,
            batch_first=batch_first, dropout=dropout, bidirectional=bidirectional, init=init, backend=backend,
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
            cell=f"rnn_{nonlinearity}", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
            bias=bias, batch_first=batch_first, dropout=dropout, bidirectional=bidirectional, init=init,
            backend=backend,
        )
        super().__init__(config, device=device, dtype=dtype)

    @property
    def nonlinearity(self) -> str:
        return self.config.spec.nonlinearity


def from_torch(module, *, backend: str = "auto") -> RecurrentStack:
    """The lstmkit twin of a ``torch.nn.LSTM``, ``GRU`` or ``RNN``: the same options, device and
    dtype, a copy of its weights under the same names, so both give the same outputs and
    gradients, and the twin's gates can be read (``return_trace=True``, ``lstmkit inspect``'s
    :func:`~lstmkit.report.numbers.run_trace`). An lstmkit module comes back as it is.

    >>> import torch, lstmkit
    >>> theirs = torch.nn.LSTM(3, 8, batch_first=True)
    >>> ours = lstmkit.from_torch(theirs)
    >>> x = torch.randn(2, 5, 3)
    >>> torch.allclose(ours(x)[0], theirs(x)[0], atol=1e-6)
    True
    """
    import torch

    if isinstance(module, RecurrentStack):
        return module
    if not isinstance(module, torch.nn.RNNBase) or module.mode not in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
        raise TypeError(f"from_torch takes a torch.nn.LSTM, GRU or RNN, got {type(module).__name__}")
    weight = next(iter(module.parameters()))
    common = dict(num_layers=module.num_layers, bias=module.bias, batch_first=module.batch_first,
                  dropout=module.dropout, bidirectional=module.bidirectional, device=weight.device,
                  dtype=weight.dtype, backend=backend)
    if module.mode == "LSTM":
        twin = LSTM(module.input_size, module.hidden_size, proj_size=module.proj_size, **common)
    elif module.mode == "GRU":
        twin = GRU(module.input_size, module.hidden_size, **common)
    else:
        twin = RNN(module.input_size, module.hidden_size, nonlinearity=module.nonlinearity, **common)
    twin.load_state_dict(module.state_dict())
    twin.train(module.training)
    return twin


def to_torch(module: RecurrentStack):
    """The ``torch.nn.LSTM``, ``GRU`` or ``RNN`` twin of a plain lstmkit module (no variant): the
    same options, device and dtype, a copy of its weights under the same names, so both give
    the same outputs and gradients. For running a model trained here where only torch is, on
    cuDNN, or through ``torch.export.export`` or ``torch.jit.trace`` (``torch.onnx.export`` needs
    the onnx package, which lstmkit does not install: not tried). The variants (peephole, layer
    norm, CIFG, recurrent dropout, zoneout) have no torch.nn twin and are refused (ValueError).

    >>> import torch, lstmkit
    >>> ours = lstmkit.LSTM(3, 8, num_layers=2, batch_first=True)
    >>> theirs = lstmkit.to_torch(ours)
    >>> x = torch.randn(2, 5, 3)
    >>> torch.allclose(ours(x)[0], theirs(x)[0], atol=1e-6)
    True
    """
    import torch

    if isinstance(module, torch.nn.RNNBase):
        raise TypeError(f"to_torch takes an lstmkit LSTM, GRU or RNN; this is a "
                        f"torch.nn.{type(module).__name__} already")
    if not isinstance(module, RecurrentStack):
        raise TypeError(f"to_torch takes an lstmkit LSTM, GRU or RNN, got {type(module).__name__}")
    config = module.config
    if not config.is_plain:
        on = [name for name in ("peephole", "layer_norm", "cifg", "recurrent_dropout", "zoneout")
              if getattr(config, name)]
        raise ValueError(f"torch.nn has no LSTM with {', '.join(on)}: only a plain lstmkit module has a "
                         "torch.nn twin")
    weight = next(iter(module.parameters()))
    common = dict(num_layers=config.num_layers, bias=config.bias, batch_first=config.batch_first,
                  dropout=config.dropout, bidirectional=config.bidirectional, device=weight.device,
                  dtype=weight.dtype)
    if isinstance(module, LSTM):
        twin = torch.nn.LSTM(config.input_size, config.hidden_size, proj_size=config.proj_size, **common)
    elif isinstance(module, GRU):
        twin = torch.nn.GRU(config.input_size, config.hidden_size, **common)
    else:
        twin = torch.nn.RNN(config.input_size, config.hidden_size, nonlinearity=module.nonlinearity, **common)
    twin.load_state_dict(module.state_dict())
    twin.train(module.training)
    return twin
