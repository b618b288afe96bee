"""Compile (once) and load the fused C++ kernels, in a cache that cannot wedge.

The sources live in ``lstmkit/nn/csrc``; each kernel family (``EXTENSIONS``) is its own
extension, compiled on first use with ``-O3 -march=native -fopenmp`` (``$LSTMKIT_FUSED_ISA``
picks another target: :data:`ISA_FLAGS`) into the cache root
(``$LSTMKIT_CACHE`` if set, else ``~/.cache/lstmkit``). What holds, and why:

* **One folder per build input** (``<root>/<family>-<key>``). The key hashes everything the
  compiled library depends on: the sources and every local header they include (followed
  recursively), the exact flags, the torch version and installation (its headers and
  libraries), the Python interpreter (``sys.executable``, ``sys.prefix``, version, include
  folder), the compiler (``$CXX`` or ``c++``, resolved to its real path, with the binary's size
  and mtime standing for its version) and the host CPU (``-march=native``). Two virtual
  environments, two compilers or two machines sharing a home folder so never share (or
  fight over) a build. The key's inputs are written to ``build.json`` in the folder.
* **Loading a built kernel is cheap**: no compiler, ninja or ``torch.utils.cpp_extension`` on
  that path; only the key (the sources are hashed and the compiler ``stat``-ed once per
  process) and an import of the ``.so``.
* **Builds are atomic.** A build runs in a fresh ``<family>-<key>.tmp-<host>-<pid>-*`` folder
  beside the final one and is renamed into place (``os.rename`` of a folder is atomic) only
  when complete, so a killed build leaves only a temporary folder, which later runs never
  read and the next build of that key removes. Two builders racing (possible only after a
  stale lock was broken) both succeed: the first rename wins, the other's copy is discarded.
* **Our own lock, never torch's.** torch's ``FileBaton`` (a ``lock`` file polled forever)
  wedged every later run after a SIGKILL. Here one builder per key holds ``fcntl.flock`` on
  ``<family>-<key>.lock``; the OS releases it when the holder dies, however it dies, so a
  killed builder blocks nobody. The file also records the holder (pid, host, start time) for
  ``lstmkit info``. A lock whose recorded owner is gone while the lock is still held (an
  inherited descriptor) or held longer than a build can take (``$LSTMKIT_BUILD_STALE``
  seconds, default 900) is stale and broken (the file is unlinked; the next builder locks a
  fresh one). torch's own ``load`` still runs, but only inside our lock and in the fresh
  temporary folder, where its baton can never be stale.
* **The wait is bounded.** A process that finds another building waits at most
  ``$LSTMKIT_BUILD_TIMEOUT`` seconds (default 300), printing one line when the wait starts;
  if the build is not done by then it gives up with one ``RuntimeWarning`` and the family is
  unavailable in that process (the layers then run the ``torch`` or ``reference`` backend).
  It never hangs on another process's build.

Any failure (no compiler, a compile error, ``LSTMKIT_DISABLE_FUSED=1``, the wait timing out)
is recorded: :func:`available` then returns ``False`` and :func:`unavailable_reason` says why.
:func:`cache_state` describes a family's folder for ``lstmkit info``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

_CSRC = Path(__file__).resolve().parent.parent / "csrc"
# Each extension is compiled and loaded on its own, so one kernel's build never waits on (or
# breaks) another's: name -> (sources, headers they include, directly or not; the headers are
# part of the key, so a change to fused_common.h, which every family includes, rebuilds all).
# Names are relative to lstmkit/nn/csrc (an absolute path is taken as it is).
EXTENSIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lstm": (("lstm_fused.cpp",), ("fused_common.h", "lstm_variants.h")),
    "step": (("lstm_step.cpp",), ("fused_common.h",)),
    "gru_rnn": (("gru_rnn_fused.cpp",), ("fused_common.h", "gru_rnn_common.h")),
}
#: ``$LSTMKIT_FUSED_ISA`` -> the target flags of the build (:func:`cflags`).
#: ``native`` (the default) builds for this CPU; ``avx2`` for any x86-64 with AVX2 and FMA and
#: no AVX-512 (x86-64-v3, as an AMD Zen 3 or an Intel Haswell..Alder Lake), tuned for this CPU:
#: on an AVX-512 machine it emulates an AVX2-only one (README: "Speed on an AVX2-only CPU");
#: ``avx512`` for x86-64-v4 (AVX-512 F/BW/CD/DQ/VL). The flags are part of the cache key.
ISA_FLAGS: dict[str, list[str]] = {
    "native": ["-march=native"],
    "avx2": ["-march=x86-64-v3", "-mtune=native"],
    "avx512": ["-march=x86-64-v4", "-mtune=native"],
}


def isa() -> str:
    """The instruction-set target of the kernel builds: ``$LSTMKIT_FUSED_ISA`` (``native`` when
    unset). Raises RuntimeError for a name not in :data:`ISA_FLAGS`."""
    name = os.environ.get("LSTMKIT_FUSED_ISA", "").strip().lower() or "native"
    if name not in ISA_FLAGS:
        raise RuntimeError(f"$LSTMKIT_FUSED_ISA must be one of {', '.join(ISA_FLAGS)}, got {name!r}")
    return name


def cflags() -> list[str]:
    """The compiler flags of the kernel builds, from the environment (``$LSTMKIT_FUSED_ISA``;
    ``$LSTMKIT_FUSED_VW8``: 8-wide pointwise code even where AVX-512 exists)."""
    flags = ["-O3", *ISA_FLAGS[isa()], "-fopenmp", "-fno-math-errno", "-std=c++17"]
    if os.environ.get("LSTMKIT_FUSED_VW8"):
        flags.append("-DLSTMKIT_VW8")
    return flags


_LDFLAGS = ["-fopenmp"]
_EXPECTED_SECONDS = 30
DEFAULT_TIMEOUT = 300.0  # seconds to wait for another process's build ($LSTMKIT_BUILD_TIMEOUT)
DEFAULT_STALE = 900.0  # a lock held longer than this is stale ($LSTMKIT_BUILD_STALE)
_POLL = 0.2  # seconds between looks at a lock held by another process
_META = "build.json"  # written last into the temporary folder: the mark of a complete build

_lock = threading.Lock()
_modules: dict[str, ModuleType] = {}
_errors: dict[str, str] = {}
_memo: dict[Any, Any] = {}  # per-process: CPU key, compiler identity, torch/python facts


class _WaitTimeout(RuntimeError):
    """The bounded wait for another process's build ran out."""


# ----------------------------------------------------------------------------- the key


def _cpu_key() -> str:
    """A short string that changes when the CPU (and so ``-march=native``) changes."""
    if "cpu" not in _memo:
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
        _memo["cpu"] = hashlib.sha256(text.encode()).hexdigest()[:8]
    return _memo["cpu"]


def _compiler() -> dict[str, Any]:
    """The C++ compiler torch's build runs (``$CXX``, else ``c++``): its real path, and the
    binary's size and mtime, which change when it is upgraded. No compiler is run here (this
    is on the load path); its ``--version`` goes to ``build.json`` when a build runs."""
    command = os.environ.get("CXX") or "c++"
    if ("cxx", command) not in _memo:
        found = shutil.which(command)
        ident: dict[str, Any] = {"command": command, "path": None}
        if found:
            real = os.path.realpath(found)
            try:
                st = os.stat(real)
                ident.update(path=real, size=st.st_size, mtime_ns=st.st_mtime_ns)
            except OSError:
                ident["path"] = real
        _memo[("cxx", command)] = ident
    return _memo[("cxx", command)]


def _runtime() -> dict[str, Any]:
    """torch and Python facts that enter torch's build command (include and library paths,
    ABI defines)."""
    if "runtime" not in _memo:
        import sysconfig

        import torch

        _memo["runtime"] = {
            "torch": torch.__version__,
            "torch_dir": os.path.dirname(os.path.realpath(torch.__file__)),
            "cxx11_abi": bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)),
            "pybind11": [getattr(torch._C, f"_PYBIND11_{k}", None) for k in ("COMPILER_TYPE", "STDLIB", "BUILD_ABI")],
            "python": sys.version,
            "executable": os.path.realpath(sys.executable),
            "prefix": os.path.realpath(sys.prefix),
            "python_include": sysconfig.get_paths().get("include"),
            "machine": platform.machine(),
        }
    return _memo["runtime"]


_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.MULTILINE)


def _source_path(name: str | Path) -> Path:
    return _CSRC / name  # an absolute ``name`` stays as it is


def _key_files(extension: str) -> list[Path]:
    """The files of ``extension`` that go into its cache key: its sources, the headers listed in
    EXTENSIONS, and any other local header they include (``#include "..."``, relative to the
    including file, followed recursively), so that an edit to a shared header rebuilds every
    family that includes it even where the list above misses it."""
    sources, headers = EXTENSIONS[extension]
    files = [_source_path(n) for n in sources + headers]
    for path in files:  # grows while it is walked
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for inc in _INCLUDE.findall(text):
            found = path.parent / inc
            if found not in files and found.is_file():
                files.append(found)
    return files


def key_inputs(extension: str = "lstm") -> dict[str, Any]:
    """Everything the compiled ``extension`` depends on (hashed into its folder's name)."""
    sources: dict[str, str | None] = {}
    for path in _key_files(extension):
        try:
            sources[path.name if path.parent == _CSRC else str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            sources[str(path)] = None  # missing: the build reports it
    return {
        "extension": extension,
        "sources": sources,
        "cflags": cflags(),
        "ldflags": list(_LDFLAGS),
        "compiler": _compiler(),
        "cpu": _cpu_key(),
        **_runtime(),
    }


def cache_root() -> Path:
    """``$LSTMKIT_CACHE``, else ``~/.cache/lstmkit``."""
    root = os.environ.get("LSTMKIT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "lstmkit")
    return Path(root)


def _key(extension: str) -> tuple[str, dict[str, Any]]:
    inputs = key_inputs(extension)
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]
    return digest, inputs


def cache_dir(extension: str = "lstm") -> Path:
    """The folder that holds (or will hold) the compiled ``extension`` for its key."""
    return cache_root() / f"{extension}-{_key(extension)[0]}"


def _lock_path(final: Path) -> Path:
    return final.with_name(final.name + ".lock")


def _failed_path(final: Path) -> Path:
    return final.with_name(final.name + ".failed.json")


# ----------------------------------------------------------------------------- the lock


def _proc_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, proc_start: str | None) -> bool:
    """Whether the process ``pid`` (on this host) that started at ``proc_start`` still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if proc_start is not None:
        now = _proc_start(pid)
        if now is not None and now != proc_start:
            return False  # the pid was reused
    return True


def _read_record(path: Path) -> dict[str, Any] | None:
    """The holder recorded in a lock file, or None (no file, empty, unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
        record = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None


def _stale_after() -> float:
    return _seconds("LSTMKIT_BUILD_STALE", DEFAULT_STALE)


def _timeout() -> float:
    return _seconds("LSTMKIT_BUILD_TIMEOUT", DEFAULT_TIMEOUT)


def _seconds(variable: str, default: float) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise RuntimeError(f"${variable} must be a number of seconds, got {text!r}") from None
    if value < 0:
        raise RuntimeError(f"${variable} must be 0 or more seconds, got {text!r}")
    return value


def _stale_reason(record: dict[str, Any] | None, lock: Path) -> str | None:
    """Why a lock that is held is stale, or None while its holder may still be building."""
    now = time.time()
    if record is None:  # just created (the holder writes its record right after locking)
        try:
            age = now - lock.stat().st_mtime
        except OSError:
            return None
        return f"held for {age:.0f} s without an owner record" if age > _stale_after() else None
    if record.get("host") == socket.gethostname() and not _alive(record["pid"], record.get("proc_start")):
        return f"its builder, pid {record['pid']}, is gone (a process it started still holds the lock)"
    age = now - float(record.get("started", now))
    if age > _stale_after():
        return (f"held by pid {record['pid']} on {record.get('host')} for {age:.0f} s, longer than a build "
                f"can take (LSTMKIT_BUILD_STALE={_stale_after():g})")
    return None


def _break(lock: Path, inode: int, record: dict[str, Any] | None, why: str) -> None:
    """Unlink the stale lock file ``lock`` if it still is the file (``inode``, holding
    ``record``) judged stale; the next builder locks a fresh file. A short flock on
    ``<lock>.break`` keeps two breakers from unlinking each other's fresh lock. (Were a live
    builder's lock broken after all, in the microseconds between its flock and its record, two
    builds would run side by side in their own temporary folders: one wasted compile, no harm.)"""
    import fcntl

    fd = os.open(str(lock) + ".break", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(lock).st_ino == inode and _read_record(lock) == record:
                os.unlink(lock)
                print(f"lstmkit: broke the stale build lock {lock}: {why}", file=sys.stderr, flush=True)
        except FileNotFoundError:
            pass
    finally:
        os.close(fd)


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _holder(record: dict[str, Any] | None) -> str:
    if record is None:
        return "another process"
    return f"pid {record['pid']} on {record.get('host', '?')} (since {_when(float(record.get('started', 0)))})"


def _acquire(lock: Path, extension: str, built: Path) -> int | None:
    """Take the build lock of a family: the locked descriptor, or None when the build appeared
    (``built`` exists) while waiting. Raises _WaitTimeout after ``$LSTMKIT_BUILD_TIMEOUT``."""
    import fcntl

    timeout = _timeout()
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by children (O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            inode = os.fstat(fd).st_ino
            os.close(fd)  # (a flock belongs to its open file: closing this one frees nothing)
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                return os.open(lock, os.O_RDWR)  # a file system without flock: build unlocked
                # (still safe: each build has its own temporary folder and the rename is atomic)
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise
            record = _read_record(lock)
            why = _stale_reason(record, lock)
            if why is not None:
                _break(lock, inode, record, why)
                continue
            if (built / _META).is_file():
                return None
            if time.monotonic() >= deadline:
                raise _WaitTimeout(
                    f"gave up after {timeout:g} s (LSTMKIT_BUILD_TIMEOUT) waiting for {_holder(record)}, "
                    f"which is compiling the fused {extension} kernels into {built}") from None
            if not announced:
                print(f"lstmkit: waiting (up to {timeout:g} s) for {_holder(record)}, which is compiling "
                      f"the fused {extension} kernels", file=sys.stderr, flush=True)
                announced = True
            time.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
            continue
        try:  # a breaker may have unlinked the file between our open and our flock
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                  "proc_start": _proc_start(os.getpid()), "extension": extension, "python": sys.executable}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        return fd


def _release(fd: int) -> None:
    """Clear the owner record and drop the lock (the file stays: unlinking it would let a
    waiter lock an orphaned inode)."""
    try:
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- building


def _import(final: Path) -> ModuleType:
    """Import the complete build in ``final`` (no compiler, no ninja)."""
    import importlib.util

    import torch  # noqa: F401  (the library needs libtorch loaded)

    try:
        meta = json.loads((final / _META).read_text(encoding="utf-8"))
        library, name = final / meta["library"], meta["module"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{final / _META} is unreadable ({exc}); delete {final} to rebuild it") from exc
    spec = importlib.util.spec_from_file_location(name, library)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {library}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise RuntimeError(f"loading {library} failed ({exc}); delete {final} to rebuild it") from exc
    return module


def _remove_leftovers(final: Path) -> None:
    """Remove the temporary folders of killed builds of this key (called under its lock):
    those of a gone process on this host, and any older than a build can take."""
    host, now = socket.gethostname(), time.time()
    prefix = final.name + ".tmp-"
    for path in final.parent.glob(prefix + "*"):
        try:
            owner_host, pid, _ = path.name[len(prefix):].rsplit("-", 2)
            gone = owner_host == host and not _alive(int(pid), None)
            old = now - path.stat().st_mtime > _stale_after()
        except (ValueError, OSError):
            continue
        if gone or old:
            shutil.rmtree(path, ignore_errors=True)


def _compiler_version() -> str | None:
    import subprocess

    try:
        out = subprocess.run([_compiler()["command"], "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.splitlines()[0] if out.stdout else None


def _compile(extension: str, final: Path, digest: str, inputs: dict[str, Any]) -> ModuleType:
    """Build ``extension`` into a fresh temporary folder beside ``final``, then rename it into
    place. Called with the family's lock held."""
    from torch.utils import cpp_extension

    sources, _ = EXTENSIONS[extension]
    name = f"lstmkit_{extension}_{digest[:12]}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}.tmp-{socket.gethostname()}-{os.getpid()}-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the final folder gets the usual mode
    print(f"lstmkit: compiling the fused {extension} kernels (once, ~{_EXPECTED_SECONDS} s)...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        try:
            module = cpp_extension.load(  # its FileBaton lives in our fresh folder: never stale
                name=name,
                sources=[str(_source_path(s)) for s in sources],
                extra_cflags=list(inputs["cflags"]),
                extra_ldflags=list(_LDFLAGS),
                build_directory=str(tmp),
                verbose=False,
            )
        except Exception as exc:  # compiler missing, compile error, ninja missing...
            msg = str(exc).strip().splitlines()
            tail = " | ".join(line for line in msg[-6:] if line.strip())
            raise RuntimeError(f"compiling the fused {extension} kernels failed ({type(exc).__name__}): {tail}") from exc
        seconds = time.perf_counter() - t0
        meta = {"module": module.__name__, "library": os.path.basename(module.__file__), "seconds": round(seconds, 1),
                "built": time.time(), "pid": os.getpid(), "host": socket.gethostname(),
                "compiler_version": _compiler_version(), "key": digest, "inputs": inputs}
        (tmp / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, final)
            module.__file__ = str(final / meta["library"])  # the same file, now in its final place
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # a builder whose lock was broken got there first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _failed_path(final).unlink(missing_ok=True)
    print(f"lstmkit: fused {extension} kernels compiled in {seconds:.0f} s ({final})", file=sys.stderr, flush=True)
    return module


def _build(extension: str) -> ModuleType:
    if os.environ.get("LSTMKIT_DISABLE_FUSED", "") not in ("", "0"):
        raise RuntimeError("disabled by the environment variable LSTMKIT_DISABLE_FUSED")
    if platform.system() == "Windows":
        raise RuntimeError("the fused kernels need GCC or Clang (vector extensions); Windows is not supported")
    sources, headers = EXTENSIONS[extension]
    for name in sources + headers:
        if not _source_path(name).is_file():
            raise RuntimeError(f"kernel source {_source_path(name)} is missing from the installation")
    digest, inputs = _key(extension)
    final = cache_root() / f"{extension}-{digest}"
    if (final / _META).is_file():  # the common case: built before, by any process
        return _import(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeError(f"cannot create the kernel cache {final.parent}: {exc}") from exc
    try:
        fd = _acquire(_lock_path(final), extension, final)
    except _WaitTimeout as exc:
        warnings.warn(f"lstmkit: {exc}; running without them (the torch or reference backend)",
                      RuntimeWarning, stacklevel=4)
        raise
    if fd is None:  # built by another process while we waited
        return _import(final)
    try:
        if (final / _META).is_file():
            return _import(final)
        _remove_leftovers(final)
        try:
            return _compile(extension, final, digest, inputs)
        except Exception as exc:
            try:
                _failed_path(final).write_text(json.dumps(
                    {"reason": str(exc), "pid": os.getpid(), "host": socket.gethostname(), "at": time.time()}) + "\n",
                    encoding="utf-8")
            except OSError:
                pass
            raise
    finally:
        _release(fd)


# ----------------------------------------------------------------------------- public


def cpu_vendor() -> str:
    """The ``vendor_id`` of /proc/cpuinfo (``GenuineIntel``, ``AuthenticAMD``), or ""."""
    if "vendor" not in _memo:
        _memo["vendor"] = _cpuinfo_field("vendor_id")
    return _memo["vendor"]


def _cpuinfo_field(name: str) -> str:
    """The value of the first ``name`` line of /proc/cpuinfo, or "" (no such file or line)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def l2_size() -> str:
    """The first CPU's level-2 cache size as the kernel reports it (``512K``), or "" where
    /sys does not say. The kernels read the same figure with ``sysconf``: it decides how they
    cut large GEMM operands (README, "Speed")."""
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for index in sorted(root.glob("index*")):
            if (index / "level").read_text().strip() == "2" and (index / "type").read_text().strip() != "Instruction":
                return (index / "size").read_text().strip()
    except OSError:
        pass
    return ""


def cpu_description() -> str:
    """One line on this CPU for benchmark headers and ``lstmkit info``: the model name, CPU
    family and model (which tell a Zen 3 from a Zen 5 where the name is only ``AMD EPYC``), the
    L2 per core and the vectors the GEMMs get (:func:`gemm_isa`)."""
    name = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    parts = [name]
    family, model = _cpuinfo_field("cpu family"), _cpuinfo_field("model\t")
    if family:
        parts.append(f"family {family} model {model or '?'}")
    l2 = l2_size()
    if l2:
        parts.append(f"L2 {l2} per core")
    parts.append(f"{gemm_isa()} GEMMs")
    return ", ".join(parts)


def gemm_isa() -> str:
    """The widest vectors oneDNN's brgemm ukernel gets here: ``avx512`` where the CPU has
    AVX-512 F (``/proc/cpuinfo``) and neither ``$ONEDNN_MAX_CPU_ISA`` (``DNNL_MAX_CPU_ISA``)
    caps oneDNN below it nor ``$LSTMKIT_FUSED_ISA=avx2`` asks for an AVX2-only run; else
    ``avx2``."""
    if "avx512f" not in _memo:
        _memo["avx512f"] = "avx512f" in _cpuinfo_field("flags").split()
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "").strip().upper()
    capped = bool(cap) and cap != "ALL" and not any(k in cap for k in ("AVX512", "AVX10", "AMX"))
    if not _memo["avx512f"] or capped or os.environ.get("LSTMKIT_FUSED_ISA", "").strip().lower() == "avx2":
        return "avx2"
    return "avx512"


#: The GEMM path's defaults per (CPU vendor, :func:`gemm_isa`), set in the environment (where
#: the user has not set them) before a kernel first runs; the kernels read them once. On an AMD
#: EPYC (Zen 4/5, AVX-512) MKL runs only its AVX2 code: its packed GEMM ran the LSTM kernels at
#: 0.45-0.67x torch.nn.LSTM, and oneDNN's brgemm ukernel (AVX-512) for every inner dimension
#: up to 2048 at 0.61-1.24x (the variants 0.67-1.72x). With AVX2 only (a Zen 3, or a Zen 5 run
#: as one: README, "Speed") brgemm is the faster for every inner dimension too, now that
#: panels larger than L2 are cut into K slices (plain LSTM at the four default shapes, against
#: brgemm up to 256 and MKL's packed GEMM beyond: training 1.01-1.25x -> 1.08-1.36x
#: torch.nn.LSTM, inference at H = 512 0.90x -> 1.06x), except the weight gradients, which MKL
#: runs at 85 % of the AVX2 peak and brgemm at 57 % for M = 256 rows. (On the Zen 5 run as an
#: AVX2 CPU brgemm had been the faster at M = 128, 6.6 against 8.2 ms; on a real Zen 3 MKL was:
#: plain training at 100,32,128 0.95x -> 1.05x torch.nn.LSTM, layer norm 0.84-0.87x -> 0.93x on
#: one thread and 0.85x -> 0.98x on two, 500,16,128 level; so MKL for every weight gradient.)
#: On the Intel Xeon the tables were first measured on, MKL's packed GEMM is the faster and stays.
GEMM_DEFAULTS = {
    ("AuthenticAMD", "avx512"): {"LSTMKIT_FUSED_BRGEMM": "1", "LSTMKIT_FUSED_BRGEMM_MAXK": "2048"},
    ("AuthenticAMD", "avx2"): {"LSTMKIT_FUSED_BRGEMM": "1", "LSTMKIT_FUSED_BRGEMM_MAXK": "2048",
                               "LSTMKIT_FUSED_BRGEMM_TN_MAXM": "0"},
}

#: Added on a Zen 1 / Zen+ (AMD family 23, models below 0x30: two 128-bit FMA units, 512 KiB of
#: L2): brgemm only for right-hand panels that fit L2 (K x N floats up to 512 KiB), MKL's packed
#: GEMM for larger ones. Measured there (one thread, in one process, the two paths interleaved
#: with ``backend="torch"``): plain inference at 100,64,512 0.84x torch's time with brgemm for
#: every panel against 0.98x with MKL's; at H = 128, where every panel fits, brgemm 1.40x
#: against MKL's 1.15x. Zen 2
#: (family 23, models 0x30 and up) was not measured and keeps the Zen 3's defaults.
ZEN1_GEMM_DEFAULTS = {"LSTMKIT_FUSED_BRGEMM_MAXPANEL": "512"}


def cpu_family_model() -> tuple[int, int]:
    """The ``cpu family`` and ``model`` of /proc/cpuinfo as integers, -1 where absent."""
    def number(name: str) -> int:
        value = _cpuinfo_field(name)
        return int(value) if value.isdigit() else -1
    return number("cpu family"), number("model\t")


def _gemm_defaults() -> None:
    defaults = dict(GEMM_DEFAULTS.get((cpu_vendor(), gemm_isa()), {}))
    family, model = cpu_family_model()
    if cpu_vendor() == "AuthenticAMD" and family == 23 and 0 <= model < 0x30:
        defaults.update(ZEN1_GEMM_DEFAULTS)
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


#: The run-time GEMM knobs the kernels read once (``fused_common.h``), in the order they apply.
GEMM_KNOBS = ("LSTMKIT_FUSED_BLAS", "LSTMKIT_FUSED_BRGEMM", "LSTMKIT_FUSED_BRGEMM_MAXK",
              "LSTMKIT_FUSED_BRGEMM_TN_MAXM", "LSTMKIT_FUSED_BRGEMM_MAXPANEL")


def gemm_settings() -> str:
    """The GEMM knobs in effect (this CPU's defaults, :data:`GEMM_DEFAULTS`, under the user's
    own settings) as ``NAME=value`` words, for ``lstmkit info`` and benchmark headers: a table
    is reproducible only with them. ``"none set (MKL's packed GEMM)"`` where none is."""
    _gemm_defaults()
    words = [f"{name}={os.environ[name]}" for name in GEMM_KNOBS if name in os.environ]
    return " ".join(words) or "none set (MKL's packed GEMM)"


def load(extension: str = "lstm") -> ModuleType:
    """The compiled ``extension`` module; compiles it on first use.  Raises RuntimeError with
    the reason when it cannot be built (kept for :func:`unavailable_reason`)."""
    module = _modules.get(extension)
    if module is not None:
        return module
    _gemm_defaults()
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


def loaded(extension: str = "lstm") -> ModuleType | None:
    """The compiled ``extension`` if this process has already loaded it, else None (never
    builds: for callers with a slower path of their own)."""
    return _modules.get(extension)


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


def cache_state(extension: str = "lstm") -> str:
    """One line on ``extension``'s cache folder, without building or waiting: ``built ...``,
    ``building by pid N on HOST since T``, ``stale lock: ...``, ``failed: REASON`` or
    ``not built``."""
    import fcntl

    if extension in _errors:
        return f"failed: {_errors[extension]}"
    try:
        final = cache_dir(extension)
    except Exception as exc:  # torch missing, say
        return f"unknown ({type(exc).__name__}: {exc})"
    meta_path = final / _META
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            return f"built {_when(float(meta['built']))} in {meta['seconds']:g} s ({final.name})"
        except (OSError, ValueError, KeyError, TypeError):
            return f"built ({final.name}; unreadable {_META})"
    lock = _lock_path(final)
    record = _read_record(lock)
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        fd = None
    if fd is not None:
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                held = False
            except OSError:
                held = True
        finally:
            os.close(fd)
        if held:
            why = _stale_reason(record, lock)
            if why is not None:
                return f"stale lock ({why}); the next build breaks it"
            return f"building by {_holder(record)}"
        if record is not None:
            return (f"not built; stale lock: {_holder(record)} started a build and is gone "
                    "(the next build ignores it)")
    try:
        failed = json.loads(_failed_path(final).read_text(encoding="utf-8"))
        return f"failed: {failed['reason']} (pid {failed['pid']}, {_when(float(failed['at']))})"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return "not built"


def build_all(extensions: list[str] | None = None) -> dict[str, str | None]:
    """Build (or find built) every family in ``extensions`` (default: all of
    :data:`EXTENSIONS`) at once, each in its own Python process, so that the compiles (one
    compiler process per family, about a minute each) run side by side on a machine with more
    than one core instead of one after another on first use. Returns family -> None when
    built, else the reason it is not. Each child takes the family's lock as any other process
    does, so running this beside a program that builds the same family is safe."""
    import subprocess

    names = list(extensions or EXTENSIONS)
    unknown = [name for name in names if name not in EXTENSIONS]
    if unknown:
        raise ValueError(f"unknown kernel famil{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)}; "
                         f"choose from {', '.join(EXTENSIONS)}")
    if os.environ.get("LSTMKIT_DISABLE_FUSED", "") not in ("", "0"):
        return {name: "disabled by the environment variable LSTMKIT_DISABLE_FUSED" for name in names}
    # the child is told the family's files, so a family added at run time builds there too
    code = ("import json, sys\nfrom lstmkit.nn.fused import build\n"
            "sources, headers = json.loads(sys.argv[2])\n"
            "build.EXTENSIONS[sys.argv[1]] = (tuple(sources), tuple(headers))\n"
            "try:\n    build.load(sys.argv[1])\n"
            "except RuntimeError as exc:\n    print(exc, file=sys.stderr); sys.exit(1)\n")
    children = {name: subprocess.Popen([sys.executable, "-c", code, name, json.dumps(EXTENSIONS[name])],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for name in names}
    outcome: dict[str, str | None] = {}
    for name, child in children.items():
        _, err = child.communicate()
        lines = [line for line in err.strip().splitlines() if line.strip()]
        outcome[name] = None if child.returncode == 0 else (lines[-1] if lines else f"exit {child.returncode}")
    return outcome

