r"""Decoding a :class:`~lstmkit.tasks.translate_net.TranslatorNet`: greedy and beam search,
batched.

Both start from ``<s>`` and call :meth:`TranslatorNet.decode_step` once per output token for
the whole batch (the decoder's compiled one-step kernel under ``torch.no_grad()``), until every
sentence has written ``</s>`` or ``max_length`` tokens.

* :func:`greedy`: ``y_t = argmax_y p(y | y_<t, x)``.

Neither ever writes the padding token or ``<s>`` (their probability is set to 0).
* :func:`beam_search`: keeps the K best partial translations of each sentence by their
  log-probability ``log p(y_1..y_t | x) = Σ_i log p(y_i | y_<i, x)``; a finished one (it wrote
  ``</s>``) is kept unchanged while the others grow. At the end the best is chosen by the
  length-normalised score (Wu et al. 2016 use a similar penalty)::

      score(y) = log p(y | x) / |y|^α              α = length_penalty (0: none; 1: per token)

  where |y| counts the tokens written, ``</s>`` included. With K = 1 it is greedy decoding.

Both return, per sentence, the token ids (without ``</s>``) and the attention weights of each
written token over the source positions (``(len, S)``, None without attention).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from lstmkit.data.tokenize import BOS, EOS, PAD


class Decoded(NamedTuple):
    tokens: list[list[int]]  # per sentence, without </s>
    attention: list[Tensor | None]  # per sentence, (written, S_i): one row per written token, </s> included
    scores: list[float]  # per sentence, log p(y | x) of the chosen translation


def _writable(logits: Tensor) -> Tensor:
    """``logits`` with padding and ``<s>`` made impossible: a translation never writes them."""
    logits = logits.clone()
    logits[:, PAD] = float("-inf")
    logits[:, BOS] = float("-inf")
    return logits


def _finish(tokens: Tensor, attention: list[Tensor] | None, lengths: Tensor, source_lengths: Tensor,
            scores: Tensor) -> Decoded:
    out_tokens, out_attention = [], []
    stacked = torch.stack(attention, dim=1) if attention else None  # (N, T, S)
    for i in range(tokens.shape[0]):
        row = tokens[i].tolist()
        n = int(lengths[i])
        kept = [t for t in row[:n] if t not in (EOS, PAD)]
        out_tokens.append(kept)
        out_attention.append(None if stacked is None else stacked[i, :n, : int(source_lengths[i])].clone())
    return Decoded(out_tokens, out_attention, [float(s) for s in scores])


@torch.no_grad()
def greedy(net, source: Tensor, lengths: Tensor, max_length: int) -> Decoded:
    """Greedy decoding of ``source`` (N, S) with true ``lengths`` (N,)."""
    memory, state = net.encode(source, lengths)
    n = source.shape[0]
    previous = torch.full((n,), BOS, dtype=torch.long)
    feed = None
    finished = torch.zeros(n, dtype=torch.bool)
    written = torch.zeros(n, dtype=torch.long)
    scores = torch.zeros(n)
    tokens, attention = [], []
    for _ in range(max_length):
        logits, state, feed, weights = net.decode_step(previous, state, feed, memory)
        logits = _writable(logits)
        token = logits.argmax(dim=-1)
        logp = torch.log_softmax(logits, dim=-1).gather(1, token[:, None]).squeeze(1)
        token = torch.where(finished, torch.full_like(token, PAD), token)
        scores += torch.where(finished, torch.zeros_like(logp), logp)
        written += (~finished).long()
        finished |= token == EOS
        tokens.append(token)
        if weights is not None:
            attention.append(weights)
        previous = token
        if bool(finished.all()):
            break
    return _finish(torch.stack(tokens, dim=1), attention, written, lengths, scores)


@torch.no_grad()
def beam_search(net, source: Tensor, lengths: Tensor, max_length: int, beam: int = 5,
                length_penalty: float = 1.0) -> Decoded:
    """Beam search with ``beam`` hypotheses per sentence (see the module docstring)."""
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    n, k = source.shape[0], beam
    memory, state = net.encode(source, lengths)
    origin = torch.arange(n).repeat_interleave(k)  # (N*K,) beam row -> sentence
    memory = memory.select(origin)
    state = tuple(s.index_select(1, origin) for s in state)
    scores = torch.zeros(n, k)
    scores[:, 1:] = float("-inf")  # at the start only one hypothesis: <s>
    previous = torch.full((n * k,), BOS, dtype=torch.long)
    feed = None
    finished = torch.zeros(n * k, dtype=torch.bool)
    written = torch.zeros(n * k, dtype=torch.long)
    tokens = torch.zeros(n * k, 0, dtype=torch.long)
    attention: list[Tensor] = []
    offsets = (torch.arange(n) * k).unsqueeze(1)  # (N, 1)
    for _ in range(max_length):
        logits, state, feed, weights = net.decode_step(previous, state, feed, memory)
        logp = torch.log_softmax(_writable(logits), dim=-1)  # (N*K, V)
        vocab = logp.shape[1]
        # a finished hypothesis continues with padding at no cost, and in no other way
        logp = torch.where(finished[:, None], torch.full_like(logp, float("-inf")), logp)
        logp[:, PAD] = torch.where(finished, torch.zeros_like(logp[:, PAD]), logp[:, PAD])
        candidates = (scores.view(-1, 1) + logp).view(n, k * vocab)
        scores, index = candidates.topk(k, dim=1)  # (N, K)
        rows = (offsets + torch.div(index, vocab, rounding_mode="floor")).view(-1)  # (N*K,) parent rows
        token = (index % vocab).view(-1)
        state = tuple(s.index_select(1, rows) for s in state)
        feed = None if feed is None else feed.index_select(0, rows)
        finished, written = finished.index_select(0, rows), written.index_select(0, rows)
        tokens = torch.cat([tokens.index_select(0, rows), token[:, None]], dim=1)
        if weights is not None:
            attention = [a.index_select(0, rows) for a in attention] + [weights.index_select(0, rows)]
        written += (~finished).long()
        finished = finished | (token == EOS)
        previous = token
        if bool(finished.all()):
            break
    normalised = scores / written.view(n, k).clamp(min=1).to(scores.dtype) ** length_penalty
    best = (torch.arange(n) * k + normalised.argmax(dim=1))  # (N,)
    return _finish(tokens.index_select(0, best), [a.index_select(0, best) for a in attention],
                   written.index_select(0, best), lengths, scores.view(-1).index_select(0, best))
