"""MiniRocket beside the classifier: the panel conversion, and ``lstmkit classify`` writing
``baselines.minirocket`` to metrics.json (or saying in one line why it did not)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmkit.cli.main import main
from lstmkit.data.sequences import SequenceData
from lstmkit.tasks import classify_baselines
from lstmkit.tasks.classify_baselines import BaselineSkipped, minirocket_baseline, to_panel


def waves(n=40, seed=0, length=None):
    """'sine' vs 'square'; every sequence ``length`` long, or 20..40 steps when None."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        size = length or int(rng.integers(20, 41))
        t = np.arange(size) / 4 + rng.uniform(0, 6)
        label = "sine" if i % 2 == 0 else "square"
        wave = np.sin(t) if label == "sine" else np.sign(np.sin(t))
        seqs.append((wave + 0.1 * rng.normal(size=size))[:, None].astype(np.float32))
        labels.append(label)
    return SequenceData(seqs, np.array(labels), ["sine", "square"], ["value"], source="waves",
                        ids=np.array([str(i) for i in range(n)]))


def write_ts(path, data):
    lines = ["@problemName waves", "@timeStamps false", "@missing false", "@univariate true",
             "@classLabel true sine square", "@data"]
    lines += [",".join(f"{v:.5f}" for v in seq[:, 0]) + ":" + label for seq, label in zip(data.sequences, data.labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_to_panel_pads_with_the_last_value_and_cuts():
    data = SequenceData([np.array([[1, 10], [2, 20]], np.float32), np.array([[3, 30], [4, 40], [5, 50], [6, 60]], np.float32)],
                        np.array(["a", "b"]), ["a", "b"], ["x", "y"], ids=np.array(["0", "1"]))
    panel = to_panel(data, 3)
    assert panel.shape == (2, 2, 3) and panel.dtype == np.float64
    np.testing.assert_array_equal(panel[0], [[1, 2, 2], [10, 20, 20]])
    np.testing.assert_array_equal(panel[1], [[3, 4, 5], [30, 40, 50]])
    with pytest.raises(BaselineSkipped, match="unequal lengths"):
        to_panel(data)


def test_unequal_lengths_are_refused_unless_padded(monkeypatch):
    monkeypatch.setattr(classify_baselines, "aeon_available", lambda: True)  # refused before aeon runs
    with pytest.raises(BaselineSkipped, match="equal-length series only"):
        minirocket_baseline(waves(10), waves(10, seed=1))


def test_missing_aeon_is_a_skip(monkeypatch):
    monkeypatch.setattr(classify_baselines, "aeon_available", lambda: False)
    with pytest.raises(BaselineSkipped, match="aeon is not installed"):
        minirocket_baseline(waves(10, length=30), waves(10, seed=1, length=30))


def test_classify_prints_why_the_baseline_is_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(classify_baselines, "aeon_available", lambda: False)
    train, test = write_ts(tmp_path / "train.ts", waves(30)), write_ts(tmp_path / "test.ts", waves(10, seed=1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "2", "--out", str(out)]) == 0
    assert "MiniRocket baseline skipped: aeon is not installed" in capsys.readouterr().out
    assert "baselines" not in json.loads((out / "metrics.json").read_text())


def test_classify_pads_unequal_lengths_for_minirocket(tmp_path, capsys):
    pytest.importorskip("aeon", reason="MiniRocket comes from the optional package aeon (pip install aeon)")
    train_data = waves(30)
    train, test = write_ts(tmp_path / "train.ts", train_data), write_ts(tmp_path / "test.ts", waves(10, seed=1))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "1", "--out", str(out)]) == 0
    baseline = json.loads((out / "metrics.json").read_text())["baselines"]["minirocket"]
    assert baseline["padded_to"] == int(train_data.lengths.max()) and 0.0 <= baseline["accuracy"] <= 1.0
    assert f"series padded to {baseline['padded_to']} steps with their last value" in capsys.readouterr().out


@pytest.mark.slow
def test_classify_writes_the_minirocket_baseline(tmp_path, capsys):
    # The first MiniRocket fit in a fresh environment compiles aeon's numba kernels (about a
    # minute on 2 cores; numba caches them on disk for every later run).
    pytest.importorskip("aeon", reason="MiniRocket comes from the optional package aeon (pip install aeon)")
    train = write_ts(tmp_path / "train.ts", waves(30, length=32))
    test = write_ts(tmp_path / "test.ts", waves(20, seed=1, length=32))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "2", "--out", str(out)]) == 0
    baseline = json.loads((out / "metrics.json").read_text())["baselines"]["minirocket"]
    assert 0.9 <= baseline["accuracy"] <= 1.0  # sine vs square is easy for MiniRocket
    assert baseline["seconds"] >= 0 and baseline["padded_to"] is None and baseline["random_state"] == 0
    assert "MiniRocket (aeon) accuracy" in capsys.readouterr().out
    again = tmp_path / "again"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "1",
                 "--no-baseline", "--out", str(again)]) == 0
    assert "baselines" not in json.loads((again / "metrics.json").read_text())


def test_a_failing_baseline_keeps_the_run(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("aeon changed")

    monkeypatch.setattr(classify_baselines, "minirocket_baseline", broken)
    train = write_ts(tmp_path / "train.ts", waves(30, length=32))
    out = tmp_path / "run"
    assert main(["classify", str(train), "--hidden-size", "8", "--max-epochs", "1", "--out", str(out)]) == 0
    assert "MiniRocket baseline failed (RuntimeError: aeon changed)" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert "accuracy" in metrics and "baselines" not in metrics


def test_minirocket_leaves_torch_threads_as_it_found_them():
    """aeon's numba kernels share torch's OpenMP runtime and reset its thread count; a
    benchmark that set one thread must keep it for the fits after the baseline."""
    pytest.importorskip("aeon", reason="MiniRocket comes from the optional package aeon (pip install aeon)")
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        result = minirocket_baseline(waves(30, length=32), waves(20, seed=1, length=32), seed=0)
        assert torch.get_num_threads() == 1
        assert 0.9 <= result["accuracy"] <= 1.0
    finally:
        torch.set_num_threads(before)
