"""benchmarks/screen_options.py: the defaults with options changed on the bench's splits, the
selection's folds set for the process, and the series features' weight screened over a grid on
one fit."""

import json

import numpy as np
import pytest

import lstmkit
from benchmark_modules import BENCHMARKS, benchmark_module
from lstmkit.tasks import classify_select
from lstmkit.tasks.classify_baselines import SummaryStatisticsModel
from test_classifier import synthetic

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "ensemble": 1, "max_steps": 20}


@pytest.fixture
def screen(monkeypatch):
    """The script with bench_classify's loader giving one small synthetic set and its test split."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(lstmkit, "retain_freed_memory", lambda *args, **kwargs: None)  # process-wide: not here
    with benchmark_module("bench_classify.py") as loaders:
        monkeypatch.setattr(loaders, "load", lambda name, split_seed: (synthetic(24, seed=0, channels=1),
                                                                       synthetic(20, seed=1, channels=1)))
        with benchmark_module("screen_options.py") as module:
            yield module


@pytest.mark.parametrize("argv, message", [
    (["--options", "[1, 2]"], "a JSON object of keyword arguments is needed"),
    (["--options", "{hidden_size: 8}"], "not JSON"),
    (["--mix-grid", "0.5,1"], "the first 0"),
    (["--mix-grid", "0,1.5"], "weights in [0, 1]"),
    (["--mix-grid", "0,a"], "comma-separated numbers"),
    (["--folds", "1"], "--folds must be 2 or more"),
    (["--selection-warp-copies", "-1"], "--selection-warp-copies must be 0 or more"),
    (["--options", '{"hidden_sise": 8}'], "--options: "),
    (["--options", '{"augment": 1.5}'], "augment must lie in [0, 1)"),
])
def test_bad_arguments_are_refused_before_any_fit(screen, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        screen.main(["--datasets", "Tiny", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_options_folds_and_the_mixture_grid_on_one_fit(screen, tmp_path, capsys):
    """Two folds for the process only; the model's weight from the default grid; the test accuracy
    at every weight of the screen's grid, the last (w = 1) the features' regression alone."""
    out = tmp_path / "screen.jsonl"
    options = json.dumps(SMALL)
    assert screen.main(["--datasets", "Tiny", "--seeds", "0", "--folds", "2", "--mix-grid", "0,0.5,1",
                        "--options", options, "--json", str(out)]) == 0
    assert classify_select.SELECTION_FOLDS == 3  # restored after the run
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["set"] == "Tiny" and record["seed"] == 0 and record["options"] == json.loads(options)
    assert record["folds"] == 2 and record["skipped"] is None
    assert record["summary_mix"] in classify_select.SUMMARY_MIX_CHOICES
    assert record["grid"] == [0.0, 0.5, 1.0] and record["grid_w"] in record["grid"]
    assert len(record["grid_log_loss"]) == 3 and record["grid_difference"][0] is None
    train, test = synthetic(24, seed=0, channels=1), synthetic(20, seed=1, channels=1)
    alone = SummaryStatisticsModel(features=classify_select.SUMMARY_MIX_FEATURES).fit(train, classes=list(train.classes))
    truth = np.asarray(test.labels).astype(str)
    assert record["accuracy_by_w"][-1] == pytest.approx(float(np.mean(alone.predict(test) == truth)), abs=1e-6)
    if record["summary_mix"] in record["grid"]:  # the model's own weight is on the grid: the same score
        assert record["accuracy_by_w"][record["grid"].index(record["summary_mix"])] == record["accuracy"]
    line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Tiny")][0]
    assert f"accuracy {record['accuracy']:.3f}" in line and "grid w" in line


@pytest.mark.slow
def test_the_defaults_three_folds_and_no_grid(screen, tmp_path):
    out = tmp_path / "screen.jsonl"
    assert screen.main(["--datasets", "Tiny", "--seeds", "1", "--options", json.dumps(SMALL),
                        "--json", str(out)]) == 0
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["folds"] == 3 and "accuracy_by_w" not in record
    model = lstmkit.Classifier(seed=1, progress=False, **SMALL).fit(synthetic(24, seed=0, channels=1))
    assert record["accuracy"] == pytest.approx(model.evaluate(synthetic(20, seed=1, channels=1))["accuracy"], abs=1e-6)


@pytest.mark.slow
def test_the_selections_copies_apart_from_the_models(screen, tmp_path, monkeypatch):
    """--selection-warp-copies W: every network the selection trains sees W copies of its series,
    the model its own option's count (here none); the module's rule is restored after the run."""
    from lstmkit.tasks import classify

    counts = []
    warped = classify.warped_copies
    monkeypatch.setattr(classify, "warped_copies",
                        lambda data, copies, **kw: counts.append(copies) or warped(data, copies, **kw))
    rule = classify_select.warp_copies_for
    out = tmp_path / "screen.jsonl"
    assert screen.main(["--datasets", "Tiny", "--seeds", "0", "--selection-warp-copies", "2", "--json", str(out),
                        "--options", json.dumps({**SMALL, "warp_copies": 0})]) == 0
    assert classify_select.warp_copies_for is rule
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["selection_warp_copies"] == 2 and record["skipped"] is None
    assert len(counts) > 2 and counts[-1] == 0 and set(counts[:-1]) == {2}  # the model's fit comes last
