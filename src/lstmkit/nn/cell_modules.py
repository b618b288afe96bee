"""``LSTMCell``, ``GRUCell`` and ``RNNCell``: one timestep, drop-in for their torch.nn twins.

Same constructor and forward arguments, parameter names (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``), shapes and initialisation as torch.nn. Input ``(N, H_in)`` or
``(H_in,)``; states ``(N, H)`` or ``(H,)``, zeros when not given. ``return_trace=True`` also
returns the step record (every gate, see :mod:`lstmkit.nn.cells`).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from . import parameters
from .config import RecurrentConfig
from .validation import one_step_input


class _Cell(nn.Module):
    def __init__(self, config: RecurrentConfig, device=None, dtype=None) -> None:
        super().__init__()
        self.config = config
        parameters.register(self, config, config.input_size, "", {"device": device, "dtype": dtype})
        self.reset_parameters()

    input_size = property(lambda self: self.config.input_size)
    hidden_size = property(lambda self: self.config.hidden_size)
    bias = property(lambda self: self.config.bias)

    def reset_parameters(self) -> None:
        parameters.initialize(self, self.config, "")

    def extra_repr(self) -> str:
        return f"{self.config.input_size}, {self.config.hidden_size}, bias={self.config.bias}"

    def _run(self, input: Tensor, hx: Any, return_trace: bool):
        c = self.config
        x, unbatched = one_step_input(input, "input", c.input_size)  # (N, H_in)
        batch = x.shape[0]
        sizes = c.spec.state_sizes(c)  # [("h_0", H)] or [("h_0", H), ("c_0", H)]
        if hx is None:
            state = tuple(x.new_zeros(batch, size) for _, size in sizes)
        else:
            given = c.spec.check_state(hx, type(self).__name__)
            state = []
            for (name, size), tensor in zip(sizes, given):
                expected = (size,) if unbatched else (batch, size)
                if not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected:
                    got = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
                    raise ValueError(f"{name} must have shape {expected}, got {got}")
                state.append(tensor.unsqueeze(0) if unbatched else tensor)
            state = tuple(state)
        record = c.spec.cell_function(c, parameters.gather(self, c, ""))(x, state)
        if unbatched:
            record = type(record)(*(t.squeeze(0) for t in record))
        result = c.spec.public_state(record[: c.spec.state_arity])
        return (result, record) if return_trace else result


class LSTMCell(_Cell):
    r"""One LSTM step (equations in :func:`lstmkit.nn.cells.lstm_cell`): returns ``(h_1, c_1)``.

    Args: ``input_size``, ``hidden_size``, ``bias=True``, ``device``, ``dtype``; keyword-only
    ``peephole``, ``layer_norm``, ``cifg``, ``forget_bias`` and ``init`` as in
    :class:`lstmkit.LSTM`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        cifg: bool = False,
        forget_bias: float = 0.0,
        init: str = "torch",
    ) -> None:
        config = RecurrentConfig(
            cell="lstm", input_size=input_size, hidden_size=hidden_size, bias=bias, peephole=peephole,
            layer_norm=layer_norm, cifg=cifg, forget_bias=forget_bias, init=init,
        )
        super().__init__(config, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None, *, return_trace: bool = False):
        return self._run(input, hx, return_trace)


class GRUCell(_Cell):
    r"""One GRU step (equations in :func:`lstmkit.nn.cells.gru_cell`): returns ``h_1``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None, *, init: str = "torch") -> None:
        config = RecurrentConfig(cell="gru", input_size=input_size, hidden_size=hidden_size, bias=bias, init=init)
        super().__init__(config, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None, *, return_trace: bool = False):
        return self._run(input, hx, return_trace)


class RNNCell(_Cell):
    r"""One plain RNN step, ``h_1 = φ(W_ih x + b_ih + W_hh h_0 + b_hh)``: returns ``h_1``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None, *, init: str = "torch") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        config = RecurrentConfig(cell=f"rnn_{nonlinearity}", input_size=input_size, hidden_size=hidden_size,
                                 bias=bias, init=init)
        super().__init__(config, device=device, dtype=dtype)

    @property
    def nonlinearity(self) -> str:
        return self.config.spec.nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None, *, return_trace: bool = False):
        return self._run(input, hx, return_trace)
