"""Benchmark: validation bits per character after the same minutes of training.

``lstmkit generate``'s defaults (lstmkit.LanguageModel: embedding 64, 2 x 256 layer-normalised
LSTM on the fused kernel, forget-gate bias 1, dropout 0.25 between the layers, Adam peaking at
6e-3 after a 50-step warm-up and annealed by a cosine to 5 % at the end of the time budget,
clipping 1, 32 streams x 100 steps, the best validation epoch kept) against a plain
torch.nn.LSTM character model of the same size trained the usual way (char-rnn's recipe: Adam
2e-3, gradient clipping at 5, dropout 0.1, the same streams, steps and stateful truncated
BPTT), on the same text (the default corpus), for the same wall-clock time, validated on the
same held-out 5 %.

Usage::

    python benchmarks/bench_generate.py --minutes 3 --seeds 0,1
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn


def plain_torch_bpc(train_ids, val_ids, vocab: int, minutes: float, params, seed: int) -> tuple[float, int]:
    """The baseline: torch.nn.LSTM of lstmkit's size, char-rnn's recipe; (val bits/char, updates)."""
    torch.manual_seed(seed)
    streams, steps = params.streams, params.steps
    embedding = nn.Embedding(vocab, params.embedding_size)
    lstm = nn.LSTM(params.embedding_size, params.hidden_size, params.num_layers, batch_first=True,
                   dropout=0.1 if params.num_layers > 1 else 0.0)
    decoder = nn.Linear(params.hidden_size, vocab)
    params = [*embedding.parameters(), *lstm.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=2e-3)
    usable = (len(train_ids) - 1) // streams * streams
    data = torch.as_tensor(train_ids[: usable + 1], dtype=torch.long)
    x_all, y_all = data[:-1].view(streams, -1), data[1:].view(streams, -1)
    deadline = time.perf_counter() + minutes * 60
    state, position, updates = None, 0, 0
    while time.perf_counter() < deadline:
        if position + steps > x_all.shape[1]:
            position, state = 0, None
        x, y = x_all[:, position:position + steps], y_all[:, position:position + steps]
        output, state = lstm(embedding(x), state)
        loss = nn.functional.cross_entropy(decoder(output).reshape(-1, vocab), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        state = tuple(s.detach() for s in state)
        position += steps
        updates += 1
    lstm.eval()
    with torch.no_grad():
        x = torch.as_tensor(val_ids[:-1], dtype=torch.long).unsqueeze(0)
        y = torch.as_tensor(val_ids[1:], dtype=torch.long).unsqueeze(0)
        output, _ = lstm(embedding(x))
        loss = nn.functional.cross_entropy(decoder(output)[0], y[0])
    return float(loss) / math.log(2), updates


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; one run of each model per seed")
    args = parser.parse_args(argv)

    from lstmkit.data.text import Vocabulary, default_corpus, split_text
    from lstmkit.tasks.language_model import LanguageModel

    text = default_corpus()
    vocab = Vocabulary.from_text(text)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"text: default corpus, {len(text):,} characters; {args.minutes:g} min of training each")
    print(f"{'seed':<6}{'lstmkit generate (defaults)':>30}{'plain torch.nn.LSTM char-LM':>30}")
    ours, theirs = [], []
    for seed in seeds:
        lm = LanguageModel(max_time=args.minutes, seed=seed, progress=False)
        lm.fit(text)
        steps = lm.fit_result.steps
        train_ids, val_ids = split_text(vocab.encode(text), lm.params.val_fraction)
        bpc, updates = plain_torch_bpc(train_ids, val_ids, len(vocab), args.minutes, lm.params, seed)
        ours.append(lm.val_bpc)
        theirs.append(bpc)
        print(f"{seed:<6}{lm.val_bpc:>20.3f} ({steps:>5} upd){bpc:>20.3f} ({updates:>5} upd)", flush=True)
    print(f"{'mean':<6}{sum(ours) / len(ours):>20.3f}{'':>11}{sum(theirs) / len(theirs):>20.3f}")
    print(f"lstmkit backends: {dict(lm.net.lstm.backend_counts)}")


if __name__ == "__main__":
    main()
