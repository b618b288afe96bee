"""Tokenisers learned from the training text, and the vocabulary of their tokens.

Three kinds of token, chosen with ``tokens=``:

* ``"subword"``: a sentencepiece unigram model (Kudo 2018) trained in this process on the
  training sentences (``pip install sentencepiece``; imported only here, when asked for);
* ``"word"``: words (runs of letters and digits) and single punctuation marks;
* ``"char"``: characters.

Every kind marks a token that follows a space with ``▁`` (U+2581) as sentencepiece does, so
:meth:`Tokenizer.join` gives back the sentence with its spacing (runs of white space as one
space): ``"Hello, world!"`` is ``▁Hello , ▁world !`` in words and back again.

:class:`TokenVocabulary` numbers the tokens: 0 ``<pad>``, 1 ``<unk>`` (any token not seen in
training), 2 ``<s>`` (begin), 3 ``</s>`` (end), then the tokens seen, most frequent first.
:class:`TextCodec` is a tokeniser and its vocabulary together: text <-> ids.

This module imports numpy, never torch.
"""

from __future__ import annotations

import base64
import io
import re
from collections import Counter
from typing import Iterable, Sequence

from lstmkit.errors import InputError, param_ref

__all__ = ["TOKEN_KINDS", "SPECIALS", "PAD", "UNK", "BOS", "EOS", "SPACE", "Tokenizer",
           "TokenVocabulary", "TextCodec", "sentencepiece_available"]

TOKEN_KINDS = ("subword", "word", "char")
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, BOS, EOS = range(4)
SPACE = "\u2581"  # ▁, the mark of a token that follows a space
_WORD = re.compile(r"(\s*)(\w+|[^\w\s])")


def sentencepiece_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("sentencepiece") is not None


def _require_sentencepiece():
    try:
        import sentencepiece
    except ImportError:
        raise InputError(f"{param_ref('tokens', 'subword')} needs sentencepiece: pip install 'lstmkit[translate]' "
                         f"(or pip install sentencepiece), or choose {param_ref('tokens', 'word')} or "
                         f"{param_ref('tokens', 'char')}", param="tokens") from None
    return sentencepiece


class Tokenizer:
    """Text -> tokens -> text, of one kind (``"subword"``, ``"word"`` or ``"char"``).

    ``Tokenizer.learn(kind, sentences)`` fits it (only ``"subword"`` learns anything: its
    sentencepiece model, kept as bytes in :meth:`to_dict`).
    """

    def __init__(self, kind: str, model: bytes | None = None) -> None:
        if kind not in TOKEN_KINDS:
            raise InputError(f"{param_ref('tokens')}: expected one of {', '.join(TOKEN_KINDS)}; got {kind!r}",
                             param="tokens", expected=TOKEN_KINDS, got=kind)
        self.kind = kind
        self.model = model
        self._processor = None
        if kind == "subword":
            if model is None:
                raise ValueError("a subword tokenizer needs its sentencepiece model (use Tokenizer.learn)")
            spm = _require_sentencepiece()
            self._processor = spm.SentencePieceProcessor(model_proto=model)

    @classmethod
    def learn(cls, kind: str, sentences: Sequence[str], vocab_size: int = 8000, seed: int = 0) -> "Tokenizer":
        """A tokeniser of ``kind`` for ``sentences``; ``"subword"`` trains a sentencepiece
        unigram model with about ``vocab_size`` pieces (fewer when the text has fewer)."""
        if kind != "subword":
            return cls(kind)
        spm = _require_sentencepiece()
        chars = len(set("".join(sentences)))
        model = io.BytesIO()
        if hasattr(spm, "set_random_generator_seed"):
            spm.set_random_generator_seed(seed)
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(sentences)), model_writer=model, model_type="unigram",
            vocab_size=max(int(vocab_size), chars + 8), hard_vocab_limit=False, character_coverage=1.0,
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, num_threads=1, minloglevel=2,
            input_sentence_size=200_000, shuffle_input_sentence=False,
        )
        return cls(kind, model.getvalue())

    def split(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        if self.kind == "subword":
            return list(self._processor.encode(text, out_type=str))
        text = " ".join(text.split())
        if self.kind == "char":
            return [SPACE if ch == " " else ch for ch in text]
        return [(SPACE if (space or i == 0) else "") + token for i, (space, token) in enumerate(_WORD.findall(text))]

    def join(self, tokens: Iterable[str]) -> str:
        """The text of ``tokens`` (the inverse of :meth:`split`, spaces normalised)."""
        tokens = list(tokens)
        if self.kind == "subword":
            return self._processor.decode_pieces(tokens)
        if self.kind == "word":  # an unknown token stands for a word: written apart, never run together
            tokens = [SPACE + t if t == SPECIALS[UNK] else t for t in tokens]
        return " ".join("".join(tokens).replace(SPACE, " ").split())

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.model is not None:
            out["sentencepiece_model"] = base64.b64encode(self.model).decode("ascii")
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Tokenizer":
        model = data.get("sentencepiece_model")
        return cls(data["kind"], base64.b64decode(model) if model else None)


class TokenVocabulary:
    """Tokens <-> ids: ``SPECIALS`` first (pad 0, unk 1, begin 2, end 3), then the tokens."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], max_size: int | None = None,
              min_count: int = 1) -> "TokenVocabulary":
        """The tokens of ``token_lists`` seen at least ``min_count`` times, most frequent first
        (ties in order of first appearance), at most ``max_size`` of them."""
        counts = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        kept = [t for t, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n >= min_count]
        return cls(kept[:max_size] if max_size else kept)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.stoi.get(t, UNK) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` up to the first end mark; padding and begin marks dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.itos[i] if 0 <= i < len(self.itos) else SPECIALS[UNK])
        return out


class TextCodec:
    """A tokeniser and its vocabulary: ``encode(text) -> ids``, ``decode(ids) -> text``."""

    def __init__(self, tokenizer: Tokenizer, vocabulary: TokenVocabulary) -> None:
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary

    @classmethod
    def learn(cls, kind: str, sentences: Sequence[str], vocab_size: int = 8000, seed: int = 0) -> "TextCodec":
        tokenizer = Tokenizer.learn(kind, sentences, vocab_size, seed)
        max_size = None if kind == "char" else vocab_size
        return cls(tokenizer, TokenVocabulary.build((tokenizer.split(s) for s in sentences), max_size))

    def __len__(self) -> int:
        return len(self.vocabulary)

    def tokens(self, text: str) -> list[str]:
        return self.tokenizer.split(text)

    def encode(self, text: str) -> list[int]:
        return self.vocabulary.encode(self.tokenizer.split(text))

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.join(self.vocabulary.decode(ids))

    def to_dict(self) -> dict:
        return {"tokenizer": self.tokenizer.to_dict(), "tokens": self.vocabulary.itos[len(SPECIALS):]}

    @classmethod
    def from_dict(cls, data: dict) -> "TextCodec":
        return cls(Tokenizer.from_dict(data["tokenizer"]), TokenVocabulary(data["tokens"]))
