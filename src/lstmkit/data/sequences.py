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
* **ARFF** files (``.arff``, as the archive also ships every set; :mod:`~lstmkit.data.arff`):
  one numeric attribute per time step (univariate) or one relational attribute holding the
  dimensions (multivariate), the class attribute last.
* **CSV** (with a header) and **Parquet** tables, *wide* (one row per sequence: a label
  column, an optional id column, then one column per time step, univariate) or *long*
  (many rows per sequence: an id column, a time column, one column per channel, and a label
  that must be the same on every row of a sequence).

Missing values (``?``, ``NaN``, an empty cell, ``NA``, ...) at the end of a sequence are the
padding of a shorter sequence (how the UCR archive stores unequal lengths; aeon keeps the
NaN, this reader cuts them off). A missing value inside a sequence is filled by linear
interpolation in time (``missing="interpolate"``, the default; :mod:`lstmkit.data.gaps`), as
the UCR archive's own adjusted versions of such sets are, or refused (``missing="refuse"``).
Infinite values are refused.

Everything that is wrong raises :class:`lstmkit.errors.InputError` with one line naming the
file, the line or row, the column or dimension. Rows are numbered as a spreadsheet shows them:
in a text file the row number is the line number (a CSV header is row 1); in a Parquet file
the first data row is row 1.

:func:`load_dataset` reads the UCR/UEA classification data sets that the optional package
aeon (``pip install aeon``, or ``lstmkit[datasets]``) ships in its wheel, with this reader.

This module imports pandas and numpy, never torch.

The pieces: :mod:`~lstmkit.data.sequence_data` (the container, checks and splits),
:mod:`~lstmkit.data.sequence_formats` (``.ts`` and ``.tsv``), :mod:`~lstmkit.data.arff` (``.arff``),
:mod:`~lstmkit.data.sequence_tables` (wide and long tables), :mod:`~lstmkit.data.tables` (the
table plumbing shared with the time-series reader) and :mod:`~lstmkit.data.datasets` (aeon's
data sets); every public name stays importable from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence, Union

import pandas as pd

from lstmkit.data.arff import read_arff
from lstmkit.data.datasets import _aeon_data_dir, _aeon_datasets, available_datasets, load_dataset  # noqa: F401
from lstmkit.data.files import decode_utf8, read_file_bytes, sniff
from lstmkit.data.gaps import MISSING_POLICIES, check_missing_policy
from lstmkit.data.sequence_data import SequenceData, check_trainable, sort_labels, stratified_folds, stratified_split
from lstmkit.data.sequence_formats import MISSING_TOKENS, read_ts, read_ucr
from lstmkit.data.sequence_tables import LABEL_CANDIDATES, WORDING, read_table
from lstmkit.data.tables import TableSource, from_frame, parse_csv, read_parquet
from lstmkit.errors import InputError, param_ref

__all__ = [
    "FORMATS",
    "LABEL_CANDIDATES",
    "MISSING_POLICIES",
    "MISSING_TOKENS",
    "SequenceData",
    "available_datasets",
    "check_trainable",
    "load_dataset",
    "read_sequences",
    "sort_labels",
    "stratified_folds",
    "stratified_split",
]

#: Accepted values of ``format`` in :func:`read_sequences`.
FORMATS = ("ts", "ucr", "arff", "csv", "parquet")

_FORMAT_ALIASES = {"ts": "ts", "ucr": "ucr", "tsv": "ucr", "txt": "ucr", "arff": "arff", "csv": "csv",
                   "parquet": "parquet", "pq": "parquet"}
_SUFFIX_FORMAT = {".ts": "ts", ".tsv": "ucr", ".txt": "ucr", ".arff": "arff", ".csv": "csv", ".parquet": "parquet",
                  ".pq": "parquet"}
_OTHER_FORMATS = {
    ".xlsx": "an Excel workbook (save it as CSV)",
    ".xls": "an Excel workbook (save it as CSV)",
    ".json": "a JSON file",
    ".npy": "a NumPy array file",
    ".npz": "a NumPy archive",
    ".pkl": "a pickle",
    ".h5": "an HDF5 file",
    ".wav": "an audio file (extract features such as MFCCs first and save them as a long CSV)",
}

PathOrFrame = Union[str, "os.PathLike[str]", pd.DataFrame]


# --------------------------------------------------------------------------- dispatch


def read_sequences(
    path: PathOrFrame,
    *,
    label_column: str | None = None,
    id_column: str | None = None,
    time_column: str | None = None,
    value_columns: Sequence[str] | None = None,
    format: str | None = None,
    missing: str = "interpolate",
) -> SequenceData:
    """Read and validate labelled sequences from a file (or a DataFrame).

    Args:
        path: a ``.ts``, ``.tsv``/``.txt`` (UCR, no header), ``.arff``, ``.csv`` or ``.parquet`` file,
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
        missing: what a missing value inside a sequence becomes: ``"interpolate"`` (the
            default) fills it by linear interpolation in time within its channel
            (:mod:`lstmkit.data.gaps`; :attr:`SequenceData.filled` counts them), ``"refuse"``
            refuses the file naming the first. Missing values at the end of a shorter
            sequence are its padding either way, cut off.

    Returns:
        A :class:`SequenceData`.

    Raises:
        InputError: one line naming the file, the line/row and the column/dimension.
    """
    table_args = dict(label_column=label_column, id_column=id_column, time_column=time_column, value_columns=value_columns)
    check_missing_policy(missing)
    if isinstance(path, pd.DataFrame):
        if format not in (None, "csv", "parquet"):
            raise InputError(f"format {format!r} does not apply to a DataFrame; it is read as a table", param="format")
        frame, src = from_frame(path, WORDING)
        return read_table(frame, src, missing=missing, **table_args)
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"expected a file path or a pandas DataFrame, got {type(path).__name__}")
    name = str(path)
    fmt = _choose_format(Path(path), name, format)
    if fmt == "parquet":
        return _read_parquet(read_file_bytes(path, "a Parquet file", name), name, table_args, missing)
    expected = {"ts": "a .ts file", "ucr": "a UCR .tsv file", "arff": "an ARFF file", "csv": "a CSV file"}[fmt]
    data = read_file_bytes(path, expected + " (UTF-8 text)", name)
    kind = sniff(data)
    if kind == "parquet":
        return _read_parquet(data, name, table_args, missing)
    if kind == "zip":
        raise InputError(f"{name}: is a ZIP archive (an Excel workbook?), not text; expected {expected}")
    text = decode_utf8(data, name, expected + " (UTF-8 text)")
    if fmt == "ts":
        _no_table_args(name, "a .ts file", table_args)
        return read_ts(text, name, missing)
    if fmt == "ucr":
        _no_table_args(name, "a UCR file (label first, then the values, no header)", table_args)
        return read_ucr(text, name, missing)
    if fmt == "arff":
        _no_table_args(name, "an ARFF file (the class attribute comes last)", table_args)
        return read_arff(text, name, missing)
    return read_table(parse_csv(text, name, WORDING), TableSource(name, "csv"), missing=missing, **table_args)


def _read_parquet(data: bytes, name: str, table_args: dict, missing: str) -> SequenceData:
    return read_table(read_parquet(data, name, WORDING), TableSource(name, "parquet"), missing=missing, **table_args)


def _no_table_args(name: str, what: str, args: dict) -> None:
    given = [k for k, v in args.items() if v is not None]
    if given:
        raise InputError(
            f"{name}: {param_ref(given[0])} applies to CSV and Parquet tables, and this is {what}, which has no named columns",
            param=given[0],
        )


def _choose_format(path: Path, name: str, format: str | None) -> str:
    if format is not None:
        fmt = _FORMAT_ALIASES.get(str(format).lower().lstrip("."))
        if fmt is None:
            raise InputError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}",
                             param="format", expected=f"one of {', '.join(FORMATS)}", got=format)
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _SUFFIX_FORMAT:
        return _SUFFIX_FORMAT[suffix]
    if suffix in _OTHER_FORMATS:
        raise InputError(f"{name}: is {_OTHER_FORMATS[suffix]}; expected a .ts, .tsv, .arff, .csv or .parquet file")
    try:
        with open(path.expanduser(), "rb") as fh:
            if fh.read(4) == b"PAR1":
                return "parquet"
    except OSError:
        pass
    if not path.expanduser().exists():
        read_file_bytes(path, "a .ts, .tsv, .arff, .csv or .parquet file", name)  # raises: no such file
    raise InputError(
        f"{name}: cannot tell the format from the name{f' ({suffix})' if suffix else ''}; "
        "name it .ts, .tsv, .arff, .csv or .parquet, or pass the format (ts, ucr, arff, csv or parquet)"
    )


