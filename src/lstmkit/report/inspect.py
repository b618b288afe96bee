r"""Look inside a saved model's LSTM: gates, cell states and saturation (``lstmkit inspect``).

A GRU encoder is read the same way: its update and reset gates in place of the LSTM's three,
its hidden state (the memory its update gate keeps) in place of the cell state.

Data is run through the model's LSTM encoder with ``return_trace=True`` (evaluation mode, no
gradients), and the trace gives, per layer and direction, every gate and state at every step.
From it :func:`inspect_model` writes:

* ``gates_layer<k>.png`` (``gates_layer<k>_reverse.png`` for a reverse direction): heatmaps of
  the forget, input and output gate activations (a GRU's update and reset gate) of one
  sequence, time on x, unit on y;
* ``cell_states.png``: the cell-state trajectories c_t (a GRU's h_t) of the most active units
  (largest mean |c_t| over all the data) along that sequence, one panel per layer and direction;
* ``saturation.png`` and ``inspect.json``: gate saturation as in Karpathy, Johnson & Fei-Fei
  (2015), "Visualizing and understanding recurrent networks" (arXiv:1506.02078): a gate
  activation is *left-saturated* when < 0.1 and *right-saturated* when > 0.9; the JSON holds
  the fraction of each over all the data per gate and layer, and per unit (the scatter plots
  left against right per unit, one panel per gate);
* ``report.html``: everything above in one self-contained page (images embedded as
  ``data:`` URIs, no external resource, opens from disk without a server) and, for a language
  model, the text coloured by one unit's tanh(c_t) (or h_t).

Steps past a sequence's length (variable-length input) are left out of every statistic.

This module only orchestrates; the work is done elsewhere, each part usable alone:

* the model's own estimator (:mod:`lstmkit.tasks`): whatever kind ``config.json`` names is
  loaded through the one registry (:data:`lstmkit.tasks.base.KINDS`), and its public
  ``encoder_view(data)`` hands over the encoder and its input ``(N, L, I)``
  (:func:`encoder_view` here is the one call made to it);
* :mod:`lstmkit.report.numbers`: the trace as arrays ``(N, L, H)``, step masks, saturation,
  the analysis per layer-direction, the text view's values (numpy, no matplotlib);
* :mod:`lstmkit.report.figures`: the PNG figures;
* :mod:`lstmkit.report.html`: the page.

The names this module has always offered (``saturation``, ``GATES``, ...) are re-exported
from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lstmkit.errors import InputError
from lstmkit.report import figures, numbers
from lstmkit.report import html as page
from lstmkit.tasks.base import KINDS, EncoderView, capture_encoder_input, model_kind
from lstmkit.tasks.forecast import FORECASTER_DEFAULT_DATA
from lstmkit.tasks.language_model import TEXT_DEFAULT_DATA
from lstmkit.report.numbers import (
    GATES,
    LEFT,
    RIGHT,
    LayerTrace,
    run_trace,
    saturation,
    step_mask,
)

__all__ = [
    "FORECASTER_DEFAULT_DATA",
    "GATES",
    "LEFT",
    "RIGHT",
    "TEXT_DEFAULT_DATA",
    "EncoderView",
    "InspectOptions",
    "InspectResult",
    "LayerTrace",
    "capture_encoder_input",
    "inspect_model",
    "model_kind",
    "run_trace",
    "saturation",
    "step_mask",
    "summary_lines",
]


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


@dataclass
class InspectResult:
    out: Path
    kind: str
    files: list[str]
    report: dict  # what inspect.json holds


def _titles(encoded: EncoderView, sample: int, steps: int, shown: int) -> tuple[str, str]:
    """What the figures show: the sequence (all ``steps`` of it), and the heatmaps' part of it
    (its first ``shown`` steps)."""
    if encoded.chars is not None:
        what = f"the text ({steps} characters)"
        return what, (f"the text, its first {shown} of {steps} characters" if shown < steps else what)
    what = f"sequence {sample}"
    if encoded.sequence_names:
        what += f" ({encoded.sequence_names[sample]})"
    return what, (f"{what}, its first {shown} of {steps} steps" if shown < steps else what)


def _summary(model_dir, kind: str, encoded: EncoderView, what: str) -> dict:
    """The table at the top of the page: label -> value."""
    enc, (n, steps_total) = encoded.encoder, encoded.inputs.shape[:2]
    summary = {
        "model": str(model_dir),
        "kind": kind,
        "data": encoded.source,
        "sequences traced": int(n),
        "steps per sequence": int(steps_total),
        "sequence shown": what,
        "encoder": f"{enc.mode}({enc.input_size}, {enc.hidden_size}, num_layers={enc.num_layers}"
                   + (", bidirectional" if enc.bidirectional else "") + ")",
    }
    for key, value in (encoded.notes or {}).items():
        summary[key.replace("_", " ")] = value
    return summary


def _report(model_dir, kind: str, encoded: EncoderView, sample: int, what: str,
            analysis: list[dict], view: dict | None, files: list[str]) -> dict:
    """What ``inspect.json`` holds."""
    n, steps_total = encoded.inputs.shape[:2]
    report = {
        "model": str(model_dir),
        "kind": kind,
        "data": encoded.source,
        "sequences": int(n),
        "steps": int(steps_total),
        "sample": sample,
        "sample_name": what,
        "encoder": encoded.encoder.config.to_dict(),
        "thresholds": {"left": LEFT, "right": RIGHT},
        "definition": (f"left: fraction of gate activations < {LEFT:g}; right: fraction > {RIGHT:g}; "
                       "over every real step of every sequence (Karpathy, Johnson & Fei-Fei 2015)"),
        "notes": encoded.notes or {},
        "layers": analysis,
    }
    if view is not None:
        report["text_view"] = {k: view[k] for k in ("layer", "unit", "state", "value", "chosen_by",
                                                     "characters", "std")}
    report["files"] = files
    return report


def encoder_view(model_dir: str | Path, data: str | None, options: InspectOptions) -> tuple[str, EncoderView]:
    """The kind of the model saved in ``model_dir`` and its estimator's view of ``data`` (None:
    the kind's default data, where it has one)."""
    kind = model_kind(model_dir)
    estimator = KINDS[kind].load(model_dir)
    try:
        view = estimator.encoder_view(data, max_sequences=options.max_windows, max_chars=options.max_chars)
    except InputError as exc:
        raise InputError(f"{model_dir}: {exc.template}", param=exc.param) from None
    return kind, view


def inspect_model(model_dir: str | Path, data: str | None = None, out: str | Path | None = None,
                  options: InspectOptions | None = None) -> InspectResult:
    """Trace ``data`` through the model in ``model_dir`` and write the report to ``out``
    (default ``runs/inspect-<time>``). Everything is computed before the first file is
    written, so bad input (an InputError) leaves nothing behind."""
    from lstmkit.runs import atomic_path, default_run_dir, write_json, write_text

    options = options or InspectOptions()
    numbers.check_state(options.state)
    kind, encoded = encoder_view(model_dir, data, options)
    inputs = encoded.inputs  # (N, L, I)
    if inputs.dim() != 3 or inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise InputError(f"{encoded.source or 'the data'}: gives no sequence to trace (input shape {tuple(inputs.shape)})")
    n, steps_total = int(inputs.shape[0]), int(inputs.shape[1])
    sample = numbers.resolve_sample(options.sample, n)
    if encoded.chars is not None:
        sample = 0 if options.sample is None else sample
    layers = run_trace(encoded.encoder, inputs, encoded.lengths)
    mask = step_mask(n, steps_total, encoded.lengths)  # (N, L)
    steps = int(mask[sample].sum())
    analysis = numbers.analyse(layers, mask, options.top_units)
    view = None
    if encoded.chars is not None:
        view = numbers.text_view(layers, encoded.chars, int(mask[0].sum()), layer=options.layer,
                                 unit=options.unit, state=options.state)

    labels = encoded.step_labels[sample] if encoded.step_labels else None
    shown = min(steps, options.heatmap_steps)
    what, heat_what = _titles(encoded, sample, steps, shown)
    images: dict[str, bytes] = {"saturation.png": figures.saturation_plot(analysis)}
    for lt in layers:
        images[f"{lt.file_stem}.png"] = figures.gate_heatmap(lt, sample, shown, labels, heat_what)
    images["cell_states.png"] = figures.cell_trajectories(layers, analysis, sample, steps, labels, what)

    files = page.report_files(images)
    report = _report(model_dir, kind, encoded, sample, what, analysis, view, files)
    html = page.report_page(_summary(model_dir, kind, encoded, what), analysis, images, view)

    out = Path(out) if out is not None else default_run_dir("inspect")
    for name, png in images.items():
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(png)
    write_json(out / "inspect.json", report)
    write_text(out / "report.html", html)
    return InspectResult(out, kind, files, report)


def summary_lines(result: InspectResult) -> list[str]:
    """The saturation table the command prints."""
    lines = [f"{'layer':<18}{'gate':<13}{'left <0.1':>10}{'right >0.9':>12}"]
    for info in result.report["layers"]:
        for gate, s in info["saturation"].items():
            lines.append(f"{info['name']:<18}{gate.replace('_', ' '):<13}{s['left']:>10.1%}{s['right']:>12.1%}")
    view = result.report.get("text_view")
    if view:
        lines.append(f"text coloured by unit {view['unit']} of layer {view['layer']} ({view['value']})")
    notes = result.report.get("notes") or {}
    if notes.get("unknown_characters"):  # read as one unknown character: the gates seen are not the text's
        lines.append(f"{notes['unknown_characters']} of the {notes.get('characters', '?')} characters read are not in "
                     "the model's vocabulary; the model reads each as its one unknown character")
    return lines
