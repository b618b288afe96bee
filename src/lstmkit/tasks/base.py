r"""The one estimator every application builds on: ``fit / predict / evaluate / save / load``.

An application is a network (an ``nn.Module`` whose recurrent encoder is an lstmkit LSTM, GRU
or RNN), a loss, and an :class:`Estimator` subclass that declares:

* ``KIND``: the name written as ``"kind"`` in a saved model's ``config.json``; every subclass
  with a ``KIND`` is entered in :data:`KINDS`, the one registry that :func:`load_estimator`,
  ``lstmkit inspect`` and the command line share;
* ``Params``: a dataclass of the user's choices, with a ``training`` field holding the
  :class:`~lstmkit.train.TrainingConfig` (its defaults are the application's recipe);
* ``NetConfig`` and ``Net``: the network's own config dataclass and its module, built as
  ``Net(NetConfig(...))``;
* ``fitted_state()`` / ``restore_state(state)``: whatever else the fitted model needs besides
  its weights (class names, a vocabulary, scales), as JSON.

Its constructor takes every field of ``Params`` and of ``TrainingConfig`` as a keyword
(``Forecaster(horizon=12, learning_rate=3e-3)``), like a scikit-learn estimator:
``get_params()`` returns them flat, ``set_params(**kw)`` changes them, and the signature lists
them with the application's defaults. ``save(dir)`` writes ``config.json`` and
``model.safetensors`` atomically; ``Class.load(dir)`` and :func:`load_estimator` read them back.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from lstmkit.errors import InputError
from lstmkit.train import TrainingConfig

#: ``kind`` (config.json) -> Estimator subclass
KINDS: dict[str, type["Estimator"]] = {}


@dataclass
class EncoderView:
    """A fitted model's recurrent encoder and the input it reads, for ``lstmkit inspect``.

    ``encoder``: the lstmkit LSTM; ``inputs``: ``(N, L, I)`` float tensor (batch first,
    whatever the encoder's own layout) exactly as the encoder receives it; ``chars``: the
    characters of sequence 0, one per step, for a text view (None: no text). Optional:
    ``lengths`` ``(N,)`` for padded input, ``source`` (what the data is), ``step_labels`` (one
    list of L labels per sequence, e.g. dates), ``sequence_names`` (one per sequence),
    ``notes`` (extra facts for the report's JSON).
    """

    encoder: Any
    inputs: Any
    chars: list[str] | None = None
    lengths: Any = None
    source: str = ""
    step_labels: list[list[str]] | None = None
    sequence_names: list[str] | None = None
    notes: dict | None = None


class _Captured(Exception):
    """Stops a model's forward once its encoder's input is known."""


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


# ----------------------------------------------------------------------------- dataclasses <-> JSON


def _tuple_fields(cls) -> set[str]:
    hints = typing.get_type_hints(cls)
    out = set()
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        origins = {typing.get_origin(hint)} | {typing.get_origin(a) for a in typing.get_args(hint)}
        if tuple in origins or hint is tuple:
            out.add(f.name)
    return out


def dataclass_from_dict(cls, data: dict[str, Any]):
    """``cls(**data)`` for a dataclass written by ``dataclasses.asdict`` and JSON: lists become
    tuples where the field is a tuple, nested dataclasses (``training``) are rebuilt, unknown
    keys are an error (``TypeError``)."""
    data = dict(data)
    hints = typing.get_type_hints(cls)
    for name in _tuple_fields(cls):
        if isinstance(data.get(name), list):
            data[name] = tuple(data[name])
    for f in dataclasses.fields(cls):
        hint = hints.get(f.name)
        if dataclasses.is_dataclass(hint) and isinstance(data.get(f.name), dict):
            data[f.name] = dataclass_from_dict(hint, data[f.name])
    return cls(**data)


def net_options(params, options_cls) -> dict[str, Any]:
    """The fields of ``params`` that ``options_cls`` (a network's options dataclass) declares."""
    return {f.name: getattr(params, f.name) for f in dataclasses.fields(options_cls)}


def _training_field(params_cls) -> bool:
    return any(f.name == "training" for f in dataclasses.fields(params_cls))


def option_defaults(params_cls) -> dict[str, Any]:
    """Every option of ``params_cls`` with its default, ``training``'s fields flattened in."""
    defaults = params_cls()
    out = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(params_cls) if f.name != "training"}
    if _training_field(params_cls):
        out.update(dataclasses.asdict(defaults.training))
    return out


def build_params(params_cls, options: dict[str, Any]):
    """A ``params_cls`` from flat keyword ``options`` (its own fields and ``TrainingConfig``'s)."""
    own = {f.name for f in dataclasses.fields(params_cls)} - {"training"}
    training_names = {f.name for f in dataclasses.fields(TrainingConfig)} if _training_field(params_cls) else set()
    unknown = sorted(set(options) - own - training_names)
    if unknown:
        known = ", ".join(sorted(own | training_names))
        raise TypeError(f"unexpected option(s) {', '.join(unknown)}; the options are: {known}")
    base = params_cls()
    kwargs = {k: v for k, v in options.items() if k in own}
    if training_names:
        training = {k: v for k, v in options.items() if k in training_names}
        kwargs["training"] = dataclasses.replace(base.training, **training)
    return dataclasses.replace(base, **kwargs)


# ----------------------------------------------------------------------------- the estimator


class Estimator:
    """Base of every lstmkit application (see the module docstring for the contract)."""

    KIND: ClassVar[str] = ""
    Params: ClassVar[type]
    NetConfig: ClassVar[type]
    Net: ClassVar[type]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("KIND"):
            KINDS[cls.KIND] = cls
        if "Params" in cls.__dict__ and "__init__" not in cls.__dict__:
            parameters = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value)
                          for name, value in option_defaults(cls.Params).items()]
            cls.__signature__ = inspect.Signature(
                [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *parameters])

    def __init__(self, **options: Any) -> None:
        self.params = build_params(type(self).Params, options)
        self.net = None
        self.fit_result = None
        self.reset()

    # --------------------------------------------------------------------- options
    def reset(self) -> None:
        """Forget what fitting learned besides the network (subclasses add their state)."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The options, flat (``training``'s fields included), as the constructor takes them:
        the values themselves, not copies, as scikit-learn's ``clone`` checks (``deep`` is
        scikit-learn's argument: no option holds an estimator, so it changes nothing)."""
        params = self.params
        out = {f.name: getattr(params, f.name) for f in dataclasses.fields(params) if f.name != "training"}
        if _training_field(type(params)):
            out.update({f.name: getattr(params.training, f.name) for f in dataclasses.fields(params.training)})
        return out

    def set_params(self, **options: Any) -> "Estimator":
        """Change options (the fitted model, if any, is kept until the next ``fit``)."""
        self.params = build_params(type(self).Params, {**self.get_params(), **options})
        return self

    @property
    def training(self) -> TrainingConfig:
        return self.params.training

    def __repr__(self) -> str:
        defaults = option_defaults(type(self).Params)
        changed = {k: v for k, v in self.get_params().items() if defaults.get(k) != v}
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in changed.items()) + ")"

    # --------------------------------------------------------------------- the fitted model
    @property
    def fitted(self) -> bool:
        return self.net is not None

    def require_fitted(self) -> None:
        if self.net is None:
            name = type(self).__name__
            raise RuntimeError(f"this {name} is not fitted yet: call fit() or {name}.load()")

    @property
    def encoder(self):
        """The network's recurrent encoder (an lstmkit LSTM, GRU or RNN)."""
        self.require_fitted()
        return self.net.encoder

    def build_net(self, net_config) -> Any:
        """``Net(net_config)`` (a dataclass, or its dict as saved)."""
        if isinstance(net_config, dict):
            net_config = dataclass_from_dict(type(self).NetConfig, net_config)
        return type(self).Net(net_config)

    # --------------------------------------------------------------------- the API
    def fit(self, data, **kwargs) -> "Estimator":  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def predict(self, data, **kwargs):  # pragma: no cover
        raise NotImplementedError

    def evaluate(self, data, **kwargs) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def encoder_view(self, data=None, *, max_sequences: int = 512, max_chars: int = 2000) -> EncoderView:
        """The encoder and what it reads from ``data`` (for ``lstmkit inspect``)."""
        raise InputError(f"a {self.KIND} model has no view of its encoder's input")

    # --------------------------------------------------------------------- persistence
    def fitted_state(self) -> dict[str, Any]:
        """What the fitted model needs besides its weights and options, as JSON."""
        return {}

    def restore_state(self, state: dict[str, Any]) -> None:
        """The inverse of :meth:`fitted_state` (after the network is built)."""

    def state_tensors(self) -> dict[str, Any]:
        """The tensors ``model.safetensors`` holds (default: the network's state dict)."""
        return self.net.state_dict()

    def load_state_tensors(self, weights: dict[str, Any]) -> None:
        """The inverse of :meth:`state_tensors` (after :meth:`restore_state`)."""
        self.net.load_state_dict(weights)

    def config_dict(self) -> dict[str, Any]:
        """Everything ``config.json`` holds: kind, options, the network's and the encoder's
        configs, the fitted state and which backends ran."""
        from lstmkit import __version__

        self.require_fitted()
        return {
            "kind": self.KIND,
            "lstmkit_version": __version__,
            "params": dataclasses.asdict(self.params),
            "net": dataclasses.asdict(self.net.config),
            "encoder": self.net.encoder.config.to_dict(),
            "state": self.fitted_state(),
            "backends": dict(self.net.encoder.backend_counts),
        }

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (atomically) to ``directory``."""
        from lstmkit.runs import save_model

        save_model(directory, self.config_dict(), self.state_tensors())
        return Path(directory)

    @classmethod
    def load(cls, directory: str | Path) -> "Estimator":
        """An estimator from a directory written by :meth:`save`, ready to predict."""
        from lstmkit.runs import load_model

        config, weights = load_model(directory, cls.KIND)
        self = cls.__new__(cls)
        self.net = None
        self.fit_result = None
        self.reset()
        try:
            self.params = dataclass_from_dict(cls.Params, config["params"])
            self.net = self.build_net(config["net"])
            self.restore_state(config.get("state", {}))
            self.load_state_tensors(weights)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"{directory}: the model files do not match this lstmkit ({exc})") from None
        self.net.eval()
        return self


# ----------------------------------------------------------------------------- the registry


def _import_applications() -> None:
    """Import every application module, so that their kinds are in :data:`KINDS`."""
    import importlib

    for module in APPLICATIONS:
        importlib.import_module(module)


#: The modules that define the estimators (imported on demand: they import torch).
APPLICATIONS = (
    "lstmkit.tasks.forecast",
    "lstmkit.tasks.classify",
    "lstmkit.tasks.language_model",
    "lstmkit.tasks.lab",
    "lstmkit.tasks.translate",
    "lstmkit.tasks.detect",
)


def model_kind(directory: str | Path) -> str:
    """The ``kind`` in ``directory/config.json``; InputError when it is not a model directory
    or holds a kind this lstmkit does not know."""
    directory = Path(directory)
    if not directory.exists():
        raise InputError(f"{directory}: no such directory; give the directory of a saved lstmkit model")
    if not directory.is_dir():
        raise InputError(f"{directory}: is a file; give the directory of a saved lstmkit model")
    config_path = directory / "config.json"
    if not config_path.is_file() or not (directory / "model.safetensors").is_file():
        raise InputError(
            f"{directory}: not an lstmkit model directory (expected config.json and model.safetensors)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{config_path}: not valid JSON ({exc})") from None
    kind = config.get("kind") if isinstance(config, dict) else None
    _import_applications()
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise InputError(f"{directory}: holds a {kind!r} model; lstmkit reads these kinds: {known}")
    return kind


def load_estimator(directory: str | Path) -> Estimator:
    """Whatever estimator ``directory`` holds, loaded (the kind is read from its config)."""
    return KINDS[model_kind(directory)].load(directory)


__all__ = [
    "APPLICATIONS",
    "EncoderView",
    "Estimator",
    "KINDS",
    "build_params",
    "capture_encoder_input",
    "dataclass_from_dict",
    "load_estimator",
    "model_kind",
    "net_options",
    "option_defaults",
]
