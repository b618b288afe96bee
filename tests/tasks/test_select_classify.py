"""benchmarks/select_classify.py: options chosen by GridSearchCV on the training split, here on
a small set where the choice is plain (one epoch has not learnt it; forty have)."""

import json

import pytest

import lstmkit
from benchmark_modules import BENCHMARKS, benchmark_module
from test_classifier import synthetic

pytest.importorskip("sklearn")


@pytest.fixture
def select(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    calls = []  # retain_freed_memory is process-wide: recorded, not made, in the test's process
    monkeypatch.setattr(lstmkit, "retain_freed_memory", lambda *args, **kwargs: calls.append((args, kwargs)))
    with benchmark_module("bench_classify.py") as bench:
        monkeypatch.setattr(bench, "load", lambda name, split_seed: (synthetic(36, seed=0, channels=1),
                                                                     synthetic(20, seed=1, channels=1)))
        with benchmark_module("select_classify.py") as module:
            module.malloc_calls = calls
            yield module


def test_values_are_read_as_json_or_text(select):
    assert select.parse_values("1,3") == [1, 3]
    assert select.parse_values("true,0.5,mean") == [True, 0.5, "mean"]


@pytest.mark.slow
def test_the_search_picks_the_value_that_learns_and_scores_it_on_the_test_split(select, tmp_path, capsys):
    out = tmp_path / "s.json"
    select.main(["--datasets", "Tiny", "--seeds", "0", "--option", "max_epochs", "--values", "1,40",
                 "--folds", "2", "--fixed", "hidden_size=8", "--fixed", "conv_channels=[8,16,8]",
                 "--fixed", "ensemble=1", "--fixed", "conv_segments=1", "--fixed", "warmup_steps=5", "--json", str(out)])
    run = json.loads(out.read_text())["runs"][0]
    assert select.malloc_calls == [((), {})]
    assert run["chosen"] == 40 and run["fits"] == 2 * 2 + 1
    assert set(run["cv_accuracy"]) == {"1", "40"} and run["cv_accuracy"]["40"] > run["cv_accuracy"]["1"]
    assert run["test_accuracy"] >= 0.8
    assert "max_epochs=40 chosen" in capsys.readouterr().out
