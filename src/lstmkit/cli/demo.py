"""``lstmkit demo``: the main command until ``lstmkit forecast`` lands."""

from __future__ import annotations

import argparse
import sys

from lstmkit.cli.common import seed_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed (default 0)")
    parser.add_argument("--steps", type=int, default=300, help="training steps per model (default 300)")


def run(args: argparse.Namespace) -> int:
    from lstmkit.cli.main import UsageError

    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    from lstmkit.tasks.demo import run_demo

    def progress(name: str, step: int, total: int, loss: float) -> None:
        if sys.stderr.isatty():
            print(f"\r{name}: step {step}/{total}  loss {loss:.4f}", end="", file=sys.stderr, flush=True)

    print("Forecasting the next value of a noisy two-sine signal from 40 past values.")
    reports, naive = run_demo(seed=args.seed, steps=args.steps, progress=progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{'model':<8}{'test RMSE':>12}{'gradient reach':>18}  backend")
    for r in reports:
        print(f"{r.name:<8}{r.test_rmse:>12.4f}{r.gradient_reach:>18.2e}  {r.backend}")
    print(f"{'naive':<8}{naive:>12.4f}")
    print("gradient reach: |dL/dh_0| / |dL/dh_15| over a 16-step window at initialisation "
          "(how much of the loss's gradient reaches the oldest step)")
    return 0
