"""``lstmkit translate``: train an attentional LSTM translator, score it, translate with it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lstmkit.cli.common import (add_training_arguments, estimator_options, finite_positive_float, holds_run_dir,
                                positive_int, probability)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train a translator (bidirectional LSTM encoder, LSTM decoder with attention) on PAIRS, a "
        "file of sentence pairs, one a line: source<TAB>target (the Tatoeba / manythings.org "
        "format; a third column is ignored), or on two aligned files (PAIRS and --target-file). "
        "A held-out part of the distinct source sentences is translated and scored with BLEU and "
        "chrF beside two baselines (copy the source; the same network without attention). With "
        "no PAIRS it trains on the bundled English -> German number sentences. With --model DIR "
        "it translates the SENTENCEs given, or --input FILE, with a saved model."
    )
    parser.add_argument("inputs", nargs="*", metavar="PAIRS | SENTENCE",
                        help="the pairs file to train on; with --model, sentences to translate")
    parser.add_argument("--target-file", default=None, metavar="FILE",
                        help="target sentences aligned line by line with PAIRS (then PAIRS holds the sources)")
    parser.add_argument("--model", default=None, metavar="DIR", help="translate with the model saved in DIR")
    parser.add_argument("--input", default=None, metavar="FILE", help="with --model: a file of sentences, one a line")
    parser.add_argument("--output", default=None, metavar="FILE",
                        help="with --model: write the translations here, one a line (default: standard output)")
    parser.add_argument("--beam", type=positive_int, default=5, metavar="K",
                        help="beam search with K hypotheses; 1 is greedy (default 5)")
    parser.add_argument("--length-penalty", type=float, default=1.0, metavar="A",
                        help="beam score log p / length^A (default 1.0; 0 favours short translations)")
    parser.add_argument("--tokens", default="auto", choices=["auto", "subword", "word", "char"],
                        help="tokens learned from the training text: sentencepiece subwords, words or characters "
                             "(default auto: subword where sentencepiece is installed, else word)")
    parser.add_argument("--vocab-size", type=positive_int, default=8000, metavar="N",
                        help="most tokens per language (default 8000; fewer when the text has fewer)")
    parser.add_argument("--attention", default="general", choices=["general", "dot", "additive", "none"],
                        help="Luong general or dot, Bahdanau additive, or none (default general)")
    parser.add_argument("--input-feeding", action="store_true",
                        help="feed the previous attentional state into the decoder (Luong et al. 2015); the "
                             "decoder then trains one step at a time, about 2x slower per update")
    parser.add_argument("--hidden-size", type=positive_int, default=256, metavar="H",
                        help="decoder units; each encoder direction has H/2 (default 256)")
    parser.add_argument("--embedding-size", type=positive_int, default=128, metavar="E", help="token embedding size (default 128)")
    parser.add_argument("--num-layers", type=positive_int, default=1, metavar="N", help="LSTM layers (default 1)")
    parser.add_argument("--dropout", type=probability, default=0.2, metavar="P", help="dropout (default 0.2)")
    parser.add_argument("--learning-rate", type=finite_positive_float, default=3e-3, metavar="LR", help="peak Adam learning rate (default 3e-3)")
    parser.add_argument("--batch-size", type=positive_int, default=64, metavar="B", help="sentence pairs per batch (default 64)")
    parser.add_argument("--test-fraction", type=probability, default=0.1, metavar="F",
                        help="fraction of the distinct source sentences held out for scoring (default 0.1)")
    parser.add_argument("--max-test", type=positive_int, default=2000, metavar="N",
                        help="hold out at most N distinct source sentences (default 2000)")
    parser.add_argument("--samples", type=int, default=5, metavar="N", help="held-out translations to print (default 5)")
    parser.add_argument("--no-baseline", action="store_true", help="do not train the network without attention beside it")
    add_training_arguments(parser, max_epochs=10, out_help="run directory (default runs/translate-<time>)",
                           max_time=3.0)


def _translate_with(args) -> int:
    from lstmkit.cli.main import UsageError
    from lstmkit.data.files import decode_utf8, read_file_bytes
    from lstmkit.runs import write_text
    from lstmkit.tasks.translate import Translator

    if args.input and args.inputs:
        raise UsageError("give sentences or --input FILE, not both")
    if args.output and Path(args.output).is_dir():  # before translating: the translations are not lost
        raise UsageError(f"--output {args.output}: is a directory; name the file to write the translations to")
    if args.input:
        expected = "a UTF-8 text file, one sentence a line"
        text = decode_utf8(read_file_bytes(args.input, expected), args.input, expected)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    elif args.inputs:
        lines = list(args.inputs)
    else:
        raise UsageError('give the sentences to translate: lstmkit translate --model DIR "a sentence" '
                         "(or --input FILE)")
    translator = Translator.load(args.model)
    kept = [i for i, line in enumerate(lines) if line.strip()]
    translations = translator.translate([lines[i] for i in kept], beam=args.beam) if kept else []
    out = [""] * len(lines)  # a blank line stays a blank line
    for i, translation in zip(kept, translations):
        out[i] = translation
    if args.output:
        write_text(args.output, "\n".join(out) + "\n")
        print(f"translated {len(kept)} sentence{'s' if len(kept) != 1 else ''} -> {args.output}", file=sys.stderr)
    else:
        print("\n".join(out))
    return 0


@holds_run_dir("translate", unless_model=True)
def run(args: argparse.Namespace) -> int:
    from lstmkit.cli.main import UsageError

    if args.model:
        return _translate_with(args)
    if args.input or args.output:
        raise UsageError("--input and --output translate with a saved model: add --model DIR")
    if len(args.inputs) > 1:
        raise UsageError("give one PAIRS file (and --target-file for aligned files)")
    return _train(args)


def _train(args) -> int:
    from lstmkit.data.pairs import bundled_pairs_path, read_pairs

    out = Path(args.out)
    if args.inputs:
        pairs, source = read_pairs(args.inputs[0], args.target_file), args.inputs[0]
    else:
        if args.target_file:
            from lstmkit.cli.main import UsageError

            raise UsageError("--target-file needs PAIRS, the file of source sentences")
        pairs, source = read_pairs(bundled_pairs_path()), "bundled English -> German number sentences"
    train, test = pairs.split(args.test_fraction, seed=args.seed, max_held_out=args.max_test)
    from lstmkit.tasks.translate import Translator  # after the data: bad input answers before torch loads

    started = time.perf_counter()
    options = estimator_options(Translator, args)
    translator = Translator(**options)
    budget = f"{args.max_time:g} min" if args.max_time else f"{args.max_epochs} epochs"
    print(f"training on {len(train):,} pairs of {source} ({len(test):,} held out) for up to {budget}")
    translator.fit(train, run_dir=out, resume_from=args.resume)
    if not translator.fit_result.is_global_zero:
        return 0
    kind = translator.source_codec.tokenizer.kind
    epochs = translator.fit_result.epochs
    print(f"trained {epochs} epoch{'s' if epochs != 1 else ''} ({kind} tokens: {len(translator.source_codec)} source, "
          f"{len(translator.target_codec)} target)")
    sources, references, hypotheses, scores = _scores(translator, train, test, args, options)
    metrics = {"data": source, "train_pairs": len(train), "test_pairs": len(test),
               "test_sentences": len(sources), "tokens": kind, "beam": args.beam,
               "epochs": translator.fit_result.epochs, "backends": dict(translator.encoder.backend_counts),
               "decoder_step": "compiled" if translator.net.decoder.step_core is not None else "reference",
               "scores": scores, "seconds": round(time.perf_counter() - started, 2)}
    _write_run(out, translator, sources, references, hypotheses["lstmkit, beam"], metrics, args.samples)
    return 0


def _scores(translator, train, test, args, options):
    """The held-out translations of the model (greedy and beam), the copy baseline and the
    model without attention, and their BLEU and chrF (sacrebleu; skipped without it), printed
    as a table."""
    from lstmkit.tasks.translate import Translator, score_translations

    sources, references = test.references()
    hypotheses = {"copy the source": sources}
    if not args.no_baseline and translator.params.attention != "none":
        print(f"training the same network without attention for up to "
              f"{f'{args.max_time:g} min' if args.max_time else f'{args.max_epochs} epochs'}")
        plain = Translator(**{**options, "attention": "none"}).fit(train)
        hypotheses["seq2seq, no attention"] = plain.translate(sources)
    hypotheses["lstmkit, greedy"] = translator.translate(sources, beam=1)
    # a beam of 1 is greedy decoding: the same translations, one row in the table
    hypotheses["lstmkit, beam"] = (hypotheses["lstmkit, greedy"] if args.beam == 1
                                   else translator.translate(sources, beam=args.beam))
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        print("BLEU and chrF skipped: sacrebleu is not installed (pip install 'lstmkit[translate]')")
        return sources, references, hypotheses, {}
    scores = {}
    print(f"\n{'held-out sentences: ' + str(len(sources)):<34}{'BLEU':>7}{'chrF':>7}")
    for name, hyps in hypotheses.items():
        row = score_translations(hyps, references)
        scores[name] = {"bleu": row["bleu"], "chrf": row["chrf"]}
        if name == "lstmkit, beam" and args.beam == 1:
            continue  # the greedy row above
        label = f"{name} {args.beam}" if name == "lstmkit, beam" else name
        print(f"{label:<34}{row['bleu']:>7.1f}{row['chrf']:>7.1f}")
    return sources, references, hypotheses, scores


def _write_run(out: Path, translator, sources, references, hypotheses, metrics: dict, samples: int) -> None:
    import pandas as pd

    from lstmkit.report.attention import attention_heatmap
    from lstmkit.runs import atomic_path, write_csv, write_json

    # a reference the file gives twice for one source is shown once (BLEU and chrF take the
    # best match among the references, so the scores are the same either way)
    references = [list(dict.fromkeys(r)) for r in references]
    frame = pd.DataFrame({"source": sources, "translation": hypotheses,
                          "references": [" ||| ".join(r) for r in references]})
    if samples > 0:
        print()
        for s, h, r in list(zip(sources, hypotheses, references))[:samples]:
            print(f"  source      {s}\n  translation {h}\n  reference   {r[0]}" + (
                f"  (+{len(r) - 1} more)" if len(r) > 1 else "") + "\n")
    translator.save(out)
    write_csv(out / "translations.csv", frame)
    figures = []
    if translator.params.attention != "none":
        for k, sentence in enumerate(sources[:3], start=1):
            src_tokens, tgt_tokens, weights = translator.attention_map(sentence)
            with atomic_path(out / f"attention_{k}.png") as tmp:
                tmp.write_bytes(attention_heatmap(src_tokens, tgt_tokens, weights, sentence))
            figures.append(f"attention_{k}.png")
    write_json(out / "metrics.json", {**metrics, "attention_figures": figures})
    print(f"run directory: {out}  (metrics.json, translations.csv, {', '.join(figures) or 'no figures'}, model)")
