"""A quick screen for the selection's trend and whole-series candidates (issue 12): where would
each be taken?

For every data set (``bench_classify.py``'s loaders) and seed, on the training split alone, the
selection's first candidate (P = 1) and its trend candidate (P = 1 with every channel split at
``W = round(median length / 16)``, :func:`lstmkit.tasks.classify_select.trend_candidate_window`)
as two single networks on the selection's folds, steps and block width, each series held out
once. Printed per set and seed: W, both held-out accuracies and log-losses, the split's paired
per-series log-loss difference ``δ̄ ± se`` against P = 1, and ``beyond`` where the split is better
on both measures and ``δ̄ + se < 0``. That is necessary for the selection to take it, not
sufficient (it must also beat the choice so far among P = 3, its dropout and the maximum:
``bench_select.py`` says), and about a third of a selection's cost. The selection's own P = 1
is a member of a three-network ensemble, so its figures differ a little from these.

``--candidate series`` screens the whole-series candidate in the same way: P = 1 with the longest
training series one LSTM step (``patch="series"``, LSTM-FCN's dimension shuffle) against P = 1
read in the length rule's patches; its lines and records say ``series`` where the trend's give W.

    python benchmarks/screen_trend.py --datasets GunPoint,ItalyPowerDemand --seeds 0 --threads 1 [--json OUT]
    python benchmarks/screen_trend.py --candidate series --datasets ArrowHead --seeds 0,1,2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_select import add_arguments  # noqa: E402


CANDIDATES = ("trend", "series")


def screen(train, seed: int, candidate: str = "trend", **options) -> dict | None:
    """The record for one set and seed (None: a class has fewer series than the folds);
    ``candidate``: ``"trend"`` (the split at W) or ``"series"`` (``patch="series"``) against P = 1;
    ``options``: the Classifier's, beside its defaults."""
    import lstmkit
    from lstmkit.tasks import classify_select as cs

    if cs._fewest_per_class(train) < cs.SELECTION_FOLDS:
        return None
    params = lstmkit.Classifier(**{"progress": False, **options}, seed=seed).get_params()
    window = cs.trend_candidate_window(np.median(train.lengths))
    common = {**params, "mixup": cs._first_member(params["mixup"]), "kernel_scales": (1.0,), "fold_offsets": 1,
              "max_steps": cs._selection_steps(params), "val_fraction": 0.0, "progress": False, "devices": 1,
              "strategy": "auto", "max_time": None, "series_member": False, "conv_segments": (1,), "segment_dropout": (0.0,),
              "conv_max": (False,), "ensemble": 1, "fold_scales": (cs.SELECTION_FOLD_SCALE,)}
    other = {"trend_window": window} if candidate == "trend" else {"trend_window": 0, "patch": "series"}
    proba = cs._cross_validated_proba(lstmkit.Classifier, [{**common, "trend_window": 0},
                                                                   {**common, **other}], train, seed)
    truth = train.label_indices(list(train.classes))
    (plain, plain_right), (split, split_right) = (cs.held_out_losses(p, truth) for p in proba)
    mean, se = cs.paired_difference(split, plain)
    beyond = bool(split_right.mean() > plain_right.mean() and split.mean() < plain.mean() and mean + se < 0)
    return {"window": window if candidate == "trend" else "series", "accuracy": [float(plain_right.mean()), float(split_right.mean())],
            "log_loss": [float(plain.mean()), float(split.mean())], "difference": [mean, se], "beyond": beyond}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, seeds="0")
    parser.add_argument("--candidate", choices=CANDIDATES, default="trend",
                        help="trend: the split at W (default); series: the longest series one LSTM step")
    args = parser.parse_args(argv)

    import torch
    from bench_classify import load

    import lstmkit

    if args.threads:
        torch.set_num_threads(args.threads)
    lstmkit.retain_freed_memory()  # as the lstmkit command does: freed memory reused, not faulted in again
    print(f"{'data set':24s} seed      W  accuracy P1 -> split  log-loss P1 -> split  δ̄ ± se            s")
    for name in args.datasets.split(","):
        train, _ = load(name, 0)
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.perf_counter()
            record = screen(train, seed, args.candidate)
            if record is None:
                print(f"{name:24s} {seed:4d}  skipped: a class has fewer training series than the folds")
                continue
            (a0, a1), (l0, l1), (mean, se) = record["accuracy"], record["log_loss"], record["difference"]
            print(f"{name:24s} {seed:4d} {record['window']:>6}  {a0:.3f} -> {a1:.3f}        {l0:.3f} -> {l1:.3f}"
                  f"        {mean:+.3f} ± {se:.3f}  {'beyond' if record['beyond'] else '-':6s}"
                  f" {time.perf_counter() - started:5.0f}", flush=True)
            if args.json:
                with open(args.json, "a") as out:
                    out.write(json.dumps({"set": name, "seed": seed, **record}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
