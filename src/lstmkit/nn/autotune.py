"""A measured choice for ``backend="auto"`` between lstmkit's fused kernels and torch's.

Where both can run a call (a plain LSTM, GRU or RNN that torch.nn has, float32 on the CPU,
no trace), which one is faster depends on the CPU (its instruction set: AVX2 or AVX-512,
its caches), torch's build, the thread count and the shape. So the first time ``auto`` meets a
*shape class* it times both, and keeps the faster:

* the class (:class:`ShapeClass`): the cell, training (gradients on: forward + backward) or
  inference, per-sequence lengths or not, the sequence length, batch, hidden, input and
  projection sizes rounded to the nearest power of two (the length capped at
  :data:`STEPS_CAP`: past it the time per step no longer changes the comparison), the layer
  count (capped at :data:`LAYERS_CAP`), the directions, the bias and torch's thread count;
* the measurement: synthetic tensors of the class's representative shape (the rounded sizes;
  a shorter sequence where one call would be long), both backends run through the same
  ``forward`` (:func:`lstmkit.nn.backend.forcing`), interleaved, after warm-up calls, the
  best of a few repetitions (3 to 9, within a budget of about :data:`BUDGET_MS` ms per class;
  the best, not the median: on a busy machine it is the least disturbed), on the process's
  CPU time at one torch thread and the elapsed time at more. The global random state is left
  as it was;
* the rule: the fused kernel runs the class only where its best time is more than 2 %
  below torch's (:data:`MARGIN` = -0.02), else torch does. ``auto`` is never meant to be
  slower than torch.nn where torch has the configuration, and within 2 % the short
  representative decides by noise: on AVX2, training at (100, 64, 512) measured 112.7 ms
  fused against 113.6 ms torch at 16 steps, and then ran at 0.96x torch.nn at 100 steps. Such
  near-ties give up the fused kernel's lower memory for that;
* the cache: in memory, and on disk as JSON under the kernel cache root
  (:func:`lstmkit.nn.fused.build.cache_root`), one file per CPU model, instruction-set flags,
  torch version and compiled kernels (their build keys), written atomically and merged with
  what other processes wrote, so later processes reuse the decisions. A corrupt file is
  ignored (and rewritten at the next decision). A decision measured while the machine is busy
  (:func:`machine_busy`: a one-minute load average above :data:`BUSY_LOAD` times the CPU
  count), or, at more than one thread (measured on elapsed time), while other processes used
  more than :data:`OTHERS_BUSY` cores during the measurement itself (:class:`OtherLoad`: the
  load average trails a burst by a minute), stays in memory for this process only: other
  jobs slow the two backends unequally (oneDNN's thread barriers suffer more than MKL's packed
  GEMM, two-thread calls more than one-thread ones), so a busy measurement can pick the slower
  backend, and a cached one would keep it for every later process. (Seen: a training class at two threads measured while a second process
  ran beside it cached torch at fused 7.84 ms against torch 1.78 ms; measured quietly the
  fused call takes 1.16 ms.)

The decision enters the backend registry as a reason of the fused backend not to run
(:meth:`lstmkit.nn.backend.FusedBackend.slower`): ``select`` stays the one chooser and a
module's ``last_backend`` says what ran. ``backend="fused"`` and ``backend="reference"`` are
never overridden; the LSTM variants (no torch twin) always run fused.

``LSTMKIT_AUTOTUNE=0`` turns measuring off: ``auto`` then runs the fused kernel wherever it
can, without measuring or reading the cache (the test suite runs so, to stay deterministic).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

ENV = "LSTMKIT_AUTOTUNE"
MARGIN = -0.02  # torch is picked unless it is more than this much slower (relative): see the rule above
BUDGET_MS = 150.0  # measuring time aimed at per class (warm-up included)
STEPS_CAP = 64  # sequence lengths at or above this share a class, measured at most this long
LAYERS_CAP = 4
MIN_STEPS = 16  # the shortest representative sequence a long call is cut to
MIN_REPS, MAX_REPS, WARMUP = 3, 9, 2
BUSY_LOAD = 1.5  # load average per CPU above which a measurement is not written to the cache
OTHERS_BUSY = 0.5  # cores other processes used during a measurement above which it is not cached
_FORMAT = 2  # 2: decisions under MARGIN = -0.02 (files of format 1 are measured anew)


def machine_busy() -> bool:
    """Whether other work is loading the CPUs: the one-minute load average above
    :data:`BUSY_LOAD` times the CPU count (False where the load average is unknown)."""
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        return False
    return load > BUSY_LOAD * (os.cpu_count() or 1)


def _system_busy_seconds() -> float | None:
    """CPU seconds all CPUs have spent busy since boot (/proc/stat: user, nice, system, irq,
    softirq and steal; idle and iowait left out), or None where /proc/stat cannot be read."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
        ticks = [int(v) for v in fields[1:9]]
        if fields[0] != "cpu" or len(ticks) < 8:
            return None
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class OtherLoad:
    """A context manager: ``cores`` is the CPU time other processes (and other virtual
    machines' steal) used while its block ran, per second of the block: all CPUs' busy time
    less this process's own CPU time. 0.0 where it cannot be read (not Linux)."""

    cores: float = 0.0

    def __enter__(self) -> "OtherLoad":
        self._start = (_system_busy_seconds(), time.process_time(), time.perf_counter())
        return self

    def __exit__(self, *exc) -> None:
        busy0, own0, wall0 = self._start
        busy1 = _system_busy_seconds()
        if busy0 is not None and busy1 is not None:
            wall = max(time.perf_counter() - wall0, 1e-9)
            self.cores = max(0.0, (busy1 - busy0) - (time.process_time() - own0)) / wall


Timer = Callable[[Callable[[], object], str], float]  # (run, backend name) -> ms of one run


def enabled() -> bool:
    """False when ``$LSTMKIT_AUTOTUNE`` is ``0``/``off``/``false``/``no``: no measuring."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def bucket(n: int) -> int:
    """``n`` rounded to the nearest power of two (in log scale): 100 -> 128, 90 -> 64."""
    return 1 << max(0, round(math.log2(max(1, n))))


@dataclass(frozen=True)
class ShapeClass:
    """Calls that share one measured decision (see the module's docstring)."""

    cell: str
    grad: bool
    ragged: bool
    steps: int
    batch: int
    hidden: int
    input: int
    proj: int
    layers: int
    bidirectional: bool
    bias: bool
    threads: int

    @property
    def key(self) -> str:
        """A readable, stable name: ``lstm train T64 N32 H128 I128 P0 L1 uni thr2``."""
        return (f"{self.cell} {'train' if self.grad else 'infer'}{' ragged' if self.ragged else ''} "
                f"T{self.steps} N{self.batch} H{self.hidden} I{self.input} P{self.proj} L{self.layers} "
                f"{'bi' if self.bidirectional else 'uni'}{'' if self.bias else ' nobias'} thr{self.threads}")

    def config(self):
        """The representative configuration (a plain stack of the rounded sizes)."""
        from .config import RecurrentConfig

        return RecurrentConfig(cell=self.cell, input_size=self.input, hidden_size=self.hidden,
                               num_layers=self.layers, bias=self.bias, bidirectional=self.bidirectional,
                               proj_size=self.proj)

    def gemm_flops_per_step(self) -> float:
        """Matrix FLOPs of one timestep of the class (x3 for training), for sizing the measurement."""
        c = self.config()
        total, width = 0.0, self.input
        for _ in range(self.layers):
            total += 2.0 * self.batch * c.gate_count * self.hidden * (width + c.output_size) * c.num_directions
            width = c.output_size * c.num_directions
        return total * (3 if self.grad else 1)


def shape_class(call, threads: int | None = None) -> ShapeClass:
    """The class of a sequence ``call`` (:class:`lstmkit.nn.backend.Call`)."""
    c = call.config
    hidden = bucket(c.hidden_size)
    proj = 0
    if c.proj_size:
        proj = bucket(c.proj_size)
        if proj >= hidden:
            proj = hidden // 2
    return ShapeClass(
        cell=c.cell, grad=bool(call.grad), ragged=bool(call.ragged), steps=bucket(min(call.steps or 1, STEPS_CAP)),
        batch=bucket(call.batch or 1), hidden=hidden, input=bucket(c.input_size), proj=proj,
        layers=min(c.num_layers, LAYERS_CAP), bidirectional=c.bidirectional, bias=c.bias,
        threads=threads if threads is not None else torch.get_num_threads(),
    )


@dataclass(frozen=True)
class Decision:
    """What ``auto`` runs for one class, and the best times it was chosen by (ms)."""

    key: str
    backend: str  # "fused" or "torch"
    fused_ms: float
    torch_ms: float
    steps: int = 0  # the sequence length measured
    reps: int = 0

    @classmethod
    def from_dict(cls, key: str, data: dict) -> "Decision":
        if data.get("backend") not in ("fused", "torch"):
            raise ValueError(f"bad backend {data.get('backend')!r}")
        return cls(key, data["backend"], float(data["fused_ms"]), float(data["torch_ms"]),
                   int(data.get("steps", 0)), int(data.get("reps", 0)))


def choose(fused_ms: float, torch_ms: float, margin: float = MARGIN) -> str:
    """``"torch"`` when ``torch_ms * (1 + margin)`` is below ``fused_ms``: with a negative
    ``margin`` torch also wins near-ties (the default: fused must lead by more than 2 %)."""
    return "torch" if torch_ms * (1.0 + margin) < fused_ms else "fused"


def _clock() -> Callable[[], float]:
    """The clock a measurement runs on: at one torch thread the process's CPU time (the time
    the call itself ran: other jobs on the machine then barely move it), else the elapsed
    time (which is what threads save)."""
    return time.process_time if torch.get_num_threads() == 1 else time.perf_counter


def _perf_timer(run: Callable[[], object], backend: str) -> float:
    del backend
    clock = _clock()
    t0 = clock()
    run()
    return (clock() - t0) * 1e3


def _runs(klass: ShapeClass, steps: int) -> dict[str, Callable[[], None]]:
    """One call of the class's representative stack on each backend, through ``forward``."""
    from . import backend as backends
    from .stack import RecurrentStack

    config = klass.config()
    torch.manual_seed(0)
    module = RecurrentStack(config)
    x = torch.randn(steps, klass.batch, klass.input)
    lengths = None
    if klass.ragged:
        lengths = torch.randint(1, steps + 1, (klass.batch,))
        lengths[0] = steps
    go = torch.randn(steps, klass.batch, config.output_size * config.num_directions)

    def call() -> None:
        if klass.grad:
            with torch.enable_grad():
                out, _ = module(x, lengths=lengths)
                out.backward(go)
            module.zero_grad(set_to_none=True)
        else:
            with torch.no_grad():
                module(x, lengths=lengths)

    def on(backend):
        def run() -> None:
            with backends.forcing(backend):
                call()
        return run

    return {"fused": on(backends.FUSED), "torch": on(backends.TORCH)}


class Tuner:
    """Decisions per shape class: measured once, kept in memory and (``path``) on disk.

    ``timer(run, backend_name) -> ms`` times one run (tests pass fake timings; it need not
    call ``run``); ``budget_ms`` and ``margin`` as :data:`BUDGET_MS` and :data:`MARGIN`;
    ``busy() -> bool`` says whether the machine is too loaded for a decision to be cached on
    disk (default :func:`machine_busy`), and ``other_load()`` gives the context manager that
    measures the other processes' load during a measurement (default :class:`OtherLoad`)."""

    def __init__(self, path: Path | str | None = None, *, timer: Timer | None = None,
                 budget_ms: float = BUDGET_MS, margin: float = MARGIN, header: dict | None = None,
                 busy: Callable[[], bool] | None = None, other_load: Callable[[], OtherLoad] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.timer = timer or _perf_timer
        self.busy = busy or machine_busy
        self.other_load = other_load or OtherLoad
        self.budget_ms = budget_ms
        self.margin = margin
        self.header = header or {}
        self.measured = 0  # classes measured by this tuner (not read from disk)
        self._memory: dict[str, Decision] = {}
        self._loaded = False
        self._lock = threading.RLock()

    # ------------------------------------------------------------- decisions
    def decide(self, call) -> Decision:
        """The decision for ``call``'s class (measured now if no one measured it yet)."""
        klass = shape_class(call)
        with self._lock:
            self._load()
            decision = self._memory.get(klass.key)
            if decision is None:
                busy = self.busy()
                with self.other_load() as others:
                    decision = self.measure(klass)
                self._memory[klass.key] = decision
                # at one thread the measurement is on CPU time, which other processes barely move
                loaded = klass.threads > 1 and others.cores > OTHERS_BUSY
                if math.isfinite(decision.fused_ms) and not (busy or self.busy() or loaded):
                    self._save(decision)
        return decision

    def decisions(self) -> dict[str, Decision]:
        """Every decision known (from disk and this process), by class key."""
        with self._lock:
            self._load()
            return dict(self._memory)

    def measure(self, klass: ShapeClass) -> Decision:
        """Times both backends on ``klass``'s representative shape (see the module's docstring)."""
        steps = klass.steps
        per_step_ms = klass.gemm_flops_per_step() / (25e9 * max(1, klass.threads)) * 1e3  # a modest rate
        while steps > MIN_STEPS and 2 * steps * per_step_ms > self.budget_ms / 4:
            steps //= 2
        try:
            with torch.random.fork_rng(devices=[]):
                runs = _runs(klass, steps)
                names = list(runs)
                last: dict[str, float] = {}
                for _ in range(WARMUP):
                    for name in names:
                        last[name] = self.timer(runs[name], name)
                    if sum(last.values()) > self.budget_ms:
                        break  # a long call (even cold): one warm-up is enough
                pair = max(sum(last.values()), 1e-6)
                reps = int(min(MAX_REPS, max(MIN_REPS, (self.budget_ms - WARMUP * pair) // pair)))
                times: dict[str, list[float]] = {name: [] for name in names}
                for r in range(reps):
                    for name in (names if r % 2 == 0 else names[::-1]):
                        times[name].append(self.timer(runs[name], name))
        except Exception:  # noqa: BLE001 - a failed measurement keeps the fused kernel (not cached on disk)
            return Decision(klass.key, "fused", math.nan, math.nan, steps, 0)
        self.measured += 1
        fused_ms, torch_ms = min(times["fused"]), min(times["torch"])  # the least disturbed: robust on a busy machine
        return Decision(klass.key, choose(fused_ms, torch_ms, self.margin), fused_ms, torch_ms, steps, reps)

    # ------------------------------------------------------------- the file
    def _read(self) -> dict[str, Decision]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("decisions"), dict):
                return {}
        except (OSError, ValueError):
            return {}  # missing or corrupt: ignored
        found = {}
        for key, entry in data["decisions"].items():
            try:
                found[key] = Decision.from_dict(key, entry)
            except (TypeError, ValueError, KeyError, AttributeError):
                continue
        return found

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for key, decision in self._read().items():
                self._memory.setdefault(key, decision)

    def _save(self, decision: Decision) -> None:
        """Merges ``decision`` into the file (re-read first: other processes' decisions stay),
        written to a temporary file and renamed over it."""
        if self.path is None:
            return
        merged = self._read()
        merged[decision.key] = decision
        body = {"format": _FORMAT, **self.header, "written": time.time(),
                "decisions": {k: {f: v for f, v in asdict(d).items() if f != "key"} for k, d in sorted(merged.items())}}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(body, fh, indent=1)
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError:
            pass  # a read-only cache: decisions stay in memory


# ----------------------------------------------------------------- this machine
def machine() -> dict:
    """What the decisions depend on besides the class: CPU model (name, family and model
    number), vector ISA flags, torch,
    the compiled kernels' build keys (sources, flags such as ``LSTMKIT_FUSED_VW8``) and their
    run-time GEMM path (``LSTMKIT_FUSED_BLAS``, ``LSTMKIT_FUSED_BRGEMM``, ``..._MAXK``,
    ``..._TN_MAXM``, ``..._MAXPANEL``, after
    the per-vendor defaults of :data:`lstmkit.nn.fused.build.GEMM_DEFAULTS`), and the
    instruction sets torch's own kernels may use (its CPU capability; ``ONEDNN_MAX_CPU_ISA``,
    ``MKL_ENABLE_INSTRUCTIONS``: an AVX2-only run on an AVX-512 machine decides anew)."""
    from .fused import build

    build._gemm_defaults()
    gemm = {name: os.environ[name] for name in (*build.GEMM_KNOBS, "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
            if name in os.environ}
    try:
        gemm["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        pass

    model, flags = "", []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith(("flags", "Features")):
                    flags = line.split(":", 1)[1].split()
                    break
    except OSError:
        pass
    isa = sorted(f for f in flags if f.startswith(("avx", "fma", "amx", "f16c", "asimd", "sve")))
    import platform

    family, cpu_model = build.cpu_family_model()  # the name alone ("AMD EPYC") is one for Zen 1 to Zen 5
    return {"cpu": model or platform.processor() or platform.machine(), "family": family, "model": cpu_model,
            "isa": isa, "torch": torch.__version__,
            "kernels": [build.cache_dir(e).name for e in ("lstm", "gru_rnn")], "gemm": gemm}


def cache_path(facts: dict | None = None) -> Path:
    """The decisions file of this machine and installation under the kernel cache root."""
    from .fused import build

    facts = facts or machine()
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]
    return build.cache_root() / f"autotune-{digest}.json"


_default: Tuner | None = None
_default_lock = threading.Lock()


def default_tuner() -> Tuner:
    """The process's tuner, on this machine's file (made on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            facts = machine()
            _default = Tuner(cache_path(facts), header=facts)
        return _default


def reset() -> None:
    """Forgets the process's tuner (its in-memory decisions); the file stays."""
    global _default
    with _default_lock:
        _default = None


def decide(call) -> Decision | None:
    """The decision for a sequence ``call`` both backends can run; None when measuring is off."""
    if not enabled() or call.step or call.steps is None:
        return None
    return default_tuner().decide(call)
