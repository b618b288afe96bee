"""``lstmkit bench``: the fused kernels against torch.nn.LSTM and the reference, timed here.

The arguments and the printed table; the measuring is :mod:`lstmkit.nn.fused.bench`.

Columns of the kernel table: torch ms, lstmkit ms, ratio (torch / lstmkit: > 1 means
lstmkit is faster), ``%mm``: the rate lstmkit's GEMM FLOPs reach as a % of what a large
``torch.mm`` reaches on this machine at the same thread count (the practical ceiling),
``%peak``: the same rate as a % of the assumed FP32 peak (threads x ``--ghz`` x
``--flops-per-cycle``, or ``--peak-gflops``; printed in the header), the reference ms and the
speed-up over it, and in brackets the most any kernel could gain over the reference:
reference ms / (FLOPs at the ``torch.mm`` rate). Where that bound is below 5x, the reference
is itself mostly matrix products and a 5x target cannot be reached. GRU / RNN rows end with
the speed-up over their torch.nn twin. Plain, GRU and RNN rows end with what
``backend="auto"`` ran there (``auto=fused`` or ``auto=torch``, measured on its first call,
see :mod:`lstmkit.nn.autotune`), its ms and its ratio against torch.nn (the twin for GRU / RNN).

``--memory`` also measures the peak resident-memory growth over two plain training steps in a
fresh subprocess per implementation, from before the first (Linux: resets VmHWM via
/proc/self/clear_refs), so memory kept from one step to the next (lstmkit's buffer pool,
allocator caches) counts.

``--mode step``: per-call microseconds of one timestep at batch 1 against
``torch.nn.LSTMCell`` (``LSTM.step``, ``LSTM.streamer().step`` and the reference step).
"""

from __future__ import annotations

import argparse
import json
import sys

DEFAULT_SHAPES = "100,32,128;100,64,256;100,64,512;500,16,128"
DEFAULT_VARIANTS = "plain,peephole,layer_norm,cifg,gru"
DEFAULT_STEP_SIZES = "64,256"
ROW_HELP = ("plain; an LSTM variant: peephole, layer_norm, cifg, peephole_cifg, recurrent_dropout, zoneout; "
            "a cell: gru, rnn_tanh, rnn_relu")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Time lstmkit's fused LSTM kernels (plain and the variants: peephole, layer_norm, cifg...) "
        "and its fused GRU / RNN (rows gru, rnn_tanh, rnn_relu) against torch.nn.LSTM, against "
        "their torch.nn twins and against lstmkit's reference path, in the same process, "
        "interleaved, and print the medians."
    )
    p.add_argument("--shapes", default=None, metavar="T,B,H;...",
                   help=f"shapes (I = H; default {DEFAULT_SHAPES})")
    p.add_argument("--variants", default=DEFAULT_VARIANTS, metavar="V,...",
                   help=f"rows to time: {ROW_HELP} (default {DEFAULT_VARIANTS})")
    p.add_argument("--reps", type=int, default=11, help="interleaved repetitions per row (default 11)")
    p.add_argument("--reference-reps", type=int, default=5,
                   help="repetitions of the (slow) reference path per variant row; 0 skips it (default 5)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--mode", choices=["train", "infer", "both", "step"], default="both",
                   help="train / infer / both: the fused-kernel table; step: the streaming step() table "
                        "(per-call us at batch 1 against torch.nn.LSTMCell)")
    p.add_argument("--step-sizes", default=DEFAULT_STEP_SIZES, metavar="H,...",
                   help=f"--mode step: hidden sizes (I = H; default {DEFAULT_STEP_SIZES})")
    p.add_argument("--step-calls", type=int, default=0, metavar="K",
                   help="--mode step: calls per timed repetition (default: about 20 ms worth)")
    p.add_argument("--peak-gflops", type=float, default=None,
                   help="the assumed FP32 peak printed in the header (default: cores x --ghz x --flops-per-cycle)")
    p.add_argument("--ghz", type=float, default=2.6, help="clock used for the assumed peak (default 2.6)")
    p.add_argument("--flops-per-cycle", type=int, default=64,
                   help="per core; 64 = AVX-512 with two FMA units (32 for AVX2)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall: elapsed time (default); cpu: the process's CPU time, steadier on a machine "
                        "other jobs load (use it with --threads 1)")
    p.add_argument("--memory", action="store_true", help="also measure the peak memory of plain training steps")
    p.add_argument("--json", default=None, metavar="FILE", help="write raw results here")


def _numbers(text: str, param: str, sep: str = ",") -> tuple[int, ...]:
    from lstmkit.errors import InputError, param_ref

    try:
        return tuple(int(v) for v in text.split(sep) if v.strip())
    except ValueError:
        raise InputError(f"{param_ref(param)}: whole numbers separated by {sep!r}, got {text!r}",
                         param=param, got=text) from None


def parse_shapes(text: str | None) -> list[tuple[int, ...]]:
    """``"T,B,H;T,B,H"`` -> [(T, B, H), ...] (the default shapes when empty)."""
    from lstmkit.errors import InputError, param_ref

    shapes = [_numbers(part, "shapes") for part in (text or DEFAULT_SHAPES).split(";")]
    for part, shape in zip((text or DEFAULT_SHAPES).split(";"), shapes):
        if len(shape) != 3 or min(shape) < 1:
            raise InputError(f"{param_ref('shapes')}: a shape is T,B,H with whole numbers >= 1, got {part!r}",
                             param="shapes", expected="T,B,H", got=part)
    return shapes


def run(args: argparse.Namespace, out=print) -> int:
    """Time every row and print the table (and write ``--json``). Bad arguments raise
    :class:`lstmkit.errors.InputError` (the command prints it naming the flags); kernels that
    cannot compile here print ``error: ...`` and return 1."""
    from lstmkit.nn.fused import bench as timing

    timing.set_clock(getattr(args, "clock", "wall"))
    try:
        if args.mode == "step":
            results = _step_table(args, timing, out)
        else:
            results = _kernel_table(args, timing, out)
    except RuntimeError as exc:  # the kernels cannot compile here
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


def _kernel_table(args, timing, out) -> list[dict]:
    shapes = parse_shapes(args.shapes)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    modes = ["train", "infer"] if args.mode == "both" else [args.mode]
    rows = timing.kernel_rows(shapes, variants, modes, args.reps, args.reference_reps)  # checks them
    env = timing.setup(args.threads)
    threads = env["threads"]
    peak = args.peak_gflops or threads * args.ghz * args.flops_per_cycle
    out(f"torch {env['torch']}, threads={threads}, {env['kernel']}")
    from lstmkit.nn.fused.build import cpu_description, gemm_settings

    out(f"cpu {cpu_description()}")
    out(f"gemm {gemm_settings()}")
    mm = timing.mm_ceiling()
    how = ("--peak-gflops" if args.peak_gflops else
           f"{threads} cores x {args.ghz} GHz x {args.flops_per_cycle} flop/cycle")
    out(f"assumed FP32 peak {peak:.0f} GFLOP/s ({how}); torch.mm 1536^3 reaches {mm:.0f} GFLOP/s")
    out(f"same process, interleaved, medians of {args.reps} (reference: {args.reference_reps}), "
        f"{'CPU time of the process' if getattr(args, 'clock', 'wall') == 'cpu' else 'elapsed time'}; "
        "ratio = torch.nn.LSTM ms / lstmkit ms (plain torch.nn.LSTM for every variant)")
    hdr = (f"{'mode':5} {'T':>4} {'B':>3} {'H':>4} {'variant':>11} | {'torch ms':>9} {'lstmkit ms':>10} "
           f"{'ratio':>6} {'%mm':>6} {'%peak':>6} | {'ref ms':>9} {'vs ref':>7} {'(bound)':>8}")
    results = []
    for row in rows:
        if not results or results[-1]["mode"] != row["mode"]:
            out(hdr)
            out("-" * len(hdr))
        out(_kernel_line(row, mm, timing, peak))
        results.append(row)
    if args.memory:
        out(f"\npeak RSS growth over two plain training steps (MiB), fresh process each, threads={threads}")
        for (T, B, H) in shapes:
            mt = timing.memory("torch", T, B, H, threads)
            mf = timing.memory("fused", T, B, H, threads)
            out(f"T={T:4d} B={B:3d} H={H:4d}: torch {mt:8.1f}  lstmkit {mf:8.1f}")
            results.append({"memory": True, "T": T, "B": B, "H": H, "torch_mib": mt, "fused_mib": mf})
    return results


def _kernel_line(row: dict, mm: float, timing, peak: float) -> str:
    mode, T, B, H, variant, med = row["mode"], row["T"], row["B"], row["H"], row["variant"], row["median_ms"]
    flops = timing.gemm_flops(variant, T, B, H, mode == "train")
    gf = flops / (med["fused"] * 1e-3) / 1e9
    ratio = med["torch"] / med["fused"]
    ref = ""
    if "reference" in med:
        bound = med["reference"] * 1e-3 / (flops / (mm * 1e9))
        ref = f"{med['reference']:9.1f} {med['reference'] / med['fused_vs_ref']:6.1f}x (<={bound:4.1f}x)"
    if "twin" in med:  # GRU / RNN rows: against torch.nn.GRU / RNN too
        name = "torch.nn." + timing.CELL_ROWS[variant][0]
        ref = f"{ref or ' ' * 28} | {name} {med['twin']:.2f} ms: {med['twin'] / med['fused']:.2f}x"
    if "auto" in med:  # what backend="auto" ran, and its ratio against torch.nn (the twin for GRU / RNN)
        bar = med.get("twin", med["torch"])
        ref = f"{ref or ' ' * 28} | auto={med['auto_backend']} {med['auto']:.2f} ms: {bar / med['auto']:.2f}x"
    return (f"{mode:5} {T:4d} {B:3d} {H:4d} {variant:>11} | {med['torch']:9.2f} {med['fused']:10.2f} "
            f"{ratio:5.2f}x {100 * gf / mm:5.1f}% {100 * gf / peak:5.1f}% | {ref}")


def _step_table(args, timing, out) -> list[dict]:
    sizes = _numbers(str(args.step_sizes), "step_sizes")
    rows = timing.step_rows(sizes, args.reps, args.step_calls, args.reference_reps)  # checks them
    env = timing.setup(args.threads, step=True)
    out(f"torch {env['torch']}, threads={env['threads']}, {env['kernel']}")
    out(f"one timestep at batch 1, I = H, 1 layer, torch.no_grad(); same process, interleaved, medians of "
        f"{args.reps} (reference: {args.reference_reps}); ratio = torch.nn.LSTMCell us / lstmkit us")
    hdr = (f"{'H':>5} | {'LSTMCell us':>11} {'step us':>8} {'ratio':>6} {'streamer us':>11} {'ratio':>6} | "
           f"{'ref step us':>11} {'vs ref':>7}")
    out(hdr)
    out("-" * len(hdr))
    results = []
    for row in rows:
        med = row["median_us"]
        ref = ""
        if "reference" in med:
            ref = f"{med['reference']:11.1f} {med['reference'] / med['step']:6.1f}x"
        note = "" if row["compiled"] else "   (the compiled step did NOT run)"
        out(f"{row['H']:5d} | {med['cell']:11.2f} {med['step']:8.2f} {med['cell'] / med['step']:5.2f}x "
            f"{med['streamer']:11.2f} {med['cell'] / med['streamer']:5.2f}x | {ref}{note}")
        results.append(row)
    return results


def main(argv=None) -> int:
    """The ``bench`` command on its own (``benchmarks/bench_*.py``): exit 0, 1 (the kernels
    cannot compile here) or 2 (bad arguments, one ``error:`` line)."""
    from lstmkit.cli.flags import flag_for
    from lstmkit.errors import InputError

    p = argparse.ArgumentParser(formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.description = __doc__
    args = p.parse_args(argv)
    try:
        return run(args)
    except InputError as exc:
        print(f"error: {exc.render(flag_for('bench'))}", file=sys.stderr)
        return 2
