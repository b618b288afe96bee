"""``lstmkit detect``: find anomalies in time series with an LSTM, score them against labels
and baselines, or follow a growing file and flag new rows as they come."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lstmkit.cli.common import (
    add_training_arguments,
    estimator_options,
    finite_positive_float,
    holds_run_dir,
    positive_float,
    positive_int,
    probability,
)

# the AnomalyDetector's defaults (DetectorParams; here so that --help need not import torch)
LEARNING_RATE, BATCH_SIZE, PATIENCE, MAX_EPOCHS = 5e-3, 32, 8, 40
BUNDLED = "kdd_tsad_135.csv"
BUNDLED_LABEL = "is_anomaly"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train an LSTM anomaly detector on the normal span of DATA (one series or many, long "
        "format), score every step, flag anomalous events, and with --label score it (VUS-PR, "
        "AUC-PR, range-based and point F1) beside simple baselines. With no DATA it runs on the "
        "bundled KDD-TSAD series 135 (InternalBleeding16, 7501 steps, one labelled anomaly), "
        "trained on its first 1200 steps."
    )
    parser.add_argument("data", nargs="?", metavar="DATA", help="CSV or Parquet file (default: bundled KDD-TSAD 135)")
    parser.add_argument("--method", default="prediction", choices=["prediction", "reconstruction"],
                        help="prediction: LSTM forecaster + Telemanom's dynamic threshold (Hundman et al. 2018, "
                             "default); reconstruction: LSTM encoder-decoder (Malhotra et al. 2016)")
    columns = parser.add_argument_group("columns")
    columns.add_argument("--time", default=None, metavar="COL", help="time column (default ds)")
    columns.add_argument("--target", default=None, metavar="COLS",
                         help="value column(s) to watch, comma-separated for a multivariate series (default y)")
    columns.add_argument("--id", "--series-id", dest="id", default=None, metavar="COL",
                         help="series id column (default unique_id when present, else one series)")
    columns.add_argument("--covariates", default="", metavar="COLS", help="columns the network reads but nothing scores")
    columns.add_argument("--freq", default=None, metavar="F", help="pandas frequency (default: inferred)")
    columns.add_argument("--fill", default=None, choices=["ffill", "bfill", "interpolate", "zero"],
                         help="fill missing values and gaps this way (default: refuse them)")
    columns.add_argument("--label", default=None, metavar="COL",
                         help="0/1 column of known anomalies: score the detector and the baselines against it")
    columns.add_argument("--label-windows", default=None, metavar="FILE",
                         help="CSV of labelled windows instead of --label: columns start, end (and the id column "
                              "for many series)")
    columns.add_argument("--normal", default=None, metavar="COL", help="0/1 column: train only where it is 1")
    columns.add_argument("--normal-until", default=None, metavar="TIME",
                         help="train only on the steps at or before TIME (default: every step)")
    model = parser.add_argument_group("model")
    model.add_argument("--lookback", type=positive_int, default=None, metavar="N",
                       help="training chunk (prediction, default 250) or window (reconstruction, default 64)")
    model.add_argument("--hidden-size", type=positive_int, default=32, metavar="H", help="LSTM units (default 32)")
    model.add_argument("--num-layers", type=positive_int, default=1, metavar="N", help="LSTM layers (default 1)")
    model.add_argument("--dropout", type=probability, default=0.0, metavar="P", help="dropout between layers")
    threshold = parser.add_argument_group("threshold (Telemanom's defaults)")
    threshold.add_argument("--threshold-step", type=positive_int, default=70, metavar="N",
                           help="steps a threshold window advances by (default 70)")
    threshold.add_argument("--threshold-windows", type=positive_int, default=30, metavar="N",
                           help="steps per window, in --threshold-step units (default 30: 2100 steps)")
    threshold.add_argument("--smoothing", type=probability, default=0.05, metavar="F",
                           help="EWMA span as a fraction of the window (default 0.05: 105 steps)")
    threshold.add_argument("--error-buffer", type=positive_int, default=100, metavar="N",
                           help="steps around a flagged error that join its event (default 100)")
    threshold.add_argument("--prune", type=probability, default=0.13, metavar="P",
                           help="minimum fall between event peaks kept as anomalies (default 0.13)")
    threshold.add_argument("--guard", type=positive_float, default=2.0, metavar="X",
                           help="never flag errors below X times the normal span's mean (default 2)")
    threshold.add_argument("--score-scales", type=positive_int, default=5, metavar="N",
                           help="prediction: the score's EWMA spans, 1 step to the smoothing span (default 5: "
                                "1, 3, 10, 33, 105; 1: that span only)")
    threshold.add_argument("--threshold-quantile", type=probability, default=0.995, metavar="Q",
                           help="reconstruction: flag scores above this quantile of the normal span's (default 0.995)")
    parser.add_argument("--max-buffer", type=int, default=500, metavar="N",
                        help="VUS-PR: the largest label buffer (default 500, Paparrizos et al.)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="score DATA with the detector saved in DIR, without training")
    parser.add_argument("--follow", default=None, metavar="FILE",
                        help="with --model: read rows appended to FILE (- for stdin) and print flags as they come")
    parser.add_argument("--idle", type=positive_float, default=None, metavar="SEC",
                        help="with --follow FILE: stop after SEC seconds without a new row (default: follow until Ctrl-C)")
    group = add_training_arguments(parser, max_epochs=MAX_EPOCHS, out_help="run directory (default runs/detect-<time>)")
    group.add_argument("--learning-rate", type=finite_positive_float, default=LEARNING_RATE, metavar="LR",
                       help=f"Adam learning rate (default {LEARNING_RATE:g})")
    group.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE, metavar="B",
                       help=f"training chunks per batch (default {BATCH_SIZE})")
    group.add_argument("--patience", type=positive_int, default=PATIENCE, metavar="N",
                       help=f"stop after N epochs without a better validation loss (default {PATIENCE})")


def _columns(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in (text or "").split(",") if c.strip())


def run(args: argparse.Namespace) -> int:
    from lstmkit.cli.main import UsageError

    if args.follow is not None:
        if not args.model:
            raise UsageError("--follow needs --model DIR (a detector trained before)")
        from lstmkit.cli.detect_follow import follow

        return follow(args)
    if args.idle is not None:
        raise UsageError("--idle goes with --follow")
    if args.max_buffer < 0:
        raise UsageError(f"--max-buffer must be 0 or more, got {args.max_buffer}")
    return _run(args)


def _read_options(args, bundled: bool) -> dict:
    options = dict(time=args.time, target=_columns(args.target) or None, id=args.id,
                   covariates=_columns(args.covariates) or None, freq=args.freq, fill=args.fill,
                   label=args.label or (BUNDLED_LABEL if bundled and not args.label_windows else None),
                   normal=args.normal, label_windows=args.label_windows)
    return {k: v for k, v in options.items() if v is not None}


@holds_run_dir("detect")
def _run(args: argparse.Namespace) -> int:
    from lstmkit.data import bundled_path
    from lstmkit.data.datasets import KDD_TSAD_135_NORMAL_UNTIL
    from lstmkit.tasks.detect_data import check_labels, read_detect_data

    bundled = args.data is None
    data = args.data or str(bundled_path(BUNDLED))
    out = Path(args.out)
    started = time.perf_counter()
    if not args.model:  # bad data is reported before torch is imported (a second, not five)
        data = read_detect_data(data, **_read_options(args, bundled))
        check_labels(data)  # before training: labels the metrics cannot use would waste it
    from lstmkit.tasks.detect import AnomalyDetector

    if args.model:
        detector = AnomalyDetector.load(args.model)
        d = detector.read(data, **_read_options(args, bundled))
        check_labels(d)
    else:
        detector = AnomalyDetector(**estimator_options(AnomalyDetector, args))
        d = detector.read(data)
        normal_until = args.normal_until or (KDD_TSAD_135_NORMAL_UNTIL if bundled and not args.normal else None)
        _progress(f"training the {args.method} detector")
        detector.fit(d, normal_until=normal_until, run_dir=out, resume_from=args.resume)
        if not detector.fit_result.is_global_zero:
            return 0
    detection = detector.detect(d)
    evaluation = None
    if d.labels is not None:
        _progress(f"scoring against the labels (VUS-PR over buffers 0..{args.max_buffer})")
        evaluation = detector.evaluate(d, detection=detection, max_buffer=args.max_buffer)

    # everything is computed: now write (each file atomically)
    _write(out, detector, d, detection, evaluation, args, bundled, time.perf_counter() - started)
    _print_events(detection, "series" in detection.events.columns)
    if evaluation is not None:
        print_metrics(evaluation, detector.params.method)
    print(f"run directory: {out}  (scores.csv, anomalies.csv, detection.png, metrics.json"
          f"{'' if args.model else ', model'})")
    return 0


def _write(out: Path, detector, d, detection, evaluation, args, bundled: bool, seconds: float) -> None:
    from lstmkit.report.detect_plot import detection_plot
    from lstmkit.runs import write_csv, write_json

    spec = detector.spec
    scores = detection.scores.rename(columns={spec.time: "time", d.ts.roles.id: "series"})
    events = detection.events
    if not args.model:
        detector.save(out)
    metrics = {
        "data": str(args.data or f"bundled:{BUNDLED}"),
        "method": detector.params.method,
        "series": d.ts.n_series,
        "steps": len(scores),
        "targets": list(spec.targets),
        "lookback": spec.lookback,
        "events": len(events),
        "flagged_steps": int(scores["flag"].sum()),
        "backends": dict(detector.net.encoder.backend_counts),
        "seconds": round(seconds, 2),
    }
    if detector.fit_result is not None:
        metrics.update(epochs=detector.fit_result.epochs, best_val_loss=detector.fit_result.best_val_loss)
    if evaluation is not None:
        metrics["label"] = d.label_column
        metrics["evaluation"] = evaluation
        metrics["note"] = ("point_adjusted_F1 counts a labelled event as wholly found when one of its steps is "
                           "flagged; it inflates (Kim et al. 2022): read point_F1 and VUS-PR")
    write_csv(out / "scores.csv", scores)
    write_csv(out / "anomalies.csv", events)
    write_json(out / "metrics.json", metrics)
    detection_plot(detection.values, detection.scores, out / "detection.png", time=spec.time, targets=spec.targets,
                   id=d.ts.roles.id if (spec.has_id or d.ts.has_id) else None)


def _print_events(detection, has_id: bool, limit: int = 20) -> None:
    events = detection.events
    print(f"{len(events)} anomalous event{'s' if len(events) != 1 else ''} flagged"
          f"{':' if len(events) else ''}")
    for row in events.head(limit).itertuples(index=False):
        who = f"{row.series}  " if has_id else ""
        print(f"  {who}{row.start} .. {row.end}  ({row.steps} steps, peak score {row.peak_score:.2f})")
    if len(events) > limit:
        print(f"  ... {len(events) - limit} more in anomalies.csv")


def print_metrics(evaluation: dict, method: str) -> None:
    """The table: the detector's metrics, the baselines' beside them."""
    periods = set(evaluation.get("seasonal_naive_period", {}).values())
    seasonal = f"seasonal naive, m={periods.pop()}" if len(periods) == 1 else "seasonal naive"  # one lag: name it
    rows = [(f"lstm ({method})", evaluation["detector"]), ("rolling z-score", evaluation["rolling_zscore"]),
            (seasonal, evaluation["seasonal_naive"]), ("random (floor)", evaluation["random"])]
    names = [("VUS-PR", "VUS-PR"), ("AUC-PR", "AUC-PR"), ("range_F1", "range-F1"), ("point_F1", "point-F1"),
             ("point_adjusted_F1", "PA-F1*")]
    print(f"{'':<22}" + "".join(f"{label:>10}" for _, label in names))
    for name, row in rows:
        cells = "".join(f"{row[key]:>10.3f}" if key in row else f"{'':>10}" for key, _ in names)
        print(f"{name:<22}{cells}")
    d = evaluation["detector"]
    print(f"range precision {d['range_precision']:.3f}, range recall {d['range_recall']:.3f} (Tatbul et al. 2018, "
          f"flat bias); {evaluation['labelled_events']} labelled event(s), anomaly rate {evaluation['anomaly_rate']:.4f}")
    print("* point-adjusted F1 counts a labelled event as found when any one of its steps is flagged; it "
          "inflates (Kim et al. 2022): compare the unadjusted point-F1 and VUS-PR")


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(message, file=sys.stderr)
