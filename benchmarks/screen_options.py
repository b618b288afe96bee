"""A screen of classifier options on the bench's splits (issue 12): the defaults with some options
changed, scored on the test split, with the choices the training series made.

For every data set (``bench_classify.py``'s loaders) and seed: ``Classifier(seed=s,
progress=False, **OPTIONS).fit(train)``, the bench's own call with ``--options``' keyword
arguments added, and its test accuracy. Printed per set and seed: the accuracy, the seconds, the
selection's choice (P, the parts' dropout, the maximum, the trend's window; "skipped" where a class
has fewer training series than folds) and the series features' weight w.

``--folds K`` sets the selection's number of stratified folds
(``classify_select.SELECTION_FOLDS``, 3) for this process: with 2 a set with two training series
per class (PigCVP) runs a selection, each fold network learning every class from one series.

``--mix-grid W1,W2,..`` also weighs the series features' mixture over these weights on the same
folds (``classify_select.select_summary_mix`` with ``choices``) and records which it would take,
``grid_w``, while the model is fitted as the defaults fit it (the weight from (0, 0.25, 0.5)); then
the test accuracy of that one fit at every weight of the grid (``(1 - w) p_networks + w
p_features``), so one fit says what each weight would have scored. The weighing runs only where a
selection runs and leaves the weight to it (``summary_mix=None``); elsewhere ``grid_w`` is null.

    python benchmarks/screen_options.py --datasets PigCVP --seeds 0,1,2 --threads 1 --options '{"augment": 0.25}'
    python benchmarks/screen_options.py --datasets PigCVP --seeds 0,1,2 --threads 1 --folds 2
    python benchmarks/screen_options.py --datasets Watch,Tecator_disc --seeds 0 --threads 1 \\
        --mix-grid 0,0.25,0.5,0.75,1 --json OUT
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_select import add_arguments  # noqa: E402


def options_argument(text: str) -> dict:
    """``--options``: a JSON object of Classifier keyword arguments."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"a JSON object of keyword arguments is needed, got {text!r}")
    return value


def grid_argument(text: str) -> tuple[float, ...]:
    """``--mix-grid``: comma-separated weights in [0, 1], the first 0 (the networks alone)."""
    try:
        weights = tuple(float(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated numbers are needed, got {text!r}") from None
    if not weights or weights[0] != 0.0 or any(not 0.0 <= w <= 1.0 for w in weights):
        raise argparse.ArgumentTypeError(f"weights in [0, 1], the first 0, are needed, got {text!r}")
    return weights


def screen(train, test, seed: int, options: dict, grid: tuple[float, ...] | None) -> dict:
    """One fit with ``options`` and its record (module docstring)."""
    import lstmkit
    from lstmkit.tasks import classify_select
    from lstmkit.tasks.classify_baselines import SummaryStatisticsModel

    weighed: dict = {}
    real = classify_select.select_summary_mix
    if grid is not None:
        def both(data, proba, seed_, choices=classify_select.SUMMARY_MIX_CHOICES,
                 folds=classify_select.SELECTION_FOLDS):
            weighed.update(real(data, proba, seed_, choices=grid, folds=folds))
            # the model's own weight, as without the screen
            return real(data, proba, seed_, choices=choices, folds=folds)
        classify_select.select_summary_mix = both
    try:
        started = time.perf_counter()
        model = lstmkit.Classifier(**{"seed": seed, "progress": False, **options}).fit(train)
        seconds = time.perf_counter() - started
    finally:
        classify_select.select_summary_mix = real
    selection = model.segment_selection or {}
    record = {"accuracy": round(model.evaluate(test)["accuracy"], 6), "seconds": round(seconds, 1),
              "skipped": selection.get("skipped"), "folds": selection.get("folds"),
              "chosen": [selection.get(key) for key in ("chosen", "chosen_dropout", "chosen_max", "chosen_trend")],
              "summary_mix": model.summary_mix, "warp_copies": model.warp_copies,
              "copies_selection": model.copies_selection}
    if grid is not None:
        own = model.summary_mix
        if model.summary_model is None:  # the networks alone: the features' regression fitted as the model would
            model.summary_model = SummaryStatisticsModel(features=classify_select.SUMMARY_MIX_FEATURES).fit(
                train, classes=model.classes)
        accuracy = []
        for w in grid:
            model.summary_mix = w
            accuracy.append(round(model.evaluate(test)["accuracy"], 6))
        model.summary_mix = own
        record.update({"grid": list(grid), "grid_w": weighed.get("chosen"), "grid_log_loss": weighed.get("log_loss"),
                       "grid_difference": weighed.get("difference"), "accuracy_by_w": accuracy})
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--options", type=options_argument, default={}, metavar="JSON",
                        help="Classifier keyword arguments, a JSON object (default {}: the defaults)")
    parser.add_argument("--folds", type=int, default=None, metavar="K",
                        help="the selection's stratified folds (default: classify_select.SELECTION_FOLDS, 3)")
    parser.add_argument("--shots", type=int, default=None, metavar="K",
                        help="train on K series per class (bench_classify.py's few-shot protocol)")
    parser.add_argument("--split-seed", type=int, default=0, metavar="S",
                        help="with --shots: the seed that draws the K series of each class (default 0)")
    parser.add_argument("--mix-grid", type=grid_argument, default=None, metavar="W1,W2,..",
                        help="also weigh the series features' mixture over these weights, and score every one")
    parser.add_argument("--selection-warp-copies", type=int, default=None, metavar="W",
                        help="the selection's networks train with W warped copies whatever the model's count "
                             "(default: the model's, as lstmkit does)")
    args = parser.parse_args(argv)
    if args.folds is not None and args.folds < 2:
        parser.error(f"--folds must be 2 or more, got {args.folds}")
    if args.selection_warp_copies is not None and args.selection_warp_copies < 0:
        parser.error(f"--selection-warp-copies must be 0 or more, got {args.selection_warp_copies}")

    import torch

    import lstmkit
    from bench_classify import few_shots, load
    from lstmkit.tasks import classify_select

    try:  # an unknown or invalid option: refused before any data is read or fitted
        lstmkit.Classifier(**{"progress": False, **args.options})
    except (TypeError, ValueError) as exc:
        parser.error(f"--options: {exc}")
    if args.threads:
        torch.set_num_threads(args.threads)
    lstmkit.retain_freed_memory()  # as the lstmkit command does: freed memory reused, not faulted in again
    folds, copies_for = classify_select.SELECTION_FOLDS, classify_select.warp_copies_for
    if args.folds is not None:
        classify_select.SELECTION_FOLDS = args.folds
    if args.selection_warp_copies is not None:  # the selection's count alone; the model's is its option's
        classify_select.warp_copies_for = lambda _given, _data: args.selection_warp_copies
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
        print(f"options {json.dumps(args.options)}, selection folds {classify_select.SELECTION_FOLDS}"
              + (f", the selection's networks with {args.selection_warp_copies} warped copies"
                 if args.selection_warp_copies is not None else "")
              + (f", {args.shots} training series per class (split seed {args.split_seed})" if args.shots else "")
              + (f", mixture grid {list(args.mix_grid)}" if args.mix_grid else ""))
        for name in args.datasets.split(","):
            train, test = load(name, 0)
            if args.shots:
                train = few_shots(train, args.shots, args.split_seed)
            for seed in seeds:
                record = screen(train, test, seed, args.options, args.mix_grid)
                chosen = (f"skipped ({record['skipped']})" if record["skipped"] else
                          "P {} dropout {} max {} trend {}".format(*record["chosen"]))
                line = (f"{name:24s} {seed:4d}  accuracy {record['accuracy']:.3f}  {record['seconds']:6.0f} s  "
                        f"{chosen}  w {record['summary_mix']:g}")
                if args.mix_grid:
                    scores = " / ".join(f"{a:.3f}" for a in record["accuracy_by_w"])
                    line += f"  grid w {record['grid_w']}  accuracy by w {scores}"
                print(line, flush=True)
                if args.json:
                    with open(args.json, "a") as out:
                        out.write(json.dumps({"set": name, "seed": seed, "options": args.options,
                                              "shots": args.shots, "split_seed": args.split_seed,
                                              "selection_warp_copies": args.selection_warp_copies,
                                              **record}) + "\n")
    finally:
        classify_select.SELECTION_FOLDS, classify_select.warp_copies_for = folds, copies_for
    return 0


if __name__ == "__main__":
    sys.exit(main())
