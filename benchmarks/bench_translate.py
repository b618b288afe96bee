"""Benchmark: held-out BLEU after the same minutes of training, and decoding speed.

``lstmkit translate``'s defaults (lstmkit.Translator: sentencepiece subwords, embedding 128,
bidirectional LSTM encoder 2 x 128 on the fused kernel, LSTM decoder 256 with Luong general
attention and input feeding, dropout 0.2, label smoothing 0.1, Adam peaking at 3e-3 and
annealed by a cosine to the end of the time budget, early stopping on a 10 % validation
part) against a plain torch.nn sequence-to-sequence model written the way the PyTorch tutorial
"NLP From Scratch: Translation with a Sequence to Sequence Network and Attention" writes it
(our own code): a GRU encoder, a GRU decoder with Bahdanau attention whose input is the
previous token's embedding and the context, teacher forcing, Adam 1e-3, NLL loss over every
position, hidden size 128 as there (``--plain-hidden`` to change). Both read the same
tokens (the subword models lstmkit learned on the training part), train for the same
wall-clock minutes on the same pairs, and translate the same held-out source sentences
(distinct, with all their references); BLEU and chrF by sacrebleu. Decoding speed is
sentences per second over the held-out set, batches of 64, greedy and beam 5.

Usage::

    python benchmarks/bench_translate.py --minutes 3              # the bundled en->de pairs
    python benchmarks/bench_translate.py --pairs deu.txt --minutes 10
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

from lstmkit.data.tokenize import BOS, EOS, PAD


class EncoderRNN(nn.Module):
    """The tutorial's encoder: embedding, dropout, one GRU layer (batch first)."""

    def __init__(self, vocab: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, source):
        return self.gru(self.dropout(self.embedding(source)))


class BahdanauAttention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.Wa = nn.Linear(hidden, hidden)
        self.Ua = nn.Linear(hidden, hidden)
        self.Va = nn.Linear(hidden, 1)

    def forward(self, query, keys):
        scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights, keys), weights


class AttnDecoderRNN(nn.Module):
    """The tutorial's decoder: a GRU fed [embedding; context], Bahdanau attention on its hidden state."""

    def __init__(self, hidden: int, vocab: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden)
        self.attention = BahdanauAttention(hidden)
        self.gru = nn.GRU(2 * hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)
        self.dropout = nn.Dropout(dropout)

    def forward(self, encoder_outputs, encoder_hidden, target=None, max_length: int = 50):
        n = encoder_outputs.size(0)
        decoder_input = torch.full((n, 1), BOS, dtype=torch.long)
        hidden, outputs = encoder_hidden, []
        steps = target.size(1) if target is not None else max_length
        for i in range(steps):
            output, hidden = self.step(decoder_input, hidden, encoder_outputs)
            outputs.append(output)
            if target is not None:
                decoder_input = target[:, i].unsqueeze(1)  # teacher forcing
            else:
                decoder_input = output.argmax(-1).detach()
        return torch.log_softmax(torch.cat(outputs, dim=1), dim=-1)

    def step(self, token, hidden, encoder_outputs):
        embedded = self.dropout(self.embedding(token))
        context, _ = self.attention(hidden.permute(1, 0, 2), encoder_outputs)
        output, hidden = self.gru(torch.cat((embedded, context), dim=2), hidden)
        return self.out(output), hidden


def pad(rows, length=None):
    length = length or max(len(r) for r in rows)
    out = torch.full((len(rows), length), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.as_tensor(r[:length])
    return out


def train_plain(sources, targets, src_vocab, tgt_vocab, hidden, minutes, seed, batch_size=32):
    """The tutorial's loop: shuffled batches, teacher forcing, NLL over all positions, Adam 1e-3."""
    torch.manual_seed(seed)
    encoder, decoder = EncoderRNN(src_vocab, hidden), AttnDecoderRNN(hidden, tgt_vocab)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    deadline, updates, epochs = time.perf_counter() + minutes * 60, 0, 0
    generator = torch.Generator().manual_seed(seed)
    while time.perf_counter() < deadline:
        order = torch.randperm(len(sources), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            source = pad([sources[i] + [EOS] for i in chunk])
            target = pad([targets[i] + [EOS] for i in chunk])
            encoder_outputs, encoder_hidden = encoder(source)
            log_probs = decoder(encoder_outputs, encoder_hidden, target)
            loss = nn.functional.nll_loss(log_probs.reshape(-1, log_probs.size(-1)), target.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            updates += 1
            if time.perf_counter() >= deadline:
                break
        epochs += 1
    return encoder.eval(), decoder.eval(), updates, epochs


@torch.no_grad()
def translate_plain(encoder, decoder, sources, codec, batch_size=64):
    out = []
    for start in range(0, len(sources), batch_size):
        rows = sources[start:start + batch_size]
        encoder_outputs, hidden = encoder(pad([r + [EOS] for r in rows]))
        log_probs = decoder(encoder_outputs, hidden, max_length=2 * max(len(r) for r in rows) + 10)
        out.extend(codec.decode(ids) for ids in log_probs.argmax(-1).tolist())
    return out


def main() -> None:
    from lstmkit.data.pairs import bundled_pairs_path, read_pairs
    from lstmkit.tasks.translate import Translator, score_translations

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=None, help="pairs file (default: the bundled en->de pairs)")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--plain-hidden", type=int, default=128)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pairs = read_pairs(args.pairs or bundled_pairs_path())
    train, test = pairs.split(0.1, seed=args.seed)
    sources, references = test.references()
    results = {"pairs": str(args.pairs or "bundled"), "train_pairs": len(train), "test_sentences": len(sources),
               "minutes": args.minutes, "threads": args.threads}

    started = time.perf_counter()
    model = Translator(max_time=args.minutes, seed=args.seed, progress=False).fit(train)
    fit_seconds = time.perf_counter() - started
    row = {"fit_seconds": round(fit_seconds, 1), "epochs": model.fit_result.epochs, "updates": model.fit_result.steps,
           "backends": dict(model.encoder.backend_counts)}
    for beam in (1, 5):
        t = time.perf_counter()
        hyps = model.translate(sources, beam=beam)
        seconds = time.perf_counter() - t
        name = "greedy" if beam == 1 else f"beam{beam}"
        row[name] = {**score_translations(hyps, references), "sentences_per_second": round(len(sources) / seconds, 1)}
    results["lstmkit"] = row

    encode_src, encode_tgt = model.source_codec.encode, model.target_codec.encode
    train_src = [encode_src(s) for s in train.sources]
    train_tgt = [encode_tgt(t) for t in train.targets]
    encoder, decoder, updates, epochs = train_plain(train_src, train_tgt, len(model.source_codec),
                                                    len(model.target_codec), args.plain_hidden, args.minutes,
                                                    args.seed)
    t = time.perf_counter()
    hyps = translate_plain(encoder, decoder, [encode_src(s) for s in sources], model.target_codec)
    seconds = time.perf_counter() - t
    results["torch_tutorial"] = {"updates": updates, "epochs": epochs, "hidden": args.plain_hidden,
                                 "greedy": {**score_translations(hyps, references),
                                            "sentences_per_second": round(len(sources) / seconds, 1)}}
    print(f"{len(train)} training pairs, {len(sources)} held-out sentences, {args.minutes:g} min each, "
          f"{args.threads} thread(s)")
    print(f"{'model':<34}{'BLEU':>7}{'chrF':>7}{'sent/s':>9}")
    for name, key in (("lstmkit greedy", ("lstmkit", "greedy")), ("lstmkit beam 5", ("lstmkit", "beam5")),
                      ("torch.nn tutorial seq2seq greedy", ("torch_tutorial", "greedy"))):
        r = results[key[0]][key[1]]
        print(f"{name:<34}{r['bleu']:>7.1f}{r['chrf']:>7.1f}{r['sentences_per_second']:>9.1f}")
    print(f"updates: lstmkit {row['updates']} ({row['epochs']} epochs), torch.nn {updates} ({epochs} epochs)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
