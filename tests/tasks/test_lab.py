"""The lab's task generators and a seeded comparison of the cells."""

import dataclasses
import json
import math
import os
from pathlib import Path

import pytest
import torch

from lstmkit.cli.main import main
from lstmkit.tasks.lab import (
    COPY_SYMBOLS,
    DEFAULT_TASKS,
    LEARNING_RATES,
    SPECS,
    TASK_DEFAULTS,
    LabConfig,
    LabModel,
    LabNet,
    LabNetConfig,
    LabResult,
    Probe,
    adding_problem,
    choose_learning_rate,
    copy_task,
    run_cell,
    run_cost,
    run_lab,
    run_sweeps,
    summarise,
    temporal_order,
)
from lstmkit.tasks.lab_pool import JobPool


def test_adding_problem_answers():
    g = torch.Generator().manual_seed(0)
    x, y = adding_problem(500, 20, g)
    assert x.shape == (500, 20, 2) and y.shape == (500, 1)
    markers = x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((500,), 2.0))
    assert torch.equal(markers[:, :10].sum(1), torch.ones(500))  # one in each half
    torch.testing.assert_close((x[..., 0] * markers).sum(1, keepdim=True), y)
    assert abs(float(((y - 1) ** 2).mean()) - 1 / 6) < 0.03  # the trivial answer's MSE


def test_copy_task_answers():
    g = torch.Generator().manual_seed(1)
    x, y = copy_task(50, 30, g)
    tokens = x.argmax(-1)
    assert x.shape == (50, 2 * COPY_SYMBOLS + 30, 10)
    assert torch.equal(y[:, -COPY_SYMBOLS:], tokens[:, :COPY_SYMBOLS])
    assert torch.equal(y[:, :-COPY_SYMBOLS], torch.zeros_like(y[:, :-COPY_SYMBOLS]))
    assert bool((tokens[:, COPY_SYMBOLS + 29] == 9).all())  # the delimiter
    assert bool((tokens[:, :COPY_SYMBOLS] >= 1).all() and (tokens[:, :COPY_SYMBOLS] <= 8).all())


def test_temporal_order_answers():
    g = torch.Generator().manual_seed(2)
    x, y = temporal_order(300, 40, g)
    tokens = x.argmax(-1)
    for row, label in zip(tokens, y):
        relevant = [int(t) - 4 for t in row if t in (4, 5)]
        positions = [i for i, t in enumerate(row) if t in (4, 5)]
        assert len(relevant) == 2
        assert 4 <= positions[0] < 8 and 20 <= positions[1] < 24
        assert int(label) == 2 * relevant[0] + relevant[1]
    assert bool((tokens[:, 0] == 6).all() and (tokens[:, -1] == 7).all())


@pytest.mark.slow
def test_lstm_reaches_a_lower_loss_than_the_plain_rnn(tmp_path):
    config = LabConfig(task="adding", lengths=(30,), max_steps=600, seeds=(0,))
    rnn = run_cell(config, "rnn", 30, tmp_path / "rnn", learning_rate=1e-3)  # each cell's sweep choice
    lstm = run_cell(config, "lstm", 30, tmp_path / "lstm", learning_rate=1e-2)
    assert rnn.final_metric > 0.15  # the plain RNN stays near the trivial answer (0.167)
    assert lstm.final_metric < 0.75 * rnn.final_metric
    assert len(lstm.gradient_at_init) == 30 and lstm.learning_rate == 1e-2


def test_choose_learning_rate_prefers_the_fastest_solve_then_the_best_metric():
    adding, copy = SPECS["adding"], SPECS["copy"]
    # none solved: the lowest MSE wins; a diverged probe (nan) ranks last
    probes = [Probe(1e-3, 0.16), Probe(3e-3, 0.05), Probe(1e-2, math.nan)]
    assert choose_learning_rate(probes, adding) == 3e-3
    # a probe that solved beats any that did not, the earliest solve beats a later one
    probes = [Probe(1e-3, 0.002, None), Probe(3e-3, 0.008, 300), Probe(1e-2, 0.009, 200)]
    assert choose_learning_rate(probes, adding) == 1e-2
    # accuracy: higher is better; ties go to the smaller learning rate
    assert choose_learning_rate([Probe(1e-3, 0.5), Probe(3e-3, 0.7), Probe(1e-2, 0.7)], copy) == 3e-3
    # with losses, unsolved probes rank by loss: near-chance accuracies are noise
    probes = [Probe(1e-3, 0.130, loss=0.35), Probe(3e-3, 0.133, loss=0.47), Probe(1e-2, 0.118, loss=0.30)]
    assert choose_learning_rate(probes, copy) == 1e-2
    assert choose_learning_rate([Probe(1e-3, 0.2, loss=0.4), Probe(1e-2, 0.9, 300, loss=0.5)], copy) == 1e-2
    assert choose_learning_rate([Probe(1e-3, 0.2, loss=0.4), Probe(1e-2, 0.1, loss=math.nan)], copy) == 1e-3
    with pytest.raises(ValueError):
        choose_learning_rate([], adding)


def test_sweep_chooses_per_cell_from_injected_metrics(tmp_path):
    fake = {("rnn", 1e-3): (0.15, None), ("rnn", 1e-2): (0.17, None),
            ("lstm", 1e-3): (0.12, None), ("lstm", 1e-2): (0.008, 200)}
    calls = []

    def probe(config, cell, length, lr, run_dir):  # no training: the probe's metric is injected
        calls.append((cell, length, lr))
        return Probe(lr, *fake[(cell, lr)])

    config = LabConfig(lengths=(40, 20), cells=("rnn", "lstm"), learning_rates=(1e-3, 1e-2))
    seen = []
    sweeps = run_sweeps(config, tmp_path, progress=lambda cell, lr, probes: seen.append((cell, lr)), probe=probe)
    assert {c: s["learning_rate"] for c, s in sweeps.items()} == {"rnn": 1e-3, "lstm": 1e-2}
    assert sweeps["lstm"]["probes"][1] == {"learning_rate": 1e-2, "metric": 0.008, "solved_at": 200, "seconds": 0.0,
                                           "loss": None, "steps": None, "seeds": 1}
    assert seen == [("rnn", 1e-3), ("lstm", 1e-2)]
    # at the shortest length, the costlier cell's probes started first
    assert calls == [("lstm", 20, 1e-3), ("lstm", 20, 1e-2), ("rnn", 20, 1e-3), ("rnn", 20, 1e-2)]
    # a fixed learning rate skips the sweep
    assert run_sweeps(LabConfig(cells=("gru",), learning_rate=5e-3), tmp_path, probe=probe) == \
        {"gru": {"learning_rate": 5e-3, "probes": []}}


def test_the_first_seeds_run_continues_its_probe_and_equals_the_uninterrupted_run(tmp_path):
    config = LabConfig(task="adding", lengths=(10,), cells=("lstm",), hidden_size=8, batch_size=16, max_steps=60,
                       eval_every=10, sweep_steps=20, learning_rates=(1e-2,), seeds=(0, 1))
    sweeps = run_sweeps(config, tmp_path / "lab")
    assert sweeps["lstm"]["start_from"] == {"0": str(tmp_path / "lab" / "sweep" / "lstm" / "lr-0.01")}
    first, second = run_lab(config, tmp_path / "lab", sweeps=sweeps)
    assert (first.seed, first.steps_from_probe, second.seed, second.steps_from_probe) == (0, 20, 1, 0)
    fresh = run_cell(config, "lstm", 10, tmp_path / "fresh", learning_rate=1e-2, seed=0)
    assert fresh.steps_from_probe == 0
    # the same batches, weights and random states from step 20 on: the same run to the last bit
    assert first.final_metric == fresh.final_metric and first.solved == fresh.solved
    assert first.gradient_at_init == fresh.gradient_at_init
    assert first.gradient_trained == fresh.gradient_trained
    log = (tmp_path / "lab" / "train" / "lstm-10-seed0" / "logs" / "metrics.csv").read_text().splitlines()
    assert len(log) == 1 + 6  # the probe's two epochs, then the run's four
    # a probe only starts a run that evaluates as it did (here its epochs are 5 steps, the run's 10)
    short = dataclasses.replace(config, sweep_steps=5)
    first, _ = run_lab(short, tmp_path / "short", sweeps=run_sweeps(short, tmp_path / "short"))
    assert first.steps_from_probe == 0


def test_a_run_that_stopped_solved_stays_stopped_when_continued(tmp_path, monkeypatch):
    # a criterion every network meets: solved, with the margin, at the first evaluation
    monkeypatch.setitem(SPECS, "adding", dataclasses.replace(SPECS["adding"], threshold=10.0))
    common = dict(task="adding", cell="gru", length=10, hidden_size=8, batch_size=16, eval_every=10,
                  learning_rate=1e-2)
    probe = LabModel(max_steps=30, **common).build().fit(run_dir=tmp_path / "probe")
    assert (probe.solved_at, probe.fit_result.steps) == (10, 10)
    run = LabModel(max_steps=60, **common).build().fit(run_dir=tmp_path / "run", resume_from=tmp_path / "probe")
    assert (run.solved_at, run.fit_result.steps) == (10, 10)  # no step after the stop
    for name, weight in probe.net.state_dict().items():
        assert torch.equal(weight, run.net.state_dict()[name]), name


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chrono_initialisation_of_the_gates(cell):
    torch.manual_seed(0)
    net = LabNet(LabNetConfig(task="adding", cell=cell, hidden_size=16, chrono=200))
    h, enc = 16, net.encoder
    keep = (enc.bias_ih_l0[h:2 * h] + enc.bias_hh_l0[h:2 * h]).detach()  # LSTM: forget gate; GRU: update gate z
    assert bool((keep >= 0).all() and (keep <= math.log(199) + 1e-6).all()) and float(keep.max()) > 3
    if cell == "lstm":  # the input gate's bias is minus the forget gate's
        torch.testing.assert_close((enc.bias_ih_l0[:h] + enc.bias_hh_l0[:h]).detach(), -keep)
    # the model uses the sequence's span as T_max when asked; by default there is no chrono init
    assert LabModel(task="copy", cell=cell, length=30, chrono_init=True).build().net.config.chrono == \
        30 + 2 * COPY_SYMBOLS
    assert LabModel(task="adding", cell=cell, length=30).build().net.config.chrono is None


def test_lstm_forget_gate_bias_is_one_by_default():
    enc = LabModel(task="adding", cell="lstm", length=30, hidden_size=8).build().net.encoder
    bias = (enc.bias_ih_l0 + enc.bias_hh_l0).detach()
    torch.testing.assert_close(bias[8:16], torch.ones(8))  # gates i, f, g, o: f is the second block
    assert float(bias[:8].abs().max()) < 2 / 8 ** 0.5  # the other gates keep torch's U(-1/sqrt(H), 1/sqrt(H))
    assert LabConfig().chrono_init is False and LabConfig.for_task("copy").chrono_init is False


@pytest.mark.slow
def test_lab_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "lab"
    assert main(["lab", "adding", "--quick", "--steps", "100", "--sweep-steps", "20", "--lr-sweep", "1e-3,1e-2",
                 "--seeds", "3,4", "--lengths", "10,12", "--cells", "rnn,lstm", "--workers", "1",
                 "--warmup", "30", "--out", str(out)]) == 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["config"]["warmup_steps"] == 30
    results = saved["results"]
    # every cell and length once per seed, in the order lengths, cells, seeds
    assert [(r["length"], r["cell"], r["seed"]) for r in results] == \
        [(n, c, s) for n in (10, 12) for c in ("rnn", "lstm") for s in (3, 4)]
    for r in results:
        assert set(r) >= {"cell", "length", "solved", "steps", "final_metric"}
        assert isinstance(r["solved"], bool) and r["final_metric"] >= 0
        assert len(r["gradient_at_init"]) == r["length"]
        assert r["learning_rate"] in (1e-3, 1e-2)
    # different seeds, different runs (initial weights, batches and test set all follow the seed)
    assert results[0]["final_metric"] != results[1]["final_metric"]
    assert saved["config"]["seeds"] == [3, 4]
    assert set(saved["learning_rates"]) == {"rnn", "lstm"}
    assert all(len(s["probes"]) == 2 for s in saved["sweeps"].values())
    assert saved["learning_rates"] == {r["cell"]: r["learning_rate"] for r in results}
    # the summary gathers the two seeds of each (cell, length)
    summary = {(row["cell"], row["length"]): row for row in saved["summary"]}
    assert len(summary) == 4 and all(row["runs"] == 2 for row in summary.values())
    lstm10 = [r["final_metric"] for r in results if r["cell"] == "lstm" and r["length"] == 10]
    assert summary[("lstm", 10)]["mean_metric"] == pytest.approx(sum(lstm10) / 2)
    assert summary[("lstm", 10)]["min_metric"] == min(lstm10)
    assert (out / "success.png").stat().st_size > 1000 and (out / "gradients.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "solved" in printed and "over 2 seed(s)" in printed
    assert "Adam (its rate reached linearly over the first 30 steps), clipping 1" in printed


def test_summarise_gathers_seeds():
    def result(cell, seed, metric, solved, steps):
        return LabResult(task="adding", cell=cell, length=100, solved=solved, steps=steps, metric="mse",
                         final_metric=metric, baseline_metric=0.167, learning_rate=1e-2, seed=seed)

    rows = summarise([result("lstm", 0, 0.002, True, 400), result("rnn", 0, 0.17, False, None),
                      result("lstm", 1, 0.004, True, 600), result("lstm", 2, 0.15, False, None)])
    lstm, rnn = rows
    assert (lstm.cell, lstm.runs, lstm.solved, rnn.runs, rnn.solved) == ("lstm", 3, 2, 1, 0)
    assert lstm.mean_metric == pytest.approx((0.002 + 0.004 + 0.15) / 3)
    assert (lstm.min_metric, lstm.max_metric) == (0.002, 0.15)
    assert lstm.median_steps == 500 and rnn.median_steps is None


def test_task_defaults_and_overrides():
    assert DEFAULT_TASKS == ("adding", "copy")  # what `lstmkit lab` runs with no task named
    adding = LabConfig.for_task("adding")
    assert (adding.lengths, adding.max_steps, adding.hidden_size, adding.seeds) == ((100, 200), 3000, 32, (0, 1, 2))
    assert (adding.sweep_length, adding.sweep_steps, adding.learning_rates) == (25, 400, LEARNING_RATES)
    copy = LabConfig.for_task("copy")
    assert (copy.lengths, copy.max_steps, copy.hidden_size, copy.batch_size, copy.seeds) == \
        ((30,), 6000, 96, 64, (0, 1, 2))
    assert (copy.warmup_steps, adding.warmup_steps) == (500, 0)  # the copy task's LSTM needs the warm-up
    assert (copy.sweep_seeds, adding.sweep_seeds) == (3, 1)  # the copy probes: every seed, by their mean
    assert (copy.rates_past_first_seed, adding.rates_past_first_seed) == (2, 3)  # past seed 0, its best two
    assert COPY_SYMBOLS == 3  # three symbols over a delay of 30: a plain RNN bridged 10 and 20 blanks on some seeds
    assert copy.sweep_length is None and copy.sweep_steps == 1000  # probes at the shortest length
    adding = LabConfig.for_task("adding", seeds=(5,), lengths=(100,))
    assert (adding.lengths, adding.seeds, adding.seed, adding.max_steps) == ((100,), (5,), 5, 3000)
    assert adding.sweep_length == 25 and adding.probe_length == 25  # longer lengths: the task's probes
    assert LabConfig.for_task("adding", lengths=(400, 12)).probe_length == 12  # or the shortest asked for
    assert LabConfig.for_task("adding", lengths=(100,), sweep_length=30).sweep_length == 30
    assert LabConfig.for_task("copy", lengths=(50, 40)).probe_length == 40  # the copy task: its own length
    assert LabConfig.for_task("order", lengths=(100,)).probe_length == 25  # as the adding problem
    # every cell gets the same budget and the same sweep: nothing in the defaults is per cell
    assert all(not any(cell in str(key) for cell in ("rnn", "gru", "lstm"))
               for defaults in TASK_DEFAULTS.values() for key in defaults)
    assert LEARNING_RATES == (1e-3, 3e-3, 1e-2)  # 3e-2 stalled the LSTM short of solving copy
    with pytest.raises(ValueError, match="task must be one of"):
        LabConfig.for_task("sorting")
    with pytest.raises(ValueError, match="at least one seed"):
        LabConfig(seeds=())


def test_lab_usage_errors(capsys):
    assert main(["lab", "--cells", "rnn,transformer"]) == 2
    assert main(["lab", "order", "--lengths", "5"]) == 2
    assert "at least 10" in capsys.readouterr().err
    assert main(["lab", "--lr-sweep", "fast"]) == 2
    assert main(["lab", "--seed", "1", "--seeds", "1,2"]) == 2
    assert main(["lab", "--seeds", "one"]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["lab", "--lengths", "50"]) == 2  # the default runs two tasks: lengths need one named
    assert "name one task" in capsys.readouterr().err
    for flags in (["--learning-rate", "nan"], ["--learning-rate", "inf"], ["--lr-sweep", "1e-3,inf"]):
        assert main(["lab", "order", "--quick", *flags]) == 2
        assert capsys.readouterr().err == "error: --lr-sweep / --learning-rate: expected positive (finite) learning rates\n"
    for flag, values, twice in (("--cells", "lstm,rnn,lstm", "lstm"), ("--lengths", "10,12,10", "10"),
                                ("--seeds", "1,1", "1")):
        assert main(["lab", "order", "--quick", flag, values]) == 2
        assert capsys.readouterr().err == f"error: {flag}: {twice} is named twice; name each once\n"
    assert main(["lab", "order", "--quick", "--lr-sweep", "1e-2,3e-3,0.01"]) == 2
    assert capsys.readouterr().err == "error: --lr-sweep: 0.01 is named twice; name each once\n"
    assert main(["lab", "adding", "--lengths", ""]) == 2  # not the defaults
    assert capsys.readouterr().err == "error: --lengths: expected lengths of at least 2, got ''\n"
    assert main(["lab", "order", "--quick", "--seeds", "0,99999999999"]) == 2
    assert capsys.readouterr().err == ("error: --seeds: expected seeds from 0 to 4294967295 (numpy's range), "
                                       "got 99999999999\n")
    with pytest.raises(SystemExit) as info:  # --seed, as every command's, is checked by its type
        main(["lab", "order", "--quick", "--seed", "-1"])
    assert info.value.code == 2
    assert "argument --seed: expected a whole number from 0 to 4294967295, got -1" in capsys.readouterr().err


@pytest.mark.slow
def test_default_lab_runs_adding_then_copy(tmp_path, capsys):
    out = tmp_path / "lab"
    assert main(["lab", "--quick", "--steps", "20", "--sweep-steps", "10", "--lr-sweep", "1e-3,1e-2",
                 "--cells", "rnn,lstm", "--workers", "1", "--out", str(out)]) == 0
    overview = json.loads((out / "summary.json").read_text())
    assert list(overview) == ["adding", "copy"]
    for task in ("adding", "copy"):
        saved = json.loads((out / task / "results.json").read_text())
        assert saved["config"]["task"] == task and saved["config"]["chrono_init"] is False
        assert (out / task / "success.png").stat().st_size > 1000
        assert {(r["cell"], r["length"]) for r in saved["results"]} == \
            {(c, n) for c in ("rnn", "lstm") for n in saved["config"]["lengths"]}
        assert all(r["task"] == task for r in saved["results"])
        # the overview repeats each task's chosen learning rates and summary rows
        assert overview[task]["learning_rates"] == saved["learning_rates"]
        assert overview[task]["summary"] == saved["summary"]
        for cell, lr in saved["learning_rates"].items():
            assert lr in (1e-3, 1e-2)
            assert all(r["learning_rate"] == lr for r in saved["results"] if r["cell"] == cell)
        assert all(r["solved"] <= r["runs"] == 1 for r in saved["summary"])
    assert json.loads((out / "adding" / "results.json").read_text())["config"]["lengths"] == [10, 25]
    assert json.loads((out / "copy" / "results.json").read_text())["config"]["lengths"] == [5]
    printed = capsys.readouterr().out
    assert "the adding problem over 1 seed(s)" in printed and "the copy-memory task over 1 seed(s)" in printed
    assert "forget-gate bias 1" in printed


@pytest.mark.slow
def test_runs_in_worker_processes_match_the_runs_here(tmp_path):
    config = LabConfig(task="adding", lengths=(6, 8), cells=("rnn", "lstm"), max_steps=10, eval_every=10,
                       test_size=32, seeds=(0, 1), learning_rate=1e-2)
    here = run_lab(config, tmp_path / "here")
    seen = []
    with JobPool(2) as pool:
        there = run_lab(config, tmp_path / "there", progress=lambda r: seen.append((r.cell, r.length, r.seed)),
                        pool=pool)
    key = [(r.length, r.cell, r.seed) for r in here]
    assert key == [(r.length, r.cell, r.seed) for r in there] == \
        [(n, c, s) for n in (6, 8) for c in ("rnn", "lstm") for s in (0, 1)]
    for a, b in zip(here, there):
        assert b.final_metric == pytest.approx(a.final_metric, rel=1e-4, abs=1e-6)
    assert sorted(seen) == sorted((c, n, s) for n, c, s in key)


def test_job_pool_keeps_the_order_of_the_jobs():
    finished = []
    with JobPool(1) as pool:
        assert pool.map(pow, [(2, 3), (3, 2)], done=lambda i, r: finished.append((i, r))) == [8, 9]
    assert finished == [(0, 8), (1, 9)]
    with pytest.raises(ValueError, match="workers"):
        JobPool(0)


def test_job_pool_starts_the_costliest_jobs_first_and_returns_them_in_order():
    started, finished = [], []

    def job(name):
        started.append(name)
        return name.upper()

    jobs = [("rnn-100",), ("lstm-100",), ("gru-200",), ("lstm-200",), ("rnn-200",)]
    costs = [run_cost(*name.split("-")[:1], int(name.split("-")[1])) for (name,) in jobs]
    with JobPool(1) as pool:
        out = pool.map_costliest_first(job, jobs, costs, done=lambda i, r: finished.append((i, r)))
    assert out == ["RNN-100", "LSTM-100", "GRU-200", "LSTM-200", "RNN-200"]
    assert started == ["lstm-200", "gru-200", "lstm-100", "rnn-200", "rnn-100"]
    assert finished == [(3, "LSTM-200"), (2, "GRU-200"), (1, "LSTM-100"), (4, "RNN-200"), (0, "RNN-100")]
    with JobPool(1) as pool, pytest.raises(ValueError, match="one cost per job"):
        pool.map_costliest_first(job, jobs, costs[:2])


def test_jobs_run_here_run_at_one_thread_as_in_a_worker_and_the_count_comes_back():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with JobPool(1) as pool:
            assert pool.map(torch.get_num_threads, [(), ()]) == [1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_success_plot_title_says_what_it_shows():
    from lstmkit.report.plots import lab_success_title

    title = lab_success_title("adding", "mse", 3, LabConfig.for_task("adding"))
    assert "adding problem" in title and "at most 3000 steps\nby sequence length" in title
    assert "forget-gate bias 1" in title
    assert "over 3 seed(s)" in title and "MSE < 0.01" in title and "k/n = runs solved" in title
    title = lab_success_title("copy", "accuracy", 3, LabConfig.for_task("copy", chrono_init=True))
    assert "copy-memory task" in title and "chrono init" in title and "accuracy >= 0.99" in title
    assert "at most 6000 steps (500 of warm-up)" in title


def test_lab_plot_titles_lie_inside_their_figures(tmp_path, monkeypatch):
    """Every title of the lab's plots, drawn, lies within its figure (a long title centred on
    axes narrowed by the legend once ran off the figure's left edge)."""
    import matplotlib.figure

    from lstmkit.report.plots import lab_plots
    from lstmkit.tasks.lab import LabResult

    drawn = []
    save = matplotlib.figure.Figure.savefig

    def savefig(fig, *args, **kwargs):
        save(fig, *args, **kwargs)
        renderer = fig.canvas.get_renderer()
        box = fig.bbox
        for ax in fig.axes:
            extent = ax.title.get_window_extent(renderer)
            drawn.append(ax.get_title())
            assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, ax.get_title()

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    for task, metric in (("copy", "accuracy"), ("adding", "mse")):
        config = LabConfig.for_task(task)
        results = [LabResult(task=task, cell=cell, length=length, solved=cell != "rnn", steps=None, metric=metric,
                             final_metric=0.5, baseline_metric=0.2, gradient_at_init=[1e-3] * length,
                             gradient_trained=[1e-2] * length, seconds=1.0, learning_rate=1e-2, seed=seed)
                   for cell in ("rnn", "gru", "lstm") for length in config.lengths for seed in (0, 1, 2)]
        lab_plots(results, tmp_path / task, task=task, config=config)
    assert len(drawn) == 6 and any("warm-up" in title for title in drawn)


def test_cli_default_lr_sweep_is_the_lab_grid():
    from lstmkit.cli import lab as cli_lab

    assert cli_lab.LEARNING_RATES == LEARNING_RATES


def test_solved_with_a_margin_for_stopping():
    from lstmkit.tasks.lab import STOP_MARGIN
    from lstmkit.tasks.lab_tasks import is_solved

    adding, copy = SPECS["adding"], SPECS["copy"]
    assert is_solved(adding, 0.009) and not is_solved(adding, 0.009, STOP_MARGIN)
    assert is_solved(adding, 0.0049, STOP_MARGIN) and not is_solved(adding, 0.01)
    assert is_solved(copy, 0.99) and not is_solved(copy, 0.99, STOP_MARGIN) and not is_solved(copy, 0.989)
    assert is_solved(copy, 0.995, STOP_MARGIN) and is_solved(copy, 1.0, STOP_MARGIN)


_ORPHAN_SCRIPT = """
import os, sys, time
from lstmkit.tasks.lab_pool import JobPool
if __name__ == "__main__":
    pool = JobPool(2)
    pool.map(os.getpid, [(), ()])  # both workers started
    print(" ".join(str(pid) for pid in pool._executor._processes), flush=True)
    pool.map(time.sleep, [(120,), (120,)])
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
@pytest.mark.slow
def test_workers_end_when_the_lab_process_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "lab_like.py"
    script.write_text(_ORPHAN_SCRIPT)
    lab = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        workers = [int(pid) for pid in lab.stdout.readline().split()]
        assert len(workers) == 2 and all(_running(pid) for pid in workers)
        time.sleep(0.5)  # both now in their long job
        lab.send_signal(signal.SIGKILL)  # no shutdown: the pool cannot tell its workers
        lab.wait(10)
        deadline = time.monotonic() + 20
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_running(pid) for pid in workers), "a worker outlived the lab by 20 s"
    finally:
        lab.kill()
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_copy_loss_is_the_mean_cross_entropy_over_every_step():
    """The copy task's loss, taken in torch's (N, C, L) layout, is the plain mean over all
    N * L steps' cross-entropies, in value and in gradient."""
    from lstmkit.tasks.lab_tasks import SPECS, task_loss

    x, y = copy_task(5, 7, torch.Generator().manual_seed(0))
    logits = torch.randn(*y.shape, SPECS["copy"].output_size, dtype=torch.float64, requires_grad=True)
    loss = task_loss(SPECS["copy"], logits, y)
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, y[..., None]).squeeze(-1)
    expected = -log_p.mean()
    torch.testing.assert_close(loss, expected)
    (got,) = torch.autograd.grad(loss, logits)
    (want,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(got, want)
    assert y.shape == (5, 2 * 3 + 7) and x.shape == (5, 13, 10)


def test_warmup_reaches_every_run_and_probe(tmp_path):
    """The config's warm-up is each model's: its learning rate climbs linearly to the cell's
    rate over those steps, the same for every cell."""
    from lstmkit.tasks.lab import _model
    from lstmkit.train.engine import scheduled_learning_rate

    config = LabConfig.for_task("copy")
    for cell in ("rnn", "gru", "lstm"):
        training = _model(config, cell, 30, 1e-2, 100, 0).params.training
        assert training.warmup_steps == 500
        assert scheduled_learning_rate(training, 0, 0.0) == pytest.approx(1e-2 / 500)
        assert scheduled_learning_rate(training, 249, 0.0) == pytest.approx(1e-2 / 2)
        assert scheduled_learning_rate(training, 499, 0.0) == pytest.approx(1e-2)
    assert _model(LabConfig.for_task("adding"), "lstm", 100, 1e-2, 100, 0).params.training.warmup_steps == 0
    with pytest.raises(ValueError, match="warmup_steps must be 0 or more"):
        LabConfig(warmup_steps=-1)


def test_cli_warmup_flag(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["lab", "copy", "--warmup", "-1", "--out", str(tmp_path / "w")])
    assert info.value.code == 2
    assert "--warmup: expected a whole number >= 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_a_sweep_over_several_seeds_chooses_by_their_mean_and_every_probed_seed_continues(tmp_path):
    """sweep_seeds=2: each rate is probed on seeds 0 and 1; the choice is on the mean of the
    two, and both seeds' runs continue their own probe of the chosen rate, bit for bit the
    runs they would have been."""
    from lstmkit.tasks.lab import mean_probe

    # the choice: seed 0 alone would take 1e-3, the mean of the two takes 1e-2 (1e-2 leads on
    # both seeds: no second round)
    losses = {(1e-3, 0): 0.13, (1e-3, 1): 0.30, (1e-2, 0): 0.12, (1e-2, 1): 0.14}

    def probe(config, cell, length, lr, run_dir, start_from=None):
        assert start_from is None
        return Probe(lr, 0.5, None, 1.0, losses[(lr, config.seed)])

    config = LabConfig(task="adding", lengths=(10,), cells=("lstm",), learning_rates=(1e-3, 1e-2),
                       seeds=(0, 1, 2), sweep_seeds=2)
    assert config.probe_seeds == (0, 1)
    sweeps = run_sweeps(config, tmp_path / "fake", probe=probe)
    assert sweeps["lstm"]["learning_rate"] == 1e-2
    assert [p["loss"] for p in sweeps["lstm"]["probes"]] == [pytest.approx(0.215), pytest.approx(0.13)]
    assert "second_round" not in sweeps["lstm"]
    assert sweeps["lstm"]["probes_by_seed"]["1"][0]["loss"] == 0.30
    assert set(sweeps["lstm"]["start_from"]) == {"0", "1"}
    assert sweeps["lstm"]["start_from"]["1"].endswith("lr-0.01/seed1")
    # solved only when every seed solved, at the slowest seed's step
    assert mean_probe([Probe(1e-2, 1.0, 200), Probe(1e-2, 0.9, 400)]).solved_at == 400
    assert mean_probe([Probe(1e-2, 1.0, 200), Probe(1e-2, 0.9, None)]).solved_at is None
    with pytest.raises(ValueError, match="sweep_seeds must be 1 or more"):
        LabConfig(sweep_seeds=0)
    # real probes: both probed seeds' runs continue them, the third starts afresh
    config = LabConfig(task="adding", lengths=(10,), cells=("lstm",), hidden_size=8, batch_size=16, max_steps=40,
                       eval_every=10, sweep_steps=20, learning_rates=(1e-2,), seeds=(0, 1, 2), sweep_seeds=2)
    runs = run_lab(config, tmp_path / "lab", sweeps=run_sweeps(config, tmp_path / "lab"))
    assert [(r.seed, r.steps_from_probe) for r in runs] == [(0, 20), (1, 20), (2, 0)]
    fresh = run_cell(config, "lstm", 10, tmp_path / "fresh", learning_rate=1e-2, seed=1)
    assert runs[1].final_metric == fresh.final_metric and runs[1].gradient_trained == fresh.gradient_trained


def test_not_told_apart_is_a_paired_t_of_at_most_one():
    from lstmkit.tasks.lab import not_told_apart, ranked

    copy, adding = SPECS["copy"], SPECS["adding"]

    def probes(lr, losses, solved=None):
        return [Probe(lr, 0.2, solved, loss=v) for v in losses]

    # the AVX2 build's LSTM at step 1000: 1e-2 left chance on one seed of three
    lead, runner = probes(1e-2, [0.1738, 0.1236, 0.1735]), probes(3e-3, [0.1557, 0.1536, 0.1629])
    assert not_told_apart(lead, runner, copy)
    # the native build's: 1e-2 lower on every seed (d = 0.050, 0.003, 0.058: t = 2.2)
    assert not not_told_apart(probes(1e-2, [0.1079, 0.1505, 0.1058]), probes(3e-3, [0.1583, 0.1531, 0.1638]), copy)
    # d = 0.0117, 0.0528, -0.0048: t = 1.18, told apart
    assert not not_told_apart(probes(1e-2, [0.1371, 0.0981, 0.1474]), probes(3e-3, [0.1488, 0.1509, 0.1426]), copy)
    # a tie is not told apart; one seed is never a question; a leader solved on every seed is ahead
    assert not_told_apart(probes(1e-2, [0.1, 0.1]), probes(3e-3, [0.1, 0.1]), copy)
    assert not not_told_apart(probes(1e-2, [0.1]), probes(3e-3, [0.1]), copy)
    assert not not_told_apart(probes(1e-2, [0.1, 0.2], solved=300), probes(3e-3, [0.1, 0.2]), copy)
    # a diverged runner-up is behind; without losses the metric decides (accuracy: higher is better)
    assert not not_told_apart(probes(1e-2, [0.1, 0.2]), probes(3e-3, [0.1, math.nan]), copy)
    assert not_told_apart([Probe(1e-2, 0.40), Probe(1e-2, 0.20)], [Probe(3e-3, 0.30), Probe(3e-3, 0.28)], copy)
    assert not not_told_apart([Probe(1e-2, 0.40), Probe(1e-2, 0.35)], [Probe(3e-3, 0.30), Probe(3e-3, 0.28)], copy)
    assert not not_told_apart([Probe(1e-2, 0.01), Probe(1e-2, 0.02)], [Probe(3e-3, 0.05), Probe(3e-3, 0.06)], adding)
    assert ranked([Probe(1e-3, 0.3, loss=0.3), Probe(3e-3, 0.2, loss=0.2), Probe(1e-2, 0.9, 400, loss=0.4)],
                  copy) == [1e-2, 3e-3, 1e-3]


def test_a_second_round_decides_between_two_rates_not_told_apart(tmp_path):
    """The two best rates' probes not told apart on the probed seeds: both continue to twice
    the steps, each seed from its own probe, and the second round's means choose; the runs then
    continue the longer probes. The third rate and the cells already decided get no second round."""
    first = {(1e-3, 0): 0.19, (1e-3, 1): 0.19, (1e-3, 2): 0.19,
             (3e-3, 0): 0.156, (3e-3, 1): 0.154, (3e-3, 2): 0.163,
             (1e-2, 0): 0.174, (1e-2, 1): 0.128, (1e-2, 2): 0.173}
    second = {(3e-3, 0): 0.12, (3e-3, 1): 0.10, (3e-3, 2): 0.12, (1e-2, 0): 0.09, (1e-2, 1): 0.02, (1e-2, 2): 0.08}
    calls = []

    def probe(config, cell, length, lr, run_dir, start_from=None):
        calls.append((cell, lr, config.seed, config.sweep_steps, Path(run_dir).name,
                      None if start_from is None else Path(start_from).name))
        if cell == "gru":
            return Probe(lr, 0.9, None, 1.0, {1e-3: 0.3, 3e-3: 0.2, 1e-2: 0.05}[lr] + 0.01 * config.seed)
        table = first if start_from is None else second
        return Probe(lr, 0.2, None, 1.0, table[(lr, config.seed)], config.sweep_steps)

    config = LabConfig(task="copy", lengths=(30,), cells=("gru", "lstm"), seeds=(0, 1, 2), sweep_seeds=3,
                       sweep_steps=1000, max_steps=6000)
    shown = []
    sweeps = run_sweeps(config, tmp_path, probe=probe, progress=lambda cell, lr, probes: shown.append((cell, lr, probes)))
    assert sweeps["lstm"]["learning_rate"] == 1e-2 and sweeps["gru"]["learning_rate"] == 1e-2
    assert "second_round" not in sweeps["gru"]
    rounds = sweeps["lstm"]["second_round"]
    assert rounds["steps"] == 2000
    assert [p["learning_rate"] for p in rounds["probes"]] == [3e-3, 1e-2]
    assert rounds["probes"][1]["loss"] == pytest.approx(0.19 / 3)
    assert rounds["probes_by_seed"]["1"][1]["loss"] == 0.02
    # the first round's mean, kept (it chose 3e-3 by a hair)
    assert sweeps["lstm"]["probes"][1]["loss"] == pytest.approx(0.473 / 3)
    # each seed's second-round probe continued its own first-round probe, and the runs continue the longer ones
    longer = [c for c in calls if c[3] == 2000]
    assert sorted(longer) == sorted(("lstm", lr, seed, 2000, f"seed{seed}-to2000", f"seed{seed}")
                                    for lr in (3e-3, 1e-2) for seed in (0, 1, 2))
    assert all(c[0] == "lstm" for c in longer)
    assert sweeps["lstm"]["start_from"]["2"].endswith("lstm/lr-0.01/seed2-to2000")
    # progress shows the first round's three probes, then the second round's two
    assert [(cell, lr, len(probes)) for cell, lr, probes in shown] == [("gru", 1e-2, 3), ("lstm", 1e-2, 5)]
    # no second round where it would pass the run's budget
    calls.clear()
    sweeps = run_sweeps(dataclasses.replace(config, max_steps=1500), tmp_path / "short", probe=probe)
    assert sweeps["lstm"]["learning_rate"] == 3e-3 and "second_round" not in sweeps["lstm"]
    assert all(c[3] == 1000 for c in calls)


def test_a_longer_probe_continued_from_a_shorter_one_is_the_longer_probe(tmp_path):
    """probe_run with start_from: the same validation loss and metric as a probe run for all
    the steps at once, and the run continuing from it starts at its step."""
    from lstmkit.tasks.lab import probe_run

    config = LabConfig(task="copy", lengths=(4,), cells=("lstm",), hidden_size=8, batch_size=16, max_steps=60,
                       eval_every=10, sweep_steps=20, seeds=(1,), warmup_steps=10)
    short = probe_run(config, "lstm", 4, 1e-2, tmp_path / "short")
    longer = dataclasses.replace(config, sweep_steps=40)
    continued = probe_run(longer, "lstm", 4, 1e-2, tmp_path / "continued", start_from=tmp_path / "short")
    whole = probe_run(longer, "lstm", 4, 1e-2, tmp_path / "whole")
    assert (short.steps, continued.steps) == (20, 40)
    assert continued.loss == whole.loss and continued.metric == whole.metric
    assert continued.loss != short.loss
    run = run_cell(config, "lstm", 4, tmp_path / "run", learning_rate=1e-2, seed=1, start_from=tmp_path / "continued")
    assert run.steps_from_probe == 40


def test_past_the_first_seed_only_its_best_rates_are_probed(tmp_path):
    """Three rates, three probed seeds: every rate on seed 0, its best two on seeds 1 and 2, the
    choice among those two by their mean (even where seed 0 alone would have chosen the other),
    the third rate reported with its one probe; ``sweep_keep=None`` probes every rate everywhere."""
    losses = {(1e-3, 0): 0.19, (3e-3, 0): 0.15, (1e-2, 0): 0.16,
              (3e-3, 1): 0.17, (1e-2, 1): 0.10, (3e-3, 2): 0.16, (1e-2, 2): 0.11,
              (1e-3, 1): 0.01, (1e-3, 2): 0.01}  # 1e-3 would lead on seeds 1 and 2: never asked
    calls = []

    def probe(config, cell, length, lr, run_dir, start_from=None):
        calls.append((lr, config.seed))
        return Probe(lr, 0.2, None, 1.0, losses[(lr, config.seed)], config.sweep_steps)

    config = LabConfig(task="copy", lengths=(30,), cells=("lstm",), seeds=(0, 1, 2), sweep_seeds=3,
                       sweep_steps=1000, max_steps=6000)
    assert config.rates_past_first_seed == 2
    shown = []
    sweeps = run_sweeps(config, tmp_path, probe=probe, progress=lambda cell, lr, probes: shown.append(probes))
    assert sorted(calls) == sorted([(1e-3, 0), (3e-3, 0), (1e-2, 0)] + [(lr, s) for lr in (3e-3, 1e-2) for s in (1, 2)])
    assert calls[:3] == [(1e-3, 0), (3e-3, 0), (1e-2, 0)]  # the first seed's probes all ran before the others
    lstm = sweeps["lstm"]
    assert lstm["learning_rate"] == 1e-2 and lstm["kept_rates"] == [3e-3, 1e-2]
    assert [(p["learning_rate"], p["seeds"]) for p in lstm["probes"]] == [(1e-3, 1), (3e-3, 3), (1e-2, 3)]
    assert lstm["probes"][0]["loss"] == 0.19 and lstm["probes"][2]["loss"] == pytest.approx(0.37 / 3)
    assert [p["learning_rate"] for p in lstm["probes_by_seed"]["1"]] == [3e-3, 1e-2]
    assert "second_round" not in lstm  # d = -0.01, 0.07, 0.05: told apart (t = 1.9)
    assert set(lstm["start_from"]) == {"0", "1", "2"} and lstm["start_from"]["2"].endswith("lr-0.01/seed2")
    assert [p.seeds for p in shown[0]] == [1, 3, 3]
    # every rate on every seed: 1e-3's mean (0.07) wins
    calls.clear()
    sweeps = run_sweeps(dataclasses.replace(config, sweep_keep=None), tmp_path / "all", probe=probe)
    assert len(calls) == 9 and sweeps["lstm"]["learning_rate"] == 1e-3
    assert "kept_rates" not in sweeps["lstm"]
    # one probed seed, or no more rates than kept: every rate is probed
    assert dataclasses.replace(config, sweep_seeds=1).rates_past_first_seed == 3
    assert dataclasses.replace(config, learning_rates=(1e-3, 1e-2)).rates_past_first_seed == 2
    with pytest.raises(ValueError, match="sweep_keep must be 2 or more"):
        LabConfig(sweep_keep=1)


def test_cli_sweep_keep(tmp_path, capsys):
    """--sweep-keep: the copy task's probes on two seeds, every rate on seed 0 and its best two on
    seed 1 by default, every rate on both with ``all``; anything below 2 is a usage error."""
    def sweep(*flags):
        out = tmp_path / "-".join(flags or ("default",))
        assert main(["lab", "copy", "--quick", "--steps", "20", "--sweep-steps", "10", "--seeds", "0,1",
                     "--cells", "rnn", "--workers", "1", *flags, "--out", str(out)]) == 0
        return json.loads((out / "results.json").read_text())["sweeps"]["rnn"], capsys.readouterr().out

    pruned, printed = sweep()
    assert sorted(p["seeds"] for p in pruned["probes"]) == [1, 2, 2]  # which rate seed 0 ranked last: the data's
    assert len(pruned["probes_by_seed"]["0"]) == 3 and len(pruned["probes_by_seed"]["1"]) == 2
    assert len(pruned["kept_rates"]) == 2 and "(seed 0 only)" in printed
    assert "on seed 0, its best 2 also on seed(s) 1, by their mean over the 2" in printed
    every, printed = sweep("--sweep-keep", "all")
    assert [p["seeds"] for p in every["probes"]] == [2, 2, 2] and "kept_rates" not in every
    assert "on each of seeds 0, 1, by their mean" in printed and "only)" not in printed
    for bad in ("1", "none", "-2"):
        with pytest.raises(SystemExit) as info:
            main(["lab", "copy", "--quick", "--sweep-keep", bad])
        assert info.value.code == 2
        assert f"argument --sweep-keep: expected a whole number of at least 2, or all, got '{bad}'" in \
            capsys.readouterr().err


def test_every_run_saves_its_model_and_inspect_reads_the_lstms(tmp_path, capsys):
    """Each run's directory holds its model (config.json, model.safetensors): loaded, it scores
    the run's test metric again; ``lstmkit inspect`` traces the LSTM's gates on the task's test
    set, naming the sequence it draws, and the GRU's update and reset gates and hidden state; a
    DATA file is refused (exit 2, nothing written), and a plain RNN, which has no gates."""
    from lstmkit.tasks.lab_tasks import describe

    config = LabConfig(task="copy", lengths=(4,), cells=("rnn", "gru", "lstm"), hidden_size=8, batch_size=16,
                       max_steps=20, eval_every=10, test_size=32, seeds=(0,), learning_rate=1e-2)
    results = run_lab(config, tmp_path / "lab")
    for r in results:
        directory = tmp_path / "lab" / "train" / f"{r.cell}-4-seed0"
        assert (directory / "config.json").is_file() and (directory / "model.safetensors").is_file()
        loaded = LabModel.load(directory)
        assert loaded.evaluate()["accuracy"] == pytest.approx(r.final_metric)
    lstm = tmp_path / "lab" / "train" / "lstm-4-seed0"
    assert main(["inspect", "--model", str(lstm), "--out", str(tmp_path / "insp"), "--sample", "1"]) == 0
    report = json.loads((tmp_path / "insp" / "inspect.json").read_text())
    x, y = LabModel.load(lstm).test_set()
    name = describe("copy", x[1:2], y[1:2])[0]
    assert name.startswith("symbols ") and name.endswith("recalled from step 7")
    assert name in json.dumps(report)
    capsys.readouterr()
    assert main(["inspect", "--model", str(lstm), "some.csv", "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err == (f"error: {lstm}: some.csv: a lab model reads its task's own generated "
                                       "sequences; inspect it without DATA (its test set)\n")
    assert not (tmp_path / "bad").exists()
    assert main(["inspect", "--model", str(tmp_path / "lab" / "train" / "gru-4-seed0"),
                 "--out", str(tmp_path / "gru")]) == 0
    gru = json.loads((tmp_path / "gru" / "inspect.json").read_text())["layers"][0]
    assert list(gru["saturation"]) == ["update_gate", "reset_gate"] and gru["memory"] == "hidden_state"
    assert len(gru["hidden_state"]["mean_abs"]) == 8
    printed = capsys.readouterr().out
    assert "update gate" in printed and "reset gate" in printed and "forget gate" not in printed
    page = (tmp_path / "gru" / "report.html").read_text()
    assert "Hidden states of the most active units" in page and "GRU(10, 8, num_layers=1)" in page
    assert main(["inspect", "--model", str(tmp_path / "lab" / "train" / "rnn-4-seed0")]) == 2
    assert capsys.readouterr().err.startswith("error: inspect reads the gates of LSTM and GRU encoders; "
                                              "this model's encoder is an RNN, which has none")


def test_describe_names_what_each_sequence_asks():
    from lstmkit.tasks.lab_tasks import describe

    x, y = adding_problem(1, 10, torch.Generator().manual_seed(0))
    marked = torch.nonzero(x[0, :, 1]).flatten().tolist()
    assert describe("adding", x, y) == [f"marked steps {marked[0]} ({float(x[0, marked[0], 0]):.2f}) and "
                                        f"{marked[1]} ({float(x[0, marked[1], 0]):.2f}), sum {float(y[0, 0]):.2f}"]
    x, y = copy_task(1, 5, torch.Generator().manual_seed(0))
    letters = " ".join("abcdefgh"[int(v) - 1] for v in y[0, -3:])
    assert describe("copy", x, y) == [f"symbols {letters} at steps 0-2, recalled from step 8"]
    x, y = temporal_order(1, 20, torch.Generator().manual_seed(0))
    first, second = divmod(int(y[0]), 2)
    text = describe("order", x, y)[0]
    assert text.startswith(f"{'XY'[first]} at step ") and f", {'XY'[second]} at step " in text
    assert text.endswith(f": class {'XY'[first]}{'XY'[second]}")


def test_an_lstm_that_missed_gets_the_chrono_hint(tmp_path, capsys):
    """Ten steps cannot solve the order task: the table is followed by the hint to --chrono,
    which a chrono-initialised run does not repeat."""
    for flags in ([], ["--chrono"]):
        out = tmp_path / ("chrono" if flags else "bias")
        assert main(["lab", "order", "--quick", "--steps", "10", "--cells", "lstm", "--lengths", "12",
                     "--learning-rate", "1e-3", "--workers", "1", *flags, "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "solved 0/1" in printed
        hint = ("the LSTM (forget-gate bias 1) missed runs at length 12 in 10 steps: more steps (--steps) may "
                "solve them, or --chrono, which initialises its forget gates")
        assert (hint in printed) == (not flags)


def test_a_pruned_sweep_goes_to_a_second_round_with_the_kept_rates_only(tmp_path):
    """Seed 0 ranks 1e-3 last; on seeds 1 and 2 the kept 3e-3 and 1e-2 are not told apart, so
    both (never the dropped 1e-3, whose seed-0 loss is below their means) go on to 2000 steps,
    every seed from its own probe, and the second round chooses."""
    first = {(1e-3, 0): 0.175, (3e-3, 0): 0.16, (1e-2, 0): 0.17,
             (3e-3, 1): 0.18, (1e-2, 1): 0.20, (3e-3, 2): 0.19, (1e-2, 2): 0.17}
    second = {(3e-3, 0): 0.12, (3e-3, 1): 0.13, (3e-3, 2): 0.12, (1e-2, 0): 0.05, (1e-2, 1): 0.06, (1e-2, 2): 0.04}
    calls = []

    def probe(config, cell, length, lr, run_dir, start_from=None):
        calls.append((lr, config.seed, config.sweep_steps, None if start_from is None else Path(start_from).name))
        table = first if start_from is None else second
        return Probe(lr, 0.2, None, 1.0, table[(lr, config.seed)], config.sweep_steps)

    config = LabConfig(task="copy", lengths=(30,), cells=("lstm",), seeds=(0, 1, 2), sweep_seeds=3,
                       sweep_steps=1000, max_steps=6000)
    lstm = run_sweeps(config, tmp_path, probe=probe)["lstm"]
    assert lstm["kept_rates"] == [3e-3, 1e-2]
    assert lstm["probes"][0]["loss"] == 0.175 and lstm["probes"][0]["seeds"] == 1  # below the kept means
    assert [p["learning_rate"] for p in lstm["second_round"]["probes"]] == [3e-3, 1e-2]
    assert sorted(c for c in calls if c[2] == 2000) == sorted((lr, s, 2000, f"seed{s}") for lr in (3e-3, 1e-2)
                                                             for s in (0, 1, 2))
    assert all(c[0] != 1e-3 for c in calls if c[1] != 0 or c[2] == 2000)
    assert lstm["learning_rate"] == 1e-2


def test_a_sweep_whose_probes_cannot_be_told_apart_says_so(tmp_path, capsys):
    from lstmkit.tasks.lab_summary import close_call

    def probes(*losses, seeds=(1, 1, 1), solved=None):
        return [Probe(lr, 0.2, solved, loss=v, seeds=n) for lr, v, n in zip((1e-3, 3e-3, 1e-2), losses, seeds)]

    assert close_call(probes(0.1578, 0.1578, 0.1579))  # the adding problem's LSTM probed at length 400
    assert not close_call(probes(0.1667, 0.1612, 0.1611))  # its RNN at length 25: 3.4 % apart
    assert not close_call(probes(0.1578, 0.1578, 0.1579, solved=300))
    assert close_call(probes(0.30, 0.1578, 0.1579, seeds=(1, 3, 3)))  # the kept rates decide
    assert not close_call(probes(0.1578)[:1]) and not close_call([])
    # a grid of rates too small to move the weights in 5 steps
    assert main(["lab", "adding", "--quick", "--steps", "10", "--sweep-steps", "5", "--lr-sweep", "1e-9,2e-9",
                 "--cells", "lstm", "--lengths", "10", "--workers", "1", "--out", str(tmp_path / "lab")]) == 0
    assert "(the probes within 1% of each other, none solved: chosen by a hair)" in capsys.readouterr().out
