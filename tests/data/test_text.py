"""Text for the character-level language model: reading, the default corpus, the vocabulary."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest

from lstmkit.data import Vocabulary, default_corpus, read_text, split_text
from lstmkit.data.text import DEFAULT_CORPUS_MODULES, UNKNOWN
from lstmkit.errors import InputError


def write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- read_text


def test_read_text(tmp_path):
    assert read_text(write(tmp_path, "a.txt", "héllo\r\nwörld\n")) == "héllo\nwörld\n"
    assert read_text(write(tmp_path, "b.txt", b"\xef\xbb\xbfbom")) == "bom"
    assert read_text(write(tmp_path, "c.txt.gz", gzip.compress("zipped ✓".encode()))) == "zipped ✓"


def refused(path, match):
    with pytest.raises(InputError, match=match) as info:
        read_text(path)
    assert "\n" not in str(info.value)


def test_read_text_refusals(tmp_path):
    missing = tmp_path / "none.txt"
    refused(missing, rf"^{re.escape(str(missing))}: no such file; check the path \(relative paths start at .+\)$")
    refused(tmp_path, r": is a directory; expected a UTF-8 text file$")
    refused(write(tmp_path, "e.txt", b""), r"e\.txt: the file is empty \(0 bytes\); expected a UTF-8 text file$")
    refused(
        write(tmp_path, "b.bin", b"ab\ncd\x00ef"),
        r"b\.bin: is a binary file, not text \(a NUL byte on line 2, offset 5\); expected a UTF-8 text file$",
    )
    refused(
        write(tmp_path, "l.txt", "line one\nline two\n".encode() + "caf\xe9".encode("latin-1")),
        r"l\.txt: line 3 is not UTF-8 text \(byte 0xe9 at offset 21\); save the file as UTF-8$",
    )


# --------------------------------------------------------------------------- default corpus


def test_default_corpus_is_deterministic_stdlib_source():
    text = default_corpus()
    assert text == default_corpus()
    assert 500_000 < len(text) <= 1_000_000
    assert "Command-line parsing library" in text[:3000]  # argparse comes first
    assert "class ArgumentParser" in text and "def dedent" in text
    assert DEFAULT_CORPUS_MODULES[:3] == ("argparse", "textwrap", "difflib")


def test_default_corpus_max_chars():
    short = default_corpus(max_chars=10_000)
    assert 9_000 <= len(short) <= 10_000 and short.endswith("\n")
    assert default_corpus(max_chars=10_000) == short
    assert default_corpus(max_chars=None).startswith(short)
    assert len(default_corpus(max_chars=None)) >= len(default_corpus())


def test_default_corpus_without_sources():
    with pytest.raises(InputError, match=r"none could be read"):
        default_corpus(modules=["sys", "no_such_module_xyz"])


# --------------------------------------------------------------------------- vocabulary


def test_vocabulary_round_trip():
    text = "hello, wörld\n"
    vocab = Vocabulary.from_text(text)
    assert vocab.chars == "".join(sorted(set(text)))
    assert len(vocab) == len(set(text)) + 1 and vocab.unknown_index == 0
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.min() >= 1
    assert vocab.decode(ids) == text
    assert vocab.decode(ids.tolist()) == text
    assert vocab.encode("").shape == (0,)


def test_vocabulary_unknown_characters():
    vocab = Vocabulary.from_text("abc")
    assert vocab.encode("abxc😀").tolist() == [1, 2, 0, 3, 0]
    assert vocab.decode([1, 0, 3]) == "a" + UNKNOWN + "c"
    assert vocab.count_unknown("zzza") == 3
    assert "z" not in vocab and "a" in vocab and UNKNOWN not in vocab
    # a replacement character in the training text is the unknown character itself
    assert Vocabulary.from_text("a" + UNKNOWN).chars == "a"
    with pytest.raises(InputError, match=r"vocabulary: id 4 is out of range 0 \.\. 3"):
        vocab.decode([1, 4])


def test_vocabulary_dict_round_trip():
    vocab = Vocabulary.from_text("the quick brown fox\t✓")
    again = Vocabulary.from_dict(vocab.to_dict())
    assert again == vocab
    import json

    assert Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab
    with pytest.raises(InputError, match=r"'chars' must hold distinct characters in code-point order"):
        Vocabulary.from_dict({"chars": "ba"})
    with pytest.raises(InputError, match=r"expected a mapping with a 'chars' string"):
        Vocabulary.from_dict({"itos": []})


def test_vocabulary_on_default_corpus_is_fast_and_exact():
    text = default_corpus(max_chars=200_000)
    vocab = Vocabulary.from_text(text)
    assert vocab.decode(vocab.encode(text)) == text


# --------------------------------------------------------------------------- split_text


def test_split_text():
    ids = np.arange(100)
    train, val = split_text(ids, 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))
    train, val = split_text(ids, 0.0)
    assert len(train) == 100 and len(val) == 0
    train, val = split_text(np.arange(5), 0.01)
    assert len(val) == 1 and len(train) == 4
    with pytest.raises(InputError, match=r"the validation fraction must be at least 0 and below 1"):
        split_text(ids, 1.0)
    with pytest.raises(InputError, match=r"the text has 1 character; too short"):
        split_text(np.arange(1), 0.5)
