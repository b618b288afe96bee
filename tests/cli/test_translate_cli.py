"""``lstmkit translate`` end to end: outputs, translating with a saved model, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lstmkit.cli.main import main

NUMBERS = ["one", "two", "three", "four", "five", "six"]
ZAHLEN = ["eins", "zwei", "drei", "vier", "fünf", "sechs"]
TINY = ["--max-epochs", "2", "--hidden-size", "16", "--embedding-size", "8", "--tokens", "word",
        "--checkpoint-every", "60"]


def write_pairs(path):
    lines = [f"I have {a} {b}.\tIch habe {ZAHLEN[j]} {ZAHLEN[i]}.\tCC-BY toy #{i}{j}"
             for i, a in enumerate(NUMBERS) for j, b in enumerate(NUMBERS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("sacrebleu")
    root = tmp_path_factory.mktemp("translate")
    out = root / "run"
    code = main(["translate", str(write_pairs(root / "pairs.tsv")), *TINY, "--out", str(out), "--samples", "2"])
    assert code == 0
    return out


def test_training_run_writes_scores_model_and_figures(trained, capsys):
    for name in ("config.json", "model.safetensors", "metrics.json", "translations.csv", "attention_1.png"):
        assert (trained / name).is_file(), name
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"copy the source", "seq2seq, no attention", "lstmkit, greedy", "lstmkit, beam"}
    assert metrics["test_sentences"] == 4 and metrics["tokens"] == "word"
    assert all(0.0 <= row["chrf"] <= 100.0 for row in metrics["scores"].values())
    assert (trained / "attention_1.png").read_bytes()[:4] == b"\x89PNG"


def test_translate_sentences_and_files_with_the_saved_model(trained, tmp_path, capsys):
    capsys.readouterr()
    assert main(["translate", "--model", str(trained), "I have two three.", "I have one one.", "--beam", "1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2
    source = tmp_path / "in.txt"
    source.write_text("I have two three.\n\nI have one one.\n", encoding="utf-8")
    target = tmp_path / "out.txt"
    assert main(["translate", "--model", str(trained), "--input", str(source), "--output", str(target),
                 "--beam", "1"]) == 0
    assert target.read_text(encoding="utf-8").split("\n") == [printed[0], "", printed[1], ""]
    capsys.readouterr()
    assert main(["translate", "--model", str(trained), "--input", str(source), "--output", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: --output {tmp_path}: is a directory; name the file to write the "
                                       "translations to\n")


@pytest.mark.parametrize("content, message", [
    (b"I have one.\tIch habe eins.\nno tab\n", "pairs.tsv: line 2 has no tab; expected source<TAB>target"),
    (b"", "pairs.tsv: the file is empty (0 bytes)"),
    (b"a\tb\n\x00\x00", "pairs.tsv: is a binary file, not text (a NUL byte on line 2"),
    (b"a\tb\nc\t \n", "pairs.tsv: line 2: the target sentence is empty"),
])
def test_bad_pairs_exit_2_one_line_nothing_written(tmp_path, capsys, content, message):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(content)
    out = tmp_path / "run"
    assert main(["translate", str(path), *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_empty_after_tokenisation_names_the_line(tmp_path, capsys):
    pytest.importorskip("sentencepiece")
    path = tmp_path / "pairs.tsv"
    lines = [f"I have {a}.\tIch habe {z}." for a, z in zip(NUMBERS, ZAHLEN)] + ["I have none.\t\u200b"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["translate", str(path), "--tokens", "subword", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pairs.tsv: line 7: the target sentence" in err and "has no tokens after tokenisation (subword)" in err
    assert not out.exists()


def test_usage_errors_in_a_fresh_process(tmp_path):
    run = subprocess.run([sys.executable, "-m", "lstmkit", "translate", "--model", str(tmp_path / "none"), "hi"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and run.stderr.count("\n") == 1
    assert "no such" in run.stderr or "not an lstmkit model" in run.stderr
    run = subprocess.run([sys.executable, "-m", "lstmkit", "translate", "--input", "x.txt"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "add --model DIR" in run.stderr


def test_runs_without_sacrebleu(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # import sacrebleu raises ImportError
    out = tmp_path / "run"
    args = ["translate", str(write_pairs(tmp_path / "pairs.tsv")), *TINY, "--max-epochs", "1", "--no-baseline",
            "--out", str(out), "--samples", "0"]
    assert main(args) == 0
    assert "BLEU and chrF skipped: sacrebleu is not installed" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scores"] == {} and (out / "translations.csv").is_file() and (out / "model.safetensors").is_file()


def test_beam_1_is_one_row_and_a_reference_given_twice_is_shown_once(tmp_path, capsys):
    pytest.importorskip("sacrebleu")
    pairs = write_pairs(tmp_path / "pairs.tsv")
    twice = [line for line in pairs.read_text(encoding="utf-8").splitlines()]
    pairs.write_text("\n".join(twice + twice) + "\n", encoding="utf-8")  # every pair twice
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["translate", str(pairs), *TINY, "--beam", "1", "--no-baseline", "--out", str(out),
                 "--samples", "1"]) == 0
    printed = capsys.readouterr().out
    assert "lstmkit, greedy" in printed and "lstmkit, beam" not in printed and "more)" not in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scores"]["lstmkit, beam"] == metrics["scores"]["lstmkit, greedy"]
    import pandas as pd

    references = pd.read_csv(out / "translations.csv")["references"]
    assert all(" ||| " not in r for r in references)  # one distinct reference each
