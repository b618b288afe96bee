"""Options chosen by cross-validation on the training split: scikit-learn's ``GridSearchCV``
around ``lstmkit.Classifier``, scored on the test split (issue 12: "choosing ... by validation
rather than a fixed rule").

For every data set (``bench_classify.py``'s loaders: the same files, splits and generated sets)
and seed, the training series are handed over as arrays (``(channels, steps)`` each) with their
labels; ``GridSearchCV(Classifier(seed=s), {OPTION: VALUES}, cv=StratifiedKFold(K, shuffle,
random_state=s))`` fits every value on K-1 folds, scores it on the fold left out, refits the
value with the best mean on the whole training split (ties go to the first value listed, so list
the default first), and that model is scored on the test split. Printed per fit: the value
chosen, every value's cross-validated accuracy, the test accuracy and the wall seconds (K x
values + 1 fits).

    python benchmarks/select_classify.py --datasets BME,Covid3Month_disc --seeds 0,1,2 \\
        --option conv_segments --values 1,3 --threads 1 [--json OUT]

Needs scikit-learn (in ``lstmkit[test]``), and the benchmark extras for the packaged sets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_value(text: str):
    """One value as JSON (numbers, true/false, [lists]), else as text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_values(text: str) -> list:
    """``1,3`` -> [1, 3]: the values between commas, each by :func:`parse_value`."""
    return [parse_value(item) for item in text.split(",")]


def select(name: str, seed: int, option: str, values: list, folds: int, split_seed: int = 0,
           fixed: dict | None = None) -> dict:
    """One grid search on ``name``'s training split with model seed ``seed`` (every other option
    the default, or ``fixed``'s); the chosen model's test accuracy."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    import bench_classify
    import lstmkit

    train, test = bench_classify.load(name, split_seed)
    X, y = [s.T for s in train.sequences], np.asarray(train.labels)  # (channels, steps): aeon's layout
    X_test, y_test = [s.T for s in test.sequences], np.asarray(test.labels)
    start = time.perf_counter()
    search = GridSearchCV(lstmkit.Classifier(seed=seed, progress=False, **(fixed or {})), {option: values},
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed), refit=True)
    search.fit(X, y)
    accuracy = float(search.score(X_test, y_test))
    cv = {json.dumps(p[option]): float(s) for p, s in zip(search.cv_results_["params"],
                                                          search.cv_results_["mean_test_score"])}
    return {"dataset": name, "seed": seed, "option": option, "chosen": search.best_params_[option],
            "cv_accuracy": cv, "test_accuracy": accuracy, "seconds": time.perf_counter() - start,
            "fits": folds * len(values) + 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", required=True, help="comma-separated, as bench_classify.py names them")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--option", default="conv_segments", help="a Classifier option (default conv_segments)")
    parser.add_argument("--values", default="1,3", help="its values, the default first (default 1,3)")
    parser.add_argument("--folds", type=int, default=3, help="stratified folds of the training split (default 3)")
    parser.add_argument("--fixed", action="append", default=[], metavar="KEY=JSON",
                        help="another option held at a value for every fit (repeatable; default: the defaults)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=None, metavar="OUT")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    import lstmkit

    lstmkit.retain_freed_memory()  # as the lstmkit command does: freed memory reused, not faulted in again
    values = parse_values(args.values)
    fixed = {key: parse_value(value) for key, value in (item.split("=", 1) for item in args.fixed)}
    runs = []
    for name in args.datasets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            run = select(name, seed, args.option, values, args.folds, args.split_seed, fixed)
            runs.append(run)
            cv = ", ".join(f"{k}: {v:.3f}" for k, v in run["cv_accuracy"].items())
            print(f"{name} seed {seed}: {args.option}={run['chosen']!r} chosen (cross-validated {cv}); "
                  f"test {run['test_accuracy']:.4f} ({run['seconds']:.0f} s, {run['fits']} fits)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"option": args.option, "values": values, "folds": args.folds,
                                               "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
