r"""Translation with an attentional LSTM encoder-decoder: ``lstmkit.Translator``.

The network (:mod:`lstmkit.tasks.translate_net`): a bidirectional lstmkit LSTM reads the
source sentence; an LSTM decoder writes the target one token at a time, attending over the
source (Luong dot / general, Bahdanau additive), with input feeding::

    p(y | x) = Π_t softmax(W_out h̃_t)[y_t],   h̃_t = tanh(W_c [Σ_s α_ts m_s ; h_t])

trained by teacher forcing on the token cross-entropy (padding ignored, label smoothing ε)::

    loss = - Σ_t [(1 - ε) log p(y_t | y_<t, x) + ε/V Σ_y log p(y | y_<t, x)] / T

Tokens are learned from the training sentences, one tokeniser per side
(:mod:`lstmkit.data.tokenize`: sentencepiece subwords, words or characters), so any language
pair in a text file works without downloads. Decoding (:mod:`lstmkit.tasks.beam`) is greedy
or beam search with length normalisation; evaluation is corpus BLEU and chrF (sacrebleu,
Post 2018) against all the references of each source sentence.

>>> tr = Translator(tokens="word").fit("pairs.tsv")      # or SentencePairs, or a DataFrame
>>> tr.translate("I am twenty-three years old.")
>>> tr.evaluate(held_out)["bleu"]; tr.save("model/"); Translator.load("model/")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from lstmkit.data.pairs import SentencePairs
from lstmkit.data.tokenize import BOS, EOS, PAD, TOKEN_KINDS, TextCodec, sentencepiece_available
from lstmkit.errors import InputError, param_ref
from lstmkit.tasks.base import EncoderView, Estimator, capture_encoder_input, net_options
from lstmkit.tasks.beam import Decoded, beam_search, greedy
from lstmkit.tasks.translate_net import ATTENTIONS, TranslatorNet, TranslatorNetConfig, TranslatorNetOptions
from lstmkit.train import TrainingConfig, fit

KIND = "translate"


@dataclass(kw_only=True)
class TranslatorParams(TranslatorNetOptions):
    """The user's choices (all saved with the model)."""

    tokens: str = "auto"  # "subword" (sentencepiece), "word", "char"; auto: subword where installed, else word
    vocab_size: int = 8000  # most tokens per side (subword: the sentencepiece model's size)
    max_tokens: int = 100  # longer training sentences are cut to this many tokens
    label_smoothing: float = 0.1
    val_fraction: float = 0.1  # of the distinct training sources, for early stopping
    beam: int = 5  # default decoding: 1 is greedy
    length_penalty: float = 1.0
    training: TrainingConfig = field(default_factory=lambda: TrainingConfig(
        max_epochs=10, learning_rate=3e-3, batch_size=64, patience=4, lr_schedule="cosine", warmup_steps=50))

    def __post_init__(self) -> None:
        if self.tokens not in TOKEN_KINDS + ("auto",):
            raise InputError(f"{param_ref('tokens')}: expected auto, {', '.join(TOKEN_KINDS)}; got {self.tokens!r}",
                             param="tokens")
        if self.attention not in ATTENTIONS:
            raise InputError(f"{param_ref('attention')}: expected one of {', '.join(ATTENTIONS)}; "
                             f"got {self.attention!r}", param="attention")
        if self.hidden_size < 2 or self.hidden_size % 2:
            raise InputError(f"{param_ref('hidden_size')}: expected an even number (each encoder direction "
                             f"has half); got {self.hidden_size}", param="hidden_size")
        if self.beam < 1:
            raise InputError(f"{param_ref('beam')}: expected a whole number >= 1; got {self.beam}", param="beam")
        if not 0.0 <= self.val_fraction < 0.5:
            raise InputError(f"{param_ref('val_fraction')}: expected a number in [0, 0.5); got {self.val_fraction}",
                             param="val_fraction")


class Translator(Estimator):
    """Translate sentences with an attentional LSTM encoder-decoder (see the module docstring)."""

    KIND = KIND
    Params = TranslatorParams
    NetConfig = TranslatorNetConfig
    Net = TranslatorNet

    def reset(self) -> None:
        self.source_codec: TextCodec | None = None
        self.target_codec: TextCodec | None = None

    # --------------------------------------------------------------------- data
    @staticmethod
    def read(data, **kwargs) -> SentencePairs:
        """``data`` as :class:`SentencePairs`: as it is, a path (:func:`read_pairs`), or a
        DataFrame (:func:`pairs_from_frame`)."""
        from lstmkit.data.pairs import pairs_from_frame, read_pairs

        if isinstance(data, SentencePairs):
            return data
        if hasattr(data, "columns"):
            return pairs_from_frame(data, **kwargs)
        return read_pairs(data, **kwargs)

    def _encode_pairs(self, pairs: SentencePairs) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids of both sides; a sentence with no token at all is an error naming its line."""
        sources, targets = [], []
        cut = self.params.max_tokens
        for i, (s, t) in enumerate(zip(pairs.sources, pairs.targets)):
            for side, text, codec, out in (("source", s, self.source_codec, sources),
                                           ("target", t, self.target_codec, targets)):
                ids = codec.encode(text)
                if not ids:
                    raise InputError(f"{pairs.where(i, side)}: the {side} sentence {text!r} has no tokens "
                                     f"after tokenisation ({codec.tokenizer.kind})")
                out.append(ids[:cut])
        return sources, targets

    def _source_ids(self, sentences: Sequence[str]) -> list[list[int]]:
        out = []
        for i, text in enumerate(sentences):
            ids = self.source_codec.encode(" ".join(str(text).split()))
            if not ids:
                raise InputError(f"sentence {i + 1} is empty; expected text to translate")
            out.append(ids)
        return out

    # --------------------------------------------------------------------- training
    def fit(self, data, *, run_dir: str | Path | None = None, resume_from=None, callbacks=None,
            **read_kwargs) -> "Translator":
        """Learn the tokenisers and the network from sentence pairs (a validation part of the
        distinct source sentences is held out for early stopping)."""
        pairs = self.read(data, **read_kwargs)
        p, training = self.params, self.params.training
        kind = p.tokens if p.tokens != "auto" else ("subword" if sentencepiece_available() else "word")
        self.source_codec = TextCodec.learn(kind, pairs.sources, p.vocab_size, training.seed)
        self.target_codec = TextCodec.learn(kind, pairs.targets, p.vocab_size, training.seed)
        sources, targets = self._encode_pairs(pairs)
        torch.manual_seed(training.seed)
        self.net = self.build_net(TranslatorNetConfig(
            source_vocab=len(self.source_codec), target_vocab=len(self.target_codec),
            **net_options(p, TranslatorNetOptions)))
        distinct = len(set(pairs.sources))
        val_loader = None
        index = np.arange(len(pairs))
        if p.val_fraction > 0 and distinct >= 20:
            train_part, val_part = pairs.subset(index).split(p.val_fraction, seed=training.seed)
            held = set(val_part.sources)
            val_idx = [i for i in index if pairs.sources[i] in held]
            index = np.asarray([i for i in index if pairs.sources[i] not in held])
            val_loader = self._loader([sources[i] for i in val_idx], [targets[i] for i in val_idx], False)
        train_loader = self._loader([sources[i] for i in index], [targets[i] for i in index], True)
        smoothing = p.label_smoothing

        def loss_fn(net, batch):
            src, src_len, tgt_in, tgt_out = batch
            logits = net(src, src_len, tgt_in)  # (N, T, V)
            return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                               ignore_index=PAD, label_smoothing=smoothing)

        self.fit_result = fit(self.net, loss_fn, train_loader, val_loader, training, run_dir,
                              resume_from=resume_from, callbacks=callbacks)
        self.net.eval()
        return self

    def _loader(self, sources, targets, shuffle: bool):
        from torch.utils.data import DataLoader

        return DataLoader(list(zip(sources, targets)), batch_size=self.training.batch_size, shuffle=shuffle,
                          collate_fn=collate_pairs, generator=torch.Generator().manual_seed(self.training.seed))

    # --------------------------------------------------------------------- using it
    def decode(self, sentences: Sequence[str], beam: int | None = None, batch_size: int = 64) -> list[Decoded]:
        """Decoded token ids, scores and attention for each sentence (in the given order)."""
        self.require_fitted()
        beam = self.params.beam if beam is None else int(beam)
        if beam < 1:
            raise InputError(f"{param_ref('beam')}: expected a whole number >= 1; got {beam}", param="beam")
        ids = self._source_ids(sentences)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together: less padding
        results: list[Any] = [None] * len(ids)
        self.net.eval()
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                source, lengths = pad_batch([ids[i] for i in chunk])
                max_length = int(lengths.max()) * 2 + 10
                if beam == 1:
                    out = greedy(self.net, source, lengths, max_length)
                else:
                    out = beam_search(self.net, source, lengths, max_length, beam, self.params.length_penalty)
                for j, i in enumerate(chunk):
                    results[i] = Decoded([out.tokens[j]], [out.attention[j]], [out.scores[j]])
        return results

    def translate(self, sentences: str | Sequence[str], beam: int | None = None) -> str | list[str]:
        """The translation of one sentence (a str) or of each of a list of them.
        ``beam``: hypotheses kept per sentence (1: greedy; default the model's ``beam``)."""
        single = isinstance(sentences, str)
        decoded = self.decode([sentences] if single else list(sentences), beam)
        out = [self.target_codec.decode(d.tokens[0]) for d in decoded]
        return out[0] if single else out

    def predict(self, data, beam: int | None = None) -> list[str]:
        """The translations of the source sentences of ``data`` (pairs, or a list of sentences)."""
        if isinstance(data, (list, tuple)) and all(isinstance(s, str) for s in data):
            return self.translate(list(data), beam)
        return self.translate(self.read(data).sources, beam)

    def attention_map(self, sentence: str, beam: int | None = None) -> tuple[list[str], list[str], np.ndarray | None]:
        """``(source tokens, written tokens, weights (len(written), len(source)))`` of one
        sentence's translation (the written tokens end with ``</s>`` unless the translation was
        cut at the longest length); weights None for a model without attention."""
        decoded = self.decode([sentence], beam)[0]
        source_tokens = self.source_codec.tokens(" ".join(sentence.split()))
        target_tokens = [self.target_codec.vocabulary.itos[t] for t in decoded.tokens[0]]
        weights = decoded.attention[0]
        if weights is not None and weights.shape[0] > len(target_tokens):
            target_tokens.append("</s>")  # the end mark was written (not cut at the longest length)
        return source_tokens, target_tokens, None if weights is None else weights.numpy()

    def evaluate(self, data, beam: int | None = None, **read_kwargs) -> dict[str, Any]:
        """Corpus BLEU and chrF (sacrebleu) of the translations of the distinct source sentences
        of ``data``, each against all its references; and the translations."""
        pairs = self.read(data, **read_kwargs)
        distinct, references = pairs.references()
        hypotheses = self.translate(distinct, beam)
        return {**score_translations(hypotheses, references), "sources": distinct,
                "references": references, "hypotheses": hypotheses}

    def encoder_view(self, data=None, *, max_sequences: int = 512, max_chars: int = 2000) -> EncoderView:
        """The source sentences of ``data`` as the encoder reads them (embedded)."""
        self.require_fitted()
        if data is None:
            raise InputError(f"a translate model needs {param_ref('data')} to inspect (a file of sentence pairs)")
        sentences = self.read(data).sources[:max_sequences]
        source, lengths = pad_batch(self._source_ids(sentences))
        inputs, _ = capture_encoder_input(self.net.encoder, lambda: self.net.encode(source, lengths))
        return EncoderView(self.net.encoder, inputs, None, lengths, str(data), None, None,
                           {"sentences": len(sentences)})

    # --------------------------------------------------------------------- persistence
    def fitted_state(self) -> dict[str, Any]:
        return {"source_codec": self.source_codec.to_dict(), "target_codec": self.target_codec.to_dict()}

    def restore_state(self, state: dict[str, Any]) -> None:
        self.source_codec = TextCodec.from_dict(state["source_codec"])
        self.target_codec = TextCodec.from_dict(state["target_codec"])


# ----------------------------------------------------------------------------- helpers


def pad_batch(sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> padded ``(N, L_max)`` (PAD = 0) and lengths ``(N,)``."""
    lengths = torch.as_tensor([len(s) for s in sequences], dtype=torch.long)
    out = torch.full((len(sequences), int(lengths.max())), PAD, dtype=torch.long)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out, lengths


def collate_pairs(batch):
    """``[(source ids, target ids)]`` -> source (N, S), lengths (N,), decoder input
    ``<s> y_1 .. y_T`` and output ``y_1 .. y_T </s>`` (N, T + 1), padded."""
    sources, targets = zip(*batch)
    source, lengths = pad_batch(sources)
    target_in, _ = pad_batch([[BOS, *t] for t in targets])
    target_out, _ = pad_batch([[*t, EOS] for t in targets])
    return source, lengths, target_in, target_out


def score_translations(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu) of ``hypotheses``, sentence i against all of
    ``references[i]`` (any number per sentence)."""
    try:
        import sacrebleu
    except ImportError:
        raise InputError("scoring translations needs sacrebleu: pip install 'lstmkit[translate]'") from None
    most = max(len(r) for r in references)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(most)]
    bleu = sacrebleu.corpus_bleu(list(hypotheses), streams)
    chrf = sacrebleu.corpus_chrf(list(hypotheses), streams)
    return {"bleu": float(bleu.score), "chrf": float(chrf.score), "sentences": len(hypotheses),
            "references_per_sentence": float(np.mean([len(r) for r in references]))}
