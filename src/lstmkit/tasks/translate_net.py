r"""The encoder-decoder network of :mod:`lstmkit.tasks.translate`, with attention.

Symbols: N batch, S source length, T target length, E embedding size, H hidden size (the
decoder's units; each encoder direction has H/2), V target vocabulary.

Encoder (Sutskever et al. 2014; bidirectional as in Bahdanau et al. 2015): the source tokens'
embeddings are read by a bidirectional lstmkit LSTM with their true lengths (fused kernels
where the backend registry picks them)::

    m_s = [h→_s ; h←_s]                         memory, (N, S, H)
    h_0^dec = [h→_S ; h←_1], c_0^dec = [c→_S ; c←_1]  per layer: the decoder starts where
                                                the encoder's two directions ended

Decoder (Luong et al. 2015): an LSTM whose input at step t is the embedding of the previous
target token and, with input feeding, the previous attentional state h̃_{t-1} (h̃_0 = 0)::

    h_t, c_t = LSTM([E y_{t-1} ; h̃_{t-1}], h_{t-1}, c_{t-1})
    score(h_t, m_s) = h_t · m_s                              attention="dot"      (Luong)
                    = h_t · W_a m_s                          attention="general"  (Luong)
                    = v · tanh(W_q h_t + W_k m_s + b)        attention="additive" (Bahdanau)
    α_ts = softmax_s(score(h_t, m_s))   over the real source positions only: a padded
                                        position's score is -inf, so its weight is exactly 0
    ctx_t = Σ_s α_ts m_s
    h̃_t = tanh(W_c [ctx_t ; h_t])                           attentional state
    p(y_t | y_<t, x) = softmax(W_out dropout(h̃_t) + b)

``attention="none"`` is the plain seq2seq of Sutskever et al.: h̃_t = h_t, no input feeding.

Training (teacher forcing) feeds the reference y_{t-1}; without input feeding the decoder
reads all T steps in one call (the fused kernel), with it one step at a time.
:meth:`TranslatorNet.decode_step` is one step of inference: the decoder's
:meth:`lstmkit.LSTM.step`, which runs the compiled one-step kernel under ``torch.no_grad()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lstmkit.data.tokenize import PAD
from lstmkit.nn import LSTM

ATTENTIONS = ("general", "dot", "additive", "none")


@dataclass(kw_only=True)
class TranslatorNetOptions:
    """The network's options the user chooses (shared by the params and the net's config)."""

    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 1
    attention: str = "general"
    input_feeding: bool = False  # True: Luong's input feeding (a slower, step-by-step training loop)
    dropout: float = 0.2
    backend: str = "auto"


@dataclass(kw_only=True)
class TranslatorNetConfig(TranslatorNetOptions):
    source_vocab: int
    target_vocab: int


class Memory(NamedTuple):
    """What the decoder reads from the encoder: ``memory`` (N, S, H), ``keys`` (the memory as
    the score compares it: W_a m or W_k m + b; (N, S, H)), ``mask`` (N, S), True at real
    source positions."""

    memory: Tensor
    keys: Tensor
    mask: Tensor

    def select(self, index: Tensor) -> "Memory":
        return Memory(self.memory.index_select(0, index), self.keys.index_select(0, index),
                      self.mask.index_select(0, index))


class Attention(nn.Module):
    """Luong dot / general or Bahdanau additive attention over a padded memory."""

    def __init__(self, kind: str, size: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "general":
            self.W_a = nn.Linear(size, size, bias=False)
        elif kind == "additive":
            self.W_q = nn.Linear(size, size, bias=False)
            self.W_k = nn.Linear(size, size, bias=True)
            self.v = nn.Linear(size, 1, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """The per-sentence part of the score, computed once: (N, S, H)."""
        if self.kind == "general":
            return self.W_a(memory)
        if self.kind == "additive":
            return self.W_k(memory)
        return memory

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """``query`` (N, T, H) -> context (N, T, H) and weights α (N, T, S)."""
        if self.kind == "additive":
            hidden = torch.tanh(self.W_q(query).unsqueeze(2) + memory.keys.unsqueeze(1))  # (N, T, S, H)
            scores = self.v(hidden).squeeze(-1)  # (N, T, S)
        else:
            scores = query @ memory.keys.transpose(1, 2)  # (N, T, S)
        scores = scores.masked_fill(~memory.mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ memory.memory, weights


class TranslatorNet(nn.Module):
    """Bidirectional LSTM encoder, attentional LSTM decoder (see the module docstring)."""

    def __init__(self, config: TranslatorNetConfig) -> None:
        super().__init__()
        c = self.config = config
        if c.hidden_size % 2:
            raise ValueError(f"hidden_size must be even (each encoder direction has half), got {c.hidden_size}")
        if c.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {c.attention!r}")
        between = c.dropout if c.num_layers > 1 else 0.0
        self.source_embedding = nn.Embedding(c.source_vocab, c.embedding_size, padding_idx=PAD)
        self.target_embedding = nn.Embedding(c.target_vocab, c.embedding_size, padding_idx=PAD)
        self.encoder = LSTM(c.embedding_size, c.hidden_size // 2, c.num_layers, batch_first=True,
                            bidirectional=True, dropout=between, backend=c.backend)
        self.feeding = c.input_feeding and c.attention != "none"
        decoder_input = c.embedding_size + (c.hidden_size if self.feeding else 0)
        self.decoder = LSTM(decoder_input, c.hidden_size, c.num_layers, batch_first=True, dropout=between,
                            backend=c.backend)
        if c.attention != "none":
            self.attention = Attention(c.attention, c.hidden_size)
            self.combine = nn.Linear(2 * c.hidden_size, c.hidden_size, bias=False)  # W_c
        self.drop = nn.Dropout(c.dropout)
        self.generator = nn.Linear(c.hidden_size, c.target_vocab)  # W_out

    # ----------------------------------------------------------------- encoder
    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Memory, tuple[Tensor, Tensor]]:
        """``source`` (N, S) token ids, ``lengths`` (N,) -> the memory and the decoder's first
        state ``(h, c)``, each (num_layers, N, H)."""
        embedded = self.drop(self.source_embedding(source))  # (N, S, E)
        memory, (h_n, c_n) = self.encoder(embedded, lengths=lengths)  # memory (N, S, H)
        layers, n = self.config.num_layers, source.shape[0]

        def bridge(state: Tensor) -> Tensor:  # (2L, N, H/2) -> (L, N, H): both directions, per layer
            return state.view(layers, 2, n, -1).transpose(1, 2).reshape(layers, n, -1)

        steps = torch.arange(source.shape[1], device=source.device)
        mask = steps.unsqueeze(0) < lengths.to(source.device).unsqueeze(1)  # (N, S)
        keys = self.attention.keys(memory) if self.config.attention != "none" else memory
        return Memory(memory, keys, mask), (bridge(h_n).contiguous(), bridge(c_n).contiguous())

    # ----------------------------------------------------------------- decoder
    def attend(self, hidden: Tensor, memory: Memory) -> tuple[Tensor, Tensor | None]:
        """Decoder outputs h (N, T, H) -> attentional states h̃ (N, T, H) and weights (N, T, S)."""
        if self.config.attention == "none":
            return hidden, None
        context, weights = self.attention(hidden, memory)
        return torch.tanh(self.combine(torch.cat([context, hidden], dim=-1))), weights

    def forward(self, source: Tensor, lengths: Tensor, target_in: Tensor) -> Tensor:
        """Teacher forcing: logits (N, T, V) for ``target_in`` (N, T) = ``<s> y_1 .. y_{T-1}``."""
        memory, state = self.encode(source, lengths)
        embedded = self.drop(self.target_embedding(target_in))  # (N, T, E)
        if not self.feeding:
            hidden, _ = self.decoder(embedded, state)  # (N, T, H), all steps in one call
            attentional, _ = self.attend(hidden, memory)
        else:
            feed = embedded.new_zeros(embedded.shape[0], self.config.hidden_size)  # h̃_0
            outputs = []
            for t in range(embedded.shape[1]):
                x_t = torch.cat([embedded[:, t], feed], dim=-1).unsqueeze(1)  # (N, 1, E + H)
                hidden, state = self.decoder(x_t, state)
                feed = self.attend(hidden, memory)[0].squeeze(1)  # (N, H)
                outputs.append(feed)
            attentional = torch.stack(outputs, dim=1)  # (N, T, H)
        return self.generator(self.drop(attentional))

    def decode_step(self, previous: Tensor, state, feed: Tensor | None, memory: Memory):
        """One step of inference: the previous tokens (N,) -> logits (N, V), the new state, the
        new attentional state h̃_t (the next feed) and the attention weights (N, S) (None
        without attention). Runs the decoder's :meth:`~lstmkit.LSTM.step` (compiled under
        ``torch.no_grad()``)."""
        x = self.target_embedding(previous)  # (N, E)
        if self.feeding:
            x = torch.cat([x, feed if feed is not None else x.new_zeros(x.shape[0], self.config.hidden_size)], -1)
        hidden, state = self.decoder.step(x, state)  # (N, H)
        attentional, weights = self.attend(hidden.unsqueeze(1), memory)
        attentional = attentional.squeeze(1)
        return (self.generator(attentional), state, attentional,
                None if weights is None else weights.squeeze(1))
