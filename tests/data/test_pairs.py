"""Sentence pairs (lstmkit.data.pairs) and the tokenisers (lstmkit.data.tokenize)."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from lstmkit.data.pairs import BUNDLED_PAIRS, SentencePairs, bundled_pairs_path, pairs_from_frame, read_pairs
from lstmkit.data.tokenize import EOS, PAD, SPACE, SPECIALS, UNK, TextCodec, Tokenizer, TokenVocabulary
from lstmkit.errors import InputError


def write(tmp_path, text, name="pairs.tsv", mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_tab_separated_pairs_third_column_ignored_blank_lines_skipped(tmp_path):
    path = write(tmp_path, "Go.\tGeh.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n\n"
                           "Hi.\tHallo!\n  Hi.  \t Grüß  Gott! \tx\n")
    pairs = read_pairs(path)
    assert pairs.sources == ["Go.", "Hi.", "Hi."]
    assert pairs.targets == ["Geh.", "Hallo!", "Grüß Gott!"]
    assert pairs.lines == [1, 3, 4]
    sources, references = pairs.references()
    assert sources == ["Go.", "Hi."]
    assert references == [["Geh."], ["Hallo!", "Grüß Gott!"]]


@pytest.mark.parametrize("content, message", [
    ("a\tb\nno tab here\n", r"pairs\.tsv: line 2 has no tab; expected source<TAB>target \(got 'no tab here'\)"),
    ("a\tb\n\tb\n", r"pairs\.tsv: line 2: the source sentence is empty"),
    ("a\tb\nc\t  \n", r"pairs\.tsv: line 2: the target sentence is empty"),
    ("", r"pairs\.tsv: the file is empty \(0 bytes\)"),
    ("\n \n\n", r"pairs\.tsv: holds only blank lines"),
])
def test_bad_pairs_files_name_file_and_line(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        read_pairs(write(tmp_path, content))


def test_binary_and_non_utf8_files(tmp_path):
    with pytest.raises(InputError, match=r"pairs\.tsv: is a binary file, not text \(a NUL byte on line 2"):
        read_pairs(write(tmp_path, b"a\tb\n\x00\x01\x02", mode="wb"))
    with pytest.raises(InputError, match=r"pairs\.tsv: line 1 is not UTF-8 text"):
        read_pairs(write(tmp_path, b"caf\xe9\tcafe\n", mode="wb"))


def test_gzip_and_aligned_files(tmp_path):
    path = write(tmp_path, gzip.compress("a b\tA B\n".encode()), name="p.tsv.gz", mode="wb")
    assert read_pairs(path).targets == ["A B"]
    src = write(tmp_path, "one\ntwo\n\nthree\n", name="src.txt")
    tgt = write(tmp_path, "eins\nzwei\n\ndrei\n", name="tgt.txt")
    pairs = read_pairs(src, tgt)
    assert pairs.sources == ["one", "two", "three"] and pairs.targets == ["eins", "zwei", "drei"]
    assert pairs.lines == [1, 2, 4]
    short = write(tmp_path, "eins\nzwei\n", name="short.txt")
    with pytest.raises(InputError, match=r"short\.txt: has 2 lines but .*src\.txt has 4"):
        read_pairs(src, short)
    gap = write(tmp_path, "eins\n\n\ndrei\n", name="gap.txt")
    with pytest.raises(InputError, match=r"gap\.txt: line 2: the target sentence is empty"):
        read_pairs(src, gap)


def test_frames():
    frame = pd.DataFrame({"en": ["a", "b"], "de": ["A", None]})
    with pytest.raises(InputError, match=r"<DataFrame>: row 2: the target sentence is empty"):
        pairs_from_frame(frame)
    pairs = pairs_from_frame(pd.DataFrame({"target": ["A"], "source": ["a"]}))
    assert (pairs.sources, pairs.targets) == (["a"], ["A"])
    with pytest.raises(InputError, match="no column 'fr'"):
        pairs_from_frame(frame, "en", "fr")


def test_split_holds_out_whole_source_sentences_seeded():
    sources = [f"s{i % 30}" for i in range(90)]
    pairs = SentencePairs(sources, [f"t{i}" for i in range(90)])
    train, test = pairs.split(0.2, seed=3)
    assert len(set(test.sources)) == 6
    assert not set(train.sources) & set(test.sources)
    assert len(train) + len(test) == 90 and all(len(r) == 3 for r in test.references()[1])
    again, _ = pairs.split(0.2, seed=3)
    assert again.sources == train.sources
    _, capped = pairs.split(0.2, seed=3, max_held_out=2)
    assert len(set(capped.sources)) == 2 and set(capped.sources) <= set(test.sources) | set(train.sources)
    with pytest.raises(InputError, match="at least 2 are needed"):
        SentencePairs(["a", "a"], ["x", "y"]).split(0.5)


def test_bundled_pairs_read_and_have_several_references():
    path = bundled_pairs_path()
    assert path.name == BUNDLED_PAIRS
    pairs = read_pairs(path)
    assert len(pairs) > 4000
    sources, references = pairs.references()
    bought = next(i for i, s in enumerate(sources) if s.startswith("She bought "))
    assert len(references[bought]) == 2 and sorted(r.split()[1] for r in references[bought]) == ["hat", "kaufte"]
    age = next(i for i, s in enumerate(sources) if s.startswith("I am ") and s.endswith(" years old."))
    (german,) = references[age]
    assert german.startswith("Ich bin ") and german.endswith(" Jahre alt.")
    assert max(len(r) for r in references) == 2


# ----------------------------------------------------------------------------- tokenisers

SENTENCES = ["Hello, world!  How are you?", "Ich bin dreiundzwanzig Jahre alt.", "Sie hat 23 Äpfel gekauft."]


@pytest.mark.parametrize("kind", ["word", "char", "subword"])
def test_tokenisers_round_trip(kind):
    if kind == "subword":
        pytest.importorskip("sentencepiece")
    codec = TextCodec.learn(kind, SENTENCES * 20, vocab_size=60)
    for sentence in SENTENCES:
        assert codec.decode(codec.encode(sentence)) == " ".join(sentence.split())
    again = TextCodec.from_dict(codec.to_dict())
    assert [again.encode(s) for s in SENTENCES] == [codec.encode(s) for s in SENTENCES]


def test_word_and_char_tokens():
    assert Tokenizer("word").split("Hello, world!") == [SPACE + "Hello", ",", SPACE + "world", "!"]
    assert Tokenizer("char").split("ab c") == ["a", "b", SPACE, "c"]
    vocab = TokenVocabulary.build([["b", "a", "b"], ["c"]])
    assert vocab.itos[4:] == ["b", "a", "c"]  # most frequent first, ties in order of appearance
    assert vocab.encode(["a", "zzz"]) == [5, UNK]
    assert vocab.decode([4, PAD, 5, EOS, 6]) == ["b", "a"]
    # an unknown word is written as a word of its own: "<unk> <unk>", not "<unk><unk>"
    words = Tokenizer("word")
    assert words.join([SPACE + "Hello", SPECIALS[UNK], SPECIALS[UNK], ",", SPACE + "you"]) == "Hello <unk> <unk>, you"
    assert Tokenizer("char").join(["a", SPECIALS[UNK], SPACE, "c"]) == "a<unk> c"
    with pytest.raises(InputError, match="tokens: expected one of subword, word, char; got 'bpe'"):
        Tokenizer("bpe")
