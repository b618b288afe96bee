"""benchmarks/bench_select.py: the default's choice of P and the parts' dropout on the training
split, with each candidate's margin and the choice the rule would make without it."""

import json

import pytest

import lstmkit
from benchmark_modules import BENCHMARKS, benchmark_module
from lstmkit.tasks import classify_select
from test_classifier import synthetic

SMALL = {"hidden_size": 8, "conv_channels": (8, 16, 8), "ensemble": 1, "max_steps": 20, "progress": False}


def on_a_tiny_set(monkeypatch, script: str):
    """The benchmark script ``script`` with bench_classify's loader giving one small synthetic set;
    its calls to ``lstmkit.retain_freed_memory`` recorded in ``module.malloc_calls`` instead of
    made (the setting is process-wide: not in the test's process)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    calls = []
    monkeypatch.setattr(lstmkit, "retain_freed_memory", lambda *args, **kwargs: calls.append((args, kwargs)))
    with benchmark_module("bench_classify.py") as loaders:
        monkeypatch.setattr(loaders, "load", lambda name, split_seed: (synthetic(24, seed=0, channels=1), None))
        with benchmark_module(script) as module:
            module.malloc_calls = calls
            yield module


@pytest.fixture
def bench(monkeypatch):
    yield from on_a_tiny_set(monkeypatch, "bench_select.py")


RECORD = {"choices": [1, 3, 3, 1, 1], "dropouts": [0.0, 0.0, 0.8, 0.0, 0.0], "maxes": [False, False, False, True, False],
          "trends": [None, None, None, None, 300]}


@pytest.mark.parametrize("accuracy, log_loss, expected", [
    ([0.6, 0.7, 0.8, 0.7, 0.5], [1.0, 0.9, 0.8, 0.7, 0.6], 2),  # each better on both than the one before; the fourth ties
    ([0.6, 0.7, 0.7, 0.8, 0.8], [1.0, 0.9, 0.8, 0.7, 0.6], 3),  # the third ties in accuracy, the fourth beats the second
    ([0.6, 0.6, 0.7, 0.6, 0.6], [1.0, 0.9, 1.1, 0.5, 0.4], 0),  # the second ties, the third disagrees, the fourth ties
    ([0.6, 0.6, 0.7, 0.6, 0.9], [1.0, 0.9, 1.1, 0.5, 0.4], 4),  # the trend's beats the first on both
])
def test_the_rule_without_the_margin(bench, accuracy, log_loss, expected):
    assert bench.without_margin({**RECORD, "accuracy": accuracy, "log_loss": log_loss}) == expected
    assert [bench.label(RECORD, j) for j in range(5)] == ["P1", "P3", "P3+d0.8", "P1+max", "P1+t300"]
    old = {key: RECORD[key][:3] for key in ("choices", "dropouts")}  # a record from before the maximum
    assert [bench.label(old, j) for j in range(3)] == ["P1", "P3", "P3+d0.8"]


@pytest.mark.slow
def test_one_line_and_one_record_per_set_and_seed(bench, monkeypatch, tmp_path, capsys):
    real = classify_select.select_conv_segments
    seen = []

    def small(classifier, data):  # the default's selection, with small networks and few steps
        seen.append(classifier.get_params()["seed"])
        return real(lstmkit.Classifier(**SMALL, seed=classifier.get_params()["seed"]), data)

    monkeypatch.setattr(classify_select, "select_conv_segments", small)
    out = tmp_path / "sel.jsonl"
    assert bench.main(["--datasets", "Tiny", "--seeds", "0,1", "--json", str(out)]) == 0
    assert seen == [0, 1]
    assert bench.malloc_calls == [((), {})]  # as the lstmkit command: freed memory kept for reuse
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["set"], r["seed"]) for r in records] == [("Tiny", 0), ("Tiny", 1)]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Tiny")]
    assert len(lines) == 2
    for record, line in zip(records, lines):
        assert len(record["difference"]) == 5 and record["difference"][0] is None
        for mean, se in record["difference"][1:]:
            assert f"{mean:+.3f} ± {se:.3f}" in line
        assert f"{record['accuracy'][0]:.3f} / {record['accuracy'][1]:.3f}" in line


@pytest.fixture
def screen(monkeypatch):
    yield from on_a_tiny_set(monkeypatch, "screen_trend.py")


@pytest.mark.slow
def test_the_trend_screen_is_the_selections_first_and_last_candidate(screen, monkeypatch, tmp_path, capsys):
    """benchmarks/screen_trend.py: P = 1 and the split, single networks on the selection's folds;
    the split's network is the selection's own (a model of its own there too), bit for bit."""
    import numpy as np

    train = synthetic(24, seed=0, channels=1)
    record = screen.screen(train, 0, **SMALL)
    selection = classify_select.select_conv_segments(lstmkit.Classifier(**SMALL, seed=0), train)
    window = classify_select.trend_candidate_window(np.median(train.lengths))
    assert record["window"] == selection["trends"][-1] == window >= 2
    assert record["accuracy"][1] == pytest.approx(selection["accuracy"][-1], abs=1e-6)
    assert record["log_loss"][1] == pytest.approx(selection["log_loss"][-1], abs=1e-6)
    assert record["difference"][0] == pytest.approx(record["log_loss"][1] - record["log_loss"][0], abs=1e-9)
    real = screen.screen
    monkeypatch.setattr(screen, "screen", lambda data, seed, candidate: real(data, seed, candidate, **SMALL))
    out = tmp_path / "screen.jsonl"
    assert screen.main(["--datasets", "Tiny", "--seeds", "0", "--json", str(out)]) == 0
    assert screen.malloc_calls == [((), {})]
    (written,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert written == {"set": "Tiny", "seed": 0, **record}
    line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Tiny")][0]
    assert f"{record['difference'][0]:+.3f} ± {record['difference'][1]:.3f}" in line


@pytest.mark.slow
def test_the_series_screen_reads_the_whole_series_beside_the_same_first_network(screen):
    """``--candidate series``: the same P = 1 network on the same folds as the trend's screen, beside
    one reading the longest series as one LSTM step (a different fit, so different figures)."""
    train = synthetic(24, seed=0, channels=1)
    trend, series = (screen.screen(train, 0, candidate, **SMALL) for candidate in ("trend", "series"))
    assert series["window"] == "series"
    assert series["accuracy"][0] == trend["accuracy"][0] and series["log_loss"][0] == trend["log_loss"][0]
    assert series["log_loss"][1] != pytest.approx(series["log_loss"][0], abs=1e-6)
    assert series["difference"][0] == pytest.approx(series["log_loss"][1] - series["log_loss"][0], abs=1e-9)
