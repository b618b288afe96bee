"""The text formats of labelled sequences: UCR/UEA ``.ts`` files and UCR ``.tsv`` files
(see :func:`lstmkit.data.sequences.read_sequences` for what each holds).

:func:`read_ts` and :func:`read_ucr` take the decoded text of a file and its name and give a
:class:`~lstmkit.data.sequence_data.SequenceData`; every refusal is an
:class:`lstmkit.errors.InputError` of one line naming the file, the line (counted from 1) and
the dimension or column. This module imports numpy, never torch.
"""

from __future__ import annotations

import difflib
import math
import re

import numpy as np

from lstmkit.data.gaps import check_missing_policy, fill_gaps
from lstmkit.data.sequence_data import SequenceData, sort_labels
from lstmkit.data.tables import clip, plural, show
from lstmkit.errors import InputError, param_ref

__all__ = ["MISSING_TOKENS", "close_case", "parse_tokens", "read_ts", "read_ucr", "trailing_trim", "unstorable"]

#: Cell texts read as a missing value (compared without case and surrounding spaces).
MISSING_TOKENS = frozenset({"", "?", "na", "n/a", "#n/a", "nan", "null", "none"})

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


# --------------------------------------------------------------------------- cell parsing


def parse_tokens(tokens: list[str]) -> tuple[np.ndarray, np.ndarray, int | None]:
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
#: the largest magnitude a sequence value may have: sequences are float32
FLOAT32_MAX = float(np.finfo(np.float32).max)


def unstorable(values: np.ndarray) -> np.ndarray:
    """True where a value (not missing) is infinite or too large for float32."""
    with np.errstate(invalid="ignore"):
        return np.isinf(values) | (np.abs(values) > FLOAT32_MAX)


def why_unstorable(value: float) -> str:
    if np.isinf(value):
        return "is not a finite number"
    return f"is too large (sequences are float32: at most {FLOAT32_MAX:.4g} in size)"


def trailing_trim(missing: np.ndarray) -> tuple[int, tuple[int, int] | None]:
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


def close_case(values: np.ndarray, absent: np.ndarray, missing: str, fail, univariate: bool = False
               ) -> tuple[np.ndarray, int]:
    """A case read from a text file, ``(channels, steps)`` with its missing mask, made a
    sequence: the trailing padding cut, a missing value inside filled by linear interpolation
    (or refused with ``missing="refuse"``). Returns the ``(steps, channels)`` float32 array and
    the number of values filled; ``fail(message)`` makes the InputError (it names the line).
    ``univariate`` names a value by its position alone, else by dimension and position."""

    def where(c: int, t: int) -> str:
        return f"value {t + 1}" if univariate else f"dimension {c + 1}, value {t + 1}"

    keep, hole = trailing_trim(absent)
    if keep == 0:
        raise fail("the case has no values (every value is missing); a sequence needs at least one")
    values = values[:, :keep]
    odd = unstorable(values)
    if odd.any():
        c, t = np.argwhere(odd)[0]
        raise fail(f"{where(c, t)}: {values[c, t]} {why_unstorable(values[c, t])}")
    gaps = 0
    if hole is not None:
        c, t = hole
        if missing == "refuse":
            raise fail(f"{where(c, t)}: missing value inside the sequence; only trailing padding of a shorter "
                       f"sequence may be missing ({param_ref('missing', 'refuse')}): fill it in, leave the case "
                       f"out, or pass {param_ref('missing', 'interpolate')}")
        values, empty = fill_gaps(values)
        if empty is not None:
            raise fail(f"dimension {empty + 1} has no value at all (every value is missing); a missing value "
                       "can be filled only from values of its own dimension")
        gaps = int(absent[:, :keep].sum())
    return np.ascontiguousarray(values.T, dtype=np.float32), gaps


# --------------------------------------------------------------------------- .ts files


def _bool_tag(value: str) -> bool | None:
    v = value.lower()
    return True if v == "true" else False if v == "false" else None


def read_ts(text: str, name: str, missing: str = "interpolate") -> SequenceData:
    """The cases of a UCR/UEA ``.ts`` file (its decoded text; ``name`` for the messages).
    A missing value inside a case is filled by linear interpolation in time
    (:func:`lstmkit.data.gaps.fill_gaps`), or refused with ``missing="refuse"``.

    Raises:
        InputError: a line before ``@data`` that is not a header tag, an unknown or malformed
            tag, no ``@data``, ``@targetLabel true`` (regression), a case whose dimension count,
            length or label disagrees with the header or the first case, a value that is not a
            number, a missing value inside a sequence (``missing="refuse"``) or a dimension with
            no value at all, a value that is infinite or beyond float32, no case at all; naming
            the line, dimension and value.
    """
    check_missing_policy(missing)
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
                f"{clip(s)!r} comes before the @data line; a .ts file has header lines "
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
    filled = filled_sequences = 0
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
                f"the case has {plural(got, 'dimension')} (separated by ':'), expected {dims} "
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
                    f"class label {label!r} is not declared by @classLabel ({show(declared)}){hint}; "
                    "add it there or fix the label",
                )
        rows = []
        masks = []
        for d in range(dims):
            tokens = _ts_values(parts[d], timestamps, name, n, d)
            values, absent, bad = parse_tokens(tokens)
            if bad is not None:
                raise fail(
                    n,
                    f"dimension {d + 1}, value {bad + 1}: {clip(tokens[bad].strip())!r} is not {_NUMBER_OR_MISSING}",
                )
            if d and len(values) != len(rows[0]):
                raise fail(
                    n,
                    f"dimension {d + 1} has {plural(len(values), 'value')} but dimension 1 has {len(rows[0])}; "
                    "the dimensions of a case must have the same length",
                )
            rows.append(values)
            masks.append(absent)
        raw_length = len(rows[0])
        if equal:
            if series_length is not None and raw_length != series_length:
                raise fail(n, f"the case has {plural(raw_length, 'value')} per dimension but @seriesLength is {series_length}")
            if first_length is None:
                first_length = (raw_length, n)
            elif raw_length != first_length[0]:
                raise fail(
                    n,
                    f"the case has {plural(raw_length, 'value')} per dimension but the first case (line {first_length[1]}) "
                    f"has {first_length[0]}, and @equalLength is true; set @equalLength false if lengths differ",
                )
        values, gaps = close_case(np.vstack(rows), np.vstack(masks), missing, lambda m: fail(n, m))
        filled += gaps
        filled_sequences += gaps > 0
        sequences.append(values)
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
        filled=filled,
        filled_sequences=filled_sequences,
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


# --------------------------------------------------------------------------- UCR .tsv files


def read_ucr(text: str, name: str, missing: str = "interpolate") -> SequenceData:
    """The sequences of a UCR ``.tsv`` file (its decoded text): one per line, the label
    first, then the values, separated by tabs, commas or spaces (told by the first line).
    A missing value inside a sequence is filled by linear interpolation in time
    (:func:`lstmkit.data.gaps.fill_gaps`), or refused with ``missing="refuse"``.

    Raises:
        InputError: only blank lines, a missing label, a value that is not a number, no
            value after the label, a missing value inside a sequence (``missing="refuse"``), a
            value that is infinite or beyond float32; naming the line and column.
    """
    check_missing_policy(missing)
    lines = text.split("\n")
    first = next((ln for ln in lines if ln.strip()), None)
    if first is None:
        raise InputError(f"{name}: holds only blank lines; expected one sequence per line (the label, then the values)")
    sep: str | None = "\t" if "\t" in first else "," if "," in first else None
    sep_name = {"\t": "tab", ",": "comma", None: "space"}[sep]
    sequences, labels, ids = [], [], []
    filled = filled_sequences = 0
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
        values, absent, bad = parse_tokens(fields[1:])
        if bad is not None:
            header = (
                " (is it a header? UCR files have none: pass format='csv' to read a table with a header)"
                if n == first_line
                else ""
            )
            raise InputError(
                f"{name}: line {n}, column {bad + 2}: {clip(fields[bad + 1].strip())!r} is not "
                f"{_NUMBER_OR_MISSING}{header}"
            )
        keep, hole = trailing_trim(absent[None, :])
        if keep == 0:
            raise InputError(
                f"{name}: line {n}: the sequence has no values after its label {label!r}; "
                f"expected {sep_name}-separated numbers after the label"
            )
        v = values[:keep]
        if unstorable(v).any():
            k = int(np.flatnonzero(unstorable(v))[0])
            raise InputError(f"{name}: line {n}, column {k + 2}: {v[k]} {why_unstorable(v[k])}")
        if hole is not None:
            if missing == "refuse":
                raise InputError(
                    f"{name}: line {n}, column {hole[1] + 2}: missing value inside the sequence; only trailing "
                    f"padding of a shorter sequence may be missing ({param_ref('missing', 'refuse')}): fill it in, "
                    f"leave the line out, or pass {param_ref('missing', 'interpolate')}"
                )
            v = fill_gaps(v[None, :])[0][0]
            filled += int(absent[:keep].sum())
            filled_sequences += 1
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
        filled=filled,
        filled_sequences=filled_sequences,
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

