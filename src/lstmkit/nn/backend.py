"""The one place that picks the backend: an ordered registry of the ways to run a stack.

Backends (``lstm.last_backend`` says which one ran last, ``lstm.backend_counts`` how often
each ran):

* ``"fused"`` — lstmkit's compiled CPU kernels (:mod:`lstmkit.nn.fused`): one call per layer
  and direction for the whole sequence, forward and backward. They cover the LSTM in float32
  on the CPU with torch's options (layers, directions, lengths, ``proj_size``, dropout between
  layers), every lstmkit variant (peephole, layer norm, CIFG, recurrent dropout, zoneout, in
  any combination) and ``return_trace`` (its gates and ``cell_state`` are then not
  differentiable); and the GRU and the RNN (tanh, relu) with the same torch options and
  ``return_trace`` (the GRU's gates are then not differentiable), in their own extension
  (``fused.build.load("gru_rnn")``). For ``step()`` it is the compiled streaming step.
* ``"torch"`` — torch's own kernels (oneDNN on CPU, cuDNN on CUDA) through the same
  parameters, for the configurations torch.nn has.
* ``"reference"`` — the readable Python scan of :mod:`lstmkit.nn.scan` (for ``step()``, the
  reference cell): every option, any device and dtype; the oracle the others are tested
  against.

Each backend is an object asked about a :class:`Call` (the configuration, the input's device
and dtype, whether a trace is kept and must be differentiable, a whole sequence or one
timestep): :meth:`Backend.why_not` says why it cannot run the call, or None when it can, and
the backend then runs it (``run_layer``: one layer-direction; ``run_stack``: the whole stack
at once; ``step_core``: the compiled step bound to a module). :func:`select` is the only
chooser:

* ``backend="auto"`` asks them in the order of :data:`REGISTRY` (fused, torch, reference)
  and takes the first that can: on the CPU in float32 the fused kernel (for the plain LSTM
  training 0.9-1.6x torch.nn.LSTM's speed, inference 0.9-1.2x, by CPU and shape, see the
  README; every LSTM
  variant; the GRU and the RNN at 1.1-2x torch.nn.GRU / torch.nn.RNN measured at H <= 512,
  about even at H = 1024), in training and inference, and for a trace under
  ``torch.no_grad()`` (with gradients on, the trace's gates must be differentiable: the
  reference runs); torch's kernels for the plain configurations elsewhere (CUDA, float64, and
  where the kernel cannot compile); the reference for everything else. Where both the fused
  kernel and torch's can run a call, the fused backend steps aside (:meth:`FusedBackend.slower`)
  for the shape classes where torch was measured faster on this machine
  (:mod:`lstmkit.nn.autotune`; ``LSTMKIT_AUTOTUNE=0``: never).
* ``backend="fused"`` insists on the kernel where it applies and falls back to the reference,
  with one warning, where it cannot compile (silently for float64 or CUDA inputs, and for a
  ``step()`` the compiled step does not cover: a GRU, an RNN, a bidirectional stack).
* ``backend="reference"`` always runs the reference.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import warnings
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .config import RecurrentConfig
from .scan import ScanResult, StepMasks, scan

_warned: set[str] = set()


def warn_once(message: str, stacklevel: int = 1) -> None:
    """A ``RuntimeWarning`` with ``message``, the first time only (per process).
    ``stacklevel`` counts from the caller of ``warn_once``, as for ``warnings.warn``."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel + 1)


@dataclass(frozen=True)
class Call:
    """What a backend is asked to run.

    ``device`` (a device type, ``"cpu"``) and ``dtype``: where the data lives; None when not
    known yet (the compiled step then checks at every call). ``keep_trace``: every step's gates
    and states are returned too; ``differentiable_trace``: and gradients must flow through
    them. ``step``: one timestep of the stack (``step()``, ``streamer()``), not a sequence.
    """

    config: RecurrentConfig
    device: str | None = None
    dtype: torch.dtype | None = None
    keep_trace: bool = False
    differentiable_trace: bool = False
    step: bool = False
    steps: int | None = None  # L, the sequence length (None: not known, a step)
    batch: int | None = None  # N
    grad: bool = False  # gradients on (training) when the call runs
    ragged: bool = False  # per-sequence lengths (a PackedSequence or lengths=)


def sequence_call(config: RecurrentConfig, x: Tensor, *, keep_trace: bool = False, ragged: bool = False) -> Call:
    """``forward`` of ``config``'s stack on ``x`` ``(L, N, H_in)`` in the current grad mode."""
    grad = torch.is_grad_enabled()
    return Call(config, x.device.type, x.dtype, keep_trace, keep_trace and grad,
                steps=x.shape[0], batch=x.shape[1], grad=grad, ragged=ragged)


def step_call(config: RecurrentConfig, tensors: Iterable[Tensor] | None = None) -> Call:
    """``step()`` of ``config``'s stack; ``tensors`` (a streamer's parameters) fix the device
    and dtype: float32 CPU when they all are, else the first that is not."""
    device = dtype = None
    if tensors is not None:
        device, dtype = "cpu", torch.float32
        for t in tensors:
            if (t.device.type, t.dtype) != (device, dtype):
                device, dtype = t.device.type, t.dtype
                break
    return Call(config, device, dtype, step=True)


class Backend:
    """One way to run a recurrent stack (see the module's docstring)."""

    name = ""
    runs_stack = False  # True: run_stack runs all layers in one call; else run_layer, one layer-direction
    zeros_itself = False  # True: run_layer takes None for a zero initial state (no tensors built for it)

    def why_not(self, call: Call) -> str | None:
        """Why this backend cannot run ``call``, or None when it can."""
        raise NotImplementedError

    def run_layer(self, config: RecurrentConfig, weights, x: Tensor, state: tuple[Tensor, ...], *,
                  reverse: bool, lengths: Tensor | None, masks: StepMasks, keep_trace: bool) -> ScanResult:
        """One layer-direction over ``x`` ``(L, N, I)`` from ``state``."""
        raise NotImplementedError(f"the {self.name} backend runs whole stacks (run_stack)")

    def run_stack(self, module, x: Tensor, hx, lengths: Tensor | None):
        """Every layer of ``module`` over ``x`` ``(L, N, H_in)`` from ``hx`` as torch.nn takes it
        (``(h_0, c_0)`` or ``h_0``, each ``(D*layers, N, *)``, checked; None: zeros):
        ``(output, final state)``."""
        raise NotImplementedError(f"the {self.name} backend runs one layer at a time (run_layer)")

    def step_core(self, module) -> Any | None:
        """The compiled step bound to ``module``, or None: ``step()`` runs the reference cell."""
        return None

    def describe(self) -> list[str]:
        """Lines for ``lstmkit info``: whether this backend can run here."""
        raise NotImplementedError


class ReferenceBackend(Backend):
    """The readable scan of :mod:`lstmkit.nn.scan` over the reference cell: runs everything."""

    name = "reference"

    def why_not(self, call: Call) -> str | None:
        return None

    def run_layer(self, config, weights, x, state, *, reverse, lengths, masks, keep_trace) -> ScanResult:
        return scan(config.spec.cell_function(config, weights), x, state, reverse=reverse, lengths=lengths,
                    masks=masks, keep_trace=keep_trace)

    def describe(self) -> list[str]:
        return ["backend reference: available (the readable Python scan, every option, any device and dtype)"]


class TorchBackend(Backend):
    """torch.nn's kernels (oneDNN, cuDNN) with the module's own parameters, for the plain
    configurations torch.nn has, without a trace."""

    name = "torch"
    runs_stack = True

    def __init__(self) -> None:
        # module -> (config, twin, the parameters bound into the twin)
        self._twins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def why_not(self, call: Call) -> str | None:
        if call.step:
            return "torch.nn has no step through a whole stack"
        if call.keep_trace:
            return "torch.nn returns no trace"
        if not call.config.is_plain:
            return "torch.nn has no LSTM variant (peephole, layer_norm, cifg, recurrent_dropout, zoneout)"
        return None

    def run_stack(self, module, x, hx, lengths):
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        params = list(module._parameters.items())  # its own (a RecurrentStack has no submodules)
        twin, flat = self._twin(module, params)
        if flat is not None and lengths is None and x.is_cpu:
            return self._direct(module, twin, flat, x, hx)
        if twin.training != module.training:
            twin.train(module.training)
        inp = x if lengths is None else pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
        if flat is not None:
            output, final = twin(inp, hx)
        else:  # the module runs under torch.func.functional_call (plain tensors in its parameters' places)
            from torch.func import functional_call

            output, final = functional_call(twin, dict(params), (inp, hx))
        if lengths is not None:
            output, _ = pad_packed_sequence(output, total_length=x.shape[0])
        return output, final

    @staticmethod
    def _direct(module, twin, flat, x, hx):
        """The same ATen operator torch.nn's forward ends in (``torch.lstm``, ``torch.gru``,
        ``torch.rnn_tanh``, ``torch.rnn_relu``), called with the bound parameters in torch's
        order: the result is torch.nn's, without its ~50 us of Python checks per call (on the
        CPU, where torch.nn keeps no flattened weight copy)."""
        lstm = twin.mode == "LSTM"
        if hx is None:
            layers = twin.num_layers * (2 if twin.bidirectional else 1)
            h0 = x.new_zeros(layers, x.shape[1], twin.proj_size or twin.hidden_size)
            hx = (h0, x.new_zeros(layers, x.shape[1], twin.hidden_size)) if lstm else h0
        operator = _TORCH_OPERATORS[twin.mode]
        result = operator(x, hx, flat, twin.bias, twin.num_layers, float(twin.dropout), module.training,
                          twin.bidirectional, False)
        return (result[0], (result[1], result[2])) if lstm else (result[0], result[1])

    def _twin(self, module, params) -> tuple[torch.nn.Module, list | None]:
        """``module``'s torch.nn twin holding ``module``'s own parameter objects ``params``
        (gradients land in them), re-bound when the config or a parameter object changed,
        and those parameters in torch's flat-weight order (None when ``params`` are not all
        parameters). Binding once, rather than ``torch.func.functional_call`` at every call,
        saves ~25 us a call. Plain tensors in the parameters' places (the module itself under
        ``functional_call``) are not bound: the caller runs ``functional_call`` on the twin."""
        config = module.config
        entry = self._twins.get(module)
        if entry is None or entry[0] is not config:
            entry = [config, config.spec.torch_twin(config), [], None]
            self._twins[module] = entry
        bound = entry[2]
        if not all(isinstance(p, torch.nn.Parameter) for _, p in params):
            return entry[1], None
        if len(bound) != len(params) or any(p is not q for (_, p), q in zip(params, bound)):
            twin = entry[1]
            for name, param in params:
                setattr(twin, name, param)  # RNNBase.__setattr__ refreshes its flat weights
            bound[:] = [p for _, p in params]
            by_name = dict(params)
            entry[3] = [by_name[name] for name in twin._flat_weights_names]
        return entry[1], entry[3]

    def describe(self) -> list[str]:
        return ["backend torch:     available (torch's kernels, for configurations torch.nn has)"]


class FusedBackend(Backend):
    """lstmkit's compiled CPU kernels (:mod:`lstmkit.nn.fused`); for a step, the compiled step."""

    name = "fused"
    zeros_itself = True  # the fused layers start from zeros given None

    def why_not(self, call: Call) -> str | None:
        return self.mismatch(call) or self.unavailable(call) or self.slower(call)

    def slower(self, call: Call) -> str | None:
        """For ``backend="auto"``: why torch's kernels run ``call`` instead, when they were
        measured faster here for its shape class (:mod:`lstmkit.nn.autotune`), else None."""
        if TORCH.why_not(call) is not None:
            return None  # torch.nn has no such call: nothing to compare with
        from . import autotune

        decision = autotune.decide(call)
        if decision is None or decision.backend != "torch":
            return None
        return (f"torch measured faster here ({decision.torch_ms:.3g} ms vs {decision.fused_ms:.3g} ms "
                f"for the class {decision.key})")

    def mismatch(self, call: Call) -> str | None:
        """What in ``call`` the kernels do not compute (None: they do, once compiled)."""
        spec = call.config.spec
        if call.step:
            if not spec.compiled_step:
                return f"the {spec.mode.replace('_', ' ')} cell has no compiled step"
            if call.config.bidirectional:
                return "the layer is bidirectional"
        if call.device is not None and (call.device, call.dtype) != ("cpu", torch.float32):
            return f"the fused kernels compute float32 on the CPU, got {call.dtype} on {call.device}"
        if call.differentiable_trace:
            return "with gradients on, a trace's gates must be differentiable: only the reference has them"
        return None

    def unavailable(self, call: Call) -> str | None:
        """Why the extension ``call`` needs cannot be compiled or loaded here (None: it is
        loaded; the first call compiles it)."""
        from . import fused

        extension = "step" if call.step else call.config.spec.extension
        if fused.available(extension):
            return None
        what = "compiled step" if call.step else "fused kernel"
        return f"the {what} is unavailable ({fused.unavailable_reason(extension)})"

    def run_layer(self, config, weights, x, state, *, reverse, lengths, masks, keep_trace) -> ScanResult:
        return config.spec.fused_layer(config, weights, x, state, reverse=reverse, lengths=lengths, masks=masks,
                                       keep_trace=keep_trace)

    def step_core(self, module) -> Any | None:
        from .fused.step import make_step_core

        return make_step_core(module)

    def describe(self) -> list[str]:
        from . import fused

        if fused.available():
            fused_line = "available (" + fused.kernel_info() + ")"
        else:
            fused_line = f"unavailable: {fused.unavailable_reason()}"
        if fused.available("gru_rnn"):
            gru_line = "available (GRU, RNN)"
        else:
            gru_line = f"unavailable: {fused.unavailable_reason('gru_rnn')}"
        return [f"backend fused:     {fused_line}", f"                   gru_rnn kernels {gru_line}"]


# torch.nn's mode -> the ATen operator its forward calls
_TORCH_OPERATORS = {"LSTM": torch.lstm, "GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}

REFERENCE = ReferenceBackend()
TORCH = TorchBackend()
FUSED = FusedBackend()
REGISTRY: tuple[Backend, ...] = (FUSED, TORCH, REFERENCE)  # the order backend="auto" asks them in
BY_NAME: dict[str, Backend] = {backend.name: backend for backend in REGISTRY}


_forced: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("lstmkit_forced_backend", default=None)


@contextlib.contextmanager
def forcing(backend: Backend):
    """Inside, ``backend="auto"`` calls run on ``backend`` (which must be able to run them):
    how :mod:`lstmkit.nn.autotune` times one backend against another through the same path."""
    token = _forced.set(backend)
    try:
        yield backend
    finally:
        _forced.reset(token)


def select(call: Call) -> Backend:
    """The backend that runs ``call``, by ``call.config.backend`` (see the module's docstring)."""
    requested = call.config.backend
    if requested == "reference":
        return REFERENCE
    if requested == "fused":
        return _insist_on_fused(call)
    forced = _forced.get()
    if forced is not None:
        return forced
    return next(backend for backend in REGISTRY if backend.why_not(call) is None)  # the reference always can


#: a stack's remembered choices are dropped past this many call signatures (lengths vary)
MEMO_SIZE = 64


#: stack module -> its remembered choices (weak: a copied or pickled module carries none)
_MEMOS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_ENVIRON = getattr(os.environ, "_data", None)  # os.environ's own dict (POSIX: bytes keys)
_AUTOTUNE_KEY = os.environ.encodekey("LSTMKIT_AUTOTUNE") if _ENVIRON is not None else None


def _autotune_setting():
    """``$LSTMKIT_AUTOTUNE`` as os.environ holds it (read from its dict: ``os.environ.get``
    walks five Python frames, ~15 us between large kernel calls, where Python runs cache-cold)."""
    if _ENVIRON is not None:
        return _ENVIRON.get(_AUTOTUNE_KEY)
    return os.environ.get("LSTMKIT_AUTOTUNE")


def select_for(module, config: RecurrentConfig, x: Tensor, *, keep_trace: bool = False,
               ragged: bool = False) -> Backend:
    """``select(sequence_call(config, x, ...))``, remembered for ``module`` per call
    signature. The choice depends only on the config, the device and dtype, the
    shape, the grad mode, the trace and raggedness, the thread count and, for ``auto``, on
    the kernels' availability and the autotune record, which a signature's first call
    settles; so a stack called again the same way skips the checks (about 0.1 ms each call
    between large kernel calls, where Python runs cache-cold). While autotune measures (a
    forced backend) nothing is served from or put in the memo, and a change of
    ``$LSTMKIT_AUTOTUNE`` is a new signature."""
    if _forced.get() is not None:
        return select(sequence_call(config, x, keep_trace=keep_trace, ragged=ragged))
    shape = x.shape
    key = (id(config), x.device, x.dtype, shape[0], shape[1], torch.is_grad_enabled(), keep_trace, ragged,
           torch.get_num_threads(), _autotune_setting())
    memo = _MEMOS.get(module)
    if memo is None:
        memo = _MEMOS[module] = {}
    entry = memo.get(key)
    if entry is not None and entry[0] is config:
        return entry[1]
    backend = select(sequence_call(config, x, keep_trace=keep_trace, ragged=ragged))
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = (config, backend)
    return backend


def _insist_on_fused(call: Call) -> Backend:
    # Insisting accepts a trace whose gates are not differentiable (documented).
    call = dataclasses.replace(call, differentiable_trace=False)
    if FUSED.mismatch(call) is not None:
        return REFERENCE  # float64, CUDA, a step the compiled step does not cover: documented fallbacks
    missing = FUSED.unavailable(call)
    if missing is not None:
        tail = "step() runs the reference cell" if call.step else "running the reference path"
        warn_once(f"lstmkit: {missing}; {tail}", stacklevel=4)
        return REFERENCE
    return FUSED


def describe_backends() -> list[str]:
    """One line per backend: whether it can run here (``lstmkit info``)."""
    return REFERENCE.describe() + TORCH.describe() + FUSED.describe()
