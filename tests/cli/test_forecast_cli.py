"""``lstmkit forecast`` end to end: outputs, bad input, saved models, resume, data-parallel."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.main import main


def write_series(path, n=72, ids=("a", "b"), covariate=False):
    rows = []
    t = np.arange(n)
    for k, uid in enumerate(ids):
        y = 50 + 10 * k + 0.3 * t + 5 * np.sin(2 * np.pi * t / 12)
        frame = pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2015-01-01", periods=n, freq="MS"),
                              "y": np.round(y, 3)})
        if covariate:
            frame["temp"] = np.cos(2 * np.pi * t / 12)
        rows.append(frame)
    pd.concat(rows).to_csv(path, index=False)
    return path


def cli(*args):
    return subprocess.run([sys.executable, "-m", "lstmkit", "forecast", *args], capture_output=True, text=True,
                          timeout=600)


def test_forecast_writes_every_output(tmp_path, capsys):
    data = write_series(tmp_path / "sales.csv", covariate=True)
    out = tmp_path / "run"
    code = main(["forecast", str(data), "--horizon", "6", "--covariates", "temp", "--quantiles", "0.1,0.9",
                 "--max-epochs", "5", "--backtest-windows", "2", "--out", str(out)])
    assert code == 0
    for name in ("metrics.json", "forecast.csv", "forecast.png", "backtest.csv", "config.json",
                 "model.safetensors", "checkpoints/last.ckpt", "logs/metrics.csv"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    for model in ("lstm", "naive", "seasonal_naive"):
        assert set(metrics[model]) >= {"MAE", "RMSE", "MAPE", "sMAPE", "MASE"}
    assert 0.0 <= metrics["lstm"]["coverage"] <= 1.0
    assert metrics["series"] == 2 and metrics["horizon"] == 6 and metrics["freq"] == "MS"
    forecast = pd.read_csv(out / "forecast.csv")
    assert list(forecast.columns) == ["unique_id", "ds", "y_hat", "y_q0.1", "y_q0.9"]
    assert len(forecast) == 12 and forecast["ds"].iloc[0] == "2021-01-01"
    assert (forecast["y_q0.1"] <= forecast["y_hat"]).all() and (forecast["y_hat"] <= forecast["y_q0.9"]).all()
    backtest = pd.read_csv(out / "backtest.csv")
    assert len(backtest) == 2 * 2 * 6
    table = capsys.readouterr().out
    assert "seasonal_naive" in table and "MASE" in table


@pytest.mark.slow
def test_default_run_on_air_passengers_beats_seasonal_naive(tmp_path):
    out = tmp_path / "air"
    assert main(["forecast", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"] == "bundled:air_passengers.csv"
    assert metrics["lstm"]["MAPE"] < metrics["seasonal_naive"]["MAPE"]
    assert metrics["seconds"] > 0  # (recorded; how many depends on the machine: see benchmarks/)


def test_ensemble_and_combination_flags_reach_the_model_and_the_outputs(tmp_path, capsys):
    from lstmkit.tasks.forecast import Forecaster

    data = write_series(tmp_path / "s.csv", ids=("a",))
    out = tmp_path / "run"
    assert main(["forecast", str(data), "--horizon", "6", "--max-epochs", "2", "--backtest-windows", "2",
                 "--ensemble", "3", "--combine", "best", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ensemble"]["members"] == 3 and len(metrics["ensemble"]["lookbacks"]) == 3
    weights = metrics["combination"]["weights"]
    assert sorted(weights.values())[-1] == 1.0 and sum(weights.values()) == 1.0  # "best": one candidate
    assert set(metrics["combination"]["validation_mase"]) == set(weights)
    assert set(metrics) >= {"lstm", "lstm_only", "naive", "seasonal_naive"}
    winner = max(weights, key=weights.get)
    printed = capsys.readouterr().out
    assert f"forecast = {winner} 1.00  (weights from" in printed and "lstm_only" in printed
    loaded = Forecaster.load(out)
    assert loaded.get_params()["ensemble"] == 3 and loaded.combination == metrics["combination"]


def test_same_seed_same_numbers(tmp_path):
    data = write_series(tmp_path / "s.csv", ids=("a",))
    runs = []
    for k in range(2):
        out = tmp_path / f"r{k}"
        assert main(["forecast", str(data), "--max-epochs", "4", "--seed", "3", "--out", str(out)]) == 0
        runs.append((out / "forecast.csv").read_text())
    assert runs[0] == runs[1]


def test_saved_model_forecasts_new_data_without_training(tmp_path):
    data = write_series(tmp_path / "s.csv")
    out = tmp_path / "run"
    assert main(["forecast", str(data), "--max-epochs", "3", "--backtest-windows", "0", "--out", str(out)]) == 0
    again = tmp_path / "again"
    assert main(["forecast", str(data), "--model", str(out), "--out", str(again)]) == 0
    assert (again / "forecast.csv").read_text() == (out / "forecast.csv").read_text()
    assert not (again / "model.safetensors").exists() and not (again / "checkpoints").exists()
    result = cli(str(data), "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert "not an lstmkit model directory" in result.stderr
    # what the trained network cannot give is refused, not ignored; what it has is accepted
    assert main(["forecast", str(data), "--model", str(out), "--horizon", "12", "--out", str(again)]) == 0
    for flag, value, trained in (("--horizon", "24", "12"), ("--quantiles", "0.1,0.9", "0.5"),
                                 ("--transform", "log", "auto")):
        result = cli(str(data), "--model", str(out), flag, value, "--out", str(tmp_path / "y"))
        assert result.returncode == 2 and result.stderr == (
            f"error: {flag}: the model in {out} was trained with {trained}, and a trained network cannot change "
            f"it; leave {flag} out, or train a new model with it\n")


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(tmp_path):
    data = write_series(tmp_path / "s.csv", ids=("a",))
    out = tmp_path / "run"
    args = [str(data), "--backtest-windows", "0", "--out", str(out)]
    assert main(["forecast", *args, "--max-epochs", "3"]) == 0
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 3
    assert main(["forecast", *args, "--max-epochs", "6", "--resume", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 6
    log = pd.read_csv(out / "logs" / "metrics.csv")
    assert sorted(log["epoch"].dropna().unique().astype(int).tolist()) == list(range(6))
    result = cli(*args, "--resume", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no checkpoint to resume from" in result.stderr


# Runs the CLI with every read of a checkpoint logged, and the read of a temporary one shifted
# so that the old race always shows: rank 1 reads late, rank 0 would return (removing its
# temporary folder) meanwhile.
_LOGGED_LOADS = """
import os, sys, time
import lstmkit.train.engine as engine
load = engine.torch.load
def logged(path, *args, **kwargs):
    rank = os.environ.get("LOCAL_RANK", "0")
    temporary = "lstmkit-run-" in str(path)
    if temporary and rank == "1":
        time.sleep(2.0)
    state = load(path, *args, **kwargs)
    with open(os.environ["LOADS_LOG"], "a") as fh:
        fh.write(f"{rank} {path}\\n")
    if temporary and rank == "0":
        time.sleep(1.0)
    return state
engine.torch.load = logged
from lstmkit.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_two_process_data_parallel_run(tmp_path):
    """Two processes (``--devices 2 --strategy ddp``), with every read of a checkpoint logged.

    The backtest trains with ``run_dir=None`` (a temporary folder per process), and Lightning
    points every rank at rank 0's checkpoint folder: rank 0 must not remove it before the other
    rank has read its best weights. (It did: the other rank then failed with
    FileNotFoundError, or, a few ms late, silently kept its last weights; this test was flaky
    then.)"""
    import os

    data = write_series(tmp_path / "s.csv")
    wrapper = tmp_path / "logged_loads.py"
    wrapper.write_text(_LOGGED_LOADS)
    log = tmp_path / "loads.log"
    out = tmp_path / "ddp"
    result = subprocess.run(
        [sys.executable, str(wrapper), "forecast", str(data), "--devices", "2", "--strategy", "ddp",
         "--max-epochs", "3", "--backtest-windows", "1", "--horizon", "6", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, LOADS_LOG=str(log)))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2
    forecast = pd.read_csv(out / "forecast.csv")
    assert len(forecast) == 12 and np.isfinite(forecast["y_hat"]).all()
    assert metrics["lstm"]["MAPE"] < 50
    loads = sorted(line.split(" ", 1) for line in log.read_text().splitlines())
    temporary: dict[str, list[str]] = {}
    for rank, path in loads:
        if "lstmkit-run-" in path:
            temporary.setdefault(path, []).append(rank)
    # every temporary run's best weights (the backtest's fits) were read by both ranks
    assert temporary and all(sorted(ranks) == ["0", "1"] for ranks in temporary.values()), loads
    assert len(loads) - 2 * len(temporary) == 2, loads  # and both read the final run's best.ckpt


BAD_INPUTS = {
    "empty.csv": ("", "the file is empty"),
    "binary.csv": (b"\x00\x01\x02\xff" * 40, "binary file"),
    "columns.csv": ("date,value\n2020-01-01,1\n", "no column 'ds'"),
    "number.csv": ("ds,y\n2020-01-01,1\n2020-02-01,abc\n", "row 3, column 'y': expected a number, got 'abc'"),
    "date.csv": ("ds,y\n2020-01-01,1\n2020-13-45,2\n", "row 3, column 'ds': cannot read '2020-13-45' as a date"),
    "dayfirst.csv": ("ds,y\n12/01/2021,1\n13/01/2021,2\n", "row 3, column 'ds': cannot read '13/01/2021' as a date; "
                     "expected a date such as 2024-01-31 or 2024-01-31 13:00, in one format for the whole column; "
                     "day-first dates are not read (is 01/02/2021 the 1st of February or the 2nd of January?): "
                     "write them year first, as 2021-01-13"),
    "duplicate.csv": ("ds,y\n2020-01-01,1\n2020-01-01,2\n", "row 3: the series has time 2020-01-01 twice"),
    "missing.csv": ("ds,y\n2020-01-01,1\n2020-02-01,\n2020-03-01,3\n", "row 3, column 'y': missing value"),
    "short.csv": ("ds,y\n" + "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 11)), "has 10 time steps; needs at least"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, name):
    content, message = BAD_INPUTS[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    result = cli(str(path), "--backtest-windows", "0", "--out", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0]
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_missing_file_and_fill(tmp_path, capsys):
    result = cli(str(tmp_path / "nope.csv"))
    assert result.returncode == 2 and "no such file" in result.stderr
    path = tmp_path / "gappy.csv"
    rows = [f"2019-{m:02d}-01,{m + (0 if m != 5 else float('nan'))}" for m in range(1, 13)]
    rows += [f"2020-{m:02d}-01,{m + 12}" for m in range(1, 13)] + [f"2021-{m:02d}-01,{m + 24}" for m in range(1, 13)]
    path.write_text("ds,y\n" + "\n".join(r.replace("nan", "") for r in rows) + "\n")
    out = tmp_path / "filled"
    path.write_text(path.read_text() + "2022-01-01,\n2022-02-01,\n")  # two empty rows after the last value
    out.mkdir()
    (out / "backtest.csv").write_text("an earlier run's\n")  # this run has none: not left to be read as its own
    assert main(["forecast", str(path), "--fill", "interpolate", "--max-epochs", "2",
                 "--backtest-windows", "0", "--horizon", "3", "--out", str(out)]) == 0
    assert (out / "forecast.csv").is_file()
    assert not (out / "backtest.csv").exists()
    assert pd.read_csv(out / "forecast.csv")["ds"].iloc[0] == "2022-01-01"  # from the last value on, not after the empties
    assert (f"{path}: filled 1 missing value (interpolate); left out 2 rows before a series' first or after "
            "its last 'y' value (nothing observed there to fill from)") in capsys.readouterr().out


def test_too_short_for_the_backtest_says_what_fits(tmp_path, capsys):
    for months, fix in ((60, "use --backtest-windows 2 (the most that fit)"),
                        (36, "use a shorter --horizon, or --backtest-windows 0 to forecast without a backtest")):
        path = tmp_path / f"m{months}.csv"
        days = pd.date_range("2015-01-01", periods=months, freq="MS").strftime("%Y-%m-%d")
        path.write_text("ds,y\n" + "".join(f"{d},{10 + i % 12}\n" for i, d in enumerate(days)))
        assert main(["forecast", str(path), "--out", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err == (
            f"error: {path}: the series has {months} steps, too few for 3 backtest windows of horizon 12 (stride 12) "
            f"after lookback 12 + horizon 12 + 1 steps of training; {fix}\n")
    assert not (tmp_path / "out").exists()


def test_too_few_future_covariate_rows_are_refused_before_training(tmp_path):
    path = tmp_path / "promo.csv"
    months = pd.date_range("2020-01-01", periods=33, freq="MS").strftime("%Y-%m-%d")
    rows = [f"{d},{'' if i >= 30 else 10 + i % 12},{i % 2}" for i, d in enumerate(months)]
    path.write_text("ds,y,promo\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    result = cli(str(path), "--future-covariates", "promo", "--horizon", "6", "--out", str(out))
    assert result.returncode == 2
    assert result.stderr == (f"error: {path}: the series has 3 future rows after 2022-06-01; the forecast needs "
                             "the future covariates (promo) for 6 steps: add 3 more rows with an empty 'y'\n")
    assert not out.exists()  # refused before any training: nothing written


@pytest.mark.slow
def test_parquet_input(tmp_path):
    csv = write_series(tmp_path / "s.csv", n=400, ids=("a", "b", "c"))
    parquet = tmp_path / "s.parquet"
    pd.read_csv(csv, parse_dates=["ds"]).to_parquet(parquet)
    out = tmp_path / "run"
    assert main(["forecast", str(parquet), "--max-epochs", "3", "--backtest-windows", "0",
                 "--horizon", "6", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["series"] == 3
    assert len(pd.read_csv(out / "forecast.csv")) == 18


def test_training_knobs_reach_the_saved_model(tmp_path):
    from lstmkit.tasks.forecast import Forecaster

    data = write_series(tmp_path / "sales.csv", n=48, ids=("a",))
    out = tmp_path / "run"
    code = main(["forecast", str(data), "--horizon", "6", "--max-epochs", "2", "--backtest-windows", "0",
                 "--learning-rate", "0.003", "--batch-size", "8", "--dropout", "0.2", "--num-layers", "2",
                 "--patience", "5", "--max-time", "1", "--out", str(out)])
    assert code == 0
    params = Forecaster.load(out).get_params()
    assert params["learning_rate"] == 0.003 and params["batch_size"] == 8
    assert params["dropout"] == 0.2 and params["num_layers"] == 2
    assert params["patience"] == 5 and params["max_time"] == 1.0


def test_knob_defaults_in_help_are_the_forecasters():
    from lstmkit.cli import forecast as cmd
    from lstmkit.tasks.forecast import ForecasterParams

    p = ForecasterParams()
    assert (cmd.LEARNING_RATE, cmd.BATCH_SIZE, cmd.DROPOUT, cmd.PATIENCE, cmd.MAX_EPOCHS) == (
        p.training.learning_rate, p.training.batch_size, p.dropout, p.training.patience, p.training.max_epochs)
    assert (cmd.ENSEMBLE, cmd.COMBINE, False) == (p.ensemble, p.combine, p.early_stopping)
    text = cli("--help").stdout
    for flag, default in (("--learning-rate", "(default 0.01)"), ("--batch-size", "(default 32)"),
                          ("--dropout", "(default 0)"), ("--patience", "(default 30)"),
                          ("--max-time", "(default: no limit)"), ("--ensemble", "(default 5)"),
                          ("--combine", "(default weights)"), ("--early-stopping", "(default: off; the folds choose the epochs")):
        assert flag in text
        assert default in " ".join(text.split()), flag


def test_a_time_column_of_step_numbers_forecasts_the_next_steps(tmp_path, capsys):
    """statsforecast's long format for M4 (integer ds, the season given): the outputs write
    step numbers where a dated series has times, and a saved model reads new step data."""
    t = np.arange(1, 121)
    rows = [pd.DataFrame({"unique_id": uid, "ds": t, "y": np.round(20 + 5 * k + np.sin(2 * np.pi * t / 24), 4)})
            for k, uid in enumerate(("H1", "H2"))]
    data = tmp_path / "hourly.csv"
    pd.concat(rows).to_csv(data, index=False)
    out = tmp_path / "run"
    assert main(["forecast", str(data), "--season-length", "24", "--max-epochs", "2", "--backtest-windows", "2",
                 "--ensemble", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    forecast = pd.read_csv(out / "forecast.csv")
    assert forecast["ds"].tolist() == list(range(121, 145)) * 2  # the horizon is one season
    backtest = pd.read_csv(out / "backtest.csv")
    assert sorted(backtest["cutoff"].unique().tolist()) == [72, 96]
    assert backtest.loc[backtest["cutoff"] == 72, "ds"].tolist()[:2] == [73, 74]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["time_steps"] is True and metrics["season_length"] == 24
    assert metrics["backtest"]["cutoffs"] == [72, 96]
    again = tmp_path / "again"
    shorter = pd.read_csv(data)
    shorter = shorter[shorter["ds"] <= 100]
    shorter.to_csv(tmp_path / "shorter.csv", index=False)
    assert main(["forecast", str(tmp_path / "shorter.csv"), "--model", str(out), "--out", str(again)]) == 0
    assert pd.read_csv(again / "forecast.csv")["ds"].tolist() == list(range(101, 125)) * 2
    capsys.readouterr()
    read = tmp_path / "read"  # no --season-length: read from the autocorrelation
    assert main(["forecast", str(data), "--max-epochs", "1", "--backtest-windows", "0", "--ensemble", "1",
                 "--out", str(read)]) == 0
    assert "season length 24: read from the series' autocorrelation" in capsys.readouterr().out
    metrics = json.loads((read / "metrics.json").read_text())
    assert metrics["season_length"] == 24 and metrics["season_detected"] is True
    assert pd.read_csv(read / "forecast.csv")["ds"].tolist() == list(range(121, 145)) * 2


def test_a_constant_series_scores_and_says_why_mase_is_nan(tmp_path, capsys):
    data = tmp_path / "flat.csv"
    pd.DataFrame({"ds": pd.date_range("2015-01-01", periods=48, freq="MS"), "y": 5.0}).to_csv(data, index=False)
    assert main(["forecast", str(data), "--max-epochs", "1", "--backtest-windows", "1", "--ensemble", "1",
                 "--no-baseline", "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    assert "MASE nan: undefined when every series' history before its first cut-off repeats itself" in captured.out
    assert "RuntimeWarning" not in captured.err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["lstm"]["MAE"] < 1e-6 and metrics["naive"]["MAE"] == 0.0
    assert metrics["lstm"]["MASE"] is None  # strict JSON: null, not NaN
    assert "NaN" not in (tmp_path / "run" / "metrics.json").read_text()


def test_scores_print_in_columns_at_any_scale():
    from lstmkit.cli.forecast import _score_cell

    cells = [_score_cell(v) for v in (18.3432, 2.0417e10, 2.0417e-7, 0.0, float("nan"), 99999.0)]
    assert cells == ["    18.343", " 2.042e+10", " 2.042e-07", "     0.000", "       nan", " 99999.000"]
    assert all(len(c) == 10 and c[0] == " " for c in cells)


def test_years_as_numbers_come_back_as_years(tmp_path):
    path = tmp_path / "yearly.csv"
    path.write_text("year,y\n" + "".join(f"{1960 + i},{100 + 5 * i + (i % 3)}\n" for i in range(60)))
    out = tmp_path / "run"
    assert main(["forecast", str(path), "--time", "year", "--horizon", "3", "--max-epochs", "2", "--ensemble", "1",
                 "--backtest-windows", "1", "--no-baseline", "--out", str(out)]) == 0
    assert pd.read_csv(out / "forecast.csv")["year"].tolist() == [2020, 2021, 2022]
    backtest = pd.read_csv(out / "backtest.csv")
    assert backtest["cutoff"].tolist() == [2016] * 3 and backtest["year"].tolist() == [2017, 2018, 2019]
    assert json.loads((out / "metrics.json").read_text())["backtest"]["cutoffs"] == [2016]


def test_a_gru_forecasters_rows_are_named_by_its_cell(tmp_path, capsys):
    """--cell gru: the console names the network's rows and weight gru / gru_only (metrics.json
    keeps the keys lstm / lstm_only whatever the cell), and the encoder saved is a GRU."""
    from lstmkit.tasks.forecast import Forecaster

    data = write_series(tmp_path / "s.csv", ids=("a",))
    out = tmp_path / "run"
    assert main(["forecast", str(data), "--horizon", "6", "--max-epochs", "2", "--backtest-windows", "2",
                 "--cell", "gru", "--combine", "none", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = [line.split()[0] for line in printed.splitlines() if line[:1].isalpha()]
    assert "gru" in rows and "gru_only" in rows and "lstm" not in rows and "lstm_only" not in rows
    assert "forecast = gru 1.00  (weights from" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"lstm", "lstm_only"} <= set(metrics)
    assert Forecaster.load(out).get_params()["cell"] == "gru"
