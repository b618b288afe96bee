"""Anomaly-detection quality: lstmkit's two detectors beside simple baselines and aeon's detectors.

Every detector scores every step of each series; the score is compared with the series' 0/1
labels by VUS-PR (Paparrizos et al. 2022; ``lstmkit.tasks.detect_metrics.vus_pr``, equal to
aeon's ``range_pr_vus_score``; max buffer 500). One number per series and detector, and the
mean over series.

Series (all offline):

* ``kdd135``: the bundled KDD-TSAD / UCR Anomaly Archive series 135 (InternalBleeding16, 7501
  steps, one labelled anomaly), trained on its anomaly-free first 1200 steps;
* generated series, 3000 steps, the first 1000 anomaly-free (the training span): two
  sinusoids (periods 50 and 13) plus noise, with anomalies injected after step 1000 — ``spikes``
  (5 spikes of 1-3 steps, 4-6 noise-free standard deviations), ``level_shift`` (2 spans of
  50-150 steps shifted by 2 standard deviations), ``seasonality`` (2 spans of 100-200 steps
  whose main period changes from 50 to 30), ``flatline`` (2 spans of 50-100 steps held at
  one value); one series per kind and seed;
* with ``--heldout`` instead, anomaly kinds the defaults were not chosen on, on another signal
  (a 37-step sinusoid plus a 111-step square wave and more noise; :func:`generated_heldout`):
  ``noise``, ``drift``, ``amplitude``, ``dropout``, ``phase``.

Detectors: lstmkit ``AnomalyDetector`` with its defaults (``method="prediction"``, Telemanom)
and with ``method="reconstruction"`` (EncDec-AD), each trained on the anomaly-free span
(``normal_until``) with detector seeds 0, 1, 2 (``--detector-seeds``: the table gives their mean,
a line per detector the mean over the series per seed); the baselines of ``lstmkit.tasks.detect_baselines`` (rolling z-score,
seasonal-naive error with the period estimated on the training span, random: the floor); and,
where aeon is installed, its STOMP (matrix-profile discords; needs stumpy), KMeansAD and
DWT-MLEAD, run unsupervised on the whole series with the window set to the estimated period.
``--one-span`` adds the default detector's nets scored on the threshold's span alone
(``score_scales=1``, the score before the multi-scale ladder): the same nets, rescored.

    python benchmarks/bench_detect.py                      # every series, seeds 0,1; detector seeds 0,1,2
    python benchmarks/bench_detect.py --quick              # kdd135 + one series per kind, seed 0
    python benchmarks/bench_detect.py --heldout --one-span # kinds not chosen on; the score before the ladder too
    python benchmarks/bench_detect.py --json out.json --max-epochs 5   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import numpy as np
import pandas as pd

KINDS = ("spikes", "level_shift", "seasonality", "flatline")
NORMAL = 1000
LENGTH = 3000


def generated(kind: str, seed: int) -> pd.DataFrame:
    """One generated series with ``kind`` anomalies injected after step :data:`NORMAL`."""
    rng = np.random.default_rng(1000 + 17 * seed + KINDS.index(kind))
    t = np.arange(LENGTH)
    phase = 2 * np.pi * t / 50
    y = np.sin(phase) + 0.5 * np.sin(2 * np.pi * t / 13) + 0.1 * rng.standard_normal(LENGTH)
    scale = float(np.std(y[:NORMAL]))
    label = np.zeros(LENGTH, dtype=int)

    def spans(count: int, low: int, high: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        while len(out) < count:
            length = int(rng.integers(low, high + 1))
            start = int(rng.integers(NORMAL + 50, LENGTH - length - 10))
            if all(start > b + 100 or start + length < a - 100 for a, b in out):
                out.append((start, start + length - 1))
        return out

    if kind == "spikes":
        for a, b in spans(5, 1, 3):
            y[a:b + 1] += rng.choice([-1, 1]) * rng.uniform(4, 6) * scale
            label[a:b + 1] = 1
    elif kind == "level_shift":
        for a, b in spans(2, 50, 150):
            y[a:b + 1] += 2 * scale
            label[a:b + 1] = 1
    elif kind == "seasonality":
        for a, b in spans(2, 100, 200):
            steps = np.arange(b - a + 1)
            y[a:b + 1] += np.sin(phase[a] + 2 * np.pi * steps / 30) - np.sin(phase[a:b + 1])
            label[a:b + 1] = 1
    elif kind == "flatline":
        for a, b in spans(2, 50, 100):
            y[a:b + 1] = y[a]
            label[a:b + 1] = 1
    times = pd.date_range("2024-01-01", periods=LENGTH, freq="min")
    return pd.DataFrame({"ds": times, "y": y, "is_anomaly": label})


#: Anomaly kinds the detector's defaults were not chosen on (``--heldout``), on another signal.
HELDOUT_KINDS = ("noise", "drift", "amplitude", "dropout", "phase")


def generated_heldout(kind: str, seed: int) -> pd.DataFrame:
    """A series of another shape than :func:`generated`'s (a 37-step sinusoid, a 111-step square
    wave, more noise) with two spans of 60-160 steps of a ``kind`` anomaly after step
    :data:`NORMAL`: ``noise`` (4x the noise), ``drift`` (a ramp to 1.5), ``amplitude`` (the
    signal 1.6x), ``dropout`` (the sensor reads 0), ``phase`` (the sinusoid 15 steps ahead)."""
    rng = np.random.default_rng(5000 + 31 * seed + HELDOUT_KINDS.index(kind))
    t = np.arange(LENGTH)

    square = 0.3 * np.sign(np.sin(2 * np.pi * t / 111))
    y = np.sin(2 * np.pi * t / 37) + square + 0.15 * rng.standard_normal(LENGTH)
    label = np.zeros(LENGTH, dtype=int)
    for k in range(2):
        a = int(rng.integers(NORMAL + 100 + k * 900, NORMAL + 700 + k * 900))
        n = int(rng.integers(60, 160))
        if kind == "noise":
            y[a:a + n] += 0.45 * rng.standard_normal(n)
        elif kind == "drift":
            y[a:a + n] += np.linspace(0, 1.5, n)
        elif kind == "amplitude":
            y[a:a + n] *= 1.6
        elif kind == "dropout":
            y[a:a + n] = 0.0
        elif kind == "phase":
            y[a:a + n] = np.sin(2 * np.pi * (t[a:a + n] + 15) / 37) + square[a:a + n] + 0.15 * rng.standard_normal(n)
        label[a:a + n] = 1
    times = pd.date_range("2024-01-01", periods=LENGTH, freq="min")
    return pd.DataFrame({"ds": times, "y": y, "is_anomaly": label})


def datasets(quick: bool, seeds: list[int], heldout: bool = False) -> list[tuple[str, pd.DataFrame, pd.Timestamp]]:
    if heldout:
        out = []
        for seed in seeds[:1] if quick else seeds:
            for kind in HELDOUT_KINDS:
                frame = generated_heldout(kind, seed)
                out.append((f"{kind}-{seed}", frame, frame["ds"].iloc[NORMAL - 1]))
        return out

    from lstmkit.data import load_kdd_tsad_135
    from lstmkit.data.datasets import KDD_TSAD_135_NORMAL_UNTIL

    out = [("kdd135", load_kdd_tsad_135(), pd.Timestamp(KDD_TSAD_135_NORMAL_UNTIL))]
    for seed in seeds[:1] if quick else seeds:
        for kind in KINDS:
            frame = generated(kind, seed)
            out.append((f"{kind}-{seed}", frame, frame["ds"].iloc[NORMAL - 1]))
    return out


def aeon_detectors(period: int) -> dict:
    """aeon's detectors that run here (each import may fail: then it is left out)."""
    found = {}
    window = max(4, int(period))
    try:
        from aeon.anomaly_detection.series.distance_based import STOMP

        STOMP(window_size=window)  # raises when stumpy is missing
        found["aeon STOMP"] = lambda: STOMP(window_size=window)
    except Exception as exc:  # noqa: BLE001 - a missing optional package leaves the detector out
        found["aeon STOMP"] = exc
    try:
        from aeon.anomaly_detection.series.distance_based import KMeansAD

        found["aeon KMeansAD"] = lambda: KMeansAD(n_clusters=20, window_size=window, random_state=0)
    except Exception as exc:  # noqa: BLE001
        found["aeon KMeansAD"] = exc
    try:
        from aeon.anomaly_detection.series.distribution_based import DWT_MLEAD

        found["aeon DWT-MLEAD"] = lambda: DWT_MLEAD()
    except Exception as exc:  # noqa: BLE001
        found["aeon DWT-MLEAD"] = exc
    return found


def unsupervised_scores(detector, z: np.ndarray) -> np.ndarray:
    """``detector.fit_predict(z)`` (an aeon detector) as float64, torch's thread count kept: aeon's
    numba kernels run on the OpenMP runtime torch shares, and numba's threading layer sets it to
    every core, so the lstmkit fits after the first series ran on 2 threads (2 processes: 4 busy
    threads on 2 cores, and ``auto`` choosing by the 2-thread measurements)."""
    from lstmkit.train.engine import cpu_threads

    with cpu_threads(None), warnings.catch_warnings():  # the count restored on the way out
        warnings.simplefilter("ignore")
        return np.asarray(detector.fit_predict(z), dtype=np.float64)


def one_span_detector(detector):
    """A copy of the fitted prediction ``detector`` that scores on the threshold's span alone
    (``score_scales=1``): the same net and errors, the longest span of its ladder."""
    import copy

    single = copy.deepcopy(detector)
    s = single.spec
    s.score_spans = s.score_spans[-1:]
    s.score_mean = {uid: m[-1:] for uid, m in s.score_mean.items()}
    s.score_std = {uid: d[-1:] for uid, d in s.score_std.items()}
    single.params.score_scales = 1
    return single


def run(quick: bool, seeds: list[int], max_epochs: int | None, use_aeon: bool, max_buffer: int,
        only: list[str] | None = None, detector_seeds: tuple[int, ...] = (0,), heldout: bool = False,
        one_span: bool = False, reconstruction: bool = True) -> dict:
    import torch

    from lstmkit.tasks import detect_baselines as bl
    from lstmkit.tasks.detect import AnomalyDetector
    from lstmkit.tasks.detect_metrics import vus_pr

    torch.set_num_threads(1)
    results: dict[str, dict[str, float]] = {}
    per_seed: dict[str, dict[str, list[float]]] = {}  # series -> lstmkit detector -> VUS-PR per detector seed
    seconds: dict[str, float] = {}
    notes: list[str] = []
    variants = [("lstmkit prediction", {"method": "prediction"})]
    if reconstruction:
        variants.append(("lstmkit reconstruction", {"method": "reconstruction"}))
    one_span_key = "lstmkit prediction, one span"
    for name, frame, normal_until in datasets(quick, seeds, heldout):
        if only and name not in only:
            continue
        y = frame["is_anomaly"].to_numpy()
        values = frame["y"].to_numpy()
        normal = (frame["ds"] <= normal_until).to_numpy()
        mean, std = values[normal].mean(), values[normal].std()
        z = (values - mean) / std
        period = bl.estimate_period(z[normal])
        series_started = time.perf_counter()
        row: dict[str, float] = {}
        for key, variant in variants:
            for seed in detector_seeds:
                options = {**variant, "progress": False, "seed": seed}
                if max_epochs:
                    options["max_epochs"] = max_epochs
                started = time.perf_counter()
                detector = AnomalyDetector(**options).fit(frame, normal_until=normal_until)
                score = detector.detect(frame).scores["score"].to_numpy()
                seconds[key] = seconds.get(key, 0.0) + (time.perf_counter() - started) / len(detector_seeds)
                per_seed.setdefault(name, {}).setdefault(key, []).append(vus_pr(y, score, max_buffer))
                if one_span and variant["method"] == "prediction":  # the same net, the threshold's span alone
                    score = one_span_detector(detector).detect(frame).scores["score"].to_numpy()
                    per_seed[name].setdefault(one_span_key, []).append(vus_pr(y, score, max_buffer))
            row[key] = float(np.mean(per_seed[name][key]))
            if one_span and variant["method"] == "prediction":
                row[one_span_key] = float(np.mean(per_seed[name][one_span_key]))
        for key, score in bl.baseline_scores(z, period, seed=0).items():
            row[key] = vus_pr(y, score, max_buffer)
        if use_aeon:
            for key, make in aeon_detectors(period).items():
                if isinstance(make, Exception):
                    if not any(n.startswith(key) for n in notes):
                        notes.append(f"{key} left out: {type(make).__name__}: {str(make).splitlines()[0]}")
                    continue
                started = time.perf_counter()
                score = unsupervised_scores(make(), z)
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started
                row[key] = vus_pr(y, score, max_buffer)
        results[name] = row
        print(f"{name:<16}" + "  ".join(f"{k} {v:.3f}" for k, v in row.items())
              + f"  ({time.perf_counter() - series_started:.0f} s)", flush=True)
    return {"vus_pr": results, "per_seed": per_seed, "detector_seeds": list(detector_seeds), "seconds": seconds,
            "notes": notes}


def table(report: dict) -> str:
    results = report["vus_pr"]
    columns = list(next(iter(results.values())))
    lines = ["| series | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for name, row in results.items():
        best = max(row.values())
        cells = [f"**{row[c]:.3f}**" if row[c] == best else f"{row[c]:.3f}" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = {c: float(np.mean([row[c] for row in results.values()])) for c in columns}
    best = max(means.values())
    lines.append("| **mean** | " + " | ".join(f"**{means[c]:.3f}**" if means[c] == best else f"{means[c]:.3f}"
                                             for c in columns) + " |")
    return "\n".join(lines)


def spread(report: dict) -> str:
    """Each lstmkit detector's mean VUS-PR over the series, per detector seed."""
    lines = []
    per_seed = report["per_seed"]
    for key in next(iter(per_seed.values()), {}):
        by_seed = np.mean([per_seed[name][key] for name in per_seed], axis=0)
        lines.append(f"{key}: mean over the series per detector seed "
                     + ", ".join(f"{seed}: {v:.3f}" for seed, v in zip(report["detector_seeds"], by_seed)))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="kdd135 and one generated series per kind (seed 0)")
    parser.add_argument("--seeds", default="0,1", help="seeds of the generated series (default 0,1)")
    parser.add_argument("--max-epochs", type=int, default=None, help="override the detectors' epochs (smoke runs)")
    parser.add_argument("--max-buffer", type=int, default=500, help="VUS-PR's largest buffer (default 500)")
    parser.add_argument("--no-aeon", action="store_true", help="leave aeon's detectors out")
    parser.add_argument("--series", default=None, help="only these series, comma-separated (e.g. kdd135,spikes-1)")
    parser.add_argument("--detector-seeds", default="0,1,2",
                        help="seeds of lstmkit's detectors; the table gives their mean (default 0,1,2)")
    parser.add_argument("--heldout", action="store_true",
                        help=f"the held-out anomaly kinds instead ({', '.join(HELDOUT_KINDS)}; another signal)")
    parser.add_argument("--one-span", action="store_true",
                        help="also the prediction detector scored on the smoothing span alone (score_scales=1)")
    parser.add_argument("--no-reconstruction", action="store_true",
                        help="leave the reconstruction detector out")
    parser.add_argument("--json", default=None, help="write the numbers to this file")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    started = time.perf_counter()
    report = run(args.quick, [int(s) for s in args.seeds.split(",")], args.max_epochs, not args.no_aeon,
                 args.max_buffer, args.series.split(",") if args.series else None,
                 tuple(int(s) for s in args.detector_seeds.split(",")), args.heldout, args.one_span,
                 not args.no_reconstruction)
    print()
    print(f"VUS-PR (higher is better; random is the floor; lstmkit: the mean over detector seeds "
          f"{args.detector_seeds})")
    print(table(report))
    print(spread(report))
    for note in report["notes"]:
        print(f"note: {note}")
    print("seconds in total per detector: " + ", ".join(f"{k} {v:.0f}" for k, v in report["seconds"].items()))
    print(f"wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
