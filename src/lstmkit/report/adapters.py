r"""Per model kind, how ``lstmkit inspect`` gets a saved model's LSTM encoder and its input.

Each kind (``config.json``'s ``"kind"``) has an *adapter* in :data:`ADAPTERS`: a function
``(model_dir, data, options) -> EncoderData`` that loads the model and returns its encoder (an
lstmkit LSTM), the encoder's input ``(N, L, I)`` (N sequences, L steps, I features; batch
first) and, for text, the characters. ``options`` is an
:class:`~lstmkit.report.inspect.InspectOptions`; the adapters read ``max_windows`` and
``max_chars``. :func:`encoder_data` is the one entry point: it reads the kind and calls its
adapter. A new kind is one more entry, e.g.::

    def classifier_adapter(model_dir, data, options):
        clf = Classifier.load(model_dir)
        padded, lengths = ...  # the classifier's padded inputs and their lengths
        return EncoderData(clf.net.encoder, padded, lengths=lengths, source=str(data))

    ADAPTERS["classifier"] = classifier_adapter

When the encoder's input is computed inside the model's forward (a normalisation, an
embedding), :func:`capture_encoder_input` runs the model and keeps exactly what the encoder got.

This module knows the estimators of :mod:`lstmkit.tasks` and nothing of the statistics,
figures or page of the report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import numpy as np

from lstmkit.errors import InputError, param_ref

if TYPE_CHECKING:
    from lstmkit.report.inspect import InspectOptions

__all__ = [
    "ADAPTERS",
    "FORECASTER_DEFAULT_DATA",
    "TEXT_DEFAULT_DATA",
    "EncoderData",
    "capture_encoder_input",
    "encoder_data",
    "model_kind",
]

FORECASTER_DEFAULT_DATA = "the bundled AirPassengers series"
TEXT_DEFAULT_DATA = "the Python standard library's source (lstmkit.data.text.default_corpus)"


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
                f"{model_dir}: without {param_ref('data')} inspect reads the bundled AirPassengers "
                f"series, which does not fit this forecaster ({exc.template}); give the data it "
                "was trained on", param="data"
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
    from lstmkit.tasks.classify import Classifier

    if data is None:
        raise InputError(f"{model_dir}: a classifier needs {param_ref('data')} to inspect (a file "
                         "of sequences)", param="data", expected="a file of sequences", got=None)
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


def encoder_data(model_dir: str | Path, data: str | None, options: InspectOptions) -> tuple[str, EncoderData]:
    """The kind of the model saved in ``model_dir`` (:func:`model_kind`) and what its adapter
    hands over for ``data`` (None: the kind's default data, where it has one)."""
    kind = model_kind(model_dir)
    return kind, ADAPTERS[kind](Path(model_dir), data, options)
