"""Timing the fused kernels and the compiled step against torch.nn and the reference path.

Measuring functions only: they return numbers (medians and raw times); ``lstmkit bench``
(:mod:`lstmkit.cli.bench`) chooses the rows, prints the table and writes the JSON, and
``benchmarks/bench_fused_lstm.py`` / ``bench_step.py`` wrap that command.

Kernel rows (:func:`kernel_rows`): for each shape (T, B, H) with I = H, one layer, one
direction, and each row, timed in the same process, interleaved (torch, lstmkit, torch,
lstmkit, ... alternating the order each repetition), the median over the repetitions of

* ``train``: forward + backward (gradients w.r.t. the input, h0, c0 and all parameters);
* ``infer``: forward only under ``torch.inference_mode()``.

Rows: ``plain`` — the fused layer (``lstmkit.nn.fused.lstm_layer``) against
``torch.nn.LSTM``, and ``lstmkit.LSTM`` on ``backend="auto"`` (``auto``: the fused kernel or
torch's, whichever :mod:`lstmkit.nn.autotune` measured faster here); an LSTM variant (``peephole``, ``layer_norm``, ``cifg``, ... see
:data:`VARIANT_OPTIONS`) — ``lstmkit.LSTM`` with that option (``backend="auto"``: the fused
kernel) against the plain ``torch.nn.LSTM`` of the same shape (torch has no such variant:
the plain LSTM is the bar) and against the same model on ``backend="reference"``; a cell
(``gru``, ``rnn_tanh``, ``rnn_relu``, :data:`CELL_ROWS`) — ``lstmkit.GRU`` / ``lstmkit.RNN``
on ``backend="fused"`` against the same plain ``torch.nn.LSTM`` bar, their torch.nn twin (same
weights), the same model on ``backend="auto"`` and the reference. :func:`gemm_flops` counts the GEMM FLOPs of a row, :func:`mm_ceiling` the rate a
large ``torch.mm`` reaches here (the practical ceiling).

Step rows (:func:`step_rows`): per-call microseconds of one timestep at batch 1, see
:func:`bench_step`. :func:`memory` measures the peak resident-memory growth of plain
training steps in a fresh subprocess.

Bad arguments raise :class:`lstmkit.errors.InputError` naming the parameter; kernels that
cannot compile here raise ``RuntimeError``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence

import torch

from ...errors import InputError, param_ref
from .. import modules
from . import available, kernel_info, lstm_layer, unavailable_reason
from .step import step_info

VARIANT_OPTIONS = {
    "plain": {},
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "cifg": {"cifg": True},
    "peephole_cifg": {"peephole": True, "cifg": True},
    "recurrent_dropout": {"recurrent_dropout": 0.25},
    "zoneout": {"zoneout": 0.1},
}
# Rows of another cell (not an LSTM variant): row name -> (lstmkit / torch.nn class, keyword options, gate count)
CELL_ROWS = {
    "gru": ("GRU", {}, 3),
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}, 1),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}, 1),
}
ROWS = (*VARIANT_OPTIONS, *CELL_ROWS)


# ------------------------------------------------------------------ one timed call of each
def make_lstm(T, B, H, seed=0):
    """A ``torch.nn.LSTM(H, H)``, an input (T, B, H) and initial states (1, B, H), seeded."""
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(H, H)
    x = torch.randn(T, B, H)
    h0 = torch.randn(1, B, H)
    c0 = torch.randn(1, B, H)
    return lstm, x, h0, c0


def torch_lstm_call(lstm, x, h0, c0, go, train):
    """One ``torch.nn.LSTM`` (or ``lstmkit.LSTM``) call: forward + backward when ``train``
    (output gradient ``go``), else inference."""
    if train:
        xr, hr, cr = (t.detach().requires_grad_() for t in (x, h0, c0))
        out, (h, c) = lstm(xr, (hr, cr))
        torch.autograd.backward([out, h, c], [go, torch.ones_like(h), torch.ones_like(c)])
        lstm.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            lstm(x, (h0, c0))


def fused_lstm_call(lstm, x, h0, c0, go, train):
    """The same call on ``lstm_layer`` with ``lstm``'s weights."""
    w = (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    if train:
        xr, hr, cr = (t.detach().requires_grad_() for t in (x, h0[0], c0[0]))
        out, h, c = lstm_layer(xr, hr, cr, *w)
        torch.autograd.backward([out, h, c], [go, torch.ones_like(h), torch.ones_like(c)])
        lstm.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            lstm_layer(x, h0[0], c0[0], *w)


def h_state_call(model, x, h0, go, train):
    """One GRU / RNN call (lstmkit or torch.nn, any backend): state h only."""
    if train:
        xr, hr = (t.detach().requires_grad_() for t in (x, h0))
        out, h = model(xr, hr)
        torch.autograd.backward([out, h], [go, torch.ones_like(h)])
        model.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            model(x, h0)


#: The clocks a row can be timed with: ``wall`` (elapsed time, the default) or ``cpu`` (the
#: CPU time of the whole process, every thread: at one thread the time the call itself ran,
#: steadier than the elapsed time on a machine that other jobs load, where the elapsed time
#: also counts the time the OS gave the core to them).
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = [time.perf_counter]


def set_clock(name: str) -> None:
    """Times the rows with the clock ``name`` (see :data:`CLOCKS`)."""
    if name not in CLOCKS:
        raise InputError(f"{param_ref('clock')}: expected one of {', '.join(CLOCKS)}, got {name!r}",
                         param="clock", expected=list(CLOCKS), got=name)
    _clock[0] = CLOCKS[name]


def _time(fn: Callable[[], object]) -> float:
    clock = _clock[0]
    t0 = clock()
    fn()
    return (clock() - t0) * 1e3


def interleaved(runs: dict[str, Callable[[], object]], reps: int, warmup: int = 2) -> tuple[dict, dict]:
    """Median ms of each callable, timed interleaved (order alternating every repetition),
    and the raw times."""
    for f in runs.values():
        for _ in range(warmup):
            f()
    names = list(runs)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(reps):
        for k in (names if r % 2 == 0 else names[::-1]):
            times[k].append(_time(runs[k]))
    return {k: statistics.median(v) for k, v in times.items()}, times


# ------------------------------------------------------------------ kernel rows
def bench_shape(T, B, H, reps, train):
    """Plain fused layer vs torch.nn.LSTM, and ``lstmkit.LSTM`` on ``backend="auto"`` (same
    weights; its first warm-up call makes the measured choice where it is not cached yet):
    ({'torch': ms, 'fused': ms, 'auto': ms, 'auto_backend': what auto ran}, raw times)."""
    lstm, x, h0, c0 = make_lstm(T, B, H)
    go = torch.randn(T, B, H)
    auto = modules.LSTM(H, H)
    auto.load_state_dict(lstm.state_dict())
    med, raw = interleaved({"torch": lambda: torch_lstm_call(lstm, x, h0, c0, go, train),
                            "fused": lambda: fused_lstm_call(lstm, x, h0, c0, go, train),
                            "auto": lambda: torch_lstm_call(auto, x, h0, c0, go, train)}, reps)
    med["auto_backend"] = auto.last_backend
    return med, raw


def _against_reference(med, raw, ours, ref, call, ref_reps):
    """Adds ``ref`` (the reference backend) to ``med``/``raw``, timed against ``ours`` again."""
    call(ours)
    med["backend"] = ours.last_backend
    if ref_reps > 0:
        rmed, rraw = interleaved({"reference": lambda: call(ref), "fused": lambda: call(ours)}, ref_reps, warmup=2)
        med["reference"] = rmed["reference"]
        med["fused_vs_ref"] = rmed["fused"]
        raw["reference"] = rraw["reference"]
    return med, raw


def bench_variant(T, B, H, variant, reps, train, ref_reps):
    """lstmkit.LSTM(variant) (auto -> fused) vs plain torch.nn.LSTM, and vs the reference."""
    lstm, x, h0, c0 = make_lstm(T, B, H)
    go = torch.randn(T, B, H)
    opts = VARIANT_OPTIONS[variant]
    torch.manual_seed(1)
    ours = modules.LSTM(H, H, **opts)
    ref = modules.LSTM(H, H, **opts, backend="reference")
    ref.load_state_dict(ours.state_dict())
    med, raw = interleaved({"torch": lambda: torch_lstm_call(lstm, x, h0, c0, go, train),
                            "fused": lambda: torch_lstm_call(ours, x, h0, c0, go, train)}, reps)
    return _against_reference(med, raw, ours, ref, lambda m: torch_lstm_call(m, x, h0, c0, go, train), ref_reps)


def bench_cell(T, B, H, row, reps, train, ref_reps):
    """lstmkit.GRU / RNN (``backend="fused"``) vs plain torch.nn.LSTM, its torch.nn twin, the
    same model on ``backend="auto"`` and the reference."""
    lstm, x, h0, c0 = make_lstm(T, B, H)
    go = torch.randn(T, B, H)
    cls, opts, _ = CELL_ROWS[row]
    torch.manual_seed(1)
    ours = getattr(modules, cls)(H, H, **opts, backend="fused")
    twin = getattr(torch.nn, cls)(H, H, **opts)
    twin.load_state_dict(ours.state_dict())
    auto = getattr(modules, cls)(H, H, **opts)  # backend="auto": fused or torch's, as measured here
    auto.load_state_dict(ours.state_dict())
    ref = getattr(modules, cls)(H, H, **opts, backend="reference")
    ref.load_state_dict(ours.state_dict())
    med, raw = interleaved({"torch": lambda: torch_lstm_call(lstm, x, h0, c0, go, train),
                            "fused": lambda: h_state_call(ours, x, h0, go, train),
                            "twin": lambda: h_state_call(twin, x, h0, go, train),
                            "auto": lambda: h_state_call(auto, x, h0, go, train)}, reps)
    med["auto_backend"] = auto.last_backend
    return _against_reference(med, raw, ours, ref, lambda m: h_state_call(m, x, h0, go, train), ref_reps)


def gemm_flops(variant: str, T: int, B: int, H: int, train: bool) -> float:
    """The GEMM FLOPs of one call of a row (I = H): forward 2*T*B*G*H*(I+H), training 3x that."""
    G = CELL_ROWS[variant][2] if variant in CELL_ROWS else (3 if VARIANT_OPTIONS[variant].get("cifg") else 4)
    return 2.0 * T * B * G * H * (H + H) * (3 if train else 1)


def mm_ceiling(n=1536, reps=7) -> float:
    """GFLOP/s of the best of ``reps`` ``torch.mm`` of two (n, n) matrices at torch's threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_time(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * n**3 / (best * 1e-3) / 1e9


def _check_counts(reps: int, reference_reps: int) -> None:
    if reps < 1:
        raise InputError(f"{param_ref('reps')} must be >= 1, got {reps}", param="reps", expected=">= 1", got=reps)
    if reference_reps < 0:
        raise InputError(f"{param_ref('reference_reps')} must be >= 0 (0 skips the reference), got {reference_reps}",
                         param="reference_reps", expected=">= 0", got=reference_reps)


def setup(threads: int | None = None, *, step: bool = False) -> dict:
    """Sets torch's thread count (None: leave it), checks the kernels (the compiled step with
    ``step``) compile here (RuntimeError otherwise), and returns what the table's header
    states: ``{"torch": version, "threads": n, "kernel": the kernel's info line}``."""
    if threads:
        torch.set_num_threads(threads)
    extension = "step" if step else "lstm"
    if not available(extension):
        what = "compiled step" if step else "fused kernels"
        raise RuntimeError(f"{what} unavailable: {unavailable_reason(extension)}")
    return {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "kernel": step_info() if step else kernel_info()}


def kernel_rows(shapes: Sequence[tuple[int, int, int]], variants: Sequence[str], modes: Sequence[str], reps: int,
                reference_reps: int) -> Iterator[dict]:
    """Checks the arguments, then yields one record per (mode, shape, row), as measured:
    ``{"mode", "T", "B", "H", "variant", "threads", "median_ms", "raw_ms"}``; ``median_ms``
    holds ``torch`` and ``fused`` (and ``reference``, ``fused_vs_ref``, ``twin``, ``backend``,
    ``auto`` and ``auto_backend`` where the row has them)."""
    _check_counts(reps, reference_reps)
    unknown = [v for v in variants if v not in ROWS]
    if unknown or not variants:
        raise InputError(f"{param_ref('variants')}: expected some of {', '.join(ROWS)}, got {','.join(variants)!r}",
                         param="variants", expected=ROWS, got=list(variants))
    for shape in shapes:
        if len(shape) != 3 or min(shape) < 1:
            raise InputError(f"{param_ref('shapes')}: a shape is (T, B, H) with whole numbers >= 1, got {shape!r}",
                             param="shapes", expected="(T, B, H)", got=shape)
    return _kernel_rows(shapes, variants, modes, reps, reference_reps)


def _kernel_rows(shapes, variants, modes, reps, reference_reps):
    for mode in modes:
        train = mode == "train"
        for (T, B, H) in shapes:
            for variant in variants:
                if variant == "plain":
                    med, raw = bench_shape(T, B, H, reps, train)
                elif variant in CELL_ROWS:
                    med, raw = bench_cell(T, B, H, variant, reps, train, reference_reps)
                else:
                    med, raw = bench_variant(T, B, H, variant, reps, train, reference_reps)
                yield {"mode": mode, "T": T, "B": B, "H": H, "variant": variant,
                       "threads": torch.get_num_threads(), "median_ms": med, "raw_ms": raw}


# ------------------------------------------------------------------ memory
def memory_child(impl, T, B, H):
    """Runs in a subprocess: peak RSS growth (MiB) over two training steps, from before the
    first (after a tiny warm-up step that loads oneDNN / the kernel), so that memory kept
    between steps (lstmkit's buffer pool, allocator caches) counts."""
    call = torch_lstm_call if impl == "torch" else fused_lstm_call
    tiny = make_lstm(2, 1, 8)
    call(*tiny, torch.randn(2, 1, 8), True)  # loads oneDNN / the compiled kernel
    lstm, x, h0, c0 = make_lstm(T, B, H)
    go = torch.randn(T, B, H)

    def status(key):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024.0
        return float("nan")

    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = status("VmRSS")
    call(lstm, x, h0, c0, go, True)
    call(lstm, x, h0, c0, go, True)
    return status("VmHWM") - base


def memory(impl, T, B, H, threads):
    """:func:`memory_child` of ``impl`` (``"torch"`` or ``"fused"``) in a fresh process (Linux)."""
    code = (f"import torch; torch.set_num_threads({threads}); from lstmkit.nn.fused import bench as b; "
            f"print(b.memory_child({impl!r}, {T}, {B}, {H}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ streaming step
def bench_step(H, reps, calls, ref_reps, variant="plain", layers=1):
    """Per-call microseconds of one timestep at batch 1 (I = H) under ``torch.no_grad()``,
    state carried from call to call, timed interleaved (order alternating every repetition):

    * ``cell``: ``torch.nn.LSTMCell`` (``h, c = cell(x, (h, c))``);
    * ``step``: ``lstmkit.LSTM.step(x, state)`` (the compiled step, as a caller gets it);
    * ``streamer``: ``lstmkit.LSTM.streamer().step(x)`` (state kept inside);
    * ``reference``: ``LSTM.step`` on ``backend="reference"`` (``ref_reps`` repetitions).

    ``calls`` per timed repetition (0: about 20 ms worth). Returns (medians, raw times,
    whether the compiled path ran)."""
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(H, H)
    model = modules.LSTM(H, H, layers, **VARIANT_OPTIONS[variant])
    ref = modules.LSTM(H, H, layers, **VARIANT_OPTIONS[variant], backend="reference")
    ref.load_state_dict(model.state_dict())
    streamer = model.streamer()
    x = torch.randn(1, H)
    box = {"cell": (torch.zeros(1, H), torch.zeros(1, H)), "step": None, "reference": None}

    def cell_call():
        box["cell"] = cell(x, box["cell"])

    def step_call():
        box["step"] = model.step(x, box["step"])[1]

    def ref_call():
        box["reference"] = ref.step(x, box["reference"])[1]

    def loop(fn, n):
        def run():
            for _ in range(n):
                fn()
        return run

    with torch.no_grad():
        if calls <= 0:  # about 20 ms per timed repetition, from a rough first timing
            t0 = time.perf_counter()
            for _ in range(50):
                cell_call()
            calls = max(50, int(0.02 / max((time.perf_counter() - t0) / 50, 1e-7)))
        runs = {"cell": loop(cell_call, calls), "step": loop(step_call, calls),
                "streamer": loop(lambda: streamer.step(x), calls)}
        med, raw = interleaved(runs, reps)
        if ref_reps > 0:
            rcalls = max(10, calls // 20)
            rmed, rraw = interleaved({"reference": loop(ref_call, rcalls)}, ref_reps, warmup=1)
            med["reference"] = rmed["reference"] * calls / rcalls
            raw["reference"] = [t * calls / rcalls for t in rraw["reference"]]
    core = model.step_core
    compiled = core is not None and core.calls > 0 and streamer.compiled
    per_call = {k: v * 1e3 / calls for k, v in med.items()}  # ms per loop -> us per call
    raw_us = {k: [t * 1e3 / calls for t in v] for k, v in raw.items()}
    return per_call, raw_us, compiled


def step_rows(step_sizes: Sequence[int], reps: int, step_calls: int, reference_reps: int) -> Iterator[dict]:
    """Checks the arguments, then yields one record per hidden size, as measured (see
    :func:`bench_step`): ``{"mode": "step", "H", "threads", "compiled", "median_us", "raw_us"}``."""
    _check_counts(reps, reference_reps)
    if not step_sizes or min(step_sizes) < 1:
        raise InputError(f"{param_ref('step_sizes')}: sizes >= 1, got {list(step_sizes)!r}",
                         param="step_sizes", expected=">= 1", got=list(step_sizes))
    return _step_rows(step_sizes, reps, step_calls, reference_reps)


def _step_rows(step_sizes, reps, step_calls, reference_reps):
    for H in step_sizes:
        med, raw, compiled = bench_step(H, reps, step_calls, reference_reps)
        yield {"mode": "step", "H": H, "threads": torch.get_num_threads(), "compiled": compiled,
               "median_us": med, "raw_us": raw}
