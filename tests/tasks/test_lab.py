"""The lab's task generators and a seeded comparison of the cells."""

import json

import torch

from lstmkit.cli.main import main
from lstmkit.tasks.lab import COPY_SYMBOLS, LabConfig, adding_problem, copy_task, run_cell, temporal_order


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
    rnn = run_cell(config, "rnn", 30, tmp_path / "rnn")
    lstm = run_cell(config, "lstm", 30, tmp_path / "lstm")
    assert rnn.final_metric > 0.15  # the plain RNN stays near the trivial answer (0.167)
    assert lstm.final_metric < 0.75 * rnn.final_metric  # seed 0: 0.090 against 0.167
    assert len(lstm.gradient_at_init) == 30


def test_lab_quick_end_to_end(tmp_path, capsys):
    out = tmp_path / "lab"
    assert main(["lab", "--quick", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert {(r["cell"], r["length"]) for r in results} == {(c, n) for c in ("rnn", "gru", "lstm") for n in (10, 25)}
    for r in results:
        assert set(r) >= {"cell", "length", "solved", "steps", "final_metric"}
        assert isinstance(r["solved"], bool) and r["final_metric"] >= 0
        assert len(r["gradient_at_init"]) == r["length"]
    assert (out / "success.png").stat().st_size > 1000 and (out / "gradients.png").stat().st_size > 1000
    assert "solved" in capsys.readouterr().out


def test_lab_usage_errors(capsys):
    assert main(["lab", "--cells", "rnn,transformer"]) == 2
    assert main(["lab", "order", "--lengths", "5"]) == 2
    assert "at least 10" in capsys.readouterr().err
