"""Run directories, written so that a killed run never leaves a half-written file.

Every file goes to a temporary name in the same directory and is renamed into place
(``os.replace`` is atomic on POSIX), so a reader sees the old file or the new one, never a
piece. A model directory holds ``config.json`` (everything needed to rebuild the model) and
``model.safetensors``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


LOCK_NAME = ".lock"


@contextmanager
def run_dir_lock(directory: str | Path) -> Iterator[Path]:
    """Hold the run directory ``directory`` for this process: one run per directory.

    The lock is ``fcntl.flock`` on ``directory/.lock`` (created with the directory when
    missing; it holds the holder's pid). The operating system releases it when the process
    ends, however it ends, so a killed run never blocks the next one. A second process
    asking for a held directory gets an :class:`~lstmkit.errors.InputError` at once, having
    written nothing. The worker processes a data-parallel run starts (children of the holder,
    with ``LOCAL_RANK`` set) pass: they belong to the holder's run.
    """
    import fcntl

    from lstmkit.errors import InputError, param_ref

    directory = Path(directory)
    lock_path = directory / LOCK_NAME
    created = [d for d in (directory, *directory.parents) if not d.exists()]  # innermost first
    if created:
        directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    held = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            if holder is not None and holder == os.getppid() and os.environ.get("LOCAL_RANK", "0") != "0":
                yield directory  # a worker of the holder's own data-parallel run
                return
            who = f"another lstmkit run (pid {holder})" if holder else "another lstmkit run"
            raise InputError(f"{directory}: {who} is writing here; use another {param_ref('out')} "
                             f"or wait for it", param="out") from None
        held = True
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield directory
    finally:
        if held and created and {p.name for p in directory.iterdir()} <= {LOCK_NAME}:
            lock_path.unlink(missing_ok=True)  # a run that wrote nothing leaves no directory
            for made in created:
                try:
                    made.rmdir()
                except OSError:  # not empty: something else is in it now
                    break
        os.close(fd)  # releases the lock


def _lock_holder(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


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


def write_json(path: str | Path, data: Any, *, exact: bool = False) -> None:
    """``data`` as strict JSON, atomically: a NaN or infinite number (an undefined metric, such
    as the MASE of a constant series) is written as ``null``, which every JSON reader takes
    (``NaN`` is Python's extension, refused by ``jq`` and JavaScript). ``exact``: keep them as
    Python writes them (``NaN``, ``Infinity``), for state that only lstmkit reads back (a saved
    model's ``config.json``), where a number must come back a number."""
    if exact:
        write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")
        return
    write_text(path, json.dumps(_finite(data), indent=2, sort_keys=False, default=_jsonable, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (numpy's included) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # a numpy scalar
        return _finite(value.item())
    return value


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
    write_json(directory / "config.json", config, exact=True)


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
