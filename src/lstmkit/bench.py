"""Benchmark: lstmkit's fused LSTM kernels against torch.nn.LSTM (oneDNN) and the reference path.

For each shape (T, B, H) with I = H, one layer, one direction, and each variant, it times in
the same process, interleaved (torch, lstmkit, torch, lstmkit, ... alternating the order each
repetition), the median over the repetitions:

* ``train``: forward + backward (gradients w.r.t. the input, h0, c0 and all parameters);
* ``infer``: forward only under ``torch.inference_mode()``.

Rows:

* ``plain``: the fused layer (``lstmkit.nn.fused.lstm_layer``) against ``torch.nn.LSTM``;
* ``peephole``, ``layer_norm``, ``cifg`` (and any other variant named): ``lstmkit.LSTM`` with
  that option (``backend="auto"``, which runs the fused kernel) against the plain
  ``torch.nn.LSTM`` of the same shape (torch has no such variant: the plain LSTM is the bar,
  target >= 0.8x) and, in the ``vs ref`` column, against the same model on
  ``backend="reference"`` (the readable Python scan; target >= 5x).
* ``gru``, ``rnn_tanh``, ``rnn_relu``: ``lstmkit.GRU`` / ``lstmkit.RNN`` (``backend="auto"``:
  the fused GRU/RNN kernels) against the same plain ``torch.nn.LSTM`` bar (target for the GRU
  >= 0.8x) and the reference (target >= 5x); the last column is the speed-up over its own
  torch twin (``torch.nn.GRU`` / ``torch.nn.RNN`` with the same weights).

Columns: torch ms, lstmkit ms, ratio (torch / lstmkit: > 1 means lstmkit is faster), ``%mm``:
the rate lstmkit's GEMM FLOPs reach (forward 2*T*B*G*H*(I+H), training 3x that) as a % of
what a large ``torch.mm`` reaches on this machine at the same thread count (the practical
ceiling; the header also prints the assumed FP32 peak, cores x GHz x flops/cycle), the
reference ms and the speed-up over it, and in brackets the most any kernel could gain over
the reference: reference ms / (FLOPs at the ``torch.mm`` rate).  Where that bound is below
5x, the reference is itself mostly matrix products and the 5x target cannot be reached.

``--memory`` also measures the peak resident-memory growth over two plain training steps in a
fresh subprocess per implementation, from before the first (Linux: resets VmHWM via
/proc/self/clear_refs), so memory kept from one step to the next (lstmkit's buffer pool,
allocator caches) counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Callable

DEFAULT_SHAPES = [(100, 32, 128), (100, 64, 256), (100, 64, 512), (500, 16, 128)]
DEFAULT_VARIANTS = ("plain", "peephole", "layer_norm", "cifg", "gru")
VARIANT_OPTIONS = {
    "plain": {},
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "cifg": {"cifg": True},
    "peephole_cifg": {"peephole": True, "cifg": True},
    "recurrent_dropout": {"recurrent_dropout": 0.25},
    "zoneout": {"zoneout": 0.1},
}
# Rows of another cell (not an LSTM variant): row name -> (lstmkit class, keyword options, gate count)
CELL_ROWS = {
    "gru": ("GRU", {}, 3),
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}, 1),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}, 1),
}


def _make(T, B, H, seed=0):
    import torch

    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(H, H)
    x = torch.randn(T, B, H)
    h0 = torch.randn(1, B, H)
    c0 = torch.randn(1, B, H)
    return lstm, x, h0, c0


def _torch_step(lstm, x, h0, c0, go, train):
    import torch

    if train:
        xr, hr, cr = (t.detach().requires_grad_() for t in (x, h0, c0))
        out, (h, c) = lstm(xr, (hr, cr))
        torch.autograd.backward([out, h, c], [go, torch.ones_like(h), torch.ones_like(c)])
        lstm.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            lstm(x, (h0, c0))


def _fused_step(lstm, x, h0, c0, go, train):
    import torch

    from lstmkit.nn.fused import lstm_layer

    w = (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
    if train:
        xr, hr, cr = (t.detach().requires_grad_() for t in (x, h0[0], c0[0]))
        out, h, c = lstm_layer(xr, hr, cr, *w)
        torch.autograd.backward([out, h, c], [go, torch.ones_like(h), torch.ones_like(c)])
        lstm.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            lstm_layer(x, h0[0], c0[0], *w)


def _module_step(model, x, h0, c0, go, train):
    """One lstmkit.LSTM step (any backend), same protocol as the others."""
    import torch

    if train:
        xr, hr, cr = (t.detach().requires_grad_() for t in (x, h0, c0))
        out, (h, c) = model(xr, (hr, cr))
        torch.autograd.backward([out, h, c], [go, torch.ones_like(h), torch.ones_like(c)])
        model.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            model(x, (h0, c0))


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def interleaved(runs: dict[str, Callable[[], object]], reps: int, warmup: int = 2) -> tuple[dict, dict]:
    """Median ms of each callable, timed interleaved (order alternating every repetition)."""
    for f in runs.values():
        for _ in range(warmup):
            f()
    names = list(runs)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(reps):
        for k in (names if r % 2 == 0 else names[::-1]):
            times[k].append(_time(runs[k]))
    return {k: statistics.median(v) for k, v in times.items()}, times


def bench_shape(T, B, H, reps, train):
    """Plain fused layer vs torch.nn.LSTM: ({'torch': ms, 'fused': ms}, raw times)."""
    import torch

    lstm, x, h0, c0 = _make(T, B, H)
    go = torch.randn(T, B, H)
    return interleaved({"torch": lambda: _torch_step(lstm, x, h0, c0, go, train),
                        "fused": lambda: _fused_step(lstm, x, h0, c0, go, train)}, reps)


def bench_variant(T, B, H, variant, reps, train, ref_reps):
    """lstmkit.LSTM(variant) (auto -> fused) vs plain torch.nn.LSTM, and vs the reference."""
    import torch

    import lstmkit

    lstm, x, h0, c0 = _make(T, B, H)
    go = torch.randn(T, B, H)
    opts = VARIANT_OPTIONS[variant]
    torch.manual_seed(1)
    ours = lstmkit.LSTM(H, H, **opts)
    ref = lstmkit.LSTM(H, H, **opts, backend="reference")
    ref.load_state_dict(ours.state_dict())
    med, raw = interleaved({"torch": lambda: _torch_step(lstm, x, h0, c0, go, train),
                            "fused": lambda: _module_step(ours, x, h0, c0, go, train)}, reps)
    _module_step(ours, x, h0, c0, go, train)
    med["backend"] = ours.last_backend
    if ref_reps > 0:
        rmed, rraw = interleaved({"reference": lambda: _module_step(ref, x, h0, c0, go, train),
                                  "fused": lambda: _module_step(ours, x, h0, c0, go, train)}, ref_reps, warmup=2)
        med["reference"] = rmed["reference"]
        med["fused_vs_ref"] = rmed["fused"]
        raw["reference"] = rraw["reference"]
    return med, raw


def _h_step(model, x, h0, go, train):
    """One GRU / RNN step (lstmkit or torch.nn, any backend): state h only."""
    import torch

    if train:
        xr, hr = (t.detach().requires_grad_() for t in (x, h0))
        out, h = model(xr, hr)
        torch.autograd.backward([out, h], [go, torch.ones_like(h)])
        model.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            model(x, h0)


def bench_cell(T, B, H, row, reps, train, ref_reps):
    """lstmkit.GRU / RNN (auto -> fused) vs plain torch.nn.LSTM, its torch.nn twin and the reference."""
    import torch

    import lstmkit

    lstm, x, h0, c0 = _make(T, B, H)
    go = torch.randn(T, B, H)
    cls, opts, _ = CELL_ROWS[row]
    torch.manual_seed(1)
    ours = getattr(lstmkit, cls)(H, H, **opts)
    twin = getattr(torch.nn, cls)(H, H, **opts)
    twin.load_state_dict(ours.state_dict())
    ref = getattr(lstmkit, cls)(H, H, **opts, backend="reference")
    ref.load_state_dict(ours.state_dict())
    med, raw = interleaved({"torch": lambda: _torch_step(lstm, x, h0, c0, go, train),
                            "fused": lambda: _h_step(ours, x, h0, go, train),
                            "twin": lambda: _h_step(twin, x, h0, go, train)}, reps)
    _h_step(ours, x, h0, go, train)
    med["backend"] = ours.last_backend
    if ref_reps > 0:
        rmed, rraw = interleaved({"reference": lambda: _h_step(ref, x, h0, go, train),
                                  "fused": lambda: _h_step(ours, x, h0, go, train)}, ref_reps, warmup=2)
        med["reference"] = rmed["reference"]
        med["fused_vs_ref"] = rmed["fused"]
        raw["reference"] = rraw["reference"]
    return med, raw


def mm_ceiling(n=1536, reps=7):
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_time(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * n**3 / (best * 1e-3) / 1e9


def _memory_child(impl, T, B, H):
    """Runs in a subprocess: peak RSS growth (MiB) over two training steps, from before the
    first (after a tiny warm-up step that loads oneDNN / the kernel), so that memory kept
    between steps (lstmkit's buffer pool, allocator caches) counts."""
    import torch

    step = _torch_step if impl == "torch" else _fused_step
    tiny = _make(2, 1, 8)
    step(*tiny, torch.randn(2, 1, 8), True)  # loads oneDNN / the compiled kernel
    lstm, x, h0, c0 = _make(T, B, H)
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
    step(lstm, x, h0, c0, go, True)
    step(lstm, x, h0, c0, go, True)
    return status("VmHWM") - base


def memory(impl, T, B, H, threads):
    code = (f"import torch; torch.set_num_threads({threads}); import lstmkit.bench as b; "
            f"print(b._memory_child({impl!r}, {T}, {B}, {H}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def parse_shapes(text: str | None) -> list[tuple[int, int, int]]:
    if not text:
        return list(DEFAULT_SHAPES)
    shapes = []
    for part in text.split(";"):
        values = tuple(int(v) for v in part.split(",") if v.strip())
        if len(values) != 3 or min(values) < 1:
            raise ValueError(f"a shape is T,B,H with whole numbers >= 1, got {part!r}")
        shapes.append(values)
    return shapes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shapes", default=None, metavar="T,B,H;...",
                   help="shapes (I = H; default 100,32,128;100,64,256;100,64,512;500,16,128)")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), metavar="V,...",
                   help=f"rows to time, of {', '.join([*VARIANT_OPTIONS, *CELL_ROWS])} "
                        f"(default {','.join(DEFAULT_VARIANTS)})")
    p.add_argument("--reps", type=int, default=11, help="interleaved repetitions per row (default 11)")
    p.add_argument("--reference-reps", type=int, default=5,
                   help="repetitions of the (slow) reference path per variant row; 0 skips it (default 5)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--mode", choices=["train", "infer", "both", "step"], default="both",
                   help="train / infer / both: the fused-kernel table; step: the streaming step() table "
                        "(per-call us at batch 1 against torch.nn.LSTMCell, see run_step)")
    p.add_argument("--step-sizes", default=",".join(map(str, STEP_SIZES)), metavar="H,...",
                   help="--mode step: hidden sizes (I = H; default 64,256)")
    p.add_argument("--step-calls", type=int, default=0, metavar="K",
                   help="--mode step: calls per timed repetition (default: about 20 ms worth)")
    p.add_argument("--peak-gflops", type=float, default=None,
                   help="the assumed FP32 peak printed in the header (default: cores x --ghz x --flops-per-cycle)")
    p.add_argument("--ghz", type=float, default=2.6, help="clock used for the assumed peak (default 2.6)")
    p.add_argument("--flops-per-cycle", type=int, default=64,
                   help="per core; 64 = AVX-512 with two FMA units (32 for AVX2)")
    p.add_argument("--memory", action="store_true", help="also measure the peak memory of plain training steps")
    p.add_argument("--json", default=None, metavar="FILE", help="write raw results here")


def run(args: argparse.Namespace, out=print) -> list[dict]:
    """Time every row and print the table; returns the raw results."""
    import torch

    from lstmkit.nn import fused

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mode == "step":
        return run_step(args, out)
    if not fused.available():
        raise RuntimeError(f"fused kernels unavailable: {fused.unavailable_reason()}")
    shapes = parse_shapes(args.shapes)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANT_OPTIONS and v not in CELL_ROWS]
    if unknown or not variants:
        raise ValueError(f"--variants: expected some of {', '.join([*VARIANT_OPTIONS, *CELL_ROWS])}, "
                         f"got {args.variants!r}")
    threads = torch.get_num_threads()
    peak = args.peak_gflops or threads * args.ghz * args.flops_per_cycle
    out(f"torch {torch.__version__}, threads={threads}, {fused.kernel_info()}")
    mm = mm_ceiling()
    out(f"assumed FP32 peak {peak:.0f} GFLOP/s ({threads} cores x {args.ghz} GHz x {args.flops_per_cycle} "
        f"flop/cycle); torch.mm 1536^3 reaches {mm:.0f} GFLOP/s")
    out(f"same process, interleaved, medians of {args.reps} (reference: {args.reference_reps}); "
        "ratio = torch.nn.LSTM ms / lstmkit ms (plain torch.nn.LSTM for every variant)")
    modes = ["train", "infer"] if args.mode == "both" else [args.mode]
    hdr = (f"{'mode':5} {'T':>4} {'B':>3} {'H':>4} {'variant':>11} | {'torch ms':>9} {'lstmkit ms':>10} "
           f"{'ratio':>6} {'%mm':>6} | {'ref ms':>9} {'vs ref':>7} {'(bound)':>8}")
    results = []
    for mode in modes:
        out(hdr)
        out("-" * len(hdr))
        for (T, B, H) in shapes:
            for variant in variants:
                train = mode == "train"
                if variant == "plain":
                    med, raw = bench_shape(T, B, H, args.reps, train)
                elif variant in CELL_ROWS:
                    med, raw = bench_cell(T, B, H, variant, args.reps, train, args.reference_reps)
                else:
                    med, raw = bench_variant(T, B, H, variant, args.reps, train, args.reference_reps)
                if variant in CELL_ROWS:
                    G = CELL_ROWS[variant][2]
                else:
                    G = 3 if VARIANT_OPTIONS[variant].get("cifg") else 4
                flops = 2.0 * T * B * G * H * (H + H) * (3 if train else 1)
                gf = flops / (med["fused"] * 1e-3) / 1e9
                ratio = med["torch"] / med["fused"]
                ref = ""
                if "reference" in med:
                    bound = med["reference"] * 1e-3 / (flops / (mm * 1e9))
                    ref = f"{med['reference']:9.1f} {med['reference'] / med['fused_vs_ref']:6.1f}x (<={bound:4.1f}x)"
                if "twin" in med:  # GRU / RNN rows: against torch.nn.GRU / RNN too
                    name = "torch.nn." + CELL_ROWS[variant][0]
                    ref = f"{ref or ' ' * 28} | {name} {med['twin']:.2f} ms: {med['twin'] / med['fused']:.2f}x"
                out(f"{mode:5} {T:4d} {B:3d} {H:4d} {variant:>11} | {med['torch']:9.2f} {med['fused']:10.2f} "
                    f"{ratio:5.2f}x {100 * gf / mm:5.1f}% | {ref}")
                results.append({"mode": mode, "T": T, "B": B, "H": H, "variant": variant, "threads": threads,
                                "median_ms": med, "raw_ms": raw})
    if args.memory:
        out(f"\npeak RSS growth over two plain training steps (MiB), fresh process each, threads={threads}")
        for (T, B, H) in shapes:
            mt = memory("torch", T, B, H, threads)
            mf = memory("fused", T, B, H, threads)
            out(f"T={T:4d} B={B:3d} H={H:4d}: torch {mt:8.1f}  lstmkit {mf:8.1f}")
            results.append({"memory": True, "T": T, "B": B, "H": H, "torch_mib": mt, "fused_mib": mf})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


# ------------------------------------------------------------------ streaming step
STEP_SIZES = (64, 256)


def bench_step(H, reps, calls, ref_reps, variant="plain", layers=1):
    """Per-call microseconds of one timestep at batch 1 (I = H) under ``torch.no_grad()``,
    state carried from call to call, timed interleaved (order alternating every repetition):

    * ``cell``: ``torch.nn.LSTMCell`` (``h, c = cell(x, (h, c))``);
    * ``step``: ``lstmkit.LSTM.step(x, state)`` (the compiled step, as a caller gets it);
    * ``streamer``: ``lstmkit.LSTM.streamer().step(x)`` (state kept inside);
    * ``reference``: ``LSTM.step`` on ``backend="reference"`` (``ref_reps`` repetitions).

    Returns (medians, raw times, whether the compiled path ran)."""
    import torch

    import lstmkit

    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(H, H)
    model = lstmkit.LSTM(H, H, layers, **VARIANT_OPTIONS[variant])
    ref = lstmkit.LSTM(H, H, layers, **VARIANT_OPTIONS[variant], backend="reference")
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
    core = model.__dict__.get("_step_core")
    compiled = bool(core) and core.calls > 0 and streamer.compiled
    per_call = {k: v * 1e3 / calls for k, v in med.items()}  # ms per loop -> us per call
    raw_us = {k: [t * 1e3 / calls for t in v] for k, v in raw.items()}
    return per_call, raw_us, compiled


def run_step(args: argparse.Namespace, out=print) -> list[dict]:
    """``--mode step``: the streaming-step table (see :func:`bench_step`)."""
    import torch

    from lstmkit.nn.fused.step import step_available, step_info, step_unavailable_reason

    if not step_available():
        raise RuntimeError(f"compiled step unavailable: {step_unavailable_reason()}")
    try:
        sizes = [int(v) for v in str(args.step_sizes).split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--step-sizes: whole numbers separated by commas, got {args.step_sizes!r}") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--step-sizes: sizes >= 1, got {args.step_sizes!r}")
    threads = torch.get_num_threads()
    out(f"torch {torch.__version__}, threads={threads}, {step_info()}")
    out(f"one timestep at batch 1, I = H, 1 layer, torch.no_grad(); same process, interleaved, medians of "
        f"{args.reps} (reference: {args.reference_reps}); ratio = torch.nn.LSTMCell us / lstmkit us")
    hdr = (f"{'H':>5} | {'LSTMCell us':>11} {'step us':>8} {'ratio':>6} {'streamer us':>11} {'ratio':>6} | "
           f"{'ref step us':>11} {'vs ref':>7}")
    out(hdr)
    out("-" * len(hdr))
    results = []
    for H in sizes:
        med, raw, compiled = bench_step(H, args.reps, args.step_calls, args.reference_reps)
        ref = ""
        if "reference" in med:
            ref = f"{med['reference']:11.1f} {med['reference'] / med['step']:6.1f}x"
        note = "" if compiled else "   (the compiled step did NOT run)"
        out(f"{H:5d} | {med['cell']:11.2f} {med['step']:8.2f} {med['cell'] / med['step']:5.2f}x "
            f"{med['streamer']:11.2f} {med['cell'] / med['streamer']:5.2f}x | {ref}{note}")
        results.append({"mode": "step", "H": H, "threads": threads, "compiled": compiled,
                        "median_us": med, "raw_us": raw})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        run(args)
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
