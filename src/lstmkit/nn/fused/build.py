"""Compile (once) and load the fused C++ kernels.

The sources live in ``lstmkit/nn/csrc``.  They are compiled on first use with
``torch.utils.cpp_extension.load`` (ninja) with ``-O3 -march=native -fopenmp`` into a cache
directory: ``$LSTMKIT_CACHE`` if set, else ``~/.cache/lstmkit``, in a sub-folder keyed by the
source hash, the torch version, the Python version and the host CPU, so that a shared home
directory never mixes builds for different machines.  While it compiles, one line goes to
stderr.  Any failure (no compiler, compile error, ``LSTMKIT_DISABLE_FUSED=1``) is recorded:
:func:`available` then returns ``False`` and :func:`unavailable_reason` says why.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

_CSRC = Path(__file__).resolve().parent.parent / "csrc"
# Each extension is compiled and loaded on its own, so one kernel's build never waits on (or
# breaks) another's: name -> (sources, headers they include, directly or not; the headers are
# part of the key, so a change to fused_common.h, which every family includes, rebuilds all).
EXTENSIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lstm": (("lstm_fused.cpp",), ("fused_common.h", "lstm_variants.h")),
    "step": (("lstm_step.cpp",), ("fused_common.h",)),
    "gru_rnn": (("gru_rnn_fused.cpp",), ("fused_common.h", "gru_rnn_common.h")),
}
_CFLAGS = ["-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-std=c++17"]
if os.environ.get("LSTMKIT_FUSED_VW8"):  # 8-wide pointwise code even where AVX-512 exists
    _CFLAGS.append("-DLSTMKIT_VW8")
_LDFLAGS = ["-fopenmp"]
_EXPECTED_SECONDS = 30

_lock = threading.Lock()
_modules: dict[str, ModuleType] = {}
_errors: dict[str, str] = {}


def _cpu_key() -> str:
    """A short string that changes when the CPU (and so ``-march=native``) changes."""
    text = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(("model name", "flags", "Features")):
                    text += line
                    if line.startswith(("flags", "Features")):
                        break
    except OSError:
        text += platform.processor()
    return hashlib.sha256(text.encode()).hexdigest()[:8]


_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def _key_files(extension: str) -> list[str]:
    """The files of ``extension`` that go into its cache key: its sources, the headers listed in
    EXTENSIONS, and any other local header they include (``#include "..."``, followed
    recursively), so that an edit to a shared header rebuilds every family that includes it even
    where the list above misses it."""
    sources, headers = EXTENSIONS[extension]
    files = list(sources + headers)
    for name in files:  # grows while it is walked
        try:
            text = (_CSRC / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for inc in _INCLUDE.findall(text):
            if inc not in files and (_CSRC / inc).is_file():
                files.append(inc)
    return files


def cache_dir(extension: str = "lstm") -> Path:
    """Folder that holds the compiled ``extension`` for its sources, torch and this CPU."""
    import torch

    root = os.environ.get("LSTMKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lstmkit")
    h = hashlib.sha256(extension.encode())
    for name in _key_files(extension):
        h.update((_CSRC / name).read_bytes())
    h.update(" ".join(_CFLAGS + _LDFLAGS).encode())
    key = f"{h.hexdigest()[:12]}-torch{torch.__version__}-py{sys.version_info[0]}{sys.version_info[1]}-{_cpu_key()}"
    return Path(root) / key


def _module_name(extension: str) -> str:
    return f"lstmkit_{extension}_" + cache_dir(extension).name.split("-")[0]


def _build(extension: str) -> ModuleType:
    if os.environ.get("LSTMKIT_DISABLE_FUSED", "") not in ("", "0"):
        raise RuntimeError("disabled by the environment variable LSTMKIT_DISABLE_FUSED")
    from torch.utils import cpp_extension

    if platform.system() == "Windows":
        raise RuntimeError("the fused kernels need GCC or Clang (vector extensions); Windows is not supported")
    sources, headers = EXTENSIONS[extension]
    for name in sources + headers:
        if not (_CSRC / name).is_file():
            raise RuntimeError(f"kernel source {_CSRC / name} is missing from the installation")
    build_dir = cache_dir(extension)
    build_dir.mkdir(parents=True, exist_ok=True)
    name = _module_name(extension)
    compiled = (build_dir / f"{name}.so").exists()
    if not compiled:
        print(f"lstmkit: compiling the fused {extension} kernels (once, ~{_EXPECTED_SECONDS} s)...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        mod = cpp_extension.load(
            name=name,
            sources=[str(_CSRC / s) for s in sources],
            extra_cflags=_CFLAGS,
            extra_ldflags=_LDFLAGS,
            build_directory=str(build_dir),
            verbose=False,
        )
    except Exception as exc:  # compiler missing, compile error, ninja missing...
        msg = str(exc).strip().splitlines()
        tail = " | ".join(line for line in msg[-6:] if line.strip())
        raise RuntimeError(f"compiling the fused {extension} kernels failed ({type(exc).__name__}): {tail}") from exc
    if not compiled:
        print(f"lstmkit: fused {extension} kernels compiled in {time.perf_counter() - t0:.0f} s ({build_dir})",
              file=sys.stderr, flush=True)
    return mod


def load(extension: str = "lstm") -> ModuleType:
    """The compiled ``extension`` module; compiles it on first use.  Raises RuntimeError with
    the reason when it cannot be built (kept for :func:`unavailable_reason`)."""
    module = _modules.get(extension)
    if module is not None:
        return module
    with _lock:
        if extension not in _modules:
            if extension in _errors:
                raise RuntimeError(_errors[extension])
            try:
                _modules[extension] = _build(extension)
            except Exception as exc:
                _errors[extension] = str(exc) or type(exc).__name__
                raise RuntimeError(_errors[extension]) from exc
    return _modules[extension]


def available(extension: str = "lstm") -> bool:
    """True when ``extension`` is compiled and loaded (builds it lazily on first call)."""
    try:
        load(extension)
    except RuntimeError:
        return False
    return True


def unavailable_reason(extension: str = "lstm") -> str | None:
    """Why :func:`available` is False, or None when the extension is available (or not tried
    yet and buildable: the call triggers the build)."""
    if available(extension):
        return None
    return _errors.get(extension)
