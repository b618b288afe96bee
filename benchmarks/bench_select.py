"""The default's choice of P, the parts' dropout, the conv branch's maximum and the trend split, on the training
split alone (issue 12):
``lstmkit.tasks.classify_select.select_conv_segments(Classifier(seed=s), train)`` per data set
and seed, the selection that ``Classifier().fit`` runs before its own fit.

Printed per set and seed: each candidate's held-out accuracy and log-loss over the training
series (3 stratified folds), its paired per-series log-loss difference against P = 1 with the
standard error (``δ̄ ± se``: the margin the rule asks for is ``δ̄ + se < 0``), the choice, and
the choice the rule would make without that margin (better on both measures than the one chosen
so far, by any amount). The test split is not read: the test accuracy of a choice is the fit
with that (P, dropout) given, ``bench_classify.py``'s or the screening's.

    python benchmarks/bench_select.py --datasets ACSF1,BME --seeds 0,1,2 --threads 1 [--json OUT]

The data sets are ``bench_classify.py``'s (the same loaders, files and generated sets).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def without_margin(record: dict) -> int:
    """The index the rule without the margin takes: each candidate in order replaces the one
    chosen so far when it is better on both the held-out accuracy and log-loss."""
    best = 0
    for j in range(1, len(record["choices"])):
        if record["accuracy"][j] > record["accuracy"][best] and record["log_loss"][j] < record["log_loss"][best]:
            best = j
    return best


def label(record: dict, j: int) -> str:
    p, r = record["choices"][j], record["dropouts"][j]
    maximum = (record.get("maxes") or [False] * len(record["choices"]))[j]  # records from before the maximum
    trend = (record.get("trends") or [None] * len(record["choices"]))[j]  # records from before the trend
    return f"P{p}" + (f"+d{r:g}" if p > 1 and r > 0 else "") + ("+max" if maximum else "") + (f"+t{trend}" if trend else "")


def add_arguments(parser: argparse.ArgumentParser, seeds: str = "0,1,2") -> None:
    """The data sets, seeds, threads and JSON output, as this script and screen_trend.py take them."""
    parser.add_argument("--datasets", required=True, help="comma-separated, bench_classify.py's names")
    parser.add_argument("--seeds", default=seeds, help=f"model seeds (default {seeds})")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=None, metavar="OUT", help="append one JSON line per set and seed here")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)

    import torch

    import lstmkit
    from bench_classify import load
    from lstmkit.tasks.classify_select import select_conv_segments

    if args.threads:
        torch.set_num_threads(args.threads)
    lstmkit.retain_freed_memory()  # as the lstmkit command does: freed memory reused, not faulted in again
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{'data set':24s} seed  {'held-out accuracy':36s} {'log-loss':36s} {'δ̄ ± se against P1':60s} chosen  no margin   s")
    for name in args.datasets.split(","):
        train, _ = load(name, 0)
        for seed in seeds:
            started = time.perf_counter()
            record = select_conv_segments(lstmkit.Classifier(seed=seed, progress=False), train)
            seconds = time.perf_counter() - started
            chosen = [label(record, j) for j in range(len(record["choices"]))
                      if (record["choices"][j], record["dropouts"][j], record["maxes"][j], record["trends"][j])
                      == (record["chosen"], record["chosen_dropout"], record["chosen_max"],
                          record["chosen_trend"])][0]
            if record["skipped"]:
                print(f"{name:24s} {seed:4d}  skipped: {record['skipped']}")
            else:
                accuracy = " / ".join(f"{a:.3f}" for a in record["accuracy"])
                loss = " / ".join(f"{v:.3f}" for v in record["log_loss"])
                diffs = " / ".join(f"{d[0]:+.3f} ± {d[1]:.3f}" for d in record["difference"][1:])
                print(f"{name:24s} {seed:4d}  {accuracy:36s} {loss:36s} {diffs:60s} {chosen:7s} "
                      f"{label(record, without_margin(record)):9s} {seconds:5.0f}", flush=True)
            if args.json:
                with open(args.json, "a") as out:
                    out.write(json.dumps({"set": name, "seed": seed, **record}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
