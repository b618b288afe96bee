"""Benchmark: lstmkit's fused LSTM layer vs torch.nn.LSTM (oneDNN) on the CPU.

For each shape (T, B, H) with I = H and one layer, one direction, it times, interleaved in the
same process (torch, lstmkit, torch, lstmkit, ...), median over the repetitions:

* ``train``: forward + backward (gradients w.r.t. the input, h0, c0 and all parameters);
* ``infer``: forward only under ``torch.inference_mode()``.

It prints: shape, torch ms, lstmkit ms, ratio (torch / lstmkit: > 1 means lstmkit is faster),
achieved GFLOP/s of lstmkit and its % of the assumed FP32 peak.  FLOPs counted: the GEMMs only,
forward 2*T*B*4H*(I+H), forward+backward 3x that.  The assumed peak is
cores * GHz * flops/cycle (``--peak-gflops`` to override); the script also prints what a large
``torch.mm`` reaches on this machine as a practical ceiling.

``--memory`` also measures the peak resident-memory growth of one training step in a fresh
subprocess per implementation (Linux: resets VmHWM via /proc/self/clear_refs).

Usage::

    python benchmarks/bench_fused_lstm.py                 # default shapes, current threads
    python benchmarks/bench_fused_lstm.py --threads 1 --reps 15
    python benchmarks/bench_fused_lstm.py --memory
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

DEFAULT_SHAPES = [(100, 32, 128), (100, 64, 256), (100, 64, 512), (500, 16, 128)]


def _make(T, B, H, seed=0):
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(H, H)
    x = torch.randn(T, B, H)
    h0 = torch.randn(1, B, H)
    c0 = torch.randn(1, B, H)
    return lstm, x, h0, c0


def _torch_step(lstm, x, h0, c0, go, train):
    if train:
        xr, hr, cr = (t.detach().requires_grad_() for t in (x, h0, c0))
        out, (h, c) = lstm(xr, (hr, cr))
        torch.autograd.backward([out, h, c], [go, torch.ones_like(h), torch.ones_like(c)])
        lstm.zero_grad(set_to_none=True)
    else:
        with torch.inference_mode():
            lstm(x, (h0, c0))


def _fused_step(lstm, x, h0, c0, go, train):
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


def _time(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def bench_shape(T, B, H, reps, train):
    lstm, x, h0, c0 = _make(T, B, H)
    go = torch.randn(T, B, H)
    runs = {"torch": lambda: _torch_step(lstm, x, h0, c0, go, train),
            "fused": lambda: _fused_step(lstm, x, h0, c0, go, train)}
    for f in runs.values():  # warm-up
        f()
        f()
    times = {k: [] for k in runs}
    for r in range(reps):
        order = ["torch", "fused"] if r % 2 == 0 else ["fused", "torch"]
        for k in order:
            times[k].append(_time(runs[k]))
    return {k: statistics.median(v) for k, v in times.items()}, {k: v for k, v in times.items()}


def mm_ceiling(n=1536, reps=7):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_time(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * n**3 / (best * 1e-3) / 1e9


def _memory_child(impl, T, B, H):
    """Runs in a subprocess: peak RSS growth (MiB) of one training step."""
    lstm, x, h0, c0 = _make(T, B, H)
    go = torch.randn(T, B, H)
    step = _torch_step if impl == "torch" else _fused_step
    step(lstm, x, h0, c0, go, True)  # warm-up (oneDNN init / kernel load)

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
    return status("VmHWM") - base


def memory(impl, T, B, H, threads):
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import torch; torch.set_num_threads({threads}); import bench_fused_lstm as b; "
            f"print(b._memory_child({impl!r}, {T}, {B}, {H}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", default=None, help="T,B,H;T,B,H;...  (I = H)")
    p.add_argument("--reps", type=int, default=11)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    p.add_argument("--peak-gflops", type=float, default=None)
    p.add_argument("--ghz", type=float, default=2.6, help="clock used for the assumed peak")
    p.add_argument("--flops-per-cycle", type=int, default=64,
                   help="per core; 64 = AVX-512 with two FMA units (32 for AVX2)")
    p.add_argument("--memory", action="store_true", help="also measure peak memory of a training step")
    p.add_argument("--json", default=None, help="write raw results here")
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    from lstmkit.nn import fused

    if not fused.available():
        sys.exit(f"fused kernels unavailable: {fused.unavailable_reason()}")
    shapes = DEFAULT_SHAPES if not args.shapes else [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    threads = torch.get_num_threads()
    peak = args.peak_gflops or threads * args.ghz * args.flops_per_cycle
    print(f"torch {torch.__version__}, threads={threads}, {fused.kernel_info()}")
    mm = mm_ceiling()
    print(f"assumed FP32 peak {peak:.0f} GFLOP/s ({threads} cores x {args.ghz} GHz x {args.flops_per_cycle} flop/cycle); "
          f"torch.mm 1536^3 reaches {mm:.0f} GFLOP/s (%mm column; a value above the assumed peak "
          f"means the cores run faster than {args.ghz} GHz)")
    modes = ["train", "infer"] if args.mode == "both" else [args.mode]
    hdr = (f"{'mode':5} {'T':>4} {'B':>3} {'H':>4} | {'torch ms':>9} {'lstmkit ms':>10} {'ratio':>6} | "
           f"{'GFLOP/s':>7} {'%peak':>6} {'%mm':>5}")
    results = []
    for mode in modes:
        print(hdr)
        print("-" * len(hdr))
        for (T, B, H) in shapes:
            med, raw = bench_shape(T, B, H, args.reps, mode == "train")
            flops = 2.0 * T * B * 4 * H * (H + H) * (3 if mode == "train" else 1)
            gf = flops / (med["fused"] * 1e-3) / 1e9
            ratio = med["torch"] / med["fused"]
            print(f"{mode:5} {T:4d} {B:3d} {H:4d} | {med['torch']:9.2f} {med['fused']:10.2f} {ratio:5.2f}x | "
                  f"{gf:7.1f} {100 * gf / peak:5.1f}% {100 * gf / mm:4.0f}%", flush=True)
            results.append({"mode": mode, "T": T, "B": B, "H": H, "threads": threads, "median_ms": med, "raw_ms": raw})
    if args.memory:
        print(f"\npeak RSS growth of one training step (MiB), fresh process each, threads={threads}")
        for (T, B, H) in shapes:
            mt = memory("torch", T, B, H, threads)
            mf = memory("fused", T, B, H, threads)
            print(f"T={T:4d} B={B:3d} H={H:4d}: torch {mt:8.1f}  lstmkit {mf:8.1f}")
            results.append({"memory": True, "T": T, "B": B, "H": H, "torch_mib": mt, "fused_mib": mf})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
