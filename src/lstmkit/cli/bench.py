"""``lstmkit bench``: the fused kernels against torch.nn.LSTM and the reference, timed here."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Time lstmkit's fused LSTM kernels (plain and the variants: peephole, layer_norm, cifg...) "
        "and its fused GRU / RNN (rows gru, rnn_tanh, rnn_relu) against torch.nn.LSTM, against "
        "their torch.nn twins and against lstmkit's reference path, in the same process, "
        "interleaved, and print the medians."
    )
    from lstmkit.bench import add_arguments as bench_arguments

    bench_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from lstmkit.bench import run as bench_run
    from lstmkit.cli.main import UsageError

    if args.reps < 1 or args.reference_reps < 0:
        raise UsageError("--reps must be >= 1 and --reference-reps >= 0")
    try:
        from lstmkit.bench import parse_shapes

        parse_shapes(args.shapes)
    except ValueError as exc:
        raise UsageError(f"--shapes: {exc}") from None
    try:
        bench_run(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except RuntimeError as exc:  # fused kernels unavailable
        print(f"error: {exc}")
        return 1
    return 0
