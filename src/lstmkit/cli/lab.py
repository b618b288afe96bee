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
                        help="sequence lengths (default adding 50,100,200, copy 25,50, order 25,50,100; "
                             "--quick: 10,25)")
    parser.add_argument("--cells", default="rnn,gru,lstm", metavar="C,...", help="cells to compare (default rnn,gru,lstm)")
    parser.add_argument("--steps", type=positive_int, default=None, metavar="N",
                        help="training steps per cell, length and seed (default 1000, copy 3000; --quick: 300)")
    parser.add_argument("--hidden-size", type=positive_int, default=None, metavar="H",
                        help="units (default 64, copy 128)")
    parser.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                        help="sequences per step (default 64, copy 128)")
    parser.add_argument("--lr-sweep", default="1e-3,3e-3,1e-2", metavar="LR,...",
                        help="learning rates each cell's sweep tries (short probe runs at the shortest "
                             "length, chosen on a validation set; default 1e-3,3e-3,1e-2)")
    parser.add_argument("--sweep-steps", type=positive_int, default=None, metavar="N",
                        help="steps of each probe run (default 300; --quick: 100)")
    parser.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                        help="one learning rate for every cell, no sweep")
    parser.add_argument("--no-chrono", action="store_true",
                        help="no chrono initialisation of the gates: forget-gate bias 1 for the LSTM, "
                             "the GRU's default init")
    parser.add_argument("--quick", action="store_true", help="a small run, under 2 minutes")
    parser.add_argument("--seeds", default=None, metavar="S,...",
                        help="seeds: every cell and length runs once per seed, and the table gives the "
                             "spread (default adding and order 0,1,2, copy 0,1; --quick: 0)")
    parser.add_argument("--seed", type=int, default=None, help="one seed (the same as --seeds S)")
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
    if args.seed is not None and args.seeds is not None:
        raise UsageError("--seed and --seeds: give one of them")
    seeds = None
    if args.seeds is not None:
        try:
            seeds = tuple(int(v) for v in args.seeds.split(",") if v.strip())
        except ValueError:
            raise UsageError(f"--seeds: expected whole numbers separated by commas, got {args.seeds!r}") from None
        if not seeds:
            raise UsageError(f"--seeds: expected at least one seed, got {args.seeds!r}")
    elif args.seed is not None:
        seeds = (args.seed,)
    lengths = _ints(args.lengths, "--lengths") if args.lengths else ((10, 25) if args.quick else None)
    if args.task == "order" and lengths and min(lengths) < 10:
        raise UsageError("--lengths: the temporal-order task needs lengths of at least 10")
    try:
        rates = tuple(float(v) for v in args.lr_sweep.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--lr-sweep: expected numbers separated by commas, got {args.lr_sweep!r}") from None
    if not rates or min(rates) <= 0 or (args.learning_rate is not None and args.learning_rate <= 0):
        raise UsageError("--lr-sweep / --learning-rate: expected positive learning rates")

    from lstmkit.report.plots import lab_plots
    from lstmkit.runs import default_run_dir, write_json
    from lstmkit.tasks.lab import LabConfig, results_json, run_lab, run_sweeps, summarise

    chosen = {"lengths": lengths, "hidden_size": args.hidden_size, "batch_size": args.batch_size,
              "max_steps": args.steps or (300 if args.quick else None), "seeds": seeds or ((0,) if args.quick else None),
              "sweep_steps": args.sweep_steps or (100 if args.quick else None)}
    config = LabConfig.for_task(args.task, cells=cells, learning_rate=args.learning_rate, learning_rates=rates,
                                chrono_init=not args.no_chrono,
                                **{k: v for k, v in chosen.items() if v is not None})
    config.eval_every = min(100, config.max_steps)
    steps = config.max_steps
    out = Path(args.out) if args.out else default_run_dir("lab")
    init = "forget-gate bias 1" if args.no_chrono else "chrono init of the gates"
    print(f"lstmkit lab {args.task}: lengths {', '.join(map(str, config.lengths))}; up to {steps} training steps "
          f"per cell, length and seed ({config.hidden_size} units, batch {config.batch_size}), Adam, clipping 1, "
          f"{init}, seeds {', '.join(map(str, config.seeds))}")
    if args.learning_rate is None:
        print(f"learning rate per cell: {len(rates)} probes of {config.sweep_steps} steps at length "
              f"{config.sweep_length or min(config.lengths)}, seed {config.seed}: the fastest to solve, else the "
              f"lowest validation loss (shown: loss / {config_metric(args.task).removeprefix('test ')})")

    def show_sweep(cell, lr, probes) -> None:
        if probes:
            tried = "  ".join(f"{p.learning_rate:g}: {p.loss:.4f} / {p.metric:.4f}"
                              + (f" (solved at {p.solved_at})" if p.solved_at else "") for p in probes)
            print(f"  {cell:<5} {tried}  -> {lr:g}", flush=True)

    sweeps = run_sweeps(config, out, progress=show_sweep)
    print(f"{'cell':<6}{'length':>7}{'seed':>6}{'lr':>8}{'solved':>8}{'steps':>7}{config_metric(args.task):>12}"
          f"{'trivial':>10}{'seconds':>9}")

    def show(r) -> None:
        print(f"{r.cell:<6}{r.length:>7}{r.seed:>6}{r.learning_rate:>8g}{'yes' if r.solved else 'no':>8}"
              f"{r.steps or '-':>7}{r.final_metric:>12.4f}{r.baseline_metric:>10.3f}{r.seconds:>9.1f}", flush=True)

    results = run_lab(config, out, progress=show, sweeps=sweeps)
    metric = config_metric(args.task)
    print(f"\nover {len(config.seeds)} seed(s): runs solved, {metric} mean (min .. max), median steps to solve")
    for row in summarise(results):
        steps_text = f"{row.median_steps:g}" if row.median_steps is not None else "-"
        print(f"  {row.cell:<5}{row.length:>6}  lr {row.learning_rate:<7g} solved {row.solved}/{row.runs}  "
              f"{row.mean_metric:.4f} ({row.min_metric:.4f} .. {row.max_metric:.4f})  steps {steps_text}")
    write_json(out / "results.json", results_json(config, results, sweeps))
    lab_plots(results, out, task=args.task)
    print(f"run directory: {out}  (results.json, success.png, gradients.png)", file=sys.stdout)
    return 0


def config_metric(task: str) -> str:
    return "test MSE" if task == "adding" else "accuracy"
