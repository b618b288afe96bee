"""``lstmkit forecast``: train, backtest and forecast time series from a CSV or Parquet file."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from lstmkit.cli.common import (add_training_arguments, estimator_options, finite_positive_float, holds_run_dir,
                                positive_int, probability)

# the Forecaster's defaults (ForecasterParams; kept here so --help need not import torch; a test
# checks they agree)
LEARNING_RATE, BATCH_SIZE, DROPOUT, PATIENCE, MAX_EPOCHS = 1e-2, 32, 0.0, 30, 100
ENSEMBLE, COMBINE, VALIDATION = 5, "weights", "folds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train an LSTM forecaster on DATA (one series, or many in long format), score it in a "
        "rolling-origin backtest against naive and seasonal-naive forecasts (and AutoARIMA and "
        "AutoETS when statsforecast is installed), and forecast the next --horizon steps. The time "
        "column holds dates, years or step numbers (0, 1, 2, ...: the season is then read from the "
        "data unless --season-length gives it). With no DATA it runs on the bundled AirPassengers "
        "series (monthly, 1949-1960)."
    )
    parser.add_argument("data", nargs="?", metavar="DATA", help="CSV or Parquet file (default: bundled AirPassengers)")
    parser.add_argument("--time", default="ds", metavar="COL", help="time column (default ds)")
    parser.add_argument("--target", default="y", metavar="COL", help="value column (default y)")
    parser.add_argument("--id", default=None, metavar="COL",
                        help="series id column (default unique_id when present, else one series)")
    parser.add_argument("--horizon", type=positive_int, default=None, metavar="N",
                        help="steps to forecast (default: one season, or 6)")
    parser.add_argument("--lookback", type=positive_int, default=None, metavar="N",
                        help="steps the model reads (default: 3 seasons or 3 horizons, fitted to the data)")
    parser.add_argument("--freq", default=None, metavar="F", help="pandas frequency, e.g. MS, D, h (default: inferred)")
    parser.add_argument("--season-length", type=positive_int, default=None, metavar="M",
                        help="steps in one season, for the seasonal baselines and the defaults above (default: "
                             "from the frequency, e.g. 12 for monthly data; for a time column of step numbers, "
                             "read from the series' autocorrelation)")
    parser.add_argument("--covariates", default="", metavar="COLS", help="past covariate columns, comma-separated")
    parser.add_argument("--future-covariates", default="", metavar="COLS",
                        help="known-future covariate columns, comma-separated (their future values "
                             "in trailing rows with an empty target)")
    parser.add_argument("--quantiles", default="", metavar="Q,...",
                        help="prediction-interval quantiles, e.g. 0.1,0.5,0.9")
    parser.add_argument("--fill", default=None, choices=["ffill", "bfill", "interpolate", "zero"],
                        help="fill missing values and gaps this way (default: refuse them)")
    parser.add_argument("--transform", default="auto", choices=["auto", "log", "none"],
                        help="target transform (default auto: log when every value is positive)")
    parser.add_argument("--backtest-windows", type=int, default=3, metavar="K",
                        help="rolling-origin backtest windows (default 3; 0 skips the backtest)")
    parser.add_argument("--backtest-stride", type=positive_int, default=None, metavar="S",
                        help="steps between backtest cut-offs (default: the horizon)")
    parser.add_argument("--hidden-size", type=positive_int, default=32, metavar="H", help="LSTM units (default 32)")
    parser.add_argument("--num-layers", type=positive_int, default=1, metavar="N", help="LSTM layers (default 1)")
    parser.add_argument("--cell", default="lstm", choices=["lstm", "gru", "rnn"],
                        help="the encoder's cell (default lstm; gru and rnn for comparison)")
    parser.add_argument("--dropout", type=probability, default=DROPOUT, metavar="P",
                        help=f"dropout between LSTM layers, with --num-layers 2 or more (default {DROPOUT:g})")
    parser.add_argument("--ensemble", type=positive_int, default=ENSEMBLE, metavar="K",
                        help=f"LSTMs trained together, from different initial weights and two lookbacks; "
                             f"their median is the LSTM forecast (default {ENSEMBLE})")
    parser.add_argument("--combine", default=COMBINE, choices=["weights", "best", "none"],
                        help="combine the LSTM with in-house baselines (naive, seasonal naive, drift, Theta, "
                             "linear, AR) by inverse validation error (weights), take the best on validation "
                             f"(best), or use the LSTM alone (none) (default {COMBINE})")
    parser.add_argument("--validation", default=VALIDATION, choices=["folds", "recent"],
                        help="what weighs the combination: folds = blocked cross-validation, each ensemble "
                             "member holding out one block of the training windows, every window scored "
                             "out of fold (the same out-of-fold loss chooses the epochs); recent = the most recent windows, held out from all members "
                             "with the windows whose horizon overlaps theirs; either way the members then train again on every window "
                             f"(default {VALIDATION}; --early-stopping and --ensemble 1 use recent)")
    parser.add_argument("--no-baseline", "--no-statsforecast", dest="no_baseline", action="store_true",
                        help="do not fit AutoARIMA and AutoETS (statsforecast) beside the model in the backtest "
                             "(default: they are, when statsforecast is installed, on the target only; naive and "
                             "seasonal naive are always scored)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="forecast DATA with the model saved in DIR, without training")
    group = add_training_arguments(parser, max_epochs=MAX_EPOCHS, out_help="run directory (default runs/forecast-<time>)",
                           epochs_help=f"most epochs to train (default {MAX_EPOCHS}); with --validation folds the "
                                       f"out-of-fold loss chooses how many, with --early-stopping the validation "
                                       f"loss, with --validation recent all of them")
    group.add_argument("--learning-rate", type=finite_positive_float, default=LEARNING_RATE, metavar="LR",
                       help=f"Adam learning rate (default {LEARNING_RATE:g})")
    group.add_argument("--batch-size", type=positive_int, default=BATCH_SIZE, metavar="B",
                       help=f"training windows per batch (default {BATCH_SIZE})")
    group.add_argument("--patience", type=positive_int, default=PATIENCE, metavar="N",
                       help=f"with --early-stopping: stop after N epochs without a better validation loss "
                            f"(default {PATIENCE})")
    group.add_argument("--early-stopping", action="store_true",
                       help="stop training on the most recent windows (default: off; the folds choose the epochs "
                            "and weigh the combination)")


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _quantiles(text: str) -> tuple[float, ...]:
    from lstmkit.cli.main import UsageError

    values = []
    for part in _columns(text):
        try:
            q = float(part)
        except ValueError:
            raise UsageError(f"--quantiles: {part!r} is not a number; give e.g. 0.1,0.5,0.9") from None
        if not 0.0 < q < 1.0:
            raise UsageError(f"--quantiles: {q} is not strictly between 0 and 1")
        values.append(q)
    return tuple(values)


@holds_run_dir("forecast")
def run(args: argparse.Namespace) -> int:
    from lstmkit.cli.main import UsageError

    if args.backtest_windows < 0:
        raise UsageError(f"--backtest-windows must be 0 or more, got {args.backtest_windows}")
    quantiles = _quantiles(args.quantiles)
    from lstmkit.data import bundled_path, check_future_covariates, read_timeseries
    from lstmkit.runs import default_run_dir, write_csv, write_json

    data = args.data or str(bundled_path("air_passengers.csv"))
    out = Path(args.out) if args.out else (Path(args.resume) if args.resume else default_run_dir("forecast"))
    started = time.perf_counter()
    if not args.model:  # bad data is reported before torch is imported (a second, not five)
        data = read_timeseries(data, time=args.time, target=args.target, id=args.id,
                               past_covariates=_columns(args.covariates),
                               future_covariates=_columns(args.future_covariates), freq=args.freq,
                               fill=args.fill, season_length=args.season_length)
    from lstmkit.tasks.forecast import Forecaster

    if args.model:
        forecaster = Forecaster.load(args.model)
        _refuse_other_settings(args, forecaster, quantiles)
        ts = forecaster.read(data, **_read_overrides(args))
        _print_fill(ts, args.fill)
        forecast = forecaster.predict(ts)
        _write_forecast_outputs(forecaster, ts, forecast, None, out)
        print(f"forecast of {ts.n_series} series, {forecaster.net.config.horizon} steps, with the model in {args.model}")
        print(f"wrote {out}/forecast.csv and {out}/forecast.png")
        return 0

    forecaster = Forecaster(**estimator_options(Forecaster, args, quantiles=quantiles))
    ts = forecaster.read(data)
    _print_fill(ts, args.fill)
    check_future_covariates(ts, forecaster.horizon_for(ts))  # the forecast's rows, before any training
    backtest = None
    if args.backtest_windows > 0:
        _progress(f"backtest: training on the data before the first of {args.backtest_windows} cut-offs")
        if not args.no_baseline and ts.season_length >= 52:
            _progress(f"then statsforecast's AutoARIMA and AutoETS with season length {ts.season_length}: that "
                      "can take minutes (--no-baseline leaves them out)")
        backtest = forecaster.backtest(ts, windows=args.backtest_windows, stride=args.backtest_stride,
                                       baselines=not args.no_baseline)
    _progress("training on all the data")
    forecaster.fit(ts, run_dir=out, resume_from=args.resume)
    if not forecaster.fit_result.is_global_zero:
        return 0  # the extra processes of a data-parallel run write nothing
    forecast = forecaster.predict(ts)

    # everything is computed; now write (each file atomically)
    forecaster.save(out)
    metrics = {
        "data": str(args.data or "bundled:air_passengers.csv"),
        "series": ts.n_series,
        "freq": ts.freq,
        "time_steps": ts.steps,  # the time column held step numbers (freq "s": one step a second)
        "season_detected": ts.season_detected,  # the season was read from the autocorrelation
        "season_length": ts.season_length,
        "horizon": forecaster.net.config.horizon,
        "lookback": forecaster.net.config.lookback,
        "backends": dict(forecaster.net.encoder.backend_counts),
        "epochs": forecaster.fit_result.epochs,
        "processes": forecaster.fit_result.world_size,
        "best_val_loss": forecaster.fit_result.best_val_loss,
        "ensemble": {"members": len(forecaster.members),
                     "lookbacks": [net.config.lookback for net in forecaster.members]},
        "combination": forecaster.combination,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if backtest is not None:
        metrics["backtest"] = {
            "windows": args.backtest_windows,
            "stride": args.backtest_stride or forecaster.net.config.horizon,
            "cutoffs": [int(c) if forecaster.spec.steps or forecaster.spec.years else str(c)
                        for c in backtest.cutoffs],
            "seconds": round(backtest.seconds, 2),
        }
        metrics.update(backtest.metrics)
        if not args.no_baseline:  # statsforecast's models, scored alike (target only)
            metrics["baselines"] = backtest.baselines
            if backtest.baselines_skipped:
                metrics["baselines_skipped"] = backtest.baselines_skipped
        write_csv(out / "backtest.csv", backtest.predictions)
    else:  # an earlier run's backtest in this directory is not this run's
        (out / "backtest.csv").unlink(missing_ok=True)
    write_json(out / "metrics.json", metrics)
    _write_forecast_outputs(forecaster, ts, forecast, backtest, out)
    if backtest is not None:
        _print_table(backtest, ts, forecaster.params.cell)
    if ts.season_detected:
        print(f"season length {ts.season_length}" + (" (none)" if ts.season_length == 1 else "")
              + ": read from the series' autocorrelation (their time column holds step numbers); "
              "--season-length sets it")
    print(_weights_line(forecaster.combination, forecaster.params.cell))
    print(f"forecast: {len(forecast)} rows for {ts.n_series} series -> {out}/forecast.csv")
    print(f"run directory: {out}  (metrics.json, forecast.csv, forecast.png, model)")
    return 0


def _refuse_other_settings(args, forecaster, quantiles: tuple[float, ...]) -> None:
    """With ``--model``, a flag that asks for what the trained network cannot give (another
    horizon, lookback, quantiles, transform or season) is refused, not silently ignored."""
    from lstmkit.cli.main import UsageError

    c, spec = forecaster.net.config, forecaster.spec
    given = {"--horizon": (args.horizon, c.horizon), "--lookback": (args.lookback, c.lookback),
             "--season-length": (args.season_length, spec.season_length),
             "--transform": (None if args.transform == "auto" else args.transform, forecaster.params.transform),
             "--quantiles": (tuple(sorted(set(quantiles) | {0.5})) if quantiles else None, forecaster.quantiles)}
    for flag, (asked, trained) in given.items():
        if asked is not None and asked != trained:
            shown = ",".join(f"{q:g}" for q in trained) if flag == "--quantiles" else trained
            raise UsageError(f"{flag}: the model in {args.model} was trained with {shown}, and a trained network "
                             f"cannot change it; leave {flag} out, or train a new model with it")


def _print_fill(ts, fill: str | None) -> None:
    """What ``--fill`` did, in one line (nothing when it did nothing)."""
    if not fill or not (ts.n_filled or ts.n_trimmed):
        return
    parts = []
    if ts.n_filled:
        parts.append(f"filled {ts.n_filled} missing value{'s' if ts.n_filled != 1 else ''} ({fill})")
    if ts.n_trimmed:
        parts.append(f"left out {ts.n_trimmed} row{'s' if ts.n_trimmed != 1 else ''} before a series' first "
                     f"or after its last {ts.roles.target!r} value (nothing observed there to fill from)")
    print(f"{ts.source}: " + "; ".join(parts))


def _read_overrides(args) -> dict:
    overrides = {}
    if args.fill:
        overrides["fill"] = args.fill
    return overrides


def _write_forecast_outputs(forecaster, ts, forecast, backtest, out: Path) -> None:
    from lstmkit.report.plots import forecast_plot
    from lstmkit.runs import write_csv

    write_csv(out / "forecast.csv", forecast)
    spec = forecaster.spec
    history = ts.frame[[c for c in (spec.id if spec.has_id else None, spec.time, spec.target) if c]]
    if spec.steps or spec.years:  # the plot's axis in the file's step numbers or years, as forecast.csv writes them
        history = history.assign(**{spec.time: forecaster.output_times(history[spec.time])})
    bt = None if backtest is None else backtest.predictions
    forecast_plot(history, forecast, bt, out / "forecast.png", time=spec.time, target=spec.target,
                  id=spec.id if spec.has_id else None)


def _shown(name: str, cell: str) -> str:
    """A model's name on the console: the network's rows (``lstm``, ``lstm_only``: their keys in
    metrics.json whatever the cell) under the cell that ran (``gru``, ``gru_only``)."""
    return cell + name[len("lstm"):] if name in ("lstm", "lstm_only") else name


def _weights_line(combination: dict | None, cell: str = "lstm") -> str:
    """The final model's forecast as a weighted sum, e.g. ``lstm 0.53 + theta 0.47``."""
    weights = (combination or {}).get("weights") or {"lstm": 1.0}
    terms = " + ".join(f"{_shown(name, cell)} {w:.2f}" for name, w in sorted(weights.items(), key=lambda kv: -kv[1]) if w > 0)
    n = (combination or {}).get("windows", 0)
    how = "out-of-fold training" if (combination or {}).get("validation") == "folds" else "validation"
    epochs = (combination or {}).get("epochs")
    chosen = f"; {epochs} epochs chosen on them" if epochs else ""
    return f"forecast = {terms}  (weights from {n} {how} windows{chosen})"


def _print_table(backtest, ts, cell: str = "lstm") -> None:
    """The backtest's scores, one row per model: the forecaster (``lstm``, with its time; named
    by its ``cell``), its network ensemble alone, naive, seasonal naive and statsforecast's
    models (with theirs)."""
    metrics = backtest.metrics
    names = ["MAE", "RMSE", "MAPE", "sMAPE", "MASE"]
    print(f"{'model':<16}" + "".join(f"{n:>10}" for n in names) + f"{'seconds':>10}")
    rows = [(model, metrics[model], backtest.seconds if model == "lstm" else None)
            for model in ("lstm", "lstm_only", "naive", "seasonal_naive")]
    rows += [(model, row, row["seconds"]) for model, row in backtest.baselines.items()]
    for model, row, seconds in rows:
        print(f"{_shown(model, cell):<16}" + "".join(_score_cell(row[n]) for n in names)
              + (f"{seconds:>10.1f}" if seconds is not None else ""))
    if any(math.isnan(row["MAPE"]) for _, row, _ in rows):
        print("MAPE nan: undefined where the actual values are 0 (MAPE divides by them): read sMAPE or MASE")
    if any(math.isnan(row["MASE"]) for _, row, _ in rows):
        print("MASE nan: undefined when every series' history before its first cut-off repeats itself season "
              "after season (MASE divides by the seasonal naive forecast's mean error there, 0)")
    if "coverage" in metrics["lstm"]:
        print(f"interval coverage {metrics['lstm']['coverage']:.3f} "
              f"(nominal {metrics['lstm']['nominal_coverage']:.2f})")
    if backtest.baselines:
        covariates = ts.roles.past_covariates + ts.roles.future_covariates
        print(f"{' and '.join(backtest.baselines)} (statsforecast, season length {ts.season_length}): the target "
              f"only" + (f", not the covariates {', '.join(covariates)}" if covariates else "") + ",")
        print(f"  fitted once on the span the {cell.upper()} trained on, forecasting from each cut-off without "
              "refitting")
    for line in backtest.baselines_skipped:
        print(line)


def _score_cell(value: float) -> str:
    """One score, right-aligned in 10 characters with a space before it: 3 decimals, or 4
    significant digits where those would not fit or would show 0.000 (data in the billions or
    millionths)."""
    if math.isfinite(value) and value != 0.0 and not 1e-2 <= abs(value) < 1e5:
        return f"{value:>10.4g}"
    return f"{value:>10.3f}"


def _progress(message: str) -> None:
    if sys.stderr.isatty():
        print(message, file=sys.stderr)
