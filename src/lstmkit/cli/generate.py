"""``lstmkit generate``: train a character-level LSTM language model and generate text."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from lstmkit.cli.common import (add_training_arguments, estimator_options, finite_positive_float, holds_run_dir,
                                positive_int, probability)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train a character-level LSTM language model on TEXT (any UTF-8 file) and generate text "
        "from it, char-rnn style. With no TEXT it trains on part of the Python standard "
        "library's source, which every Python install has. Prints samples as it trains and "
        "the validation bits per character."
    )
    parser.add_argument("text", nargs="?", metavar="TEXT", help="UTF-8 text file (default: standard-library source)")
    parser.add_argument("--model", default=None, metavar="DIR", help="generate with the model saved in DIR, without training")
    parser.add_argument("--prime", default="", metavar="STR", help="text to start generating from")
    parser.add_argument("--length", type=positive_int, default=500, metavar="N", help="characters to generate (default 500)")
    parser.add_argument("--temperature", type=finite_positive_float, default=0.8, metavar="T",
                        help="sampling temperature: lower is safer, higher is wilder (default 0.8)")
    parser.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                        help="sample only among the K most likely characters (default: all)")
    parser.add_argument("--hidden-size", type=positive_int, default=256, metavar="H", help="LSTM units per layer (default 256)")
    parser.add_argument("--num-layers", type=positive_int, default=2, metavar="N", help="LSTM layers (default 2)")
    parser.add_argument("--no-layer-norm", action="store_true",
                        help="a plain LSTM (default: layer-normalised, Ba et al. 2016, which learns faster here)")
    parser.add_argument("--steps", type=positive_int, default=100, metavar="K", help="truncated-BPTT length (default 100)")
    parser.add_argument("--streams", type=positive_int, default=32, metavar="B", help="parallel text streams per batch (default 32)")
    parser.add_argument("--dropout", type=probability, default=0.25, metavar="P",
                        help="dropout between LSTM layers (default 0.25)")
    parser.add_argument("--learning-rate", type=finite_positive_float, default=6e-3, metavar="LR",
                        help="peak Adam learning rate (default 6e-3)")
    parser.add_argument("--lr-schedule", choices=["cosine", "constant"], default="cosine",
                        help="cosine: warm up, then anneal to 5%% of the peak by the end of --max-time "
                             "or --max-epochs (default); constant: keep it")
    add_training_arguments(parser, max_epochs=1000, out_help="run directory (default runs/generate-<time>)",
                           max_time=3.0)


@holds_run_dir("generate", unless_model=True)
def run(args: argparse.Namespace) -> int:
    from lstmkit.data.text import default_corpus, read_text
    from lstmkit.runs import default_run_dir, write_json, write_text

    out = Path(args.out) if args.out else (Path(args.resume) if args.resume else default_run_dir("generate"))
    if args.model and args.text:
        from lstmkit.cli.main import UsageError

        raise UsageError(f"{args.text}: with --model DIR nothing trains on a text; leave it out (--prime "
                         "gives the text to start from)")
    text = read_text(args.text) if args.text and not args.model else None  # before torch: bad input answers at once
    from lstmkit.tasks.language_model import LanguageModel, print_sample

    if args.model:
        model = LanguageModel.load(args.model)
        unknown = sorted({ch for ch in args.prime if model.vocabulary.count_unknown(ch)})
        if unknown:  # the model reads them as its unknown character: say so, the sample is theirs
            shown = ", ".join(repr(ch) for ch in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
            print(f"--prime: {model.vocabulary.count_unknown(args.prime)} of its {len(args.prime)} characters are not "
                  f"in the model's vocabulary ({shown}); it reads them as one unknown character", file=sys.stderr)
        text = model.sample(args.prime, args.length, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
        print(text)
        return 0

    if args.text:
        source = args.text
    else:
        text, source = default_corpus(), "the Python standard library's source"
    started = time.perf_counter()
    model = LanguageModel(**estimator_options(LanguageModel, args, layer_norm=not args.no_layer_norm))
    if os.environ.get("LOCAL_RANK", "0") == "0":  # a data-parallel worker re-runs the command: one line
        print(f"training on {len(text):,} characters of {source} for up to {args.max_time:g} min")
    model.fit(text, run_dir=out, resume_from=args.resume, source=source,
              on_epoch=lambda m, epoch, bpc: print_sample(m, epoch, bpc, prime=args.prime, length=200,
                                                         temperature=args.temperature))
    if not model.fit_result.is_global_zero:
        return 0
    samples = [model.sample(args.prime, args.length, temperature=args.temperature, top_k=args.top_k,
                            seed=args.seed + k) for k in range(3)]
    model.save(out)
    metrics = {
        "text": source,
        "characters": len(text),
        "vocabulary": len(model.vocabulary),
        "val_bits_per_character": model.val_bpc,
        "val_perplexity": 2.0 ** model.val_bpc,
        "epochs": model.fit_result.epochs,
        "backends": dict(model.encoder.backend_counts),
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json(out / "metrics.json", metrics)
    write_text(out / "samples.txt", "\n\n----\n\n".join(samples) + "\n")
    print(samples[0])
    print(f"\nvalidation: {model.val_bpc:.3f} bits per character (perplexity {2 ** model.val_bpc:.2f})")
    print(f"run directory: {out}  (metrics.json, samples.txt, model)")
    return 0
