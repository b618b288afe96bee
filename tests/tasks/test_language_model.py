"""lstmkit.LanguageModel and ``lstmkit generate`` on tiny text."""

import json
import subprocess
import sys

import pytest
import torch

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tasks.language_model import LanguageModel, StreamBatches

TEXT = "the cat sat on the mat. the dog sat on the log. " * 60


def tiny(**kw):
    return LanguageModel(hidden_size=32, num_layers=1, embedding_size=16, streams=4, steps=20,
                         max_epochs=kw.pop("max_epochs", 8), max_time=None, learning_rate=1e-2, **kw)


def test_stream_batches_carry_on_where_the_last_batch_ended():
    import numpy as np

    batches = StreamBatches(np.arange(101), streams=4, steps=10)
    x0, y0, first0 = batches[0]
    x1, _, first1 = batches[1]
    assert x0.shape == (4, 10) and bool(first0) and not bool(first1)
    assert x0[0].tolist() == list(range(10)) and x1[0].tolist() == list(range(10, 20))
    assert x0[1, 0] == 25  # stream 1 starts a quarter of the way in
    assert (y0 == x0 + 1).all()


def test_stream_batches_deal_whole_streams_to_the_ranks_of_a_data_parallel_run():
    """Dealt as the distributed sampler deals items (rank r: r, r + W, ...), every rank reads
    its own rows' chunks in order, each chunk continuing the last, and together the ranks read
    what one process reads."""
    import numpy as np
    from torch.utils.data import DistributedSampler

    one = StreamBatches(np.arange(401), streams=4, steps=10)
    two = StreamBatches(np.arange(401), streams=4, steps=10, ranks=2)
    assert len(two) == 2 * len(one)
    for rank in (0, 1):
        items = list(DistributedSampler(two, num_replicas=2, rank=rank, shuffle=False))
        assert items == list(range(rank, len(two), 2))  # no padding: every item once
        read = [two[i] for i in items]
        assert [bool(first) for _, _, first in read] == [True] + [False] * (len(read) - 1)
        for (x, y, _), (whole, _, _) in zip(read, (one[k] for k in range(len(one)))):
            assert torch.equal(x, whole[rank::2]) and (y == x + 1).all()
    with pytest.raises(ValueError, match="ranks must lie in 1 .. streams"):
        StreamBatches(np.arange(401), streams=4, steps=10, ranks=5)
    with pytest.raises(lstmkit.errors.InputError, match="devices 8 is more than streams 4"):
        LanguageModel(streams=4, devices=8)


def test_training_lowers_bits_per_character_and_samples_are_repeatable(tmp_path):
    lm = tiny()
    lm.fit(TEXT)
    assert lm.val_bpc < 2.0  # uniform over the 17 symbols would be 4.1 bits
    assert lm.bits_per_character(TEXT[:500]) < 2.0
    a = lm.sample("the ", 80, temperature=0.5, seed=3)
    assert a.startswith("the ") and len(a) == 84
    assert a == lm.sample("the ", 80, temperature=0.5, seed=3)
    greedy = lm.sample("the c", 3, top_k=1)
    assert greedy == "the cat "  # the only continuation in the text
    lm.save(tmp_path / "lm")
    loaded = LanguageModel.load(tmp_path / "lm")
    assert loaded.sample("the ", 80, temperature=0.5, seed=3) == a
    assert loaded.bits_per_character(TEXT[:500]) == pytest.approx(lm.bits_per_character(TEXT[:500]))


def test_sampling_never_writes_the_unknown_character():
    import torch

    lm = tiny(max_epochs=1).fit(TEXT)
    with torch.no_grad():
        lm.net.decoder.bias[0] += 50.0  # index 0, U+FFFD, now by far the likeliest
    for kwargs in ({}, {"temperature": 2.0}, {"top_k": 1}, {"top_k": 3}):
        text = lm.sample("the ", 200, **kwargs)
        assert len(text) == 204 and "\ufffd" not in text, kwargs


def test_argument_errors():
    lm = tiny(max_epochs=1).fit(TEXT)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        lm.sample("a", 5, temperature=0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        lm.sample("a", 5, top_k=0)
    with pytest.raises(lstmkit.errors.InputError, match="too few to train on"):
        tiny().fit("short text", source="short.txt")


def test_generate_command(tmp_path, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "run"
    code = main(["generate", str(text), "--out", str(out), "--max-epochs", "2", "--hidden-size", "16",
                 "--num-layers", "1", "--streams", "4", "--steps", "20", "--length", "50", "--prime", "the ",
                 "--learning-rate", "0.02", "--lr-schedule", "constant", "--dropout", "0.3"])
    assert code == 0
    saved = LanguageModel.load(out).params
    assert (saved.training.learning_rate, saved.training.lr_schedule, saved.dropout) == (0.02, "constant", 0.3)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val_bits_per_character"] > 0 and metrics["val_perplexity"] == pytest.approx(
        2 ** metrics["val_bits_per_character"])
    samples = (out / "samples.txt").read_text()
    assert samples.startswith("the ")
    printed = capsys.readouterr().out
    assert "--- epoch 0" in printed and "bits per character" in printed
    assert main(["generate", "--model", str(out), "--prime", "the ", "--length", "30", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("the ") and captured.err == ""
    assert main(["generate", "--model", str(out), "--prime", "the \u00d8\u00d8\u4e2d", "--length", "5"]) == 0
    assert capsys.readouterr().err == ("--prime: 3 of its 7 characters are not in the model's vocabulary "
                                       "('\u00d8', '\u4e2d'); it reads them as one unknown character\n")
    assert main(["generate", str(text), "--model", str(out)]) == 2  # a text would train nothing
    assert capsys.readouterr().err == (f"error: {text}: with --model DIR nothing trains on a text; leave it out "
                                       "(--prime gives the text to start from)\n")


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"\x00\x01binary\x00", "binary"),
    (b"caf\xe9 latin-1", "UTF-8"),
])
def test_generate_bad_text_exits_2(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "lstmkit", "generate", str(path), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr and str(path) in result.stderr
    assert not (tmp_path / "o").exists()


def test_generate_rejects_a_dropout_outside_0_1(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lstmkit", "generate", "--dropout", "1.5", "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "expected a number in [0, 1), got 1.5" in result.stderr
    assert not (tmp_path / "o").exists()


def test_defaults_anneal_the_learning_rate_over_the_time_budget():
    training = LanguageModel().params.training
    assert (training.lr_schedule, training.warmup_steps, training.max_time) == ("cosine", 50, 3.0)
    assert LanguageModel().params.dropout == 0.25
