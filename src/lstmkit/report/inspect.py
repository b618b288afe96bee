r"""Look inside a saved model's LSTM: gates, cell states and saturation (``lstmkit inspect``).

Data is run through the model's LSTM encoder with ``return_trace=True`` (evaluation mode, no
gradients), and the trace gives, per layer and direction, every gate and state at every step.
From it :func:`inspect_model` writes:

* ``gates_layer<k>.png`` (``gates_layer<k>_reverse.png`` for a reverse direction): heatmaps of
  the forget, input and output gate activations of one sequence, time on x, unit on y;
* ``cell_states.png``: the cell-state trajectories c_t of the most active units (largest
  mean |c_t| over all the data) along that sequence, one panel per layer and direction;
* ``saturation.png`` and ``inspect.json``: gate saturation as in Karpathy, Johnson & Fei-Fei
  (2015), "Visualizing and understanding recurrent networks" (arXiv:1506.02078): a gate
  activation is *left-saturated* when < 0.1 and *right-saturated* when > 0.9; the JSON holds
  the fraction of each over all the data per gate and layer, and per unit (the scatter plots
  left against right per unit, one panel per gate);
* ``report.html``: everything above in one self-contained page (images embedded as
  ``data:`` URIs, no external resource, opens from disk without a server) and, for a language
  model, the text coloured by one unit's tanh(c_t) (or h_t).

Steps past a sequence's length (variable-length input) are left out of every statistic.

Each model kind has an *adapter* in :data:`ADAPTERS`: a function
``(model_dir, data, options) -> EncoderData`` that loads the model and returns its encoder (an
lstmkit LSTM), the encoder's input ``(N, L, I)`` and, for text, the characters. A new kind is
one more entry, e.g. for a classifier (``Classifier.load(dir)``, ``.net.encoder``)::

    def classifier_adapter(model_dir, data, options):
        clf = Classifier.load(model_dir)
        padded, lengths = ...  # the classifier's padded inputs and their lengths
        return EncoderData(clf.net.encoder, padded, lengths=lengths, source=str(data))

    ADAPTERS["classifier"] = classifier_adapter

When the encoder's input is computed inside the model's forward (a normalisation, an
embedding), :func:`capture_encoder_input` runs the model and keeps exactly what the encoder got.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

from lstmkit.errors import InputError

__all__ = [
    "ADAPTERS",
    "EncoderData",
    "GATES",
    "InspectOptions",
    "LEFT",
    "RIGHT",
    "capture_encoder_input",
    "inspect_model",
    "model_kind",
    "run_trace",
    "saturation",
]

#: An activation below LEFT is left-saturated, above RIGHT right-saturated (Karpathy et al. 2015).
LEFT = 0.1
RIGHT = 0.9
#: The gates whose activations are plotted and counted, in the order shown.
GATES = ("forget_gate", "input_gate", "output_gate")

FORECASTER_DEFAULT_DATA = "the bundled AirPassengers series"
TEXT_DEFAULT_DATA = "the Python standard library's source (lstmkit.data.text.default_corpus)"


# ----------------------------------------------------------------------------- adapters


class EncoderData(NamedTuple):
    """What an adapter hands over: the encoder and the input it reads.

    ``encoder``: an lstmkit LSTM; ``inputs``: ``(N, L, I)`` float tensor (batch first,
    whatever the encoder's own layout); ``chars``: the characters of sequence 0, one per step,
    for the text view (None: no text view). Optional: ``lengths`` ``(N,)`` for padded input,
    ``source`` (what the data is, for the report), ``step_labels`` (one list of L labels per
    sequence, e.g. dates), ``sequence_names`` (one name per sequence), ``notes`` (extra facts
    for the JSON).
    """

    encoder: Any
    inputs: Any
    chars: list[str] | None = None
    lengths: Any = None
    source: str = ""
    step_labels: list[list[str]] | None = None
    sequence_names: list[str] | None = None
    notes: dict | None = None


@dataclass
class InspectOptions:
    sample: int | None = None  # the sequence shown (default: the last one)
    unit: int | None = None  # text view: the unit (default: the one whose state varies most)
    layer: int | None = None  # text view: the layer (default: the last)
    state: str = "cell"  # text view: "cell" (tanh c_t) or "hidden" (h_t)
    max_chars: int = 2000  # language model: characters of text read
    max_windows: int = 512  # forecaster: most windows read (evenly spaced, the last always in)
    top_units: int = 8  # cell-state trajectories: how many units
    heatmap_steps: int = 200  # heatmaps: at most this many steps (the sequence's first ones)


def model_kind(model_dir: str | Path) -> str:
    """The ``kind`` in ``model_dir/config.json``; InputError when it is not a model directory."""
    directory = Path(model_dir)
    if not directory.exists():
        raise InputError(f"{model_dir}: no such directory; give the directory of a saved lstmkit model")
    if not directory.is_dir():
        raise InputError(f"{model_dir}: is a file; give the directory of a saved lstmkit model")
    config_path = directory / "config.json"
    if not config_path.is_file() or not (directory / "model.safetensors").is_file():
        raise InputError(
            f"{model_dir}: not an lstmkit model directory (expected config.json and model.safetensors)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{config_path}: not valid JSON ({exc})") from None
    kind = config.get("kind") if isinstance(config, dict) else None
    if kind not in ADAPTERS:
        known = ", ".join(sorted(ADAPTERS))
        raise InputError(f"{model_dir}: holds a {kind!r} model; inspect reads these kinds: {known}")
    return kind


class _Captured(Exception):
    """Raised by the capturing hook to stop the model's forward once the encoder's input is known."""


def capture_encoder_input(encoder, call: Callable[[], Any]):
    """Run ``call()`` (a forward of the whole model) up to the moment it calls ``encoder``, and
    return the first positional argument the encoder received and its ``lengths=`` keyword
    (None when not given). The encoder itself and what follows it do not run."""
    import torch

    captured: dict[str, Any] = {}

    def hook(module, args, kwargs):
        captured["input"] = args[0] if args else kwargs.get("input")
        captured["lengths"] = kwargs.get("lengths")
        raise _Captured

    handle = encoder.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            call()
    except _Captured:
        pass
    finally:
        handle.remove()
    if "input" not in captured:
        raise RuntimeError("the model's forward never called its encoder")
    return captured["input"], captured["lengths"]


def forecaster_adapter(model_dir: Path, data: str | None, options: InspectOptions) -> EncoderData:
    """Every lookback window of DATA (default: the bundled AirPassengers), as the encoder sees it
    (per-window normalised); at most ``options.max_windows``, evenly spaced, the last window of
    every series always in."""
    import pandas as pd
    import torch

    from lstmkit.data import check_min_length, load_air_passengers
    from lstmkit.tasks.forecast import Forecaster

    f = Forecaster.load(model_dir)
    if data is None:
        try:
            ts = f._resolve_data(load_air_passengers(), {})
        except InputError as exc:
            raise InputError(
                f"{model_dir}: without DATA inspect reads the bundled AirPassengers series, which "
                f"does not fit this forecaster ({exc}); give the data it was trained on"
            ) from None
        source = FORECASTER_DEFAULT_DATA
    else:
        ts = f._resolve_data(data, {})
        source = str(data)
    c = f.net.config
    lookback = c.lookback
    check_min_length(ts, lookback, why=f"the model's lookback {lookback}",
                     hint="give at least that much history")
    series = f._scaled(ts)
    total = sum(s.length - lookback + 1 for s in series)
    stride = max(1, math.ceil(total / max(1, options.max_windows)))
    xs, labels, names = [], [], []
    for s in series:
        cuts = np.arange(s.length, lookback - 1, -stride)[::-1]  # cut-offs, the last is T
        lb = cuts[:, None] - lookback + np.arange(lookback)[None, :]
        xs.append(np.concatenate([s.target[lb][:, :, None], s.past[lb], s.future[lb]], axis=2))
        times = s.times if s.times is not None else pd.RangeIndex(s.length)
        for cut in cuts:
            window = times[cut - lookback:cut]
            if isinstance(window, pd.DatetimeIndex):
                step_labels = [str(t.date()) if t == t.normalize() else str(t) for t in window]
            else:
                step_labels = [str(t) for t in window]
            labels.append(step_labels)
            names.append(f"series {s.id!r}, window {step_labels[0]} .. {step_labels[-1]}")
    x = torch.as_tensor(np.concatenate(xs), dtype=torch.float32)
    x_future = torch.zeros(x.shape[0], c.horizon, c.n_future)  # the head's input; not inspected
    inputs, _ = capture_encoder_input(f.net.encoder, lambda: f.net.eval()(x, x_future))
    notes = {"lookback": lookback, "window_stride": stride, "series": len(series)}
    return EncoderData(f.net.encoder, inputs, None, None, source, labels, names, notes)


def language_model_adapter(model_dir: Path, data: str | None, options: InspectOptions) -> EncoderData:
    """The first ``options.max_chars`` characters of DATA (a UTF-8 text file; default the
    standard-library corpus), as one sequence of embeddings."""
    import torch

    from lstmkit.data.text import default_corpus, read_text
    from lstmkit.tasks.language_model import LanguageModel

    lm = LanguageModel.load(model_dir)
    if data is None:
        text = default_corpus(max_chars=2 * options.max_chars)[: options.max_chars]
        source = TEXT_DEFAULT_DATA
    else:
        text = read_text(data)[: options.max_chars]
        source = str(data)
    ids = torch.as_tensor(lm.vocabulary.encode(text), dtype=torch.long).unsqueeze(0)  # (1, L)
    inputs, _ = capture_encoder_input(lm.net.lstm, lambda: lm.net.eval()(ids))
    notes = {"characters": len(text), "unknown_characters": int(lm.vocabulary.count_unknown(text))}
    return EncoderData(lm.net.lstm, inputs, list(text), None, source, None, None, notes)


def classifier_adapter(model_dir: Path, data: str | None, options: InspectOptions) -> EncoderData:
    """The sequences of DATA (any file ``lstmkit classify`` reads), standardised and patched as
    the classifier reads them, with their lengths."""
    from lstmkit.errors import InputError
    from lstmkit.tasks.classify import Classifier

    if data is None:
        raise InputError(f"{model_dir}: a classifier needs DATA to inspect (a file of sequences)")
    clf = Classifier.load(model_dir)
    padded, lengths = clf.tensors(clf.read(data))
    return EncoderData(clf.net.encoder, padded, None, lengths, str(data), None, None,
                       {"sequences": int(padded.shape[0]), "patch": clf.patch})


#: kind (config.json's "kind") -> adapter
ADAPTERS: dict[str, Callable[[Path, str | None, InspectOptions], EncoderData]] = {
    "forecaster": forecaster_adapter,
    "language_model": language_model_adapter,
    "classifier": classifier_adapter,
}


# ----------------------------------------------------------------------------- the trace


@dataclass
class LayerTrace:
    """One layer-direction's trace as numpy arrays ``(N, L, H)`` (batch first)."""

    layer: int
    direction: int
    fields: dict[str, np.ndarray]

    @property
    def name(self) -> str:
        return f"layer {self.layer}" + (" reverse" if self.direction == 1 else "")

    @property
    def file_stem(self) -> str:
        return f"gates_layer{self.layer}" + ("_reverse" if self.direction == 1 else "")


def run_trace(encoder, inputs, lengths=None) -> list[LayerTrace]:
    """Run ``inputs`` ``(N, L, I)`` through ``encoder`` with the trace on (evaluation mode, no
    gradients); the trace per layer-direction, batch first, as float64 numpy arrays."""
    import torch

    if not hasattr(encoder, "forward") or getattr(encoder, "mode", None) != "LSTM":
        raise InputError(f"inspect reads LSTM encoders; this model's encoder is a {type(encoder).__name__}")
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
            record = trace[layer, direction]
            fields = {}
            for name in record._fields:
                t = getattr(record, name)
                if not encoder.batch_first:
                    t = t.transpose(0, 1)
                fields[name] = t.detach().cpu().double().numpy()
            layers.append(LayerTrace(layer, direction, fields))
    return layers


def step_mask(n: int, steps: int, lengths) -> np.ndarray:
    """``(N, L)`` booleans: True at the real steps of each sequence."""
    if lengths is None:
        return np.ones((n, steps), dtype=bool)
    lengths = np.asarray(lengths.cpu() if hasattr(lengths, "cpu") else lengths).reshape(-1)
    return np.arange(steps)[None, :] < lengths[:, None]


def saturation(activations: np.ndarray, mask: np.ndarray | None = None, *, left: float = LEFT,
               right: float = RIGHT) -> dict[str, Any]:
    """Fractions of gate activations ``(N, L, H)`` below ``left`` and above ``right``, over all
    real steps (``mask`` ``(N, L)``) and per unit."""
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


# ----------------------------------------------------------------------------- the analysis


def _resolve_sample(sample: int | None, n: int) -> int:
    if sample is None:
        return n - 1
    if not -n <= sample < n:
        raise InputError(f"--sample: {sample} is out of range; the data gives {n} sequence(s) (0 .. {n - 1})")
    return sample % n


def _analyse(layers: list[LayerTrace], mask: np.ndarray, options: InspectOptions) -> list[dict]:
    out = []
    for lt in layers:
        c = lt.fields["cell_state"]
        mean_abs = np.abs(c[mask]).mean(axis=0)  # (H,)
        top = np.argsort(-mean_abs, kind="stable")[: options.top_units]
        out.append({
            "layer": lt.layer,
            "direction": lt.direction,
            "name": lt.name,
            "hidden_size": int(c.shape[-1]),
            "saturation": {g: saturation(lt.fields[g], mask) for g in GATES},
            "cell_state": {
                "mean_abs": mean_abs.tolist(),
                "most_active_units": [int(u) for u in top],
            },
        })
    return out


def _text_view(layers: list[LayerTrace], chars: list[str], sample_mask: np.ndarray,
               options: InspectOptions) -> dict[str, Any]:
    """The unit, layer and values that colour the text (sequence 0)."""
    num_layers = max(lt.layer for lt in layers) + 1
    layer = num_layers - 1 if options.layer is None else options.layer
    if not -num_layers <= layer < num_layers:
        raise InputError(f"--layer: {layer} is out of range; the model has {num_layers} layer(s)")
    layer %= num_layers
    lt = next(t for t in layers if t.layer == layer and t.direction == 0)
    if options.state == "cell":
        series = np.tanh(lt.fields["cell_state"][0])  # (L, H)
        raw = lt.fields["cell_state"][0]
        label = "tanh(c_t)"
    elif options.state == "hidden":
        series = lt.fields["hidden_state"][0]
        raw = series
        label = "h_t"
    else:
        raise InputError(f"--state: expected cell or hidden, got {options.state!r}")
    steps = int(sample_mask[0].sum())
    units = series.shape[-1]
    if options.unit is None:
        unit = int(np.argmax(raw[:steps].std(axis=0)))
        chosen = f"default: the unit whose {'cell' if options.state == 'cell' else 'hidden'} state varies most (largest standard deviation over the text)"
    else:
        if not 0 <= options.unit < units:
            raise InputError(f"--unit: {options.unit} is out of range; layer {layer} has {units} units (0 .. {units - 1})")
        unit = options.unit
        chosen = "--unit"
    values = series[:steps, unit]
    return {"layer": layer, "unit": unit, "state": options.state, "value": label, "chosen_by": chosen,
            "characters": steps, "values": values, "chars": chars[:steps],
            "std": float(raw[:steps, unit].std())}


# ----------------------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    return buffer.getvalue()


def _time_ticks(ax, labels: list[str] | None, steps: int) -> None:
    """At most 10 x ticks, named by ``labels`` (e.g. dates) when given."""
    if not labels:
        return
    positions = np.unique(np.linspace(0, steps - 1, min(steps, 10)).round().astype(int))
    ax.set_xticks(positions)
    ax.set_xticklabels([labels[p] for p in positions], rotation=30, ha="right", fontsize=8)


def _unit_ticks(ax, units: int) -> None:
    if units <= 16:
        ax.set_yticks(range(units))
        ax.tick_params(axis="y", labelsize=7 if units > 8 else 8)


def gate_heatmap(lt: LayerTrace, sample: int, steps: int, labels: list[str] | None, what: str) -> bytes:
    """Forget, input and output gate of one sequence's first ``steps`` steps, unit by time."""
    plt = _pyplot()
    units = lt.fields["forget_gate"].shape[-1]
    panel = min(6.0, max(1.8, 1.0 + units / 40))
    fig, axes = plt.subplots(len(GATES), 1, figsize=(11, panel * len(GATES) + 1.0), sharex=True,
                             squeeze=False, layout="constrained")
    image = None
    for ax, gate in zip(axes[:, 0], GATES):
        values = lt.fields[gate][sample, :steps].T  # (H, steps)
        image = ax.imshow(values, aspect="auto", origin="lower", vmin=0.0, vmax=1.0, cmap="viridis",
                          interpolation="nearest", extent=(-0.5, steps - 0.5, -0.5, units - 0.5))
        ax.set_ylabel(f"{gate.replace('_', ' ')}\nunit")
        _unit_ticks(ax, units)
    axes[-1, 0].set_xlabel("time" if labels else "time step")
    _time_ticks(axes[-1, 0], labels, steps)
    fig.suptitle(f"{lt.name}: gate activations of {what}", fontsize=11)
    fig.colorbar(image, ax=axes[:, 0].tolist(), fraction=0.03, pad=0.01, label="activation")
    return _png(fig)


def cell_trajectories(layers: list[LayerTrace], analysis: list[dict], sample: int, steps: int,
                      labels: list[str] | None, what: str) -> bytes:
    """c_t of the most active units along one sequence, one panel per layer-direction."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(layers), 1, figsize=(11, 3.2 * len(layers) + 0.6), squeeze=False,
                             layout="constrained")
    for ax, lt, info in zip(axes[:, 0], layers, analysis):
        c = lt.fields["cell_state"][sample, :steps]
        for unit in info["cell_state"]["most_active_units"]:
            ax.plot(np.arange(steps), c[:, unit], lw=1.0,
                    label=f"unit {unit} (mean |c| {info['cell_state']['mean_abs'][unit]:.2f})")
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_title(f"{lt.name}: cell state c_t of the most active units", fontsize=10)
        ax.set_ylabel("c_t")
        ax.set_xlim(0, max(steps - 1, 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        _time_ticks(ax, labels, steps)
    axes[-1, 0].set_xlabel("time" if labels else "time step")
    fig.suptitle(f"cell-state trajectories of {what}", fontsize=11)
    return _png(fig)


def saturation_plot(analysis: list[dict]) -> bytes:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(GATES), figsize=(12, 4.6), squeeze=False, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, gate in zip(axes[0], GATES):
        ax.plot([0, 1], [1, 0], color="grey", ls=":", lw=0.8)
        for k, info in enumerate(analysis):
            s = info["saturation"][gate]
            ax.scatter(s["per_unit_left"], s["per_unit_right"], s=18, alpha=0.65,
                       color=colours[k % len(colours)],
                       label=f"{info['name']}: left {s['left']:.0%}, right {s['right']:.0%}")
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.03, 1.03)
        ax.set_aspect("equal")
        ax.set_xlabel(f"fraction left-saturated (< {LEFT:g})")
        ax.set_ylabel(f"fraction right-saturated (> {RIGHT:g})")
        ax.set_title(gate.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle("gate saturation, one point per unit (Karpathy, Johnson & Fei-Fei 2015)", fontsize=11)
    return _png(fig)


# ----------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px auto;
       max-width: 1160px; padding: 0 16px; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: 8px 0; border: 1px solid #eee; }
.note { color: #555; font-size: 0.9em; }
.text { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 13px;
        white-space: pre-wrap; word-break: break-all; line-height: 1.6; border: 1px solid #ddd;
        padding: 10px; background: #fff; }
.text span.nl { color: #999; }
.legend span { display: inline-block; padding: 1px 8px; font-family: monospace; }
code { background: #f3f3f3; padding: 0 3px; }
"""


def _colour(value: float) -> str:
    """White at 0, blue towards +1, red towards -1 (as in Karpathy et al.'s text figures)."""
    v = max(-1.0, min(1.0, float(value)))
    target = (33, 102, 172) if v > 0 else (214, 47, 39)
    a = abs(v) * 0.85
    r, g, b = (round(255 + (t - 255) * a) for t in target)
    return f"#{r:02x}{g:02x}{b:02x}"


def _text_html(view: dict) -> str:
    parts = []
    for t, (ch, v) in enumerate(zip(view["chars"], view["values"])):
        title = html.escape(f"t={t} {ch!r} {view['value']}={v:+.3f}", quote=True)
        shown = "\u21b5" if ch == "\n" else ch
        cls = ' class="nl"' if ch == "\n" else ""
        parts.append(f'<span{cls} style="background:{_colour(v)}" title="{title}">{html.escape(shown)}</span>')
        if ch == "\n":
            parts.append("\n")
    return "".join(parts)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def _report_html(summary: dict, analysis: list[dict], images: dict[str, bytes], view: dict | None) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in summary.items())
    sat_rows = []
    for info in analysis:
        for gate in GATES:
            s = info["saturation"][gate]
            sat_rows.append(
                f"<tr><td>{e(info['name'])}</td><td>{e(gate.replace('_', ' '))}</td>"
                f"<td class=num>{s['left']:.1%}</td><td class=num>{s['right']:.1%}</td>"
                f"<td class=num>{1 - s['left'] - s['right']:.1%}</td></tr>")
    active_rows = "".join(
        f"<tr><td>{e(info['name'])}</td><td>"
        + ", ".join(f"{u} ({info['cell_state']['mean_abs'][u]:.2f})" for u in info["cell_state"]["most_active_units"])
        + "</td></tr>" for info in analysis)
    body = [
        f"<h1>lstmkit inspect</h1><p class=note>{e(summary['model'])}</p>",
        f"<table>{rows}</table>",
        "<h2>Gate saturation</h2>",
        f"<p>A gate activation is <b>left-saturated</b> below {LEFT:g} (the gate is shut) and "
        f"<b>right-saturated</b> above {RIGHT:g} (wide open), as in Karpathy, Johnson &amp; Fei-Fei "
        "(2015), <i>Visualizing and understanding recurrent networks</i>, arXiv:1506.02078. "
        "Fractions over every real step of every sequence; in the scatter each point is one unit.</p>",
        "<table><tr><th>layer</th><th>gate</th><th>left-saturated (&lt; 0.1)</th>"
        "<th>right-saturated (&gt; 0.9)</th><th>in between</th></tr>" + "".join(sat_rows) + "</table>",
        _img(images["saturation.png"], "gate saturation scatter"),
        "<h2>Gate activations over time</h2>",
        f"<p>Of {e(summary['sequence shown'])}: each row is a unit, each column a time step; "
        "colour from 0 (dark, shut) to 1 (yellow, open).</p>",
    ]
    for name, png in images.items():
        if name.startswith("gates_"):
            body.append(_img(png, name))
    body += [
        "<h2>Cell states of the most active units</h2>",
        "<p>The units with the largest mean |c_t| over all the data (mean in brackets):</p>",
        f"<table><tr><th>layer</th><th>units</th></tr>{active_rows}</table>",
        _img(images["cell_states.png"], "cell-state trajectories"),
    ]
    if view is not None:
        low, high = _colour(-1.0), _colour(1.0)
        body += [
            f"<h2>Text coloured by unit {view['unit']} of layer {view['layer']}</h2>",
            f"<p>Background: the unit's {e(view['value'])} after reading each character "
            f"(chosen by {e(view['chosen_by'])}; standard deviation {view['std']:.3f}). "
            "Hover over a character for its value; \u21b5 marks a line break.</p>",
            f'<p class=legend><span style="background:{low}">-1</span>'
            f'<span style="background:{_colour(-0.5)}">-0.5</span><span style="background:#ffffff">0</span>'
            f'<span style="background:{_colour(0.5)}">+0.5</span><span style="background:{high}">+1</span></p>',
            f'<div class="text">{_text_html(view)}</div>',
        ]
    body.append(f"<p class=note>Files beside this report: {e(', '.join(summary_files(images)))}.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>lstmkit inspect: {e(summary['model'])}</title><style>{_CSS}</style></head>"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")


def summary_files(images: dict[str, bytes]) -> list[str]:
    return ["report.html", "inspect.json", *images]


# ----------------------------------------------------------------------------- the command


@dataclass
class InspectResult:
    out: Path
    kind: str
    files: list[str]
    report: dict  # what inspect.json holds


def inspect_model(model_dir: str | Path, data: str | None = None, out: str | Path | None = None,
                  options: InspectOptions | None = None) -> InspectResult:
    """Trace ``data`` through the model in ``model_dir`` and write the report to ``out``
    (default ``runs/inspect-<time>``). Everything is computed before the first file is
    written, so bad input (an InputError) leaves nothing behind."""
    from lstmkit.runs import atomic_path, default_run_dir, write_json, write_text

    options = options or InspectOptions()
    if options.state not in ("cell", "hidden"):
        raise InputError(f"--state: expected cell or hidden, got {options.state!r}")
    kind = model_kind(model_dir)
    encoded = ADAPTERS[kind](Path(model_dir), data, options)
    inputs = encoded.inputs
    if inputs.dim() != 3 or inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise InputError(f"{data or 'the data'}: gives no sequence to trace (input shape {tuple(inputs.shape)})")
    n, steps_total = int(inputs.shape[0]), int(inputs.shape[1])
    sample = _resolve_sample(options.sample, n)
    if encoded.chars is not None:
        sample = 0 if options.sample is None else sample
    layers = run_trace(encoded.encoder, inputs, encoded.lengths)
    if "forget_gate" not in layers[0].fields:
        raise InputError("inspect reads LSTM encoders; this one's trace has no forget gate")
    mask = step_mask(n, steps_total, encoded.lengths)
    steps = int(mask[sample].sum())
    analysis = _analyse(layers, mask, options)
    view = None
    if encoded.chars is not None:
        view = _text_view(layers, encoded.chars, mask[:1], options)

    labels = encoded.step_labels[sample] if encoded.step_labels else None
    shown = min(steps, options.heatmap_steps)
    if encoded.chars is not None:
        what = f"the text ({steps} characters)"
        heat_what = f"the text, its first {shown} of {steps} characters" if shown < steps else what
    else:
        what = f"sequence {sample}"
        if encoded.sequence_names:
            what += f" ({encoded.sequence_names[sample]})"
        heat_what = f"{what}, its first {shown} of {steps} steps" if shown < steps else what
    images: dict[str, bytes] = {"saturation.png": saturation_plot(analysis)}
    for lt in layers:
        images[f"{lt.file_stem}.png"] = gate_heatmap(lt, sample, shown, labels, heat_what)
    images["cell_states.png"] = cell_trajectories(layers, analysis, sample, steps, labels, what)

    enc = encoded.encoder
    summary = {
        "model": str(model_dir),
        "kind": kind,
        "data": encoded.source,
        "sequences traced": n,
        "steps per sequence": steps_total,
        "sequence shown": what,
        "encoder": f"LSTM({enc.input_size}, {enc.hidden_size}, num_layers={enc.num_layers}"
                   + (", bidirectional" if enc.bidirectional else "") + ")",
    }
    for key, value in (encoded.notes or {}).items():
        summary[key.replace("_", " ")] = value
    report = {
        "model": str(model_dir),
        "kind": kind,
        "data": encoded.source,
        "sequences": n,
        "steps": steps_total,
        "sample": sample,
        "sample_name": what,
        "encoder": enc.config.to_dict(),
        "thresholds": {"left": LEFT, "right": RIGHT},
        "definition": (f"left: fraction of gate activations < {LEFT:g}; right: fraction > {RIGHT:g}; "
                       "over every real step of every sequence (Karpathy, Johnson & Fei-Fei 2015)"),
        "notes": encoded.notes or {},
        "layers": analysis,
    }
    if view is not None:
        report["text_view"] = {k: view[k] for k in ("layer", "unit", "state", "value", "chosen_by",
                                                     "characters", "std")}
    files = summary_files(images)
    report["files"] = files
    page = _report_html(summary, analysis, images, view)

    out = Path(out) if out is not None else default_run_dir("inspect")
    for name, png in images.items():
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(png)
    write_json(out / "inspect.json", report)
    write_text(out / "report.html", page)
    return InspectResult(out, kind, files, report)


def summary_lines(result: InspectResult) -> list[str]:
    """The saturation table the command prints."""
    lines = [f"{'layer':<18}{'gate':<13}{'left <0.1':>10}{'right >0.9':>12}"]
    for info in result.report["layers"]:
        for gate in GATES:
            s = info["saturation"][gate]
            lines.append(f"{info['name']:<18}{gate.replace('_', ' '):<13}{s['left']:>10.1%}{s['right']:>12.1%}")
    view = result.report.get("text_view")
    if view:
        lines.append(f"text coloured by unit {view['unit']} of layer {view['layer']} ({view['value']})")
    return lines
