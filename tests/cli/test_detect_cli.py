"""``lstmkit detect`` end to end: outputs, the metrics table, --model, --follow, bad input."""

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.main import main

FAST = ["--max-epochs", "2", "--hidden-size", "8", "--lookback", "24", "--threshold-step", "10",
        "--threshold-windows", "6", "--error-buffer", "5", "--max-buffer", "10"]


def write_series(path, n=240, label_cell=None, ids=None):
    t = np.arange(n)
    frames = []
    for k, uid in enumerate(ids or [None]):
        y = np.sin(2 * np.pi * t / 20) + 0.05 * np.random.default_rng(k).standard_normal(n)
        label = np.zeros(n, dtype=object)
        y[180:185] += 4.0
        label[180:185] = 1
        frame = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
                              "y": np.round(y, 4), "is_anomaly": label})
        if uid is not None:
            frame.insert(0, "unique_id", uid)
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    if label_cell is not None:
        frame.loc[9, "is_anomaly"] = label_cell
    frame.to_csv(path, index=False)
    return path


def test_detect_writes_every_output_and_the_table(tmp_path, capsys):
    data = write_series(tmp_path / "sensor.csv")
    out = tmp_path / "run"
    assert main(["detect", str(data), "--label", "is_anomaly", "--normal-until", "2024-01-06", "--out", str(out),
                 *FAST]) == 0
    for name in ("scores.csv", "anomalies.csv", "detection.png", "metrics.json", "config.json", "model.safetensors"):
        assert (out / name).is_file(), name
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["time", "score", "flag", "label"] and len(scores) == 240
    assert list(pd.read_csv(out / "anomalies.csv").columns) == ["start", "end", "peak_score", "steps"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "prediction" and metrics["label"] == "is_anomaly"
    assert set(metrics["evaluation"]) >= {"detector", "rolling_zscore", "seasonal_naive", "random"}
    # the 20-step wave's own period, not the hourly calendar's 24
    assert list(metrics["evaluation"]["seasonal_naive_period"].values()) == [20]
    assert "inflates" in metrics["note"]
    printed = capsys.readouterr().out
    for row in ("lstm (prediction)", "rolling z-score", "seasonal naive, m=20", "random (floor)", "VUS-PR", "PA-F1*",
                "inflates"):
        assert row in printed
    # the saved model scores the file again without training
    again = tmp_path / "again"
    assert main(["detect", str(data), "--model", str(out), "--out", str(again)]) == 0
    np.testing.assert_allclose(pd.read_csv(again / "scores.csv")["score"], scores["score"], rtol=1e-6)
    assert not (again / "model.safetensors").exists()

    # --follow reads rows from stdin and scores each as it comes
    csv_text = (tmp_path / "sensor.csv").read_text()
    capsys.readouterr()
    old = sys.stdin
    sys.stdin = io.StringIO(csv_text)
    try:
        assert main(["detect", "--model", str(out), "--follow", "-"]) == 0
    finally:
        sys.stdin = old
    printed = capsys.readouterr().out
    assert "240 rows scored" in printed and "latency per point" in printed


def test_reconstruction_with_many_series(tmp_path, capsys):
    data = write_series(tmp_path / "many.csv", n=160, ids=["a", "b"])
    out = tmp_path / "run"
    assert main(["detect", str(data), "--method", "reconstruction", "--out", str(out), *FAST]) == 0
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["time", "series", "score", "flag"]
    assert set(scores["series"]) == {"a", "b"}


@pytest.mark.parametrize("cell, message", [
    ("2", "row 11, column 'is_anomaly': expected 0 or 1 (the label), got '2'"),
    ("", "row 11, column 'is_anomaly': the label is missing; every row needs 0 or 1"),
    ("yes", "row 11, column 'is_anomaly': expected 0 or 1 (the label), got 'yes'"),
    ("maybe", "row 11, column 'is_anomaly': expected 0 or 1 (the label), got 'maybe'"),
])
def test_bad_labels_exit_2_and_write_nothing(tmp_path, capsys, cell, message):
    data = write_series(tmp_path / "bad.csv", label_cell=cell)
    out = tmp_path / "run"
    assert main(["detect", str(data), "--label", "is_anomaly", "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {data}: {message}"
    assert not out.exists()


def test_labels_written_as_true_and_false(tmp_path):
    """A boolean label column as pandas writes it (True/False) reads as 1/0, to the same scores."""
    data = write_series(tmp_path / "s.csv")
    frame = pd.read_csv(data)
    words = tmp_path / "words.csv"
    frame.assign(is_anomaly=frame["is_anomaly"].astype(bool)).to_csv(words, index=False)
    assert "True" in words.read_text()
    runs = {}
    for name, path in (("numbers", data), ("words", words)):
        runs[name] = tmp_path / name
        assert main(["detect", str(path), "--label", "is_anomaly", "--normal-until", "2024-01-06",
                     "--out", str(runs[name]), *FAST]) == 0
    a, b = (pd.read_csv(runs[n] / "scores.csv") for n in ("numbers", "words"))
    assert b["label"].tolist() == a["label"].tolist() and b["label"].sum() == 5
    np.testing.assert_array_equal(a["score"], b["score"])


def test_other_bad_input(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    out = tmp_path / "run"
    assert main(["detect", str(data), "--label", "nope", "--out", str(out), *FAST]) == 2
    assert capsys.readouterr().err.startswith(f"error: {data}: no column 'nope' (the label column)")
    assert main(["detect", str(data), "--normal-until", "2020-01-01", "--out", str(out), *FAST]) == 2
    assert "no normal step at or before --normal-until" in capsys.readouterr().err
    assert main(["detect", str(data), "--follow", "-"]) == 2
    assert "--follow needs --model" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("fill,message", [(0, "mark no anomaly (no 1); the metrics need at least one labelled anomaly"),
                                          (1, "mark every step as an anomaly (no 0); the metrics need normal steps too")])
def test_labels_the_metrics_cannot_use_stop_it_before_training(tmp_path, capsys, fill, message):
    frame = pd.read_csv(write_series(tmp_path / "s.csv"))
    frame["is_anomaly"] = fill
    frame.to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "run"
    assert main(["detect", str(tmp_path / "labels.csv"), "--label", "is_anomaly", "--out", str(out), *FAST]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'labels.csv'}: the labels (is_anomaly) {message}"
    assert not out.exists()  # no training started, no checkpoint left


def test_label_windows_file(tmp_path, capsys):
    data = write_series(tmp_path / "s.csv")
    windows = tmp_path / "windows.csv"
    windows.write_text("start,end\n2024-01-08 12:00,2024-01-08 16:00\n")
    out = tmp_path / "run"
    assert main(["detect", str(data), "--label-windows", str(windows), "--out", str(out), *FAST]) == 0
    scores = pd.read_csv(out / "scores.csv")
    assert scores["label"].sum() == 5 and scores["label"].iloc[180:185].eq(1).all()  # 12:00 .. 16:00 on day 8
    assert json.loads((out / "metrics.json").read_text())["evaluation"]["labelled_events"] == 1
    capsys.readouterr()
    bad = tmp_path / "bad.csv"
    for text, message in [
        ("start,end\n2030-01-01,2030-01-02\n", "row 2: the window 2030-01-01 .. 2030-01-02 covers no "
                                               "step of the data; the labels do not line up with it"),
        ("start,end\n2024-01-08,2024-01-07 12:00\n", "row 2: the window starts (2024-01-08) after it ends "
                                                     "(2024-01-07 12:00:00)"),
        ("start,end\n2024-01-08,soon\n", "row 2, column 'end': cannot read 'soon' as a time"),
        ("begin,end\n2024-01-08,2024-01-09\n", "no column 'start'"),
    ]:
        bad.write_text(text)
        assert main(["detect", str(data), "--label-windows", str(bad), "--out", str(out / "x"), *FAST]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {bad}: {message}"), err
        assert not (out / "x").exists()


def test_step_numbers_as_time(tmp_path, capsys):
    """UCR / TimeEval anomaly files time their steps 0, 1, 2, ...: read as steps, written back so."""
    frame = pd.read_csv(write_series(tmp_path / "s.csv"))
    frame = frame.assign(timestamp=np.arange(len(frame)))[["timestamp", "y", "is_anomaly"]]
    frame.to_csv(tmp_path / "steps.csv", index=False)
    out = tmp_path / "run"
    assert main(["detect", str(tmp_path / "steps.csv"), "--time", "timestamp", "--label", "is_anomaly",
                 "--normal-until", "119", "--out", str(out), *FAST]) == 0
    scores = pd.read_csv(out / "scores.csv")
    assert scores["time"].tolist() == list(range(240))
    lines = (tmp_path / "steps.csv").read_text().splitlines()
    lines[30] = "29,oops,0"
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["detect", str(tmp_path / "bad.csv"), "--time", "timestamp", "--out", str(tmp_path / "x"), *FAST]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'bad.csv'}: row 31, column 'y': expected a number, "
                                               f"got 'oops'")
    lines[30] = "29,0.5,0"
    del lines[151]  # step 150 (row 152)
    (tmp_path / "gap.csv").write_text("\n".join(lines) + "\n")
    assert main(["detect", str(tmp_path / "gap.csv"), "--time", "timestamp", "--out", str(tmp_path / "x"), *FAST]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'gap.csv'}: the series has no row for step 150 (between rows 151 and 152, frequency "
        f"1 step); add the rows or pass --fill ffill, bfill, interpolate or zero")
    assert not (tmp_path / "x").exists()
    # windows and a model's needs worded in steps and named by file
    windows = tmp_path / "windows.csv"
    windows.write_text("start,end\n200,190\n")
    assert main(["detect", str(tmp_path / "steps.csv"), "--time", "timestamp", "--label-windows", str(windows),
                 "--out", str(tmp_path / "x"), *FAST]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {windows}: row 2: the window starts (step 200) after it "
                                               "ends (step 190)")
    short = tmp_path / "short.csv"
    short.write_text("\n".join((tmp_path / "steps.csv").read_text().splitlines()[:21]) + "\n")
    assert main(["detect", str(short), "--time", "timestamp", "--model", str(out), "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {short}: the series has 20 steps; the model needs at least 25 "
                                               "(its lookback 24 + 1): give a longer stretch of it")
    dated = tmp_path / "dated.csv"  # the same values timed by hours: not the model's grid of steps
    pd.read_csv(write_series(tmp_path / "h.csv")).rename(columns={"ds": "timestamp"}).to_csv(dated, index=False)
    assert main(["detect", str(dated), "--model", str(out), "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {dated}: its time column 'timestamp' holds times; the model "
                                               "was trained on data timed by step numbers: give it data timed alike")
    assert not (tmp_path / "x").exists()


def test_a_one_series_model_scores_each_series_of_a_file_as_it_would_alone(tmp_path):
    """A model trained on one series (no id column), given a file of several: every series is
    scored with that series' normal-span statistics (the one that is the training series gets
    its scores to the last digit), and scores.csv and anomalies.csv name the series."""
    single = write_series(tmp_path / "one.csv")
    many = write_series(tmp_path / "many.csv", ids=["m0", "m1"])  # m0 holds one.csv's values
    model = tmp_path / "model"
    assert main(["detect", str(single), "--normal-until", "2024-01-06", "--out", str(model), *FAST]) == 0
    alone, both = tmp_path / "alone", tmp_path / "both"
    assert main(["detect", str(single), "--model", str(model), "--out", str(alone)]) == 0
    assert main(["detect", str(many), "--model", str(model), "--out", str(both)]) == 0
    scores = pd.read_csv(both / "scores.csv")
    assert list(scores.columns) == ["time", "series", "score", "flag"] and sorted(set(scores["series"])) == ["m0", "m1"]
    m0 = scores[scores["series"] == "m0"].reset_index(drop=True)
    reference = pd.read_csv(alone / "scores.csv")
    np.testing.assert_array_equal(m0["score"], reference["score"])
    np.testing.assert_array_equal(m0["flag"], reference["flag"])
    assert "series" in pd.read_csv(both / "anomalies.csv").columns


def test_step_numbers_without_a_period_give_the_seasonal_baseline_no_calendar_lag(tmp_path, capsys):
    """Step numbers are held as seconds; their 'calendar' season (3600) is no lag for white
    noise: the seasonal-naive baseline falls back to m = 1."""
    rng = np.random.default_rng(0)
    y = rng.standard_normal(600)
    label = np.zeros(600, dtype=int)
    y[400:405] += 6.0
    label[400:405] = 1
    path = tmp_path / "noise.csv"
    pd.DataFrame({"ds": np.arange(600), "y": np.round(y, 4), "is_anomaly": label}).to_csv(path, index=False)
    out = tmp_path / "run"
    assert main(["detect", str(path), "--label", "is_anomaly", "--normal-until", "300", "--out", str(out), *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["evaluation"]["seasonal_naive_period"].values()) == [1]
    assert "seasonal naive, m=1 " in capsys.readouterr().out


def test_resume_continues_the_training_to_the_uninterrupted_runs_scores(tmp_path, capsys):
    data = write_series(tmp_path / "one.csv")
    fast = [a for a in FAST if a not in ("--max-epochs", "2")]
    assert main(["detect", str(data), "--out", str(tmp_path / "whole"), "--max-epochs", "2", *fast]) == 0
    assert main(["detect", str(data), "--out", str(tmp_path / "cut"), "--max-epochs", "1", *fast]) == 0
    assert main(["detect", str(data), "--resume", str(tmp_path / "cut"), "--max-epochs", "2", *fast]) == 0
    whole, resumed = (pd.read_csv(tmp_path / run / "scores.csv") for run in ("whole", "cut"))
    np.testing.assert_allclose(resumed["score"], whole["score"], rtol=1e-5, atol=1e-6)
    assert len(pd.read_csv(tmp_path / "cut" / "logs" / "metrics.csv").dropna(subset=["val_loss"])) == 2
    (tmp_path / "cut" / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert main(["detect", str(data), "--resume", str(tmp_path / "cut"), "--max-epochs", "3", *fast]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "last.ckpt" in err


@pytest.fixture(scope="module")
def follow_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("follow")
    data = write_series(root / "one.csv")
    assert main(["detect", str(data), "--normal-until", "2024-01-06", "--out", str(root / "model"), *FAST]) == 0
    return root


def follow(capsys, model, path, *more):
    capsys.readouterr()
    code = main(["detect", "--model", str(model), "--follow", str(path), "--idle", "0.3", *more])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_follow_refuses_what_it_would_score_wrongly_in_one_line(follow_model, tmp_path, capsys):
    model = follow_model / "model"
    lines = (follow_model / "one.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]

    def case(name, text):
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        code, _, err = follow(capsys, model, path)
        assert code == 2 and err.startswith(f"error: {path}: row ") and err.count("\n") == 1, err
        return err

    body = "\n".join([header, *rows[:20]]) + "\n"
    assert "row 6: not UTF-8 text (byte 0xff" in case("latin.csv", body.encode().replace(b"\n2024-01-01 04", b"\n\xff024-01-01 04", 1))
    assert "row 1: the header names column 'y' twice" in case("twice.csv", "ds,y,y\n2024-01-01 00:00,1,1\n")
    gap = "\n".join([header, *rows[:5], *rows[8:12]]) + "\n"
    assert "row 7, column 'ds': 2024-01-01 08:00 skips steps after 2024-01-01 04:00 (the next step is " \
           "2024-01-01 05:00)" in case("gap.csv", gap)  # the times as the file writes them
    repeat = "\n".join([header, *rows[:5], rows[4], *rows[5:9]]) + "\n"
    assert "row 7, column 'ds': 2024-01-01 04:00 is not after the previous row" in case("repeat.csv", repeat)
    assert "are not both with or both without a UTC offset" in case("zones.csv", "\n".join(
        [header, rows[0], rows[1].replace(",", "+00:00,", 1)]) + "\n")
    assert "row 3, column 'ds': not a time: 'noon'" in case("word.csv", "\n".join(
        [header, rows[0], "noon," + rows[1].split(",", 1)[1]]) + "\n")
    assert "row 2, column 'ds': a step number ('0') where the model was trained on times" in case(
        "steps.csv", "ds,y,is_anomaly\n0,1.0,0\n1,1.1,0\n")
    # a byte-order mark before the header is not part of the column name
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + (follow_model / "one.csv").read_bytes())
    code, out, _ = follow(capsys, model, bom)
    assert code == 0 and "240 rows scored" in out
    # options it would not hear are refused
    for more, flag in ((["--out", str(tmp_path / "o")], "--out"), (["--target", "z"], "--target")):
        code, _, err = follow(capsys, model, bom, *more)
        assert code == 2 and err == (f"error: {flag} does not go with --follow, which reads the model's columns from "
                                     "the followed rows and writes nothing (name the file to follow with --follow "
                                     "FILE)\n")
    assert not (tmp_path / "o").exists()
    assert main(["detect", "--model", str(model), "--follow", "-", "--idle", "1"]) == 2
    assert "--idle goes with --follow FILE" in capsys.readouterr().err


def test_follow_gives_each_series_of_a_file_its_own_state(follow_model, tmp_path, capsys):
    """A one-series model following a file of two series scores each as it would alone."""
    model = follow_model / "model"
    many = write_series(tmp_path / "many.csv", ids=["m0", "m1"])  # m0 holds one.csv's values
    code, alone, _ = follow(capsys, model, follow_model / "one.csv")
    assert code == 0
    code, both, _ = follow(capsys, model, many)
    assert code == 0 and "480 rows scored" in both
    events = [line for line in alone.splitlines() if line.startswith(("anomaly", "  ended", "  still"))]
    assert events
    m0 = [line.replace("series m0  ", "") for line in both.splitlines() if "series m0  " in line]
    assert m0 == events


def test_follow_refuses_a_file_truncated_under_it(follow_model, tmp_path, capsys):
    import threading
    import time

    path = tmp_path / "live.csv"
    path.write_text((follow_model / "one.csv").read_text())

    def truncate():
        time.sleep(0.5)
        with open(path, "w") as fh:
            fh.write("")

    worker = threading.Thread(target=truncate)
    worker.start()
    capsys.readouterr()
    code = main(["detect", "--model", str(follow_model / "model"), "--follow", str(path), "--idle", "5"])
    worker.join()
    err = capsys.readouterr().err
    assert code == 2 and err == (f"error: {path}: the file was truncated while followed, after row 241; the rows "
                                 "written to it since are not read: run detect --follow on it again\n")


@pytest.mark.filterwarnings("error:overflow encountered:RuntimeWarning")  # matplotlib's ticks on a 1e308 axis: silenced
def test_a_value_off_every_scale_is_one_event_not_nan_scores(follow_model, tmp_path, capsys):
    """1e308 (a broken sensor) standardises to infinity in float32: clipped to Z_LIMIT, the
    scores stay finite, it is flagged, and the stream's event ends after it."""
    frame = pd.read_csv(follow_model / "one.csv")
    frame.loc[200, "y"] = 1e308
    spike = tmp_path / "spike.csv"
    frame.to_csv(spike, index=False)
    out = tmp_path / "scored"
    assert main(["detect", str(spike), "--model", str(follow_model / "model"), "--out", str(out)]) == 0
    scores = pd.read_csv(out / "scores.csv")
    assert np.isfinite(scores["score"]).all() and scores["flag"][200] == 1
    assert scores["flag"][230:].sum() == 0  # over once the spike has passed
    code, printed, _ = follow(capsys, follow_model / "model", spike)
    assert code == 0 and "still open" not in printed
    assert "anomaly  2024-01-09 08:00" in printed  # row 200's time


def test_follow_refuses_a_file_truncated_and_rewritten_between_two_reads(tmp_path):
    """Truncated and written again past the point read (faster than one poll): the size never
    shrinks under the reader, but the row it read last is no longer where it was."""
    from lstmkit.cli.detect_follow import _lines
    from lstmkit.errors import InputError

    path = tmp_path / "live.csv"
    path.write_text("ds,y\n" + "".join(f"2024-01-01 {h:02d}:00,{h}.0\n" for h in range(3)))
    lines = _lines(str(path), idle=0.2)
    assert [next(lines) for _ in range(4)][-1] == (4, "2024-01-01 02:00,2.0\n")
    path.write_text("ds,y\n" + "".join(f"2024-02-01 {h:02d}:00,{h}.5\n" for h in range(9)))  # longer than before
    with pytest.raises(InputError, match=r"live.csv: the file was truncated and written again while followed, "
                                         r"after row 4; the rows written to it since are not read"):
        next(lines)
    # a file only appended to reads to its end
    path.write_text("ds,y\n1,1.0\n")
    lines = _lines(str(path), idle=0.2)
    assert next(lines) == (1, "ds,y\n") and next(lines) == (2, "1,1.0\n")
    with path.open("a") as fh:
        fh.write("2,2.0\n3,3.0\n")
    assert list(lines) == [(3, "2,2.0\n"), (4, "3,3.0\n")]
