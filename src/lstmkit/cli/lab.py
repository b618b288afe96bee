"""``lstmkit lab``: vanishing gradients and long-term memory, measured."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lstmkit.cli.common import holds_run_dir, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train a plain RNN, a GRU and an LSTM on a long-term-dependency task at several "
        "sequence lengths, report which solved it and how their gradients reach back in time."
    )
    parser.add_argument("task", nargs="?", default="adding", choices=["adding", "copy", "order"],
                        help="adding problem, copy (memory) task or temporal order (default adding)")
    parser.add_argument("--lengths", default=None, metavar="L,...",
                        help="sequence lengths (default 25,50,100,200; --quick: 10,25)")
    parser.add_argument("--cells", default="rnn,gru,lstm", metavar="C,...", help="cells to compare (default rnn,gru,lstm)")
    parser.add_argument("--steps", type=positive_int, default=None, metavar="N",
                        help="training steps per cell and length (default 1500; --quick: 300)")
    parser.add_argument("--hidden-size", type=positive_int, default=64, metavar="H", help="units (default 64)")
    parser.add_argument("--quick", action="store_true", help="a small run, under 2 minutes")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", default=None, metavar="DIR", help="run directory (default runs/lab-<time>)")


def _ints(text: str, flag: str) -> tuple[int, ...]:
    from lstmkit.cli.main import UsageError

    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"{flag}: expected whole numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 2:
        raise UsageError(f"{flag}: expected lengths of at least 2, got {text!r}")
    return values


@holds_run_dir("lab")
def run(args: argparse.Namespace) -> int:
    from lstmkit.cli.main import UsageError

    cells = tuple(c.strip() for c in args.cells.split(",") if c.strip())
    unknown = [c for c in cells if c not in ("rnn", "gru", "lstm")]
    if unknown or not cells:
        raise UsageError(f"--cells: expected some of rnn, gru, lstm, got {args.cells!r}")
    lengths = _ints(args.lengths, "--lengths") if args.lengths else ((10, 25) if args.quick else (25, 50, 100, 200))
    if args.task == "order" and min(lengths) < 10:
        raise UsageError("--lengths: the temporal-order task needs lengths of at least 10")
    steps = args.steps or (300 if args.quick else 1500)

    from lstmkit.report.plots import lab_plots
    from lstmkit.runs import default_run_dir, write_json
    from lstmkit.tasks.lab import LabConfig, results_json, run_lab

    out = Path(args.out) if args.out else default_run_dir("lab")
    config = LabConfig(task=args.task, lengths=lengths, cells=cells, hidden_size=args.hidden_size,
                       max_steps=steps, eval_every=min(100, steps), seed=args.seed)
    header = f"{'cell':<6}{'length':>7}{'solved':>8}{'steps':>7}{config_metric(args.task):>12}{'trivial':>10}{'seconds':>9}"
    print(f"lstmkit lab {args.task}: up to {steps} training steps per cell and length")
    print(header)

    def show(r) -> None:
        print(f"{r.cell:<6}{r.length:>7}{'yes' if r.solved else 'no':>8}{r.steps or '-':>7}"
              f"{r.final_metric:>12.4f}{r.baseline_metric:>10.3f}{r.seconds:>9.1f}", flush=True)

    results = run_lab(config, out, progress=show)
    write_json(out / "results.json", results_json(config, results))
    lab_plots(results, out, task=args.task)
    print(f"run directory: {out}  (results.json, success.png, gradients.png)", file=sys.stdout)
    return 0


def config_metric(task: str) -> str:
    return "test MSE" if task == "adding" else "accuracy"
