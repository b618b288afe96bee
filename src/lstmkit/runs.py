"""Run directories, written so that a killed run never leaves a half-written file.

Every file goes to a temporary name in the same directory and is renamed into place
(``os.replace`` is atomic on POSIX), so a reader sees the old file or the new one, never a
piece. A model directory holds ``config.json`` (everything needed to rebuild the model) and
``model.safetensors``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def default_run_dir(task: str) -> Path:
    """``runs/<task>-<YYYYmmdd-HHMMSS>`` under the working directory."""
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_csv(path: str | Path, frame) -> None:
    """Write a pandas DataFrame as CSV, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def save_model(directory: str | Path, config: dict, state_dict: dict) -> None:
    """``config.json`` and ``model.safetensors`` in ``directory`` (weights first, config last,
    so a directory with a config always has its weights)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(directory / "model.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(directory / "config.json", config)


def load_model(directory: str | Path, kind: str) -> tuple[dict, dict]:
    """Read a model directory written by :func:`save_model`; ``kind`` must match its config."""
    from safetensors.torch import load_file

    from lstmkit.errors import InputError

    directory = Path(directory)
    config_path = directory / "config.json"
    weights_path = directory / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise InputError(
            f"{directory}: not an lstmkit model directory (expected config.json and model.safetensors)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{config_path}: not valid JSON ({exc})") from None
    if config.get("kind") != kind:
        raise InputError(f"{directory}: holds a {config.get('kind')!r} model, expected a {kind!r} model")
    try:
        state = load_file(str(weights_path))
    except Exception as exc:  # noqa: BLE001 - any unreadable weights file is bad input
        raise InputError(f"{weights_path}: cannot read the weights ({exc})") from None
    return config, state
