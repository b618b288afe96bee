"""`lstmkit classify` on files with gaps inside their sequences (as UCR's DodgerLoopDay and
MelbournePedestrian have): filled by linear interpolation and said so, or refused in one line
with ``--missing refuse``."""

import json

import numpy as np

from lstmkit.cli.main import main


def write_tsv_with_gaps(path, n=16, length=24, seed=0):
    """Two classes (a rising and a falling ramp plus noise), every third series with a gap of
    two values in its middle written as NaN."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = i % 2
        values = np.linspace(0, 1, length) * (1 if label else -1) + 0.05 * rng.standard_normal(length)
        cells = [f"{v:.4f}" for v in values]
        if i % 3 == 0:
            cells[10] = cells[11] = "NaN"
        lines.append("\t".join([str(label), *cells]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_gaps_are_filled_and_reported(tmp_path, capsys):
    train = write_tsv_with_gaps(tmp_path / "train.tsv")
    test = write_tsv_with_gaps(tmp_path / "test.tsv", n=8, seed=1)
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--no-baseline", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{train}: filled 12 missing values inside 6 sequences by linear interpolation in time" in printed
    assert f"{test}: filled 6 missing values inside 3 sequences" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["filled_missing_values"] == {"train": 12, "test": 6}
    assert len(metrics["per_class"]) == 2


def test_refused_gaps_are_one_line_naming_the_cell(tmp_path, capsys):
    train = write_tsv_with_gaps(tmp_path / "train.tsv")
    out = tmp_path / "run"
    assert main(["classify", str(train), "--missing", "refuse", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {train}: line 1, column 12: missing value inside the sequence; only trailing padding "
                   "of a shorter sequence may be missing (--missing refuse): fill it in, leave the line out, "
                   "or pass --missing interpolate\n")
    assert not out.exists()
