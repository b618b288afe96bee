"""``lstmkit lab``: vanishing gradients and long-term memory, measured."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from lstmkit.cli.common import holds_run_dir, nonnegative_int, positive_int, seed_int

LEARNING_RATES = (1e-3, 3e-3, 1e-2)  # the same as lstmkit.tasks.lab.LEARNING_RATES (a test checks)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train a plain RNN, a GRU and an LSTM on long-term-dependency tasks at several sequence "
        "lengths, report which solved them and how their gradients reach back in time. With no "
        "task: the adding problem and the copy-memory task, one after the other."
    )
    parser.add_argument("task", nargs="?", default="all", choices=["all", "adding", "copy", "order"],
                        help="all (the default: adding, then copy), the adding problem, the copy (memory) task "
                             "or the temporal order task")
    parser.add_argument("--lengths", default=None, metavar="L,...",
                        help="sequence lengths, with one task (default adding 100,200, copy 30, order 25,50,100; "
                             "--quick: adding and order 10,25, copy 5)")
    parser.add_argument("--cells", default="rnn,gru,lstm", metavar="C,...", help="cells to compare (default rnn,gru,lstm)")
    parser.add_argument("--steps", type=positive_int, default=None, metavar="N",
                        help="training steps per cell, length and seed, the same for every cell (default adding "
                             "3000, copy 6000, order 1000; --quick: 300)")
    parser.add_argument("--hidden-size", type=positive_int, default=None, metavar="H",
                        help="units (default adding 32, copy 96, order 64)")
    parser.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                        help="sequences per step (default 64)")
    parser.add_argument("--lr-sweep", default=",".join(f"{lr:g}" for lr in LEARNING_RATES), metavar="LR,...",
                        help="learning rates each cell's sweep tries (one short probe run each, at the sweep "
                             "length, chosen on a validation set; default %(default)s)")
    parser.add_argument("--sweep-steps", type=positive_int, default=None, metavar="N",
                        help="steps of each probe run (default adding 400 and order 300 at length 25, or at a shorter "
                             "length asked for; copy 1000 at the shortest length; "
                             "--quick: 100 at the shortest); where the probes ran on several seeds (copy: three) and "
                             "the two best rates are not told apart, both go on to twice that")
    parser.add_argument("--sweep-keep", type=_sweep_keep, default=None, metavar="N|all",
                        help="where the probes run on several seeds (copy: three), every rate runs on the first "
                             "and only its best N on the others (default 2; all: every rate on every seed)")
    parser.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                        help="one learning rate for every cell, no sweep")
    parser.add_argument("--warmup", type=nonnegative_int, default=None, metavar="N",
                        help="steps over which every cell's learning rate rises linearly to its value (default "
                             "copy 500, adding and order 0; --quick: none)")
    parser.add_argument("--chrono", action="store_true",
                        help="chrono initialisation of the gates (Tallec & Ollivier 2018) instead of the LSTM's "
                             "forget-gate bias 1 (Gers et al. 2000) and the GRU's default")
    parser.add_argument("--quick", action="store_true", help="a small run, about a minute")
    parser.add_argument("--seeds", default=None, metavar="S,...",
                        help="seeds: every cell and length runs once per seed, and the table gives the "
                             "spread (default 0,1,2; --quick: 0)")
    parser.add_argument("--seed", type=seed_int, default=None, help="one seed (the same as --seeds S)")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="worker processes of one thread each that run the independent jobs (default 2 "
                             "where there are 2 cores or more)")
    parser.add_argument("--out", default=None, metavar="DIR", help="run directory (default runs/lab-<time>)")


def _sweep_keep(text: str) -> int:
    """``--sweep-keep``: a whole number of at least 2, or ``all`` (0 here: every rate)."""
    if text.strip().lower() == "all":
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 2, or all, got {text!r}")
    return value


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
    if seeds is not None and not all(0 <= s < 2 ** 32 for s in seeds):
        bad = next(s for s in seeds if not 0 <= s < 2 ** 32)
        raise UsageError(f"--seed{'s' if args.seeds is not None else ''}: expected seeds from 0 to {2 ** 32 - 1} "
                         f"(numpy's range), got {bad}")
    if args.lengths is not None and args.task == "all":
        raise UsageError("--lengths: name one task (adding, copy or order) to set its lengths")
    lengths = _ints(args.lengths, "--lengths") if args.lengths is not None else None
    for flag, values in (("--cells", cells), ("--lengths", lengths), ("--seeds", seeds)):
        twice = [v for i, v in enumerate(values or ()) if v in (values or ())[:i]]
        if twice:  # each would run, and count, once more
            raise UsageError(f"{flag}: {twice[0]} is named twice; name each once")
    if args.task == "order" and lengths and min(lengths) < 10:
        raise UsageError("--lengths: the temporal-order task needs lengths of at least 10")
    try:
        rates = tuple(float(v) for v in args.lr_sweep.split(",") if v.strip())
    except ValueError:
        raise UsageError(f"--lr-sweep: expected numbers separated by commas, got {args.lr_sweep!r}") from None
    twice = [r for i, r in enumerate(rates) if r in rates[:i]]
    if twice:  # two probes of one rate would share a directory
        raise UsageError(f"--lr-sweep: {twice[0]:g} is named twice; name each once")
    given = rates + ((args.learning_rate,) if args.learning_rate is not None else ())
    if not rates or not all(math.isfinite(r) and r > 0 for r in given):
        raise UsageError("--lr-sweep / --learning-rate: expected positive (finite) learning rates")

    import time

    from lstmkit.runs import write_json
    from lstmkit.tasks.lab import DEFAULT_TASKS, QUICK_LENGTHS, LabConfig, run_directory
    from lstmkit.tasks.lab_pool import JobPool, default_workers

    tasks = DEFAULT_TASKS if args.task == "all" else (args.task,)
    out = Path(args.out)
    workers = args.workers or default_workers()
    configs = {}
    for task in tasks:
        chosen = {"lengths": lengths or (QUICK_LENGTHS[task] if args.quick else None),
                  "hidden_size": args.hidden_size, "batch_size": args.batch_size,
                  "max_steps": args.steps or (300 if args.quick else None),
                  "seeds": seeds or ((0,) if args.quick else None),
                  "sweep_steps": args.sweep_steps or (100 if args.quick else None),
                  "warmup_steps": args.warmup if args.warmup is not None else (0 if args.quick else None)}
        given = {k: v for k, v in chosen.items() if v is not None}
        if args.sweep_keep is not None:
            given["sweep_keep"] = args.sweep_keep or None  # all (0): None, every rate on every seed
        config = LabConfig.for_task(task, cells=cells, learning_rate=args.learning_rate, learning_rates=rates,
                                    chrono_init=args.chrono, **given)
        config.eval_every = min(100, config.max_steps)
        configs[task] = config
    overview = {}
    with JobPool(workers) as pool:
        for task, config in configs.items():
            started = time.perf_counter()
            directory = out / task if len(tasks) > 1 else out
            summary = _run_task(config, directory, pool, workers)
            overview[task] = {"seconds": round(time.perf_counter() - started, 1), **summary}
    if len(tasks) > 1:
        write_json(out / "summary.json", overview)
        print("\n" + "; ".join(f"{task} {o['seconds']:.0f} s" for task, o in overview.items()))
    files = "results.json, success.png, gradients.png, train/<cell>-<length>-seed<s>/: each run's model"
    if len(tasks) > 1:
        print(f"run directory: {out}  (summary.json; " + ", ".join(f"{t}/" for t in tasks) + f": {files})")
    else:
        print(f"run directory: {out}  ({files})")
    if "lstm" in cells:
        last = configs[tasks[-1]]
        model = run_directory(out / last.task if len(tasks) > 1 else out, "lstm", last.lengths[-1], last.seeds[0])
        print(f"the gates of a trained LSTM: lstmkit inspect --model {model}")
    return 0


TITLES = {"adding": "the adding problem", "copy": "the copy-memory task", "order": "the temporal-order task"}


def _run_task(config, out: Path, pool, workers: int) -> dict:
    """One task of the lab: its sweeps, its runs, its table and plots under ``out``; returns
    its summary (chosen learning rates, the rows of :func:`summarise`)."""
    from dataclasses import asdict

    from lstmkit.report.plots import lab_plots
    from lstmkit.runs import write_json
    from lstmkit.tasks.lab import SPECS, results_json, run_lab, run_sweeps, seed_run_continues_probe, summarise
    from lstmkit.tasks.lab_summary import CLOSE_CALL, close_call

    task, spec = config.task, SPECS[config.task]
    metric = config_metric(task)
    warmup = f" (its rate reached linearly over the first {config.warmup_steps} steps)" if config.warmup_steps else ""
    init = ("chrono init of the gates" if config.chrono_init
            else "LSTM forget-gate bias 1 (Gers et al.), GRU and RNN default init")
    print(f"\nlstmkit lab {task} ({TITLES[task]}): lengths {', '.join(map(str, config.lengths))}; "
          f"{config.max_steps} training steps at most per cell, length and seed, the same for every cell "
          f"({config.hidden_size} units, batch {config.batch_size}), Adam{warmup}, clipping 1, {init}, "
          f"seeds {', '.join(map(str, config.seeds))}; {workers} worker process(es)")
    if config.learning_rate is None:
        seeds = config.probe_seeds
        keep = config.rates_past_first_seed
        where = (f"seed {seeds[0]}" if len(seeds) == 1
                 else f"on each of seeds {', '.join(map(str, seeds))}, by their mean"
                 if keep == len(config.learning_rates)
                 else f"on seed {seeds[0]}, its best {keep} also on seed(s) {', '.join(map(str, seeds[1:]))}, "
                      f"by their mean over the {len(seeds)}")
        runs = f"each cell's seed-{seeds[0]} run" if len(seeds) == 1 else "each cell's run of a probed seed"
        print(f"learning rate per cell: {len(config.learning_rates)} probes of {config.sweep_steps} steps at length "
              f"{config.probe_length}, {where}: the fastest to solve, else the "
              f"lowest validation loss (shown: loss / {metric.removeprefix('test ')})"
              + (f"; where the two best are not told apart (the difference seed by seed within its "
                 f"standard error), both go on to {config.second_round_steps} steps"
                 if config.second_round_steps is not None else "")
              + (f"; {runs} continues its chosen probe (the same run's first steps; "
                 "its seconds are its own)" if seed_run_continues_probe(config) else ""))

    def show_sweep(cell, lr, probes) -> None:
        if probes:
            def shown(ps):
                most = max(p.seeds for p in ps)
                return "  ".join(f"{p.learning_rate:g}: {p.loss:.4f} / {p.metric:.4f}"
                                 + (f" (solved at {p.solved_at})" if p.solved_at else "")
                                 + (f" (seed {config.probe_seeds[0]} only)" if p.seeds < most else "") for p in ps)
            first, second = probes[:len(config.learning_rates)], probes[len(config.learning_rates):]
            line = f"  {cell:<5} {shown(first)}"
            if second:
                line += (f"; the two best not told apart, on to {config.second_round_steps} steps: "
                         f"{shown(second)}")
            close = (f"  (the probes within {CLOSE_CALL:.0%} of each other, none solved: chosen by a hair)"
                     if close_call(second or first) else "")
            print(f"{line}  -> {lr:g}{close}", flush=True)

    sweeps = run_sweeps(config, out, progress=show_sweep, pool=pool)
    print(f"{'cell':<6}{'length':>7}{'seed':>6}{'lr':>8}{'solved':>8}{'steps':>7}{metric:>12}"
          f"{'trivial':>10}{'seconds':>9}")

    def show(r) -> None:
        print(f"{r.cell:<6}{r.length:>7}{r.seed:>6}{r.learning_rate:>8g}{'yes' if r.solved else 'no':>8}"
              f"{r.steps or '-':>7}{r.final_metric:>12.4f}{r.baseline_metric:>10.3f}{r.seconds:>9.1f}", flush=True)

    results = run_lab(config, out, progress=show, sweeps=sweeps, pool=pool)
    better = "below" if not spec.classification else "at or above"
    print(f"\n{TITLES[task]} over {len(config.seeds)} seed(s): runs solved ({metric} {better} {spec.threshold:g}), "
          f"{metric} mean (min .. max), median steps to solve")
    rows = summarise(results)
    for row in rows:
        steps_text = f"{row.median_steps:g}" if row.median_steps is not None else "-"
        print(f"  {row.cell:<5}{row.length:>6}  lr {row.learning_rate:<7g} solved {row.solved}/{row.runs}  "
              f"{row.mean_metric:.4f} ({row.min_metric:.4f} .. {row.max_metric:.4f})  steps {steps_text}")
    missed = sorted({row.length for row in rows if row.cell == "lstm" and row.solved < row.runs})
    if missed and not config.chrono_init:
        print(f"  the LSTM (forget-gate bias 1) missed runs at length {', '.join(map(str, missed))} in "
              f"{config.max_steps} steps: more steps (--steps) may solve them, or --chrono, which initialises "
              "its forget gates for the sequence's span (Tallec & Ollivier 2018)")
    write_json(out / "results.json", results_json(config, results, sweeps))
    lab_plots(results, out, task=task, config=config)
    return {"learning_rates": {cell: s["learning_rate"] for cell, s in sweeps.items()},
            "summary": [asdict(row) for row in rows]}


def config_metric(task: str) -> str:
    return "test MSE" if task == "adding" else "accuracy"
