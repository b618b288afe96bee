"""``lstmkit inspect``: gates, cell states and gate saturation of a saved model's LSTM."""

from __future__ import annotations

import argparse

from lstmkit.cli.common import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run DATA through the LSTM (or GRU) of the model saved in DIR with every gate recorded, "
        "and write heatmaps of the forget, input and output gates over time (a GRU's update and "
        "reset gates), the cell states of the most active units (a GRU's hidden states), gate "
        "saturation statistics (inspect.json, as in Karpathy, Johnson & Fei-Fei 2015) and, for a "
        "language model, the text coloured by one unit; all in one self-contained report.html. DATA: for a forecaster a CSV or Parquet file with the "
        "training columns (default: the bundled AirPassengers series, right for a model "
        "trained on it); for a language model a UTF-8 text file (default: the start of the "
        "Python standard library's source); for a classifier a file of sequences in any format "
        "`lstmkit classify` reads, or --dataset NAME; for an anomaly detector a CSV or Parquet "
        "file with the training columns (default: its training data); for a translation model a "
        "file of sentence pairs; for a model of `lstmkit lab` none (its task's test set)."
    )
    parser.add_argument("data", nargs="?", metavar="DATA", help="data to run through the model (default: see above)")
    parser.add_argument("--model", required=True, metavar="DIR", help="directory of a saved lstmkit model")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="a classifier: read the test split of this UCR/UEA data set that aeon ships "
                             "(as `lstmkit classify --dataset NAME`) instead of DATA")
    parser.add_argument("--out", default=None, metavar="DIR", help="output directory (default runs/inspect-<time>)")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="torch's CPU threads for this run (default: one per core)")
    parser.add_argument("--sample", type=int, default=None, metavar="K",
                        help="the sequence shown in the heatmaps, from 0 (-1 the last; default: the last window; "
                             "the text for a language model)")
    parser.add_argument("--unit", type=int, default=None, metavar="K",
                        help="language model: the unit colouring the text (default: the one whose "
                             "state varies most)")
    parser.add_argument("--layer", type=int, default=None, metavar="N",
                        help="language model: the layer of --unit, from 0 (default: the last)")
    parser.add_argument("--state", default="cell", choices=["cell", "hidden"],
                        help="language model: colour the text by tanh(c_t) (cell, default) or h_t (hidden)")
    parser.add_argument("--max-chars", type=positive_int, default=2000, metavar="N",
                        help="language model: characters of text to read (default 2000)")
    parser.add_argument("--max-windows", type=positive_int, default=512, metavar="N",
                        help="forecaster: most lookback windows to read, evenly spaced (default 512)")
    parser.add_argument("--top-units", type=positive_int, default=8, metavar="N",
                        help="cell-state (a GRU's hidden-state) trajectories of this many most active units "
                             "(default 8)")
    parser.add_argument("--heatmap-steps", type=positive_int, default=200, metavar="N",
                        help="heatmaps show at most the first N steps of the sequence (default 200)")


def run(args: argparse.Namespace) -> int:
    from lstmkit.report.inspect import InspectOptions, inspect_model, summary_lines

    options = InspectOptions(
        sample=args.sample, unit=args.unit, layer=args.layer, state=args.state,
        max_chars=args.max_chars, max_windows=args.max_windows, top_units=args.top_units,
        heatmap_steps=args.heatmap_steps,
    )
    data = args.data
    if args.dataset is not None:
        from lstmkit.cli.main import UsageError

        if data is not None:
            raise UsageError("give either DATA or --dataset NAME, not both")
        from lstmkit.data.sequences import load_dataset
        from lstmkit.tasks.base import model_kind

        kind = model_kind(args.model)
        if kind != "classifier":
            raise UsageError(f"--dataset is for a classifier; {args.model} holds a {kind} model")
        data = load_dataset(args.dataset, "test")
    result = inspect_model(args.model, data, args.out, options)
    report = result.report
    print(f"lstmkit inspect: {report['kind']} {report['model']}, {report['sequences']} sequence(s) "
          f"of {report['steps']} steps from {report['data']}")
    for line in summary_lines(result):
        print(line)
    print(f"run directory: {result.out}  ({', '.join(result.files)})")
    return 0
