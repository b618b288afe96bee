r"""The numbers of ``lstmkit inspect``: an LSTM's trace and the statistics read from it.

No plotting and no files here: :func:`run_trace` runs an encoder with ``return_trace=True``
and returns numpy arrays; the rest turns them into plain dicts and lists (JSON-ready).

Symbols: N sequences, L steps (the longest sequence), H units of a layer-direction, I input
features. Every array is batch first, whatever the encoder's own layout:

* the encoder's input: ``(N, L, I)``; ``lengths`` ``(N,)`` for padded input (None: all L);
* :attr:`LayerTrace.fields`: name -> ``(N, L, H)`` float64, one entry per field of the
  encoder's trace record (``forget_gate``, ``input_gate``, ``output_gate``, ``cell_state``,
  ``hidden_state``, ...);
* a step mask: ``(N, L)`` booleans, True at the real steps of each sequence (steps past a
  sequence's length are left out of every statistic).

Gate saturation, after Karpathy, Johnson & Fei-Fei (2015), "Visualizing and understanding
recurrent networks" (arXiv:1506.02078): a gate activation (a sigmoid output, in (0, 1)) is
*left-saturated* when strictly below :data:`LEFT` = 0.1 (the gate is shut) and
*right-saturated* when strictly above :data:`RIGHT` = 0.9 (wide open). :func:`saturation`
gives the fraction of each over all real steps of all sequences, overall and per unit; with
the same number of steps per unit, the overall fraction is the mean of the per-unit ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmkit.errors import InputError, param_ref

__all__ = [
    "GATES",
    "GRU_GATES",
    "LEFT",
    "RIGHT",
    "STATES",
    "LayerTrace",
    "analyse",
    "check_state",
    "resolve_sample",
    "run_trace",
    "saturation",
    "step_mask",
    "text_view",
]

#: An activation below LEFT is left-saturated, above RIGHT right-saturated (Karpathy et al. 2015).
LEFT = 0.1
RIGHT = 0.9
#: The gates whose activations are plotted and counted, in the order shown: an LSTM's, a GRU's.
GATES = ("forget_gate", "input_gate", "output_gate")
GRU_GATES = ("update_gate", "reset_gate")
#: The states the text view can show: "cell" (tanh c_t) or "hidden" (h_t).
STATES = ("cell", "hidden")


@dataclass
class LayerTrace:
    """One layer-direction's trace: ``fields`` maps each traced quantity to ``(N, L, H)``."""

    layer: int
    direction: int  # 0 forward, 1 reverse
    fields: dict[str, np.ndarray]

    @property
    def name(self) -> str:
        return f"layer {self.layer}" + (" reverse" if self.direction == 1 else "")

    @property
    def gates(self) -> tuple[str, ...]:
        """The gates traced: an LSTM's forget, input and output gate, or a GRU's update and reset gate."""
        return GATES if "forget_gate" in self.fields else GRU_GATES

    @property
    def memory(self) -> str:
        """The state that carries the memory: an LSTM's ``cell_state`` c_t, a GRU's
        ``hidden_state`` h_t (its update gate z_t keeps it: h_t = (1 - z_t) n_t + z_t h_{t-1})."""
        return "cell_state" if "cell_state" in self.fields else "hidden_state"

    @property
    def file_stem(self) -> str:
        return f"gates_layer{self.layer}" + ("_reverse" if self.direction == 1 else "")


def run_trace(encoder, inputs, lengths=None) -> list[LayerTrace]:
    """Run ``inputs`` ``(N, L, I)`` (batch first) through ``encoder``, an lstmkit LSTM or GRU (or a
    torch.nn one: its lstmkit twin, :func:`lstmkit.nn.from_torch`, the same weights), with
    the trace on (evaluation mode, no gradients; the encoder's mode is restored after); the
    trace per layer-direction, layer by layer, forward before reverse, as float64 numpy arrays
    ``(N, L, H)``. ``lengths`` ``(N,)`` for padded input."""
    import torch

    from lstmkit.nn import from_torch

    if isinstance(encoder, torch.nn.RNNBase):
        encoder = from_torch(encoder)
    mode = str(getattr(encoder, "mode", ""))
    if not hasattr(encoder, "forward") or mode not in ("LSTM", "GRU"):
        name = type(encoder).__name__
        raise InputError("inspect reads the gates of LSTM and GRU encoders; this model's encoder is "
                         + (f"an {name}, which has none" if mode.startswith("RNN") else f"a {name}"))
    was_training = encoder.training
    encoder.eval()
    try:
        x = inputs if encoder.batch_first else inputs.transpose(0, 1)
        with torch.no_grad():
            _, _, trace = encoder(x, lengths=lengths, return_trace=True)
    finally:
        encoder.train(was_training)
    layers = []
    for layer in range(trace.num_layers):
        for direction in range(trace.num_directions):
            record = trace[layer, direction]  # a named tuple of (N, L, H) or (L, N, H) tensors
            fields = {}
            for name in record._fields:
                t = getattr(record, name)
                if not encoder.batch_first:
                    t = t.transpose(0, 1)
                fields[name] = t.detach().cpu().double().numpy()
            layers.append(LayerTrace(layer, direction, fields))
    if not all(g in layers[0].fields for g in layers[0].gates):
        raise InputError("inspect reads the gates of LSTM and GRU encoders; this one's trace has none")
    return layers


def step_mask(n: int, steps: int, lengths) -> np.ndarray:
    """``(N, L)`` booleans: True at the real steps of each sequence (all, without ``lengths``)."""
    if lengths is None:
        return np.ones((n, steps), dtype=bool)
    lengths = np.asarray(lengths.cpu() if hasattr(lengths, "cpu") else lengths).reshape(-1)
    return np.arange(steps)[None, :] < lengths[:, None]


def saturation(activations: np.ndarray, mask: np.ndarray | None = None, *, left: float = LEFT,
               right: float = RIGHT) -> dict[str, Any]:
    """Fractions of gate activations ``(N, L, H)`` strictly below ``left`` and strictly above
    ``right``, over all real steps (``mask`` ``(N, L)``, default all): ``left`` and ``right``
    overall, ``per_unit_left`` and ``per_unit_right`` (H values each) per unit."""
    a = np.asarray(activations, dtype=np.float64)
    if mask is None:
        mask = np.ones(a.shape[:2], dtype=bool)
    values = a[mask]  # (count, H)
    count = values.shape[0]
    if count == 0:
        raise InputError("no real time steps to measure")
    is_left, is_right = values < left, values > right
    return {
        "left": float(is_left.mean()),
        "right": float(is_right.mean()),
        "per_unit_left": is_left.mean(axis=0).tolist(),
        "per_unit_right": is_right.mean(axis=0).tolist(),
    }


def resolve_sample(sample: int | None, n: int) -> int:
    """The index in 0 .. n-1 of the sequence shown: ``sample`` (negative counts from the end),
    default the last one."""
    if sample is None:
        return n - 1
    if not -n <= sample < n:
        raise InputError(f"{param_ref('sample')}: {sample} is out of range; the data gives {n} "
                         f"sequence(s) (0 .. {n - 1})", param="sample", expected=f"0 .. {n - 1}",
                         got=sample)
    return sample % n


def check_state(state: str) -> None:
    """InputError unless ``state`` is one of :data:`STATES`."""
    if state not in STATES:
        raise InputError(f"{param_ref('state')}: expected cell or hidden, got {state!r}",
                         param="state", expected=STATES, got=state)


def analyse(layers: list[LayerTrace], mask: np.ndarray, top_units: int) -> list[dict]:
    """Per layer-direction: its names, ``hidden_size``, the :func:`saturation` of each of its
    gates (:attr:`LayerTrace.gates`), ``memory`` (the name of the state that carries it:
    ``cell_state``, a GRU's ``hidden_state``) and under that name ``mean_abs`` (mean |c_t| or
    |h_t| per unit over the real steps, H values) and ``most_active_units`` (the ``top_units``
    largest, largest first)."""
    out = []
    for lt in layers:
        c = lt.fields[lt.memory]  # (N, L, H)
        mean_abs = np.abs(c[mask]).mean(axis=0)  # (H,)
        top = np.argsort(-mean_abs, kind="stable")[:top_units]
        out.append({
            "layer": lt.layer,
            "direction": lt.direction,
            "name": lt.name,
            "hidden_size": int(c.shape[-1]),
            "saturation": {g: saturation(lt.fields[g], mask) for g in lt.gates},
            "memory": lt.memory,
            lt.memory: {
                "mean_abs": mean_abs.tolist(),
                "most_active_units": [int(u) for u in top],
            },
        })
    return out


def text_view(layers: list[LayerTrace], chars: list[str], steps: int, *, layer: int | None = None,
              unit: int | None = None, state: str = "cell") -> dict[str, Any]:
    """The numbers that colour a text (sequence 0, its first ``steps`` steps, one character a
    step) by one unit of the forward direction of ``layer`` (default the last; negative counts
    from the end): ``values`` ``(steps,)``, tanh(c_t) for ``state="cell"`` or h_t for
    ``"hidden"``, of ``unit`` (default the unit whose c_t or h_t has the largest standard
    deviation over the text), and what was chosen and how."""
    check_state(state)
    num_layers = max(lt.layer for lt in layers) + 1
    chosen_layer = num_layers - 1 if layer is None else layer
    if not -num_layers <= chosen_layer < num_layers:
        raise InputError(f"{param_ref('layer')}: {chosen_layer} is out of range; the model has "
                         f"{num_layers} layer(s)", param="layer", expected=f"0 .. {num_layers - 1}",
                         got=chosen_layer)
    chosen_layer %= num_layers
    lt = next(t for t in layers if t.layer == chosen_layer and t.direction == 0)
    state = state if lt.memory == "cell_state" else "hidden"  # a GRU's one state
    raw = lt.fields["cell_state" if state == "cell" else "hidden_state"][0]  # (L, H)
    series = np.tanh(raw) if state == "cell" else raw
    label = "tanh(c_t)" if state == "cell" else "h_t"
    units = series.shape[-1]
    if unit is None:
        unit = int(np.argmax(raw[:steps].std(axis=0)))
        chosen = (f"default: the unit whose {state} state varies most (largest standard "
                  "deviation over the text)")
    else:
        if not 0 <= unit < units:
            raise InputError(f"{param_ref('unit')}: {unit} is out of range; layer {chosen_layer} has "
                             f"{units} units (0 .. {units - 1})", param="unit",
                             expected=f"0 .. {units - 1}", got=unit)
        chosen = "the unit option"
    return {"layer": chosen_layer, "unit": unit, "state": state, "value": label, "chosen_by": chosen,
            "characters": steps, "values": series[:steps, unit], "chars": chars[:steps],
            "std": float(raw[:steps, unit].std())}
