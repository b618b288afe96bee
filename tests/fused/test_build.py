"""The kernel cache cannot wedge: a SIGKILLed build, a lock held by a live process, a stale lock
and two environments each end in a usable kernel or a clear fallback, never a hang.

Builds here compile a stand-in extension (a plain CPython module, about a second) through the
same path as the kernel families (``build.EXTENSIONS``); only the timeout test names the real
``lstm`` family, and it never compiles it. Every subprocess has a ``timeout=``, so a regression
fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import lstmkit
from lstmkit.nn.fused import build

SRC = str(Path(lstmkit.__file__).resolve().parents[1])

TINY = r"""
// A stand-in extension for the build tests: no torch headers, so it compiles in about a second.
#include <Python.h>
#define TINY_STR_(x) #x
#define TINY_STR(x) TINY_STR_(x)
#define TINY_CAT_(a, b) a##b
#define TINY_CAT(a, b) TINY_CAT_(a, b)
static PyObject* answer(PyObject*, PyObject*) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "42"}, {nullptr, nullptr, 0, nullptr}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, TINY_STR(TORCH_EXTENSION_NAME), nullptr, -1, methods};
PyMODINIT_FUNC TINY_CAT(PyInit_, TORCH_EXTENSION_NAME)(void) { return PyModule_Create(&def); }
"""

# Loads the stand-in family "tiny" from argv[1] and prints the answer and where it came from.
LOAD_TINY = textwrap.dedent("""
    import sys
    from lstmkit.nn.fused import build
    build.EXTENSIONS["tiny"] = ((sys.argv[1],), ())
    module = build.load("tiny")
    print(module.answer(), module.__file__)
""")


def _tiny(tmp_path: Path, tag: str) -> Path:
    """A stand-in source; ``tag`` makes its key (and module name) differ from other tests'."""
    path = tmp_path / "tiny.cpp"
    path.write_text(f"// {tag}\n" + TINY)
    return path


def _env(cache: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, LSTMKIT_CACHE=str(cache), PYTHONPATH=os.pathsep.join(
        [SRC, *filter(None, [os.environ.get("PYTHONPATH")])]))
    env.pop("LSTMKIT_DISABLE_FUSED", None)
    env.update(extra)
    return env


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """This process's build state emptied (and restored after), with a cache of its own."""
    monkeypatch.setattr(build, "_modules", {})
    monkeypatch.setattr(build, "_errors", {})
    monkeypatch.setattr(build, "_memo", {})
    monkeypatch.setattr(build, "EXTENSIONS", dict(build.EXTENSIONS))
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LSTMKIT_DISABLE_FUSED", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    return tmp_path / "cache"


def _wait_for(predicate, seconds: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"{what}: the process exited ({proc.returncode}): {err[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def _temporary_dirs(cache: Path) -> list[Path]:
    return sorted(p for p in cache.glob("*.tmp-*") if p.is_dir())


# ------------------------------------------------------------------------- a killed build


SLOW_CXX = """#!/bin/sh
# The compiler, except that with $TINY_STALL set it first stalls (while that file exists) on
# compiling, so that the test can kill its builder mid-compile.
if [ -n "$TINY_STALL" ]; then
  case " $* " in
    *" -c "*) touch "$TINY_STALL.started"; while [ -f "$TINY_STALL" ]; do sleep 0.1; done ;;
  esac
fi
exec c++ "$@"
"""


@pytest.mark.slow
def test_sigkill_mid_compile_blocks_nothing_and_leaves_nothing_used(fresh, tmp_path, monkeypatch):
    """kill -9 of a process while its compiler runs: the next process builds and loads at once
    (the OS dropped the dead builder's flock), from the final folder; the dead one's temporary
    folder is never used and is removed by the next build."""
    source = _tiny(tmp_path, "sigkill")
    cxx = tmp_path / "bin" / "slow-g++"  # (torch accepts a compiler whose name holds "g++")
    cxx.parent.mkdir()
    cxx.write_text(SLOW_CXX)
    cxx.chmod(0o755)
    stall = tmp_path / "stall"
    stall.touch()
    env = _env(fresh, CXX=str(cxx))
    monkeypatch.setenv("CXX", str(cxx))  # the same key here, to look at the cache
    build.EXTENSIONS["tiny"] = ((str(source),), ())

    first = subprocess.Popen([sys.executable, "-c", LOAD_TINY, str(source)], env={**env, "TINY_STALL": str(stall)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(Path(str(stall) + ".started").exists, 120, "the first build reaching its compiler", first)
        assert build.cache_state("tiny").startswith(f"building by pid {first.pid} ")
        assert len(_temporary_dirs(fresh)) == 1
        os.kill(first.pid, signal.SIGKILL)  # the builder only: its ninja and compiler live on
        first.wait(timeout=30)
        assert first.returncode == -signal.SIGKILL
        final = build.cache_dir("tiny")
        assert not final.exists()  # nothing half-made under the final name
        assert "stale lock" in build.cache_state("tiny") and f"pid {first.pid} " in build.cache_state("tiny")

        second = subprocess.run([sys.executable, "-c", LOAD_TINY, str(source)], env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr[-2000:]
        answer, where = second.stdout.split()
        assert answer == "42" and Path(where).parent == final
        assert "waiting" not in second.stderr  # the dead builder's lock blocked nothing
        assert (final / "build.json").is_file()
        assert _temporary_dirs(fresh) == []  # the killed build's folder, removed
        assert build.cache_state("tiny").startswith("built ")
    finally:
        stall.unlink(missing_ok=True)
        try:
            os.killpg(first.pid, signal.SIGKILL)  # the orphaned ninja/compiler of the killed build
        except ProcessLookupError:
            pass
        first.communicate(timeout=30)


# ------------------------------------------------------------------------- a live holder


HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from lstmkit.nn.fused import build
    final = Path(sys.argv[1])
    fd = build._acquire(build._lock_path(final), sys.argv[2], final)
    assert fd is not None
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
""")

WAIT_THEN_RUN = textwrap.dedent("""
    import json, time, warnings
    import torch
    import lstmkit
    from lstmkit.nn.fused import build
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.monotonic()
        ok = build.available("lstm")
        waited = time.monotonic() - t0
        model = lstmkit.LSTM(8, 8, backend="fused")
        out, _ = model(torch.randn(5, 3, 8))
        out2, _ = model(torch.randn(5, 3, 8))
    print(json.dumps({"available": ok, "reason": build.unavailable_reason("lstm"), "waited": waited,
                      "backend": model.last_backend, "shape": list(out.shape),
                      "warnings": [str(w.message) for w in caught]}))
""")


@pytest.mark.slow
def test_live_holder_ends_in_one_warning_and_the_reference(fresh, tmp_path):
    """Another live process holds the lstm family's build lock: the wait ends after
    LSTMKIT_BUILD_TIMEOUT with one warning naming the holder, available() is False and a
    backend="fused" layer runs the reference."""
    final = build.cache_dir("lstm")
    final.parent.mkdir(parents=True)
    env = _env(fresh)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(final), "lstm", "300"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert build.cache_state("lstm").startswith(f"building by pid {holder.pid} ")
        result = subprocess.run([sys.executable, "-c", WAIT_THEN_RUN], env={**env, "LSTMKIT_BUILD_TIMEOUT": "1.5"},
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["available"] is False
        assert report["backend"] == "reference" and report["shape"] == [5, 3, 8]
        assert report["waited"] >= 1.5
        assert f"pid {holder.pid} " in report["reason"] and "LSTMKIT_BUILD_TIMEOUT" in report["reason"]
        # one warning about the wait (for every caller: backend="auto" falls back to torch silently),
        # and the fused backend's own note that it runs the reference, once
        gave_up = [w for w in report["warnings"] if w.startswith("lstmkit: gave up after 1.5 s")]
        fallback = [w for w in report["warnings"] if "running the reference path" in w]
        assert len(gave_up) == 1 and len(fallback) == 1 and len(report["warnings"]) == 2, report["warnings"]
        assert result.stderr.count("lstmkit: waiting") == 1
        assert not final.exists() and _temporary_dirs(fresh) == []
    finally:
        holder.kill()
        holder.communicate(timeout=30)


# ------------------------------------------------------------------------- stale locks


def test_lock_file_of_a_dead_process_is_ignored(fresh, tmp_path, monkeypatch, capfd):
    """A lock file left with the record of a dead builder (no one holds the lock): the build
    goes ahead at once, and info called it stale beforehand."""
    monkeypatch.setenv("LSTMKIT_BUILD_TIMEOUT", "20")
    build.EXTENSIONS["tiny"] = ((str(_tiny(tmp_path, "dead")),), ())
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, timeout=60)
    dead_pid = int(gone.stdout)
    final = build.cache_dir("tiny")
    final.parent.mkdir(parents=True)
    import socket

    record = {"pid": dead_pid, "host": socket.gethostname(), "started": time.time(), "extension": "tiny"}
    (final.parent / (final.name + ".lock")).write_text(json.dumps(record))
    (final.parent / (final.name + ".tmp-" + socket.gethostname() + f"-{dead_pid}-abcd1234")).mkdir()
    state = build.cache_state("tiny")
    assert state.startswith("not built; stale lock") and f"pid {dead_pid} " in state
    assert build.load("tiny").answer() == 42
    assert "waiting" not in capfd.readouterr().err
    assert _temporary_dirs(fresh) == []
    assert build.cache_state("tiny").startswith("built ")


FORK_AND_DIE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from lstmkit.nn.fused import build
    final = Path(sys.argv[1])
    fd = build._acquire(build._lock_path(final), "tiny", final)
    child = os.fork()
    if child == 0:  # inherits the locked file, as a worker forked mid-build would
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):  # (not the test's pipes, which it reads to the end)
            os.dup2(null, std)
        time.sleep(300)
        os._exit(0)
    print(child, flush=True)
    os._exit(0)  # the recorded builder is gone; its child still holds the lock
""")


def test_held_lock_of_a_gone_builder_is_broken(fresh, tmp_path, monkeypatch, capfd):
    """The recorded builder died but a process it forked still holds the lock: stale, broken."""
    monkeypatch.setenv("LSTMKIT_BUILD_TIMEOUT", "20")
    build.EXTENSIONS["tiny"] = ((str(_tiny(tmp_path, "forked")),), ())
    final = build.cache_dir("tiny")
    final.parent.mkdir(parents=True)
    holder = subprocess.run([sys.executable, "-c", FORK_AND_DIE, str(final)], env=_env(fresh),
                            capture_output=True, text=True, timeout=60)
    assert holder.returncode == 0, holder.stderr[-2000:]
    child = int(holder.stdout)
    try:
        assert build.cache_state("tiny").startswith("stale lock (its builder, pid ")
        assert build.load("tiny").answer() == 42
        err = capfd.readouterr().err
        assert "broke the stale build lock" in err and "waiting" not in err
    finally:
        os.kill(child, signal.SIGKILL)


def test_lock_held_longer_than_a_build_can_take_is_broken(fresh, tmp_path, monkeypatch, capfd):
    """A live holder past LSTMKIT_BUILD_STALE (a hung build) loses its lock to the next build."""
    monkeypatch.setenv("LSTMKIT_BUILD_TIMEOUT", "20")
    build.EXTENSIONS["tiny"] = ((str(_tiny(tmp_path, "hung")),), ())
    final = build.cache_dir("tiny")
    final.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(final), "tiny", "300"], env=_env(fresh),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        time.sleep(0.3)
        monkeypatch.setenv("LSTMKIT_BUILD_STALE", "0.2")
        assert build.load("tiny").answer() == 42
        assert "longer than a build can take" in capfd.readouterr().err
    finally:
        holder.kill()
        holder.communicate(timeout=30)


# ------------------------------------------------------------------------- the key


def test_each_environment_gets_its_own_folder(fresh, tmp_path, monkeypatch):
    """The folder's key changes with the interpreter, the compiler, the flags, torch and the
    sources (headers included), and with nothing else."""
    header = tmp_path / "tiny_common.h"
    header.write_text("#define TINY 1\n")
    source = tmp_path / "tiny.cpp"
    source.write_text('#include "tiny_common.h"\n' + TINY)
    build.EXTENSIONS["tiny"] = ((str(source),), ())
    base = build.cache_dir("tiny")
    assert build.cache_dir("tiny") == base and base.parent == fresh
    assert base.name.startswith("tiny-")

    def key(**changes):
        build._memo.clear()
        with monkeypatch.context() as m:
            for name, value in changes.items():
                if name == "CXX":
                    m.setenv("CXX", value)
                elif name == "flags":  # a build-flag knob of the environment
                    m.setenv(*value)
                elif name == "torch":
                    m.setattr(torch, "__version__", value)
                else:
                    m.setattr(sys, name, value)
            return build.cache_dir("tiny")

    seen = {
        "prefix": key(prefix=str(tmp_path / "venv2")),
        "executable": key(executable=str(tmp_path / "venv2" / "bin" / "python")),
        "compiler": key(CXX=str(tmp_path / "other-g++")),
        "flags": key(flags=("LSTMKIT_FUSED_VW8", "1")),
        "isa": key(flags=("LSTMKIT_FUSED_ISA", "avx2" if build.isa() != "avx2" else "avx512")),
        "torch": key(torch="0.0.1"),
    }
    assert key() == base
    header.write_text("#define TINY 2\n")
    seen["header"] = key()
    assert len({base, *seen.values()}) == len(seen) + 1, seen
    assert json.dumps(build.key_inputs("tiny"))  # the key's inputs are plain data (build.json)


def test_info_shows_the_cache_and_each_family(fresh, tmp_path, monkeypatch, capsys):
    from lstmkit.cli.main import main

    build.EXTENSIONS["tiny"] = ((str(_tiny(tmp_path, "info")),), ())
    build.load("tiny")
    monkeypatch.setenv("LSTMKIT_DISABLE_FUSED", "1")  # (no real family is compiled here)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"cache    {fresh} (LSTMKIT_CACHE)" in out
    assert "tiny: built " in out and "step: not built" in out
    assert "lstm: failed: disabled by the environment variable LSTMKIT_DISABLE_FUSED" in out


def test_isa_knob_sets_the_target_flags_and_the_key(fresh, tmp_path, monkeypatch):
    """$LSTMKIT_FUSED_ISA picks the -march of the build (avx2: x86-64-v3, no AVX-512, for an
    AVX2-only run on any x86-64 machine), enters the key, and a bad name is a clear error."""
    build.EXTENSIONS["tiny"] = ((str(_tiny(tmp_path, "isa")),), ())
    folders, flags = {}, {}
    for name in ("", "native", "avx2", "AVX2", "avx512"):
        monkeypatch.setenv("LSTMKIT_FUSED_ISA", name)
        build._memo.clear()
        flags[name] = build.cflags()
        folders[name] = build.cache_dir("tiny")
        assert build.key_inputs("tiny")["cflags"] == flags[name]
    assert "-march=native" in flags[""] and flags[""] == flags["native"] and folders[""] == folders["native"]
    assert "-march=x86-64-v3" in flags["avx2"] and not any("native" in f and "march" in f for f in flags["avx2"])
    assert flags["avx2"] == flags["AVX2"] and folders["avx2"] == folders["AVX2"]
    assert "-march=x86-64-v4" in flags["avx512"]
    assert len({folders["native"], folders["avx2"], folders["avx512"]}) == 3
    assert all(f[0] == "-O3" and "-fopenmp" in f for f in flags.values())
    monkeypatch.setenv("LSTMKIT_FUSED_VW8", "1")
    assert build.cflags()[-1] == "-DLSTMKIT_VW8"
    monkeypatch.setenv("LSTMKIT_FUSED_ISA", "sse2")
    with pytest.raises(RuntimeError, match="LSTMKIT_FUSED_ISA must be one of native, avx2, avx512, got 'sse2'"):
        build.cflags()
    with pytest.raises(RuntimeError, match="LSTMKIT_FUSED_ISA"):
        build.load("tiny")  # unavailable, with the reason; never a build with a guessed target
    assert "LSTMKIT_FUSED_ISA" in build.unavailable_reason("tiny")


# ------------------------------------------------------------------------- building ahead


@pytest.mark.slow
def test_build_all_builds_each_family_in_its_own_process(fresh, tmp_path):
    """build_all compiles every family given, side by side, into the cache a later load uses
    without compiling; a family that fails to compile is reported with the compiler's reason
    and does not stop the others."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    build.EXTENSIONS["tiny_a"] = ((str(_tiny(tmp_path / "a", "ahead-a")),), ())
    build.EXTENSIONS["tiny_b"] = ((str(_tiny(tmp_path / "b", "ahead-b")),), ())
    broken = tmp_path / "broken.cpp"
    broken.write_text("this is not C++\n")
    build.EXTENSIONS["tiny_broken"] = ((str(broken),), ())

    outcome = build.build_all(["tiny_a", "tiny_b", "tiny_broken"])
    assert outcome["tiny_a"] is None and outcome["tiny_b"] is None
    assert outcome["tiny_broken"]  # the reason, not None
    assert build.cache_state("tiny_a").startswith("built ") and build.cache_state("tiny_b").startswith("built ")
    assert build.cache_state("tiny_broken").startswith("failed: ")
    assert build.load("tiny_a").answer() == 42  # imported from the cache: nothing left to compile
    assert build.cache_dir("tiny_a") != build.cache_dir("tiny_b")
    assert not _temporary_dirs(fresh)


def test_build_all_refuses_an_unknown_family_and_respects_disable(fresh, monkeypatch):
    with pytest.raises(ValueError, match="unknown kernel family nope; choose from lstm, step, gru_rnn"):
        build.build_all(["nope"])
    monkeypatch.setenv("LSTMKIT_DISABLE_FUSED", "1")
    assert build.build_all(["lstm"]) == {"lstm": "disabled by the environment variable LSTMKIT_DISABLE_FUSED"}
