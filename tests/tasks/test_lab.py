"""The lab's task generators and a seeded comparison of the cells."""

import json
import math

import pytest
import torch

from lstmkit.cli.main import main
from lstmkit.tasks.lab import (COPY_SYMBOLS, SPECS, LabConfig, LabModel, LabNet, LabNetConfig, Probe,
                               adding_problem, choose_learning_rate, copy_task, run_cell, run_sweeps,
                               temporal_order)


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


def test_lstm_reaches_a_lower_loss_than_the_plain_rnn(tmp_path):
    config = LabConfig(task="adding", lengths=(30,), max_steps=600, seed=0)
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
    assert sweeps["lstm"]["probes"][1] == {"learning_rate": 1e-2, "metric": 0.008, "solved_at": 200, "seconds": 0.0}
    assert seen == [("rnn", 1e-3), ("lstm", 1e-2)]
    assert calls == [("rnn", 20, 1e-3), ("rnn", 20, 1e-2), ("lstm", 20, 1e-3), ("lstm", 20, 1e-2)]  # shortest length
    # a fixed learning rate skips the sweep
    assert run_sweeps(LabConfig(cells=("gru",), learning_rate=5e-3), tmp_path, probe=probe) == \
        {"gru": {"learning_rate": 5e-3, "probes": []}}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chrono_initialisation_of_the_gates(cell):
    torch.manual_seed(0)
    net = LabNet(LabNetConfig(task="adding", cell=cell, hidden_size=16, chrono=200))
    h, enc = 16, net.encoder
    keep = (enc.bias_ih_l0[h:2 * h] + enc.bias_hh_l0[h:2 * h]).detach()  # LSTM: forget gate; GRU: update gate z
    assert bool((keep >= 0).all() and (keep <= math.log(199) + 1e-6).all()) and float(keep.max()) > 3
    if cell == "lstm":  # the input gate's bias is minus the forget gate's
        torch.testing.assert_close((enc.bias_ih_l0[:h] + enc.bias_hh_l0[:h]).detach(), -keep)
    # the model uses the sequence's span as T_max, and turns it off on request
    assert LabModel(task="copy", cell=cell, length=30).build().net.config.chrono == 30 + 2 * COPY_SYMBOLS
    assert LabModel(task="adding", cell=cell, length=30, chrono_init=False).build().net.config.chrono is None


def test_lab_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "lab"
    assert main(["lab", "--quick", "--steps", "100", "--sweep-steps", "20", "--lr-sweep", "1e-3,1e-2",
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert {(r["cell"], r["length"]) for r in results} == {(c, n) for c in ("rnn", "gru", "lstm") for n in (10, 25)}
    for r in results:
        assert set(r) >= {"cell", "length", "solved", "steps", "final_metric"}
        assert isinstance(r["solved"], bool) and r["final_metric"] >= 0
        assert len(r["gradient_at_init"]) == r["length"]
        assert r["learning_rate"] in (1e-3, 1e-2)
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["learning_rates"]) == {"rnn", "gru", "lstm"}
    assert all(len(s["probes"]) == 2 for s in saved["sweeps"].values())
    assert saved["learning_rates"] == {r["cell"]: r["learning_rate"] for r in results}
    assert (out / "success.png").stat().st_size > 1000 and (out / "gradients.png").stat().st_size > 1000
    assert "solved" in capsys.readouterr().out


def test_lab_usage_errors(capsys):
    assert main(["lab", "--cells", "rnn,transformer"]) == 2
    assert main(["lab", "order", "--lengths", "5"]) == 2
    assert "at least 10" in capsys.readouterr().err
    assert main(["lab", "--lr-sweep", "fast"]) == 2
