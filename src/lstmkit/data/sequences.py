"""Reading and validating labelled sequences for ``lstmkit classify``, once, at the door.

:func:`read_sequences` reads variable-length multivariate sequences, one class label each
(or none, for data to predict), and returns a :class:`SequenceData`. It reads:

* **UCR/UEA ``.ts``** files (the sktime/aeon format): header lines ``@problemName``,
  ``@timeStamps``, ``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``,
  ``@seriesLength``, ``@classLabel true <labels...>`` (or ``@targetLabel``), then ``@data``
  and one case per line: the dimensions separated by ``:``, the values of a dimension by
  ``,``, the class label last. Lines starting with ``#`` or ``%`` are comments. With
  ``@timeStamps true`` a dimension is ``(time,value),(time,value),...`` and only the values are
  kept. Tag names are read without regard to case, as aeon does; labels keep their case
  (aeon's own loader lower-cases them).
* **UCR ``.tsv``** files (``.txt``, and ``.csv`` with ``format="ucr"``): no header, the class
  label in the first column and the values after it, separated by tabs, commas or (the old
  2015 archive) spaces.
* **CSV** (with a header) and **Parquet** tables, *wide* (one row per sequence: a label
  column, an optional id column, then one column per time step, univariate) or *long*
  (many rows per sequence: an id column, a time column, one column per channel, and a label
  that must be the same on every row of a sequence).

Missing values (``?``, ``NaN``, an empty cell, ``NA``, ...) are accepted only as trailing
padding of a shorter sequence (how the UCR archive stores unequal lengths; aeon keeps the
NaN, this reader cuts them off); a missing value inside a sequence is refused. Infinite
values are refused.

Everything that is wrong raises :class:`lstmkit.errors.InputError` with one line naming the
file, the line or row, the column or dimension. Rows are numbered as a spreadsheet shows them:
in a text file the row number is the line number (a CSV header is row 1); in a Parquet file
the first data row is row 1.

:func:`load_dataset` reads the UCR/UEA classification data sets that the optional package
aeon (``pip install aeon``, or ``lstmkit[datasets]``) ships in its wheel, with this reader.

This module imports pandas and numpy, never torch.
"""

from __future__ import annotations

import difflib
import importlib.util
import io
import math
import os
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np
import pandas as pd

from lstmkit.data.text import decode_utf8, read_file_bytes
from lstmkit.errors import InputError

__all__ = [
    "FORMATS",
    "SequenceData",
    "available_datasets",
    "check_trainable",
    "load_dataset",
    "read_sequences",
    "sort_labels",
    "stratified_split",
]

#: Accepted values of ``format`` in :func:`read_sequences`.
FORMATS = ("ts", "ucr", "csv", "parquet")
#: Cell texts read as a missing value (compared without case and surrounding spaces).
MISSING_TOKENS = frozenset({"", "?", "na", "n/a", "#n/a", "nan", "null", "none"})
#: Column names taken as the label column when none is named (compared without case).
LABEL_CANDIDATES = ("label", "class", "target")

_FORMAT_ALIASES = {"ts": "ts", "ucr": "ucr", "tsv": "ucr", "txt": "ucr", "csv": "csv", "parquet": "parquet", "pq": "parquet"}
_SUFFIX_FORMAT = {".ts": "ts", ".tsv": "ucr", ".txt": "ucr", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_OTHER_FORMATS = {
    ".arff": "an ARFF file (use the .ts version of the data set, or convert it)",
    ".xlsx": "an Excel workbook (save it as CSV)",
    ".xls": "an Excel workbook (save it as CSV)",
    ".json": "a JSON file",
    ".npy": "a NumPy array file",
    ".npz": "a NumPy archive",
    ".pkl": "a pickle",
    ".h5": "an HDF5 file",
    ".wav": "an audio file (extract features such as MFCCs first and save them as a long CSV)",
}
_TS_TAGS = (
    "problemname",
    "timestamps",
    "missing",
    "univariate",
    "dimensions",
    "equallength",
    "serieslength",
    "classlabel",
    "targetlabel",
    "data",
)
_TS_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")

PathOrFrame = Union[str, "os.PathLike[str]", pd.DataFrame]


# --------------------------------------------------------------------------- the container


@dataclass
class SequenceData:
    """Validated sequences with their class labels.

    Attributes:
        sequences: one float32 array ``(length_i, n_channels)`` per sequence; lengths may
            differ, no value is missing or infinite.
        labels: the class label of each sequence (a numpy array of ``str``), or None when
            the input has no labels (data to predict).
        classes: the distinct labels, sorted (numerically when every label is a number, so
            ``"2"`` comes before ``"10"``); empty when there are no labels.
            :meth:`subset` keeps it whole.
        channel_names: one name per channel: ``dim_1 .. dim_N`` for ``.ts``, ``value`` for
            ``.tsv`` and wide tables, the value columns for long tables.
        source: the file as the user named it (or ``"DataFrame"``), for messages.
        ids: one identifier per sequence (a numpy array of ``str``), for predictions: the id
            column's value when there is one, else the line (row) where the sequence is in
            the file, numbered as the messages number it.
        problem_name: ``@problemName`` of a ``.ts`` file, else None.
        declared_classes: the labels a ``.ts`` file declares with ``@classLabel``, in file
            order, else None.
        columns: the columns of a table (CSV, Parquet, DataFrame), else ``()``.
        label_column: the table column the labels came from, else None.
    """

    sequences: list[np.ndarray]
    labels: np.ndarray | None
    classes: list[str]
    channel_names: list[str]
    source: str = "DataFrame"
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    problem_name: str | None = None
    declared_classes: tuple[str, ...] | None = None
    columns: tuple[str, ...] = ()
    label_column: str | None = None

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        """The length (number of time steps) of each sequence, int64."""
        return np.array([len(s) for s in self.sequences], dtype=np.int64)

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def has_labels(self) -> bool:
        return self.labels is not None

    def subset(self, indices: Sequence[int] | np.ndarray) -> "SequenceData":
        """The sequences at ``indices`` (in that order); :attr:`classes` stays whole."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        return replace(
            self,
            sequences=[self.sequences[i] for i in idx.tolist()],
            labels=None if self.labels is None else self.labels[idx],
            ids=self.ids[idx],
            classes=list(self.classes),
        )

    def label_indices(self, classes: Sequence[str] | None = None) -> np.ndarray:
        """The position of each label in ``classes`` (default :attr:`classes`), int64.

        Raises:
            InputError: the data has no labels, or a label is not among ``classes`` (a class
                the model was not trained on), naming the label and its sequence.
        """
        if self.labels is None:
            raise InputError(f"{self.source}: has no class labels; {_label_hint(self)}")
        classes = list(self.classes if classes is None else classes)
        lookup = {c: i for i, c in enumerate(classes)}
        out = np.empty(len(self.labels), dtype=np.int64)
        for k, lab in enumerate(self.labels.tolist()):
            i = lookup.get(lab)
            if i is None:
                raise InputError(
                    f"{self.source}: sequence {self.ids[k]} has class {lab!r}, which is not among the "
                    f"{len(classes)} classes the model knows ({_show(classes)}); "
                    "leave it out or train on data that has it"
                )
            out[k] = i
        return out

    def pad(self, value: float = 0.0) -> np.ndarray:
        """All sequences in one float32 array ``(n, max_length, n_channels)``, the shorter
        ones padded at the end with ``value`` (see :attr:`lengths`)."""
        n, c = len(self.sequences), self.n_channels
        longest = int(self.lengths.max()) if n else 0
        out = np.full((n, longest, c), value, dtype=np.float32)
        for i, s in enumerate(self.sequences):
            out[i, : len(s)] = s
        return out


def _label_hint(data: SequenceData) -> str:
    if data.columns:
        return (
            f"name the column that holds them (--label-column; columns: {_show(data.columns)})"
        )
    if data.problem_name is not None or str(data.source).lower().endswith(".ts"):
        return "a .ts file needs '@classLabel true <labels>' and the label at the end of each case"
    return "give a file with a label per sequence"


def _show(items: Iterable, limit: int = 12) -> str:
    items = [str(x) for x in items]
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def sort_labels(labels: Iterable[str]) -> list[str]:
    """Distinct labels sorted: as numbers when every one is a number, else as text."""
    uniq = sorted(set(labels))
    try:
        values = [float(x) for x in uniq]
    except ValueError:
        return uniq
    if any(math.isnan(v) for v in values):
        return uniq
    return [x for _, x in sorted(zip(values, uniq))]


# --------------------------------------------------------------------------- checks and splits


def check_trainable(data: SequenceData, min_per_class: int = 2) -> None:
    """Refuse training data a classifier cannot learn from.

    Raises:
        InputError: the data has no labels, has only one class, or a class has fewer than
            ``min_per_class`` sequences (one is needed to learn it, one to validate it),
            naming the class and its sequences.
    """
    src = data.source
    if len(data) == 0:
        raise InputError(f"{src}: holds no sequences; a classifier needs labelled sequences to train on")
    if data.labels is None:
        raise InputError(f"{src}: has no class labels, which training needs; {_label_hint(data)}")
    classes, counts = np.unique(data.labels, return_counts=True)
    if len(classes) < 2:
        raise InputError(
            f"{src}: every one of the {_plural(len(data), 'sequence')} has class {str(classes[0])!r}; "
            "a classifier needs at least 2 classes to tell apart"
        )
    few = [(str(c), int(k)) for c, k in zip(classes, counts) if k < min_per_class]
    if few:
        order = {c: i for i, c in enumerate(sort_labels(c for c, _ in few))}
        few.sort(key=lambda ck: order[ck[0]])
        cls, k = few[0]
        where = data.ids[data.labels == cls]
        more = ""
        if len(few) > 1:
            others = ", ".join(repr(c) for c, _ in few[1:4]) + (", ..." if len(few) > 4 else "")
            more = f"; {len(few) - 1} more class{'es' if len(few) > 2 else ''} too ({others})"
        ids = ", ".join(map(str, where[:3])) + (", ..." if len(where) > 3 else "")
        raise InputError(
            f"{src}: class {cls!r} has only {_plural(k, 'sequence')} ({'id' if k == 1 else 'ids'} {ids}){more}; each class needs at least "
            f"{min_per_class} (to learn it and to validate on it): add examples or leave the class out"
        )


def stratified_split(
    labels: Sequence[str] | np.ndarray, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into ``(train_idx, test_idx)``, keeping the class proportions.

    About ``test_fraction`` of each class goes to the test part (rounded so the total is
    ``round(n * test_fraction)`` where the classes allow it); a class with at least 2
    sequences has at least one in each part; a class with one sequence goes to training.
    The same labels and seed give the same split. Both arrays are sorted int64.

    Raises:
        InputError: ``test_fraction`` is not strictly between 0 and 1.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise InputError(f"the test fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    labels = np.asarray(labels).astype(str)
    n = len(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    ideal = counts * float(test_fraction)
    lo = np.where(counts >= 2, 1, 0)
    hi = np.where(counts >= 2, counts - 1, 0)
    take = np.clip(np.floor(ideal).astype(np.int64), lo, hi)
    target = int(round(n * float(test_fraction)))
    # largest remainders first, then smallest classes' shortfall: reach the target total
    order = np.argsort(-(ideal - np.floor(ideal)), kind="stable")
    for c in order:
        if take.sum() >= target:
            break
        if take[c] < hi[c]:
            take[c] += 1
    rng = np.random.default_rng(seed)
    test = []
    for c in range(len(classes)):
        members = np.flatnonzero(inverse == c)
        if take[c]:
            test.append(rng.choice(members, size=int(take[c]), replace=False))
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[test_idx] = False
    return np.flatnonzero(mask).astype(np.int64), test_idx.astype(np.int64)


# --------------------------------------------------------------------------- dispatch


def read_sequences(
    path: PathOrFrame,
    *,
    label_column: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    value_columns: Sequence[str] | None = None,
    format: str | None = None,
) -> SequenceData:
    """Read and validate labelled sequences from a file (or a DataFrame).

    Args:
        path: a ``.ts``, ``.tsv``/``.txt`` (UCR, no header), ``.csv`` or ``.parquet`` file,
            possibly gzip-compressed (``data.ts.gz``), or a pandas DataFrame (read as a table).
        label_column: the table column holding the class labels. Default: a column named
            ``label``, ``class`` or ``target`` (any case) if there is one, else no labels.
        id_column: the table column naming the sequences. Default: ``id`` (any case) if
            present. Required, with ``time_column``, for long tables.
        time_column: the column ordering the rows of a sequence in a long table (numbers or
            dates). Default: ``time`` (any case) if present together with an id column.
        value_columns: the value columns of a table: the channels (long) or the time steps
            (wide), in order. Default: every other column holding numbers (columns with
            no number at all, such as a text note, are left out).
        format: one of :data:`FORMATS` (or ``"tsv"``); default from the file name's suffix,
            or Parquet when the file starts with Parquet's magic bytes.

    Returns:
        A :class:`SequenceData`.

    Raises:
        InputError: one line naming the file, the line/row and the column/dimension.
    """
    table_args = dict(label_column=label_column, id_column=id_column, time_column=time_column, value_columns=value_columns)
    if isinstance(path, pd.DataFrame):
        if format not in (None, "csv", "parquet"):
            raise InputError(f"format {format!r} does not apply to a DataFrame; it is read as a table")
        if path.index.names != [None] and not isinstance(path.index, pd.RangeIndex):
            path = path.reset_index()  # a named index (an id, a time) becomes a column
        return _read_table(path.reset_index(drop=True), _Src("DataFrame", "frame", path.index), **table_args)
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"expected a file path or a pandas DataFrame, got {type(path).__name__}")
    name = str(path)
    fmt = _choose_format(Path(path), name, format)
    if fmt == "parquet":
        return _read_parquet(Path(path).expanduser(), name, **table_args)
    expected = {"ts": "a .ts file", "ucr": "a UCR .tsv file", "csv": "a CSV file"}[fmt]
    data = read_file_bytes(path, expected + " (UTF-8 text)", name)
    if data.startswith(b"PAR1"):
        return _read_parquet(Path(path).expanduser(), name, **table_args)
    if data.startswith(b"PK\x03\x04"):
        raise InputError(f"{name}: is a ZIP archive (an Excel workbook?), not text; expected {expected}")
    text = decode_utf8(data, name, expected + " (UTF-8 text)")
    if fmt == "ts":
        _no_table_args(name, "a .ts file", table_args)
        return _read_ts(text, name)
    if fmt == "ucr":
        _no_table_args(name, "a UCR file (label first, then the values, no header)", table_args)
        return _read_ucr(text, name)
    frame = _parse_csv(text, name)
    return _read_table(frame, _Src(name, "csv"), **table_args)


def _no_table_args(name: str, what: str, args: dict) -> None:
    given = [k for k, v in args.items() if v is not None]
    if given:
        raise InputError(
            f"{name}: {given[0]} applies to CSV and Parquet tables, and this is {what}, which has no named columns"
        )


def _choose_format(path: Path, name: str, format: str | None) -> str:
    if format is not None:
        fmt = _FORMAT_ALIASES.get(str(format).lower().lstrip("."))
        if fmt is None:
            raise InputError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _SUFFIX_FORMAT:
        return _SUFFIX_FORMAT[suffix]
    if suffix in _OTHER_FORMATS:
        raise InputError(f"{name}: is {_OTHER_FORMATS[suffix]}; expected a .ts, .tsv, .csv or .parquet file")
    try:
        with open(path.expanduser(), "rb") as fh:
            if fh.read(4) == b"PAR1":
                return "parquet"
    except OSError:
        pass
    if not path.expanduser().exists():
        read_file_bytes(path, "a .ts, .tsv, .csv or .parquet file", name)  # raises: no such file
    raise InputError(
        f"{name}: cannot tell the format from the name{f' ({suffix})' if suffix else ''}; "
        "name it .ts, .tsv, .csv or .parquet, or pass the format (ts, ucr, csv or parquet)"
    )


# --------------------------------------------------------------------------- cell parsing


def _parse_tokens(tokens: list[str]) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Numbers of ``tokens``: ``(values, missing, first_bad)``; values are NaN where missing
    and ``first_bad`` is the position of the first token that is not a number (or None)."""
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = np.empty(len(tokens), dtype=np.float64)
        for k, tok in enumerate(tokens):
            t = tok.strip()
            if t.lower() in MISSING_TOKENS:
                values[k] = np.nan
                continue
            try:
                values[k] = float(t)
            except ValueError:
                return values, np.isnan(values), k
    return values, np.isnan(values), None


_NUMBER_OR_MISSING = "a number"


def _trailing_trim(missing: np.ndarray) -> tuple[int, tuple[int, int] | None]:
    """For a ``(channels, steps)`` missing mask: the length left once the steps missing in
    every channel at the end are cut, and the first missing ``(channel, step)`` before that
    (None if there is none)."""
    present = ~missing.all(axis=0)
    if not present.any():
        return 0, None
    keep = int(np.flatnonzero(present)[-1]) + 1
    inner = missing[:, :keep]
    if inner.any():
        c, t = np.argwhere(inner.T)[0][::-1]  # first by step, then channel
        return keep, (int(c), int(t))
    return keep, None


# --------------------------------------------------------------------------- .ts files


def _bool_tag(value: str) -> bool | None:
    v = value.lower()
    return True if v == "true" else False if v == "false" else None


def _read_ts(text: str, name: str) -> SequenceData:
    lines = text.split("\n")

    def fail(line_no: int | None, message: str) -> InputError:
        return InputError(f"{name}: {f'line {line_no}: ' if line_no else ''}{message}")

    meta: dict[str, object] = {}
    tag_line: dict[str, int] = {}
    data_at = None
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s or s[0] in "#%":
            continue
        n = i + 1
        if not s.startswith("@"):
            raise fail(
                n,
                f"{_clip(s)!r} comes before the @data line; a .ts file has header lines "
                "(@problemName, @classLabel, ...), then @data, then one case per line",
            )
        parts = s.split()
        tag = parts[0][1:].lower()
        args = parts[1:]
        if tag == "data":
            if args:
                raise fail(n, "@data takes no value; the cases start on the next line")
            data_at = i
            break
        if tag not in _TS_TAGS:
            close = difflib.get_close_matches(tag, _TS_TAGS, n=1)
            hint = f" (did you mean @{_TAG_SPELLING[close[0]]}?)" if close else ""
            raise fail(
                n,
                f"unknown header tag {parts[0]!r}{hint}; known tags: "
                + ", ".join("@" + _TAG_SPELLING[t] for t in _TS_TAGS),
            )
        tag_line[tag] = n
        spelled = "@" + _TAG_SPELLING[tag]
        if tag in _TS_BOOLEAN_TAGS:
            value = _bool_tag(args[0]) if len(args) == 1 else None
            if value is None:
                raise fail(n, f"{spelled} takes true or false, got {' '.join(args) or 'nothing'!r}")
            meta[tag] = value
        elif tag in ("dimensions", "serieslength"):
            if len(args) != 1 or not args[0].isdigit() or int(args[0]) < 1:
                raise fail(n, f"{spelled} takes a whole number of at least 1, got {' '.join(args) or 'nothing'!r}")
            meta[tag] = int(args[0])
        elif tag == "problemname":
            meta[tag] = " ".join(args)
        elif tag == "classlabel":
            value = _bool_tag(args[0]) if args else None
            if value is None:
                raise fail(n, f"@classLabel takes true followed by the labels, or false; got {' '.join(args) or 'nothing'!r}")
            if value and len(args) < 2:
                raise fail(n, "@classLabel true must be followed by the class labels, e.g. '@classLabel true 1 2 3'")
            if not value and len(args) > 1:
                raise fail(n, "@classLabel false takes no labels")
            labels = tuple(args[1:])
            dup = [x for k, x in enumerate(labels) if x in labels[:k]]
            if dup:
                raise fail(n, f"@classLabel declares {dup[0]!r} twice")
            meta["classlabel"] = value
            meta["class_values"] = labels
    if data_at is None:
        raise fail(
            None,
            "has no @data line; a .ts file has header lines (@problemName, @classLabel true <labels>, ...), "
            "then @data, then one case per line",
        )
    if meta.get("targetlabel"):
        raise fail(
            tag_line["targetlabel"],
            "@targetLabel true: this is a regression problem (numeric targets), not classification; "
            "lstmkit classify needs @classLabel true <labels>",
        )
    dims = meta.get("dimensions")
    dims_from = "@dimensions"
    if meta.get("univariate") is True:
        if dims is not None and dims != 1:
            raise fail(tag_line["dimensions"], f"@dimensions {dims} contradicts @univariate true")
        dims, dims_from = 1, "@univariate true"
    timestamps = bool(meta.get("timestamps", False))
    equal = meta.get("equallength") is True
    series_length = meta.get("serieslength") if equal else None
    has_label = meta.get("classlabel")  # None: not declared
    declared = meta.get("class_values") if has_label else None
    declared_set = set(declared) if declared else None

    sequences: list[np.ndarray] = []
    labels: list[str] = []
    ids: list[str] = []
    first_length: tuple[int, int] | None = None  # (length, line) for @equalLength
    for i in range(data_at + 1, len(lines)):
        s = lines[i].strip()
        if not s or s[0] in "#%":
            continue
        n = i + 1
        if timestamps and not s.startswith("("):
            raise fail(n, "dimension 1 is not a list of (time,value) pairs, as @timeStamps true requires")
        parts = _ts_split(s, timestamps)
        if has_label is None:  # aeon's default: the last part is a label when the count says so
            if dims is not None:
                has_label = len(parts) == dims + 1
            else:
                has_label = len(parts) > 1
        got = len(parts) - (1 if has_label else 0)
        if dims is None:
            dims, dims_from = got, f"the first case (line {n})"
        if got != dims:
            after = "; the class label comes last" if has_label else ""
            raise fail(
                n,
                f"the case has {_plural(got, 'dimension')} (separated by ':'), expected {dims} "
                f"(from {dims_from}){after}",
            )
        label = None
        if has_label:
            label = parts[-1].strip()
            if not label:
                raise fail(n, "the class label (after the last ':') is empty")
            if declared_set is not None and label not in declared_set:
                near = [d for d in declared if d.lower() == label.lower()]
                hint = f" (labels are case-sensitive: {near[0]!r}?)" if near else ""
                raise fail(
                    n,
                    f"class label {label!r} is not declared by @classLabel ({_show(declared)}){hint}; "
                    "add it there or fix the label",
                )
        rows = []
        masks = []
        for d in range(dims):
            tokens = _ts_values(parts[d], timestamps, name, n, d)
            values, missing, bad = _parse_tokens(tokens)
            if bad is not None:
                raise fail(
                    n,
                    f"dimension {d + 1}, value {bad + 1}: {_clip(tokens[bad].strip())!r} is not {_NUMBER_OR_MISSING}",
                )
            if d and len(values) != len(rows[0]):
                raise fail(
                    n,
                    f"dimension {d + 1} has {_plural(len(values), 'value')} but dimension 1 has {len(rows[0])}; "
                    "the dimensions of a case must have the same length",
                )
            rows.append(values)
            masks.append(missing)
        raw_length = len(rows[0])
        if equal:
            if series_length is not None and raw_length != series_length:
                raise fail(n, f"the case has {_plural(raw_length, 'value')} per dimension but @seriesLength is {series_length}")
            if first_length is None:
                first_length = (raw_length, n)
            elif raw_length != first_length[0]:
                raise fail(
                    n,
                    f"the case has {_plural(raw_length, 'value')} per dimension but the first case (line {first_length[1]}) "
                    f"has {first_length[0]}, and @equalLength is true; set @equalLength false if lengths differ",
                )
        values = np.vstack(rows)
        keep, hole = _trailing_trim(np.vstack(masks))
        if keep == 0:
            raise fail(n, "the case has no values (every value is missing); a sequence needs at least one")
        if hole is not None:
            c, t = hole
            raise fail(
                n,
                f"dimension {c + 1}, value {t + 1}: missing value inside the sequence; only trailing padding "
                "of a shorter sequence may be missing: fill it in (e.g. interpolate) or leave the case out",
            )
        values = values[:, :keep]
        inf = ~np.isfinite(values)
        if inf.any():
            c, t = np.argwhere(inf)[0]
            raise fail(n, f"dimension {c + 1}, value {t + 1}: {values[c, t]} is not a finite number")
        sequences.append(np.ascontiguousarray(values.T, dtype=np.float32))
        if has_label:
            labels.append(label)
        ids.append(str(n))
    if not sequences:
        raise fail(data_at + 1, "@data is followed by no cases; expected one case per line after it")
    lab = np.array(labels, dtype=str) if has_label else None
    return SequenceData(
        sequences=sequences,
        labels=lab,
        classes=sort_labels(labels) if has_label else [],
        channel_names=[f"dim_{d + 1}" for d in range(dims)],
        source=name,
        ids=np.array(ids, dtype=str),
        problem_name=meta.get("problemname"),  # type: ignore[arg-type]
        declared_classes=tuple(declared) if declared else None,
    )


_TAG_SPELLING = {
    "problemname": "problemName",
    "timestamps": "timeStamps",
    "missing": "missing",
    "univariate": "univariate",
    "dimensions": "dimensions",
    "equallength": "equalLength",
    "serieslength": "seriesLength",
    "classlabel": "classLabel",
    "targetlabel": "targetLabel",
    "data": "data",
}
_TIMESTAMP_DIM_SPLIT = re.compile(r"(?<=\))\s*:")
_TIMESTAMP_PAIR = re.compile(r"\(([^()]*)\)")


def _ts_split(line: str, timestamps: bool) -> list[str]:
    if not timestamps:
        return line.split(":")
    return _TIMESTAMP_DIM_SPLIT.split(line)


def _ts_values(part: str, timestamps: bool, name: str, n: int, d: int) -> list[str]:
    if not timestamps:
        return part.split(",")
    pairs = _TIMESTAMP_PAIR.findall(part)
    rest = _TIMESTAMP_PAIR.sub("", part).replace(",", "").strip()
    if not pairs or rest:
        raise InputError(
            f"{name}: line {n}: dimension {d + 1} is not a list of (time,value) pairs, as @timeStamps true requires"
        )
    return [p.rsplit(",", 1)[-1] if "," in p else "?" for p in pairs]


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# --------------------------------------------------------------------------- UCR .tsv files


def _read_ucr(text: str, name: str) -> SequenceData:
    lines = text.split("\n")
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        raise InputError(f"{name}: holds only blank lines; expected one sequence per line (the label, then the values)")
    sep: str | None = "\t" if "\t" in first else "," if "," in first else None
    sep_name = {"\t": "tab", ",": "comma", None: "space"}[sep]
    sequences, labels, ids = [], [], []
    first_line = None
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        n = i + 1
        first_line = first_line or n
        fields = raw.split(sep) if sep is not None else raw.split()
        label = fields[0].strip()
        if not label or label.lower() in MISSING_TOKENS - {""}:
            raise InputError(
                f"{name}: line {n}, column 1: no class label; a UCR file has the label in the first column, then the values"
            )
        values, missing, bad = _parse_tokens(fields[1:])
        if bad is not None:
            header = (
                " (is it a header? UCR files have none: pass format='csv' to read a table with a header)"
                if n == first_line
                else ""
            )
            raise InputError(
                f"{name}: line {n}, column {bad + 2}: {_clip(fields[bad + 1].strip())!r} is not "
                f"{_NUMBER_OR_MISSING}{header}"
            )
        keep, hole = _trailing_trim(missing[None, :])
        if keep == 0:
            raise InputError(
                f"{name}: line {n}: the sequence has no values after its label {label!r}; "
                f"expected {sep_name}-separated numbers after the label"
            )
        if hole is not None:
            raise InputError(
                f"{name}: line {n}, column {hole[1] + 2}: missing value inside the sequence; only trailing padding "
                "of a shorter sequence may be missing: fill it in (e.g. interpolate) or leave the line out"
            )
        v = values[:keep]
        if not np.isfinite(v).all():
            k = int(np.flatnonzero(~np.isfinite(v))[0])
            raise InputError(f"{name}: line {n}, column {k + 2}: {v[k]} is not a finite number")
        sequences.append(v.astype(np.float32).reshape(-1, 1))
        labels.append(label)
        ids.append(str(n))
    labels = _tidy_numeric_labels(labels)
    return SequenceData(
        sequences=sequences,
        labels=np.array(labels, dtype=str),
        classes=sort_labels(labels),
        channel_names=["value"],
        source=name,
        ids=np.array(ids, dtype=str),
    )


def _tidy_numeric_labels(labels: list[str]) -> list[str]:
    """Labels written as floats (``1.0000000e+00`` in the 2015 UCR archive) become ``1``
    when every label is a whole number written that way."""
    if not any(("e" in x.lower() or "." in x) for x in labels):
        return labels
    try:
        values = [float(x) for x in labels]
    except ValueError:
        return labels
    if not all(math.isfinite(v) and v == int(v) for v in values):
        return labels
    return [str(int(v)) for v in values]


# --------------------------------------------------------------------------- tables


class _Src:
    """Where the rows of a table come from, for the messages."""

    def __init__(self, name: str, kind: str, index: pd.Index | None = None):
        self.name = name
        self.kind = kind  # "csv", "parquet" or "frame"
        self.index = index

    def row_no(self, pos: int) -> str:
        if self.kind == "csv":
            return str(pos + 2)
        if self.kind == "parquet":
            return str(pos + 1)
        assert self.index is not None
        label = self.index[pos]
        return repr(label) if isinstance(label, str) else str(label)

    def row(self, pos: int) -> str:
        return ("index " if self.kind == "frame" else "row ") + self.row_no(pos)

    def fail(self, message: str) -> InputError:
        return InputError(f"{self.name}: {message}")


def _parse_csv(text: str, name: str) -> pd.DataFrame:
    header = text.split("\n", 1)[0]
    sep = ","
    if "," not in header:
        for cand in (";", "\t", "|"):
            if cand in header:
                sep = cand
                break
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[],
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: holds only blank lines; expected a header line (e.g. 'id,label,...') and data rows") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")
        raise InputError(f"{name}: cannot be read as CSV ({detail}); check the separators and quotes on that line") from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas took the extra leading fields as an index
        extra = frame.index.nlevels
        raise InputError(
            f"{name}: the data rows have {_plural(extra, 'field')} more than the header (row 1) has column names; "
            "name every column in the header, or check the separators"
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise InputError(f"{name}: the file has a header (row 1) but no data rows; expected data from row 2 on")
    return frame


def _read_parquet(path: Path, name: str, **table_args) -> SequenceData:
    read_file_bytes(path, "a Parquet file", name)  # missing, directory, empty
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise InputError(f"{name}: reading Parquet needs pyarrow, which cannot be imported; pip install pyarrow") from None
    except Exception as exc:  # pyarrow raises its own classes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{name}: cannot be read as Parquet ({first}); expected a Parquet file") from None
    if len(frame.columns) == 0 or len(frame) == 0:
        raise InputError(f"{name}: the Parquet file has no {'columns' if len(frame.columns) == 0 else 'rows'}; expected a table of sequences")
    frame.columns = [str(c).strip() for c in frame.columns]
    return _read_table(frame.reset_index(drop=True), _Src(name, "parquet"), **table_args)


def _find_column(frame: pd.DataFrame, given: str | None, candidates: Sequence[str], what: str, src: _Src) -> str | None:
    cols = [str(c) for c in frame.columns]
    if given is not None:
        if given in cols:
            return given
        lower = [c for c in cols if c.lower() == str(given).lower()]
        if len(lower) == 1:
            return lower[0]
        close = difflib.get_close_matches(str(given), cols, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise src.fail(f"no {what} column {given!r}{hint}; the columns are {_show(cols, 20)}")
    for cand in candidates:
        hits = [c for c in cols if c.lower() == cand]
        if hits:
            return hits[0]
    return None


def _cells(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """The cells of a column as stripped strings, and where they are missing."""
    s = frame[col]
    missing = s.isna().to_numpy().copy()
    text = s.astype(object).where(~missing, "").map(_cell_text).to_numpy(dtype=object)
    missing |= np.array([t.lower() in MISSING_TOKENS for t in text], dtype=bool)
    return text, missing


def _cell_text(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def _numeric(frame: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, missing, bad)`` of a column; ``bad`` marks cells that are not numbers."""
    s = frame[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        s = s.astype("float64")
    if pd.api.types.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        return values, missing, np.zeros(len(values), dtype=bool)
    text = s.astype(object).where(s.notna(), "").map(lambda v: str(v).strip())
    missing = text.str.lower().isin(MISSING_TOKENS).to_numpy()
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isnan(values) & ~missing
    return values, missing, bad


def _read_table(
    frame: pd.DataFrame,
    src: _Src,
    *,
    label_column: str | None,
    id_column: str | None,
    time_column: str | None,
    value_columns: Sequence[str] | None,
) -> SequenceData:
    if len(frame.columns) == 0:
        raise src.fail("has no columns; expected a table of sequences")
    if len(frame) == 0:
        raise src.fail("has no rows; expected a table of sequences")
    cols = [str(c) for c in frame.columns]
    dup = [c for k, c in enumerate(cols) if c in cols[:k]]
    if dup:
        raise src.fail(f"has two columns named {dup[0]!r}; give each column its own name")
    frame = frame.copy()
    frame.columns = cols
    # blank rows (every cell empty) are not sequences
    blank = np.ones(len(frame), dtype=bool)
    for c in cols:
        blank &= _cells(frame, c)[1]
    positions = np.flatnonzero(~blank)
    if len(positions) == 0:
        raise src.fail("every row is empty; expected data rows")
    if blank.any():
        frame = frame.iloc[positions].reset_index(drop=True)

    label = _find_column(frame, label_column, LABEL_CANDIDATES, "label", src)
    idc = _find_column(frame, id_column, ("id",), "id", src)
    tc = _find_column(frame, time_column, ("time",) if (idc is not None or id_column is not None) else (), "time", src)
    if time_column is not None and idc is None:
        raise src.fail(
            f"a long table (time column {tc!r}) needs an id column naming the sequence of each row; "
            f"name it (--id-column; columns: {_show(cols, 20)})"
        )
    used = [c for c in (label, idc, tc) if c is not None]
    if len(set(used)) != len(used):
        raise src.fail(f"column {next(c for c in used if used.count(c) > 1)!r} cannot play two parts (label, id, time)")

    if value_columns is not None:
        values = []
        for c in value_columns:
            found = _find_column(frame, str(c), (), "value", src)
            if found in used:
                raise src.fail(f"value column {found!r} is also the label, id or time column")
            values.append(found)
        if not values:
            raise src.fail("value_columns is empty; name at least one value column")
    elif tc is None:  # wide: every other column is a time step
        values = [c for c in cols if c not in used]
        if not values:
            raise src.fail(f"has no value columns besides {', '.join(repr(c) for c in used)}; expected one column per time step")
    else:  # long: the other columns that hold numbers are the channels
        values = []
        for c in cols:
            if c in used:
                continue
            v, missing, bad = _numeric(frame, c)
            if (~missing & ~bad).any():
                values.append(c)
        if not values:
            raise src.fail(
                f"has no column of numbers besides {', '.join(repr(c) for c in used)}; "
                f"the columns are {_show(cols, 20)}"
            )

    def pos_row(p: int) -> str:
        return src.row(int(positions[p]))

    labels = None
    if label is not None:
        ltext, lmiss = _cells(frame, label)
        if lmiss.any():
            p = int(np.flatnonzero(lmiss)[0])
            raise src.fail(
                f"{pos_row(p)}, column {label!r}: missing class label; every sequence needs one "
                "(for data to predict, leave the label column out)"
            )
        labels = ltext
    common = dict(columns=tuple(cols), label_column=label, source=src.name)
    if tc is not None:
        return _read_long(frame, src, positions, idc, tc, values, labels, common)
    return _read_wide(frame, src, positions, idc, values, labels, common)


def _value_block(frame: pd.DataFrame, src: _Src, positions: np.ndarray, values: list[str]):
    blocks = [_numeric(frame, c) for c in values]
    v = np.column_stack([b[0] for b in blocks])
    missing = np.column_stack([b[1] for b in blocks])
    bad = np.column_stack([b[2] for b in blocks])
    if bad.any():
        r, c = np.argwhere(bad)[0]  # row-major: the first bad cell in file order
        col = values[c]
        cell = _cell_text(frame[col].iloc[r])
        hint = ""
        if not (~missing[:, c] & ~bad[:, c]).any():
            hint = (
                f" (column {col!r} holds no numbers: if it holds the class labels, name it with --label-column; "
                "else leave it out by naming the value columns)"
            )
        raise src.fail(f"{src.row(int(positions[r]))}, column {col!r}: {_clip(cell)!r} is not a number{hint}")
    inf = np.isinf(v)
    if inf.any():
        r, c = np.argwhere(inf)[0]
        raise src.fail(f"{src.row(int(positions[r]))}, column {values[c]!r}: {v[r, c]} is not a finite number")
    return v, missing


def _read_wide(frame, src, positions, idc, values, labels, common) -> SequenceData:
    v, missing = _value_block(frame, src, positions, values)
    ids = [src.row_no(int(p)) for p in positions]
    if idc is not None:
        itext, imiss = _cells(frame, idc)
        if imiss.any():
            p = int(np.flatnonzero(imiss)[0])
            raise src.fail(f"{src.row(int(positions[p]))}, column {idc!r}: missing id; every sequence needs one")
        seen: dict[str, int] = {}
        for p, uid in enumerate(itext.tolist()):
            if uid in seen:
                raise src.fail(
                    f"{src.row(int(positions[p]))}, column {idc!r}: id {uid!r} again (first at "
                    f"{src.row(int(positions[seen[uid]]))}); in a wide table each row is one sequence: "
                    "for many rows per sequence name the time column (--time-column)"
                )
            seen[uid] = p
        ids = itext.tolist()
    sequences = []
    for r in range(len(v)):
        keep, hole = _trailing_trim(missing[r][None, :])
        if keep == 0:
            raise src.fail(
                f"{src.row(int(positions[r]))}: the sequence has no values (every value column is empty); "
                "a sequence needs at least one"
            )
        if hole is not None:
            raise src.fail(
                f"{src.row(int(positions[r]))}, column {values[hole[1]]!r}: missing value inside the sequence; only "
                "the last cells of a shorter sequence may be empty: fill it in (e.g. interpolate) or leave the row out"
            )
        sequences.append(v[r, :keep].astype(np.float32).reshape(-1, 1))
    return SequenceData(
        sequences=sequences,
        labels=None if labels is None else np.array(labels.tolist(), dtype=str),
        classes=[] if labels is None else sort_labels(labels.tolist()),
        channel_names=["value"],
        ids=np.array(ids, dtype=str),
        **common,
    )


def _read_long(frame, src, positions, idc, tc, values, labels, common) -> SequenceData:
    n = len(frame)
    itext, imiss = _cells(frame, idc)
    if imiss.any():
        p = int(np.flatnonzero(imiss)[0])
        raise src.fail(f"{src.row(int(positions[p]))}, column {idc!r}: missing id; every row needs the id of its sequence")
    times = _times(frame, src, positions, tc)
    v, missing = _value_block(frame, src, positions, values)
    if missing.any():
        r, c = np.argwhere(missing)[0]
        raise src.fail(
            f"{src.row(int(positions[r]))}, column {values[c]!r}: missing value; in a long table every row needs "
            "every value: fill it in (e.g. interpolate) or leave the row out"
        )
    codes, uniques = pd.factorize(pd.Series(itext), sort=False)  # ids in order of first appearance
    order = np.lexsort((times, codes))
    sc, st = codes[order], times[order]
    same = (sc[1:] == sc[:-1]) & (st[1:] == st[:-1])
    if same.any():
        k = int(np.flatnonzero(same)[0])
        a, b = sorted((int(order[k]), int(order[k + 1])))
        raise src.fail(
            f"{src.row(int(positions[b]))}, column {tc!r}: sequence {uniques[sc[k]]!r} has time "
            f"{_cell_text(frame[tc].iloc[b])!r} twice (also at {src.row(int(positions[a]))}); "
            "each sequence needs one row per time step"
        )
    starts = np.r_[0, np.flatnonzero(sc[1:] != sc[:-1]) + 1]
    stops = np.r_[starts[1:], n]
    sequences, seq_labels = [], []
    for a, b in zip(starts, stops):
        rows = order[a:b]
        sequences.append(np.ascontiguousarray(v[rows], dtype=np.float32))
        if labels is not None:
            labs = labels[rows]
            if (labs != labs[0]).any():
                k = int(np.flatnonzero(labs != labs[0])[0])
                first = rows[0]
                other = rows[k]
                raise src.fail(
                    f"sequence {uniques[sc[a]]!r} has class {labs[0]!r} at {src.row(int(positions[first]))} but "
                    f"{labs[k]!r} at {src.row(int(positions[other]))}; a sequence has one class: "
                    "make its label the same on every row"
                )
            seq_labels.append(str(labs[0]))
    return SequenceData(
        sequences=sequences,
        labels=None if labels is None else np.array(seq_labels, dtype=str),
        classes=[] if labels is None else sort_labels(seq_labels),
        channel_names=list(values),
        ids=np.array([str(u) for u in uniques], dtype=str),
        **common,
    )


def _times(frame: pd.DataFrame, src: _Src, positions: np.ndarray, tc: str) -> np.ndarray:
    """The time column as sortable float64 (numbers, or dates as nanoseconds)."""
    s = frame[tc]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        t = s
        missing = t.isna().to_numpy()
        values = t.astype("datetime64[ns]").to_numpy().astype("int64").astype(np.float64) if not missing.any() else None
    else:
        values, missing, bad = _numeric(frame, tc)
        if bad.any() and (~bad & ~missing).any():  # numbers and text mixed
            p = int(np.flatnonzero(bad)[0])
            raise src.fail(
                f"{src.row(int(positions[p]))}, column {tc!r}: {_clip(_cell_text(s.iloc[p]))!r} is not a number, "
                "as the other times are; the time column orders the rows of each sequence"
            )
        if bad.any():  # no numbers: dates?
            text = s.astype(object).where(s.notna(), "").map(lambda x: str(x).strip())
            miss = text.str.lower().isin(MISSING_TOKENS).to_numpy()
            parsed = pd.to_datetime(text.where(~miss, None), errors="coerce", format="mixed")
            nat = parsed.isna().to_numpy() & ~miss
            if nat.any():
                p = int(np.flatnonzero(nat)[0])
                raise src.fail(
                    f"{src.row(int(positions[p]))}, column {tc!r}: {_clip(text.iloc[p])!r} is neither a number "
                    "nor a date; the time column orders the rows of each sequence"
                )
            missing = miss
            values = parsed.astype("datetime64[ns]").to_numpy().astype("int64").astype(np.float64) if not miss.any() else None
    if missing.any():
        p = int(np.flatnonzero(missing)[0])
        raise src.fail(f"{src.row(int(positions[p]))}, column {tc!r}: missing time; every row needs one")
    return values


# --------------------------------------------------------------------------- aeon's data sets


def _aeon_data_dir() -> Path:
    from lstmkit.data.datasets import MissingPackageError

    spec = importlib.util.find_spec("aeon")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            "the UCR/UEA data sets come with aeon, which is not installed; pip install aeon "
            "(or pip install 'lstmkit[datasets]')"
        )
    root = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    if not root.is_dir():
        raise MissingPackageError(f"aeon is installed but has no data folder {root}; reinstall it: pip install --force-reinstall aeon")
    return root


@lru_cache(maxsize=4)
def _aeon_datasets(root: str) -> dict[str, tuple[str, str]]:
    """``{name: (train_path, test_path)}`` of the classification data sets under ``root``."""
    out: dict[str, tuple[str, str]] = {}
    for train in sorted(Path(root).glob("*/*_TRAIN.ts")):
        name = train.name[: -len("_TRAIN.ts")]
        test = train.with_name(f"{name}_TEST.ts")
        if test.is_file() and _is_classification(train):
            out[name] = (str(train), str(test))
    return out


def _is_classification(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                s = line.strip().lower()
                if s.startswith("@classlabel"):
                    return s.split()[1:2] == ["true"]
                if s.startswith("@targetlabel") or s == "@data":
                    return False
    except (OSError, UnicodeDecodeError):
        return False
    return False


def available_datasets() -> list[str]:
    """The names of the UCR/UEA classification data sets the installed aeon ships.

    Raises:
        MissingPackageError: aeon is not installed.
    """
    return sorted(_aeon_datasets(str(_aeon_data_dir())), key=str.lower)


def load_dataset(name: str, split: str = "train") -> SequenceData:
    """A UCR/UEA classification data set shipped (offline) in aeon's wheel, read with
    :func:`read_sequences` from aeon's ``.ts`` file (aeon itself is not imported).

    With aeon 1.6 these are ACSF1, ArrowHead, BasicMotions, Covid3Month_disc, GunPoint,
    ItalyPowerDemand, JapaneseVowels, JapaneseVowels_eq, OSULeaf, PickupGestureWiimoteZ,
    PickupGestureWiimoteZ_eq and UnitTest; see :func:`available_datasets`.

    Args:
        name: the data set, e.g. ``"JapaneseVowels"`` (any case).
        split: ``"train"`` or ``"test"``.

    Raises:
        MissingPackageError: aeon is not installed (pip install aeon).
        InputError: an unknown name (listing the available ones) or split.
    """
    split_l = str(split).lower()
    if split_l not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    sets = _aeon_datasets(str(_aeon_data_dir()))
    key = {k.lower(): k for k in sets}.get(str(name).lower())
    if key is None:
        close = difflib.get_close_matches(str(name), list(sets), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(
            f"unknown data set {name!r}{hint}; the installed aeon ships: {', '.join(sorted(sets, key=str.lower))}"
        )
    train, test = sets[key]
    path = train if split_l == "train" else test
    data = read_sequences(path, format="ts")
    data.source = Path(path).name
    return data
