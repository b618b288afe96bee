"""``lstmkit classify``: sequence classification from .ts, .tsv, .arff, CSV or Parquet files."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lstmkit.cli.common import (
    add_training_arguments,
    estimator_options,
    fraction_below,
    holds_run_dir,
    nonnegative_int,
    patch_steps,
    positive_int,
    trend_window,
    unit_fraction,
)

ENSEMBLE = 3  # ClassifierParams.ensemble and .augment (tests check that they agree)
AUGMENT = 0.0
DOWNSAMPLE_MODE = "fold"  # ClassifierParams.downsample_mode and .lstm_dropout (tests check these too)
LSTM_DROPOUT = 0.8
FOLD_SCALES = None  # ClassifierParams.fold_scales and .align_period (tests check that they agree)
ALIGN_PERIOD = True
PHASE_MEMBER = True  # ClassifierParams.phase_member (tests check that they agree)
FOLD_OFFSETS = None  # ClassifierParams.fold_offsets (None: 1, or 4 with the maximum chosen; tests check that they agree)
SCALING = "auto"  # ClassifierParams.scaling (tests check that they agree)
SERIES_STATS = True  # ClassifierParams.series_stats (tests check that they agree)
MASKED_NORM = True  # ClassifierParams.masked_norm (tests check that they agree)
CONV_KERNELS = (8, 5, 3)  # ClassifierParams.conv_kernels and .kernel_scales (tests check that they agree)
KERNEL_SCALES = None
CONV_SEGMENTS = None  # ClassifierParams.conv_segments (None: chosen by cross-validation) and .segment_dropout (tests check that they agree)
SEGMENT_DROPOUT = None
CONV_MAX = None  # ClassifierParams.conv_max (None: chosen with P; tests check that they agree)
LABEL_SMOOTHING = None  # ClassifierParams.label_smoothing (None: 0.1 with few series per class; tests check that they agree)
MIXUP = 0.0  # ClassifierParams.mixup (tests check that they agree)
PATCH_STEPS = 16  # ClassifierParams.patch_steps (tests check that they agree)
CHANNEL_BOTTLENECK = 128  # ClassifierParams.channel_bottleneck (tests check that they agree)
WARP_COPIES = None  # ClassifierParams.warp_copies (None: 9 / 4 where the median class has 1 / 2 series; tests check that they agree)


def kernel_sizes(text: str) -> tuple[int, ...]:
    """An argparse type for comma-separated whole numbers >= 1 (the error names the text given)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers >= 1, e.g. 8,5,3, got {text!r}")
    return values


def scales(text: str) -> tuple[float, ...]:
    """An argparse type for comma-separated numbers > 0 (the error names the text given)."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(0.0 < v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers > 0, e.g. 1,0.5,2, got {text!r}")
    return values


def segments(text: str) -> int | None:
    """An argparse type for ``--conv-segments``: ``auto`` (None: chosen on the training series)
    or a whole number >= 1 (the error names the text given)."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number >= 1, got {text!r}")
    return value


def dropout_or_auto(text: str) -> float | None:
    """An argparse type for ``--segment-dropout``: ``auto`` (None: chosen with P on the training
    series) or a number in [0, 1) (the error names the text given)."""
    if text.strip().lower() == "auto":
        return None
    return fraction_below(1.0)(text)


def copies_or_auto(text: str) -> int | None:
    """An argparse type for ``--warp-copies``: ``auto`` (None: by the median class's series,
    :func:`lstmkit.tasks.classify_augment.warp_copies_for`) or a whole number >= 0 (the error
    names the text given)."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number >= 0, got {text!r}")
    return value


def on_off_or_auto(text: str) -> bool | None:
    """An argparse type for ``--conv-max``: ``auto`` (None: chosen with P on the training series),
    ``on`` or ``off`` (the error names the text given)."""
    value = {"auto": None, "on": True, "off": False}.get(text.strip().lower(), "bad")
    if value == "bad":
        raise argparse.ArgumentTypeError(f"expected auto, on or off, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train an LSTM sequence classifier (LSTM-FCN: an LSTM branch beside a convolutional "
        "branch) on TRAIN and score it on TEST (or on a stratified "
        "split of TRAIN). Files: UCR/UEA .ts (univariate or multivariate, equal or unequal "
        "length), UCR .tsv (label first), ARFF (the class attribute last), CSV or Parquet (one row per sequence with a label "
        "column, or long format id/time/value). --dataset NAME loads a UCR/UEA data set that "
        "aeon ships (pip install 'lstmkit[datasets]')."
    )
    parser.add_argument("train", nargs="?", metavar="TRAIN", help="training file")
    parser.add_argument("test", nargs="?", metavar="TEST", help="test file (default: a stratified 25%% of TRAIN)")
    parser.add_argument("--dataset", default=None, metavar="NAME",
                        help="a UCR/UEA data set shipped with aeon, e.g. JapaneseVowels, GunPoint, ItalyPowerDemand")
    parser.add_argument("--label-column", default=None, metavar="COL", help="CSV label column (default label/class/target)")
    parser.add_argument("--id-column", default=None, metavar="COL", help="CSV id column (long format)")
    parser.add_argument("--time-column", default=None, metavar="COL", help="CSV time column (long format)")
    parser.add_argument("--missing", default="interpolate", choices=["interpolate", "refuse"],
                        help="a missing value inside a sequence: fill it by linear interpolation in time "
                             "(default) or refuse the file")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="predict TRAIN (the file to classify; or with --dataset NAME, that set's test split) with the model saved in DIR, without training")
    parser.add_argument("--pooling", default="mean", choices=["last", "mean", "attention"],
                        help="how the LSTM's outputs become one vector (default mean)")
    parser.add_argument("--hidden-size", type=positive_int, default=64, metavar="H", help="LSTM units (default 64)")
    parser.add_argument("--num-layers", type=positive_int, default=1, metavar="N", help="LSTM layers (default 1)")
    parser.add_argument("--unidirectional", action="store_true", help="read forward only (default: both directions)")
    parser.add_argument("--patch", type=patch_steps, default=None, metavar="K",
                        help="time steps per LSTM step, or 'series': the whole series one LSTM step "
                             "(LSTM-FCN's dimension shuffle; default: about --patch-steps LSTM steps per sequence)")
    parser.add_argument("--patch-steps", type=positive_int, default=PATCH_STEPS, metavar="S",
                        help=f"without --patch: cut the median sequence into about S LSTM steps (default "
                             f"{PATCH_STEPS})")
    parser.add_argument("--series-member", action="store_true",
                        help="the ensemble's last member (the last not reading the period's phases) reads the "
                             "whole series as one LSTM step, the others in patches (default: every member in "
                             "patches)")
    parser.add_argument("--values-branch", action=argparse.BooleanOptionalAction, default=None,
                        help="beside the LSTM and convolutional branches, a one-step LSTM reading each series' "
                             "values at fixed places (LSTM-FCN's dimension shuffle); default: on where the "
                             "cross-validation on the training series would mix the values in (see --values-mix), "
                             "which they then replace, else off")
    parser.add_argument("--downsample", type=positive_int, default=None, metavar="D",
                        help="make every D time steps one before both branches read the series "
                             "(default: D = round(median length / 128), at least 1, made a multiple of "
                             "the series' dominant period when that is strong and shorter than D)")
    parser.add_argument("--no-align-period", dest="align_period", action="store_false", default=ALIGN_PERIOD,
                        help="the default D stays round(median length / 128), whatever the series' period")
    parser.add_argument("--no-phase-member", dest="phase_member", action="store_false", default=PHASE_MEMBER,
                        help="where D is aligned to the series' period p, every member reads the folded series "
                             "(by default the last one reads the p phases of the period as channels of their "
                             "own, each standardised within its series)")
    parser.add_argument("--scaling", default=SCALING, choices=["auto", "global", "series"],
                        help="global: one mean and std per channel over the training set; series: every "
                             "series by its own; auto (the default): series when one global scale would leave "
                             "most training series nearly flat (std below 0.1 of the channel's), else global")
    parser.add_argument("--no-series-stats", dest="series_stats", action="store_false", default=SERIES_STATS,
                        help="series scaled by their own statistics do not also get those statistics (their "
                             "level and scale, as constant channels; default: they do)")
    parser.add_argument("--downsample-mode", default=DOWNSAMPLE_MODE, choices=["fold", "mean"],
                        help="fold: the D steps' values side by side in one step (D*C channels, nothing "
                             f"lost); mean: their average (default {DOWNSAMPLE_MODE})")
    parser.add_argument("--fold-scales", type=scales, default=FOLD_SCALES, metavar="S1,S2,..",
                        help="a multi-resolution ensemble: member m reads blocks of max(1, round(D * S_m)) "
                             "steps (the scales taken in turn, e.g. 1,0.5,2; no member in fewer than about 16 "
                             "blocks; 1 keeps every member at D; default: where D = 1 and the series are at "
                             "least 64 steps long, 1,2,4 or 1, whichever a 3-fold cross-validation on the "
                             "training series favours (two networks per fold, blocks of 4 against 1; 1,2,4 "
                             "unless 1 is better on both held-out log-loss and accuracy), else 1)")
    parser.add_argument("--fold-offsets", type=positive_int, default=FOLD_OFFSETS, metavar="N",
                        help="when D > 1, train on and average the predictions over N start offsets of the "
                             "blocks (0, D/N, 2D/N, .. steps dropped; whole periods when D is aligned to one), "
                             "at most D of them (default: 1, the blocks start at step 0 alone, or 4 where "
                             "the cross-validation takes the convolutions' maximum and D > 1)")
    parser.add_argument("--no-conv-branch", action="store_true",
                        help="the LSTM branch alone (default: LSTM-FCN, a convolutional branch beside the LSTM)")
    parser.add_argument("--conv-kernels", type=kernel_sizes, default=CONV_KERNELS, metavar="K1,K2,K3",
                        help="the convolutional branch's kernel widths, one per layer, in (downsampled) "
                             f"time steps (default {','.join(map(str, CONV_KERNELS))}, LSTM-FCN's); wider "
                             "kernels see longer shapes at once")
    parser.add_argument("--kernel-scales", type=scales, default=KERNEL_SCALES, metavar="S1,S2,..",
                        help="members with their own convolution widths: member m's kernels are "
                             "round(K * S_m) (the scales taken in turn; 1 gives every member K1,K2,K3; "
                             "default: 1,1.5,2 when the series are at least 64 (downsampled) steps long, "
                             "else 1)")
    parser.add_argument("--conv-segments", type=segments, default=CONV_SEGMENTS, metavar="P|auto",
                        help="the convolutional branch also averages its features over P equal parts of "
                             "every series (its begin, middle and end for P = 3), so the head learns where "
                             "a shape occurs as well as whether it does; 1: the average over the whole "
                             "series alone (LSTM-FCN's); default auto: 1 or 3 (and with 3, the parts' dropout 0 or "
                             "0.8), whichever a quick 3-fold cross-validation on TRAIN finds better in "
                             "both log-loss and accuracy, and better than 1 by more than one standard error "
                             "of the per-series log-loss differences (1 on a tie, or when a class has "
                             "fewer than 3 training series)")
    parser.add_argument("--segment-dropout", type=dropout_or_auto, default=SEGMENT_DROPOUT, metavar="R|auto",
                        help="dropout on the parts' averages before the head in training, as --lstm-dropout "
                             "on the LSTM's vector; default auto: 0 with --conv-segments P, and with "
                             "--conv-segments auto chosen beside P (P = 3 is tried with 0 and with 0.8)")
    parser.add_argument("--conv-max", type=on_off_or_auto, default=CONV_MAX, metavar="on|off|auto",
                        help="the convolutional branch's global maximum over time beside its global average, "
                             "so that a short shape anywhere in a long series weighs as much as a long one; "
                             "default auto: with --conv-segments auto, one more candidate of its "
                             "cross-validation (P = 1 with the maximum), else off")
    parser.add_argument("--channel-bottleneck", type=nonnegative_int, default=CHANNEL_BOTTLENECK, metavar="B",
                        help="where the networks read more than B channels (C; 2C with the trend split, 3C "
                             "with the series' statistics), both branches read every time "
                             "step's channels through a learned map to B (InceptionTime's bottleneck, a "
                             "spatial filter): the first convolution and the LSTM's input weights then cost "
                             f"B per step, not C; 0: never (default {CHANNEL_BOTTLENECK})")
    parser.add_argument("--lstm-dropout", type=fraction_below(1.0), default=LSTM_DROPOUT, metavar="P",
                        help="dropout on the LSTM branch's pooled vector before the head, beside the "
                             f"convolutional branch (LSTM-FCN's; default {LSTM_DROPOUT})")
    parser.add_argument("--label-smoothing", type=fraction_below(1.0), default=LABEL_SMOOTHING, metavar="E",
                        help="train against (1 - E) on the true class and E spread over all K classes "
                             "(default: 0, the plain cross-entropy, but 0.1 where the median class has 2 "
                             "training series, which the networks would learn by heart)")
    parser.add_argument("--warp-copies", type=copies_or_auto, default=WARP_COPIES, metavar="W",
                        help="train the networks on every series and W copies of it read along smooth random "
                             "time warps (the same shape, its parts a little earlier or later); auto: 9 where "
                             "the median class has one training series (nothing to hold out), 4 where it has "
                             "two unless a 2-fold cross-validation on them says the copies cost, else none "
                             f"(default {'auto' if WARP_COPIES is None else WARP_COPIES})")
    parser.add_argument("--mixup", type=_mixup_alpha, default=MIXUP, metavar="A",
                        help="mixup in training: every batch mixed with a shuffled copy of itself, "
                             "weight λ ~ Beta(A, A), the loss mixed alike (Zhang et al. 2018); "
                             f"default {MIXUP:g}" + (": off" if MIXUP == 0 else ""))
    parser.add_argument("--no-masked-norm", dest="masked_norm", action="store_false", default=MASKED_NORM,
                        help="the convolutions' BatchNorm statistics count the padding of unequal-length "
                             "batches, as torch's BatchNorm does (default: over the real steps alone, every "
                             "batch read up to its own longest series)")
    parser.add_argument("--masked-norm", dest="masked_norm", action="store_true",
                        help="over the real steps alone (the default; the flag is kept for scripts that give it)")
    parser.add_argument("--no-squeeze-excite", action="store_true",
                        help="no squeeze-and-excite gates in the convolutional branch")
    parser.add_argument("--ensemble", type=positive_int, default=ENSEMBLE, metavar="M",
                        help="networks trained together from their own random starts and averaged in "
                             f"probability (default {ENSEMBLE})")
    parser.add_argument("--augment", type=fraction_below(1.0), default=AUGMENT, metavar="F",
                        help="window slicing: train on random windows of (1 - F) of every sequence's "
                             f"length, read whole sequences to predict (default {AUGMENT}: off)")
    parser.add_argument("--trend-window", type=trend_window, default=None, metavar="W",
                        help="read every channel as two: its detail around a centred moving average of W "
                             "time steps, and that average (a slow wander, such as a random walk, apart "
                             "from faster shapes); 0: never; default: a candidate of the selection of P, "
                             "W = median length / 16")
    parser.add_argument("--summary-mix", type=unit_fraction, default=None, metavar="W",
                        help="mix the logistic regression on the 30 series features per channel (the "
                             "simple baseline's) into the prediction at weight W in [0, 1] ((1 - W) networks "
                             "+ W features); 0: never; default: chosen on the folds of the selection of P "
                             "(0, 0.25 or 0.5)")
    parser.add_argument("--values-mix", type=unit_fraction, default=None, metavar="V",
                        help="then mix the logistic regression on each channel's standardised values at "
                             "fixed places of the series (the val+LR baseline's) in at weight V in [0, 1] "
                             "((1 - V) model + V values); 0: never; default: chosen on the same folds "
                             "(0, 0.25 or 0.5)")
    parser.add_argument("--max-steps", type=positive_int, default=1000, metavar="N",
                        help="optimizer steps to train for (the epochs follow from the data size; "
                             "--max-epochs caps them; default 1000)")
    parser.add_argument("--val-fraction", type=fraction_below(0.5), default=0.0, metavar="F",
                        help="hold out this stratified fraction of TRAIN for early stopping "
                             "(default 0: keep the weights with the lowest training loss)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="do not fit the baselines (the majority class, logistic regressions on summary "
                             "statistics, on 30 series features and on the values at fixed places, MiniRocket when aeon "
                             "is installed) beside the model on the same split")
    add_training_arguments(parser, max_epochs=300, out_help="run directory (default runs/classify-<time>)")


def _read_args(args) -> dict:
    return {"label_column": args.label_column, "id_column": args.id_column, "time_column": args.time_column,
            "missing": args.missing}


def _read(path, args):
    """The sequences of ``path``, with one printed line when gaps inside them were filled."""
    from lstmkit.data.sequences import read_sequences
    from lstmkit.data.tables import plural

    data = read_sequences(path, **_read_args(args))
    if data.filled:
        print(f"{data.source}: filled {plural(data.filled, 'missing value')} inside "
              f"{plural(data.filled_sequences, 'sequence')} by linear interpolation in time "
              "(--missing refuse refuses them)")
    return data


def _places(places) -> str:
    """The values branch's places per member, one number where they agree."""
    places = list(places) if isinstance(places, (tuple, list)) else [places]
    return str(places[0]) if len(set(places)) == 1 else "/".join(str(q) for q in places)


@holds_run_dir("classify")
def run(args: argparse.Namespace) -> int:
    from lstmkit.cli.main import UsageError
    from lstmkit.data.sequences import load_dataset, stratified_split
    from lstmkit.errors import InputError
    from lstmkit.runs import default_run_dir, write_csv, write_json

    out = Path(args.out) if args.out else (Path(args.resume) if args.resume else default_run_dir("classify"))
    if args.series_member and not args.model and (args.ensemble < 2 or args.patch is not None):
        raise UsageError("--series-member needs --ensemble 2 or more and no --patch: the other members read "
                         f"the length rule's patches (got --ensemble {args.ensemble}"
                         + (f", --patch {args.patch})" if args.patch is not None else ")"))
    if args.model:
        if args.dataset and args.train:
            raise UsageError("give either the file to classify or --dataset NAME, not both")
        if not args.train and not args.dataset:
            raise UsageError("give the file to classify: lstmkit classify FILE --model DIR "
                             "(or --dataset NAME for the test split of an aeon set)")
        # the data first: bad input answers before torch loads
        data = load_dataset(args.dataset, "test") if args.dataset else _read(args.train, args)
        from lstmkit.tasks.classify import Classifier

        classifier = Classifier.load(args.model)
        frame = classifier.predictions_frame(data)
        write_csv(out / "predictions.csv", frame)
        unknown = [] if data.labels is None else sorted(set(data.classes) - set(classifier.classes))
        if data.labels is not None and not unknown:
            report = classifier.evaluate(data)
            write_json(out / "metrics.json", report)
            print(f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}")
        elif unknown:
            shown = ", ".join(repr(str(c)) for c in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            print(f"no accuracy: the labels of {data.source} include {shown}, not among the model's classes "
                  f"({', '.join(repr(str(c)) for c in classifier.classes)})")
        print(f"predicted {len(frame)} sequences -> {out}/predictions.csv")
        return 0

    if args.dataset and args.train:
        raise UsageError("give either --dataset NAME or TRAIN [TEST], not both")
    if args.dataset:
        train, test = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "test")
        source = f"aeon:{args.dataset}"
    elif args.train:
        train = _read(args.train, args)
        test = _read(args.test, args) if args.test else None
        source = args.train
    else:
        raise UsageError("give TRAIN [TEST] files or --dataset NAME (see lstmkit classify --help)")
    filled = {"train": train.filled, "test": test.filled if test is not None else 0}  # per file, before a split
    if test is None:
        from lstmkit.data.sequences import check_trainable

        check_trainable(train, min_per_class=2)
        # every class keeps the two sequences training needs (to learn it, to validate on it)
        train_idx, test_idx = stratified_split(train.labels, 0.25, seed=args.seed, min_train=2)
        if len(test_idx) == 0:
            raise InputError(f"{train.source}: no class has more than 2 sequences, so none can be held out for "
                             "a test split (training needs 2 of each); give a TEST file or more sequences")
        train, test = train.subset(train_idx), train.subset(test_idx)
    else:
        _check_test_fits(train, test)  # before training: a mismatch costs no training run

    import torch

    from lstmkit.tasks.classify import Classifier
    from lstmkit.tasks.classify_select import describe as describe_selection
    from lstmkit.tasks.classify_copies import describe_copies
    from lstmkit.tasks.classify_select import describe_resolution, describe_summary_mix

    started = time.perf_counter()
    classifier = Classifier(**estimator_options(Classifier, args, bidirectional=not args.unidirectional,
                                                conv_branch=not args.no_conv_branch,
                                                squeeze_excite=not args.no_squeeze_excite))
    classifier.fit(train, run_dir=out, resume_from=args.resume)
    if not classifier.fit_result.is_global_zero:
        return 0
    if classifier.segment_selection is not None:
        print(describe_selection(classifier.segment_selection))
    if classifier.resolution_selection is not None:
        print(describe_resolution(classifier.resolution_selection))
    if classifier.segment_selection is not None and classifier.segment_selection.get("summary_mix"):
        print(describe_summary_mix(classifier.segment_selection["summary_mix"]))
    if classifier.segment_selection is not None and classifier.segment_selection.get("values_mix"):
        print(describe_summary_mix(classifier.segment_selection["values_mix"]))
    if classifier.copies_selection is not None:
        print(describe_copies(classifier.copies_selection))
    if args.label_smoothing is None and classifier.label_smoothing > 0:
        print(f"label smoothing {classifier.label_smoothing:g}: the median class has 2 training series, which "
              f"the networks would learn by heart (--label-smoothing 0: off)")
    if classifier.warp_copies > 0:
        print(f"warped copies: the networks trained on every series and {classifier.warp_copies} time-warped "
              f"cop{'ies' if classifier.warp_copies > 1 else 'y'} of it ({len(train) * (1 + classifier.warp_copies)} "
              f"series; --warp-copies)")
    if args.values_branch:
        print(f"values branch: every network also reads each series' values at "
              f"{_places(classifier.net.config.values_places)} fixed places as one LSTM step (--values-branch)")
    mapped = [(m.bottleneck.in_features, m.bottleneck.out_features) for m in classifier.net.members
              if m.bottleneck is not None]
    if mapped:
        widths = "/".join(sorted({str(w) for w, _ in mapped}, key=int))
        print(f"channel bottleneck: {len(mapped)} of {len(classifier.net.members)} networks read the "
              f"{widths} channels of every step through a learned map to {mapped[0][1]} (--channel-bottleneck)")
    frame = classifier.predictions_frame(test)
    report = classifier.evaluate(test) if test.labels is not None else None

    classifier.save(out)
    write_csv(out / "predictions.csv", frame)
    metrics = {"data": source, "train_sequences": len(train), "test_sequences": len(test),
               "patch": classifier.patch, "downsample": classifier.downsample, "period": classifier.period,
               "phase_member": classifier.phase_member,
               "member_downsample": list(classifier.member_downsample),
               "member_patch": list(classifier.member_patch),
               "per_series_scaling": classifier.per_series, "series_stats": classifier.stats_mean is not None,
               "masked_norm": classifier.params.masked_norm,
               "conv_segments": classifier.net.config.conv_segments,
               "segment_dropout": classifier.net.config.segment_dropout,
               "conv_max": classifier.net.config.conv_max, "trend_window": classifier.trend_window,
               "label_smoothing": classifier.label_smoothing, "warp_copies": classifier.warp_copies,
               "summary_mix": classifier.summary_mix,
               "values_mix": classifier.values_mix, "values_branch": classifier.values_branch,
               "channel_bottleneck": [None if m.bottleneck is None else m.bottleneck.out_features
                                      for m in classifier.net.members],
               "member_offsets": classifier.member_offsets,
               "segment_selection": classifier.segment_selection,
               "resolution_selection": classifier.resolution_selection,
               "copies_selection": classifier.copies_selection,
               "conv_kernels": ([list(m.config.conv_kernels) for m in classifier.net.members]
                                if classifier.net.config.conv_branch else None),
               "filled_missing_values": filled,
               "epochs": classifier.fit_result.epochs,
               "backends": dict(classifier.net.encoder.backend_counts),
               "threads": torch.get_num_threads(),
               "seconds": round(time.perf_counter() - started, 2)}
    if report is not None:
        metrics.update(report)
        _confusion_plot(report, out / "confusion_matrix.png")
        print(f"{'class':<16}{'precision':>10}{'recall':>10}{'support':>9}")
        for name, row in report["per_class"].items():
            print(f"{name:<16}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['support']:>9}")
        print(f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  "
              f"({len(test)} test sequences, {metrics['seconds']:.1f} s)")
        if not args.no_baseline:
            metrics["baselines"] = _simple_baselines(train, test, report["accuracy"])
            baseline = _minirocket(train, test, args.seed, report["accuracy"])
            if baseline is not None:
                metrics["baselines"]["minirocket"] = baseline
    else:  # an earlier run's matrix in this directory would not be this data's
        (out / "confusion_matrix.png").unlink(missing_ok=True)
        print(f"predicted {len(test)} sequences (the test file has no labels: no accuracy)")
    write_json(out / "metrics.json", metrics)
    plot = "confusion_matrix.png, " if report is not None else ""
    print(f"run directory: {out}  (metrics.json, predictions.csv, {plot}model)")
    return 0


def _check_test_fits(train, test) -> None:
    """Refuse a test file the trained model could not score: other channels than the training
    file's, or a label that no training sequence has (named with its sequence and column, and
    a training label it may be a spelling of: '1.0' for '1', 'Walking' for 'walking')."""
    from lstmkit.errors import InputError

    if test.n_channels != train.n_channels:
        raise InputError(f"{test.source}: the sequences have {test.n_channels} channel"
                         f"{'s' if test.n_channels != 1 else ''}; those of {train.source} have "
                         f"{train.n_channels}: give a test file with the same channels")
    if test.labels is None:
        return
    known = set(train.classes)
    unseen = [k for k, label in enumerate(test.labels.tolist()) if label not in known]
    if not unseen:
        return
    k = unseen[0]
    label = str(test.labels[k])
    column = f", column {test.label_column!r}" if test.label_column else ""
    others = len({str(test.labels[i]) for i in unseen}) - 1
    more = f" ({others} more such label{'s' if others != 1 else ''})" if others else ""
    classes = ", ".join(repr(str(c)) for c in train.classes[:12]) + (", ..." if len(train.classes) > 12 else "")
    raise InputError(f"{test.source}: sequence {test.ids[k]}{column}: label {label!r}{more} does not occur in "
                     f"{train.source} (its classes: {classes}){_spelling_hint(label, train.classes)}; "
                     "a test label must be one the model can predict (to classify new data without "
                     "scoring it, train first, then --model DIR)")


def _spelling_hint(label: str, classes) -> str:
    """'; did you mean X?' where a training class is the same number or the same text but for case."""
    for cls in classes:
        cls = str(cls)
        if cls.casefold() == label.casefold().strip():
            return f"; did you mean {cls!r}?"
        try:
            if float(cls) == float(label):
                return f"; did you mean {cls!r}?"
        except ValueError:
            pass
    return ""


def _simple_baselines(train, test, accuracy: float) -> dict:
    """The majority class and three logistic regressions on the same split, one on each channel's
    summary statistics (the values' distribution alone), one on its 30 series features (their
    order too: moments, autocorrelation, spectrum, thirds) and one on its standardised values at
    fixed places of the series (where a shape lies: ``classify_baselines.series_values``), printed
    under the model's accuracy, with a line saying so where one is level with it or above."""
    from lstmkit.tasks.classify_baselines import majority_baseline, summary_statistics_baseline

    try:
        majority = majority_baseline(train, test)
        summary = summary_statistics_baseline(train, test)
        series = summary_statistics_baseline(train, test, features="series")
        values = summary_statistics_baseline(train, test, features="values")
    except Exception as exc:  # noqa: BLE001 - a failing baseline must not lose the trained model's run
        print(f"simple baselines failed ({type(exc).__name__}: {exc}); the model's results stand")
        return {}
    print(f"simple baselines: majority class ({majority['class']}) accuracy {majority['accuracy']:.4f}; "
          f"each channel's mean, std, 10/50/90th percentiles and step std with a logistic regression "
          f"{summary['accuracy']:.4f}  ({summary['seconds']:.1f} s); with its moments, autocorrelation, "
          f"spectrum and thirds as well (30 series features) {series['accuracy']:.4f}  ({series['seconds']:.1f} s); "
          f"on each channel's standardised values at {values['points']} places of the series "
          f"{values['accuracy']:.4f}  ({values['seconds']:.1f} s)")
    best = max((majority, "the majority class"), (summary, "the summary-statistics baseline"),
               (series, "the series-features baseline"), (values, "the values baseline"),
               key=lambda pair: pair[0]["accuracy"])
    if best[0]["accuracy"] >= accuracy:
        print(f"note: {best[1]} is {'level with' if best[0]['accuracy'] == accuracy else 'above'} the model "
              f"here ({best[0]['accuracy']:.4f} against {accuracy:.4f})")
    return {"majority_class": majority, "summary_statistics": summary, "series_features": series,
            "series_values": values}


def _minirocket(train, test, seed: int, accuracy: float | None = None) -> dict | None:
    """MiniRocket (aeon) fitted on the same train split and scored on the same test split,
    printed under the model's accuracy (with a note where it is above the model's ``accuracy``);
    None, with one printed line, when it cannot run. Unequal-length series are padded as
    ``benchmarks/bench_classify.py`` pads them."""
    from lstmkit.tasks.classify_baselines import BaselineSkipped, minirocket_baseline

    try:  # unequal lengths: each series padded with its last value to the longest training series
        result = minirocket_baseline(train, test, seed=seed, pad=True)
    except BaselineSkipped as why:
        print(f"MiniRocket baseline skipped: {why}")
        return None
    except Exception as exc:  # noqa: BLE001 - a failing baseline must not lose the trained model's run
        print(f"MiniRocket baseline failed ({type(exc).__name__}: {exc}); the model's results stand")
        return None
    padded = (f", series padded to {result['padded_to']} steps with their last value"
              if result["padded_to"] is not None else "")
    print(f"MiniRocket (aeon) accuracy {result['accuracy']:.4f}  ({result['seconds']:.1f} s, "
          f"same train and test split{padded})")
    if accuracy is not None and result["accuracy"] > accuracy:
        print(f"note: MiniRocket is above the model here ({result['accuracy']:.4f} against {accuracy:.4f})")
    return result


def _confusion_plot(report: dict, path: Path) -> None:
    import numpy as np

    from lstmkit.report.plots import pyplot
    from lstmkit.runs import atomic_path

    plt = pyplot()
    matrix = np.asarray(report["confusion_matrix"])
    classes = report["classes"]
    size = max(4, 0.5 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {report['accuracy']:.3f}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _mixup_alpha(text: str) -> float:
    """``--mixup``'s α: a finite number >= 0 (0: off)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0.0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number >= 0 (0: off), got {text!r}")
    return value
