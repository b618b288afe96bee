"""``lstmkit forecast``'s AutoARIMA and AutoETS rows (statsforecast): the same cut-offs and
training span as the LSTM, the same scores as a direct statsforecast fit, the off flag, and a
clean skip without statsforecast."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.main import main

H = 6
QUICK = ["--max-epochs", "1", "--ensemble", "1", "--horizon", str(H)]


def write_series(path, n=60, ids=("a", "b")):
    rng = np.random.default_rng(7)
    t = np.arange(n)
    frames = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2015-01-01", periods=n, freq="MS"),
                            "y": np.round(100 + 20 * k + 0.8 * t + 9 * np.sin(2 * np.pi * t / 12)
                                          + rng.normal(0, 2, n), 3),
                            "temp": np.round(rng.normal(size=n), 3)})
              for k, uid in enumerate(ids)]
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_statsforecast_rows_equal_a_direct_fit_on_the_same_cutoff(tmp_path, capsys):
    models = pytest.importorskip("statsforecast.models")
    data = write_series(tmp_path / "s.csv")
    out = tmp_path / "run"
    # a covariate the LSTM reads; statsforecast's models read the target only
    assert main(["forecast", str(data), *QUICK, "--backtest-windows", "1", "--covariates", "temp",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in printed.splitlines() if len(line.split()) in (6, 7)}
    assert len(rows["AutoARIMA"]) == len(rows["AutoETS"]) == 7  # name, 5 scores, seconds
    assert "the target only, not the covariates temp" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"AutoARIMA", "AutoETS"} and "baselines_skipped" not in metrics

    frame = pd.read_csv(data)
    backtest = pd.read_csv(out / "backtest.csv")
    for name, make in (("AutoARIMA", models.AutoARIMA), ("AutoETS", models.AutoETS)):
        errors, scaled, actual = [], [], []
        for uid, g in frame.groupby("unique_id"):
            y = g["y"].to_numpy(float)
            cut = len(y) - H  # one window: the LSTM trains on y[:cut]
            f = make(season_length=12).fit(y=y[:cut]).predict(h=H)["mean"]
            np.testing.assert_allclose(backtest.loc[backtest["unique_id"] == uid, name], f, rtol=1e-9)
            errors.append(y[cut:] - f)
            actual.append(y[cut:])
            scaled.append(np.mean(np.abs(y[cut:] - f)) / np.mean(np.abs(y[12:cut] - y[:cut - 12])))
        e, a = np.concatenate(errors), np.concatenate(actual)
        row = metrics["baselines"][name]
        assert row["MAE"] == pytest.approx(np.mean(np.abs(e)), rel=1e-9)
        assert row["RMSE"] == pytest.approx(np.sqrt(np.mean(e ** 2)), rel=1e-9)
        assert row["MAPE"] == pytest.approx(100 * np.mean(np.abs(e / a)), rel=1e-9)
        assert row["sMAPE"] == pytest.approx(100 * np.mean(2 * np.abs(e) / (np.abs(a) + np.abs(a - e))), rel=1e-9)
        assert row["MASE"] == pytest.approx(np.mean(scaled), rel=1e-9)  # per series, then the mean, as the LSTM's
        assert row["seconds"] > 0
        assert [float(v) for v in rows[name][1:6]] == pytest.approx(
            [row[k] for k in ("MAE", "RMSE", "MAPE", "sMAPE", "MASE")], abs=5e-4)


def test_later_cutoffs_forecast_without_refitting(tmp_path):
    models = pytest.importorskip("statsforecast.models")
    import lstmkit

    frame = pd.read_csv(write_series(tmp_path / "s.csv", ids=("a",)), parse_dates=["ds"])
    result = lstmkit.Forecaster(horizon=H, max_epochs=1, ensemble=1, progress=False).backtest(frame, windows=2)
    y = frame["y"].to_numpy(float)
    model = models.AutoETS(season_length=12).fit(y=y[:len(y) - 2 * H])  # fitted once, before the first cut-off
    later = result.predictions[result.predictions["cutoff"] == result.cutoffs[1]]
    np.testing.assert_allclose(later["AutoETS"], model.forward(y=y[:len(y) - H], h=H)["mean"], rtol=1e-9)
    assert set(result.baselines) == {"AutoARIMA", "AutoETS"} and result.baselines_skipped == []


def test_no_baseline_flag_removes_them(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv", ids=("a",))
    out = tmp_path / "run"
    assert main(["forecast", str(data), *QUICK, "--backtest-windows", "1", "--no-baseline", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "AutoARIMA" not in printed and "AutoETS" not in printed and "statsforecast" not in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert "baselines" not in metrics and "baselines_skipped" not in metrics
    assert not {"AutoARIMA", "AutoETS"} & set(pd.read_csv(out / "backtest.csv").columns)
    assert "seasonal_naive" in printed  # the in-house baselines stay


def test_without_statsforecast_one_skip_line_and_exit_0(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("statsforecast")] + ["statsforecast", "statsforecast.models"]:
        monkeypatch.setitem(sys.modules, name, None)  # `import statsforecast...` now fails
    data = write_series(tmp_path / "s.csv", ids=("a",))
    out = tmp_path / "run"
    assert main(["forecast", str(data), *QUICK, "--backtest-windows", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if "AutoARIMA" in line or "AutoETS" in line]
    assert lines == [("AutoARIMA and AutoETS skipped: statsforecast is not installed "
                      "(pip install statsforecast to get them)")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["baselines"] == {} and metrics["baselines_skipped"] == lines
    assert (out / "forecast.csv").is_file()


def test_help_states_the_flag_and_the_epochs_truthfully(capsys):
    with pytest.raises(SystemExit):
        main(["forecast", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--no-baseline, --no-statsforecast" in text and "AutoARIMA and AutoETS (statsforecast)" in text
    assert ("most epochs to train (default 100); with --validation folds the out-of-fold loss chooses how many, "
            "with --early-stopping the validation loss, with --validation recent all of them") in text
    assert "early stopping may end sooner" not in text
    with pytest.raises(SystemExit):
        main(["classify", "--help"])
    assert "early stopping may end sooner" in " ".join(capsys.readouterr().out.split())
