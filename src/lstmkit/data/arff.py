"""ARFF files of labelled sequences, as the UCR/UEA archive ships every data set
(timeseriesclassification.com: ``NAME_TRAIN.arff`` beside ``NAME_TRAIN.ts``).

Two layouts (Weka's ARFF, as the archive and aeon write it):

* **univariate**: one numeric ``@attribute`` per time step, then the class attribute; each
  data row is the values, then the label: ``0.1,0.4,?,...,2``;
* **multivariate**: one ``relational`` attribute (its inner attributes are the time steps,
  closed by ``@end``), then the class; each data row is one quoted string holding the
  dimensions separated by a literal ``\\n``, then the label: ``'0.1,0.2,..\\n1.5,1.4,..',walking``.

The class attribute comes last and is nominal (``{a,b,c}``) or a string. ``?`` is a missing
value; missing values at the end of a case are a shorter case's padding, a missing value inside
one is filled by linear interpolation in time (:func:`lstmkit.data.gaps.fill_gaps`) or refused
with ``missing="refuse"``, as in the ``.ts`` reader. A file whose every label is ``?`` is read
unlabelled (new cases to predict). Every refusal is one :class:`lstmkit.errors.InputError` line
naming the file, the line (from 1) and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lstmkit.data.gaps import check_missing_policy
from lstmkit.data.sequence_data import SequenceData, sort_labels
from lstmkit.data.sequence_formats import close_case, parse_tokens
from lstmkit.data.tables import clip, plural, show
from lstmkit.errors import InputError

__all__ = ["read_arff", "split_fields"]

_NUMERIC = ("numeric", "real", "integer")
_KNOWN_TYPES = "numeric, real, integer, {nominal values}, string, date or relational"


@dataclass
class _Attribute:
    name: str
    kind: str  # numeric, nominal, string, date, relational
    line: int
    values: tuple[str, ...] = ()
    inner: list[str] = field(default_factory=list)  # a relational attribute's time steps


def split_fields(text: str) -> list[str]:
    """``text`` cut at the commas outside quotes (``'`` or ``"``; a backslash inside quotes
    keeps the next character), each field stripped and unquoted."""
    fields, current, quote, k = [], [], None, 0
    quoted = False
    while k < len(text):
        ch = text[k]
        if quote:
            if ch == "\\" and k + 1 < len(text) and text[k + 1] in "'\"\\":
                current.append(text[k + 1])
                k += 2
                continue
            if ch == quote:
                quote = None
            else:
                current.append(ch)
        elif ch in "'\"" and not "".join(current).strip():
            quote, quoted, current = ch, True, []
        elif ch == ",":
            fields.append("".join(current) if quoted else "".join(current).strip())
            current, quoted = [], False
        else:
            if not (quoted and ch.isspace()):
                current.append(ch)
        k += 1
    if quote:
        raise ValueError(f"a quote ({quote}) is not closed")
    fields.append("".join(current) if quoted else "".join(current).strip())
    return fields


def _name_and_rest(text: str) -> tuple[str, str]:
    """An @attribute line's name (quoted or not) and what follows it."""
    text = text.strip()
    if text and text[0] in "'\"":
        end = text.find(text[0], 1)
        if end < 0:
            return text[1:], ""
        return text[1:end], text[end + 1:].strip()
    parts = text.split(None, 1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else (parts[0] if parts else "", "")


def read_arff(text: str, name: str, missing: str = "interpolate") -> SequenceData:
    """The cases of a UCR/UEA ``.arff`` file (its decoded text; ``name`` for the messages).

    Raises:
        InputError: a line before ``@data`` that is not ``@relation``, ``@attribute`` or
            ``@end``; an unknown attribute type; no ``@data``; a last attribute that is not a
            class (numeric: a regression set); a univariate file with a non-numeric time step or
            a multivariate one with more than one relational attribute; a row with the wrong
            number of fields or dimensions, a value that is not a number, a label not declared,
            a missing value inside a case (``missing="refuse"``) or a dimension with no value
            at all, a value beyond float32, sparse rows, no case at all; naming the line.
    """
    check_missing_policy(missing)
    lines = text.split("\n")

    def fail(line_no: int | None, message: str) -> InputError:
        return InputError(f"{name}: {f'line {line_no}: ' if line_no else ''}{message}")

    attributes: list[_Attribute] = []
    relation = None
    open_relational: _Attribute | None = None
    data_at = None
    for i, raw in enumerate(lines):
        s = raw.strip()
        if not s or s[0] == "%":
            continue
        n = i + 1
        keyword = s.split(None, 1)[0].lower()
        rest = s[len(keyword):].strip()
        if keyword == "@relation":
            relation = _name_and_rest(rest)[0] or None
            continue
        if keyword == "@end":
            if open_relational is None:
                raise fail(n, "@end closes no relational @attribute")
            if not open_relational.inner:
                raise fail(n, f"relational attribute {open_relational.name!r} declares no time step before @end")
            open_relational = None
            continue
        if keyword == "@data":
            if open_relational is not None:
                raise fail(open_relational.line, f"relational attribute {open_relational.name!r} is not closed by "
                                                 f"'@end {open_relational.name}' before @data")
            data_at = i
            break
        if keyword != "@attribute":
            raise fail(n, f"{clip(s)!r} comes before the @data line; an ARFF file has @relation and @attribute "
                          "lines, then @data, then one case per line")
        attr_name, type_text = _name_and_rest(rest)
        if not attr_name or not type_text:
            raise fail(n, f"{clip(s)!r}: an @attribute line names the attribute, then its type, "
                          "e.g. '@attribute t0 numeric'")
        kind, values = _attribute_type(type_text)
        if kind is None:
            raise fail(n, f"attribute {attr_name!r} has the type {clip(type_text) or 'nothing'!r}; "
                          f"known types: {_KNOWN_TYPES}")
        if open_relational is not None:
            if kind not in _NUMERIC:
                raise fail(n, f"attribute {attr_name!r} inside relational {open_relational.name!r} is {kind}; "
                              f"the time steps of a case are numeric (is '@end {open_relational.name}' missing "
                              "before it?)")
            open_relational.inner.append(attr_name)
            continue
        attribute = _Attribute(attr_name, "numeric" if kind in _NUMERIC else kind, n, values)
        attributes.append(attribute)
        if kind == "relational":
            open_relational = attribute
    if data_at is None:
        raise fail(None, "has no @data line; an ARFF file has @relation and @attribute lines, then @data, "
                         "then one case per line")
    if len(attributes) < 2:
        raise fail(attributes[0].line if attributes else None,
                   "declares fewer than two attributes; a sequence file declares the time steps "
                   "(or one relational attribute), then the class")
    target = attributes[-1]
    if target.kind == "numeric":
        raise fail(target.line, f"the last attribute, {target.name!r}, is numeric: this is a regression problem "
                                "(numeric targets) or the class is missing; lstmkit classify needs a nominal class "
                                "attribute ({a,b,...}) last")
    if target.kind not in ("nominal", "string"):
        raise fail(target.line, f"the last attribute, {target.name!r}, is {target.kind}; the class attribute "
                                "comes last and is nominal ({a,b,...}) or a string")
    steps = attributes[:-1]
    relational = [a for a in steps if a.kind == "relational"]
    if relational and len(steps) > 1:
        other = next(a for a in steps if a is not relational[0])
        raise fail(other.line, f"attribute {other.name!r} beside the relational {relational[0].name!r}; a "
                               "multivariate ARFF file has one relational attribute (the dimensions), then the class")
    if not relational:
        odd = next((a for a in steps if a.kind != "numeric"), None)
        if odd is not None:
            raise fail(odd.line, f"attribute {odd.name!r} is {odd.kind}; the time steps of a univariate ARFF "
                                 "file are numeric attributes, and only the last attribute is the class")
    declared = target.values if target.kind == "nominal" else None

    sequences: list[np.ndarray] = []
    labels: list[str | None] = []
    label_lines: list[int] = []
    ids: list[str] = []
    filled = filled_sequences = 0
    dims = 1 if not relational else None
    dims_from = ""
    for i in range(data_at + 1, len(lines)):
        s = lines[i].strip()
        if not s or s[0] == "%":
            continue
        n = i + 1
        if s[0] == "{":
            raise fail(n, "a sparse row ({index value, ...}); lstmkit reads dense ARFF rows only: write every value")
        try:
            fields = split_fields(s)
        except ValueError as why:
            raise fail(n, f"{why}") from None
        if relational:
            if len(fields) != 2:
                raise fail(n, f"the row has {plural(len(fields), 'field')} outside quotes, expected 2: the quoted "
                              "dimensions ('v,v,..\\nv,v,..'), then the class")
            rows = [part.split(",") for part in fields[0].replace("\r", "").split("\\n")]
            if dims is None:
                dims, dims_from = len(rows), f"the first case (line {n})"
            if len(rows) != dims:
                raise fail(n, f"the case has {plural(len(rows), 'dimension')} (separated by \\n), expected {dims} "
                              f"(from {dims_from})")
        else:
            if len(fields) != len(steps) + 1:
                raise fail(n, f"the row has {plural(len(fields), 'value')}, expected {len(steps) + 1}: the "
                              f"{len(steps)} time steps declared by @attribute, then the class")
            rows = [fields[:-1]]
        label = fields[-1].strip()
        if label == "?" or not label:
            label = None
        elif declared is not None and label not in declared:
            near = [d for d in declared if d.lower() == label.lower()]
            hint = f" (labels are case-sensitive: {near[0]!r}?)" if near else ""
            raise fail(n, f"class label {label!r} is not declared by @attribute {target.name} ({show(declared)})"
                          f"{hint}; add it there or fix the label")
        parsed, masks = [], []
        for d, tokens in enumerate(rows):
            values, absent, bad = parse_tokens(tokens)
            if bad is not None:
                where = f"dimension {d + 1}, value {bad + 1}" if relational else f"value {bad + 1}"
                raise fail(n, f"{where}: {clip(tokens[bad].strip())!r} is not a number (or ? for a missing value)")
            if d and len(values) != len(parsed[0]):
                raise fail(n, f"dimension {d + 1} has {plural(len(values), 'value')} but dimension 1 has "
                              f"{len(parsed[0])}; the dimensions of a case must have the same length")
            parsed.append(values)
            masks.append(absent)
        values, gaps = close_case(np.vstack(parsed), np.vstack(masks), missing, lambda m: fail(n, m),
                                  univariate=not relational)
        filled += gaps
        filled_sequences += gaps > 0
        sequences.append(values)
        labels.append(label)
        label_lines.append(n)
        ids.append(str(n))
    if not sequences:
        raise fail(data_at + 1, "@data is followed by no cases; expected one case per line after it")
    known = [x for x in labels if x is not None]
    if known and len(known) < len(labels):
        n = label_lines[labels.index(None)]
        raise fail(n, "the class label is missing (?) while other cases have one; give every case its label, "
                      "or none (new cases to predict)")
    return SequenceData(
        sequences=sequences,
        labels=np.array(known, dtype=str) if known else None,
        classes=sort_labels(known) if known else [],
        channel_names=[f"dim_{d + 1}" for d in range(dims or 1)],
        source=name,
        ids=np.array(ids, dtype=str),
        problem_name=relation,
        declared_classes=tuple(declared) if declared else None,
        filled=filled,
        filled_sequences=filled_sequences,
    )


def _attribute_type(text: str) -> tuple[str | None, tuple[str, ...]]:
    """An @attribute's type: (kind, nominal values); kind None when unknown."""
    t = text.strip()
    if t.startswith("{"):
        close = t.rfind("}")
        if close < 0:
            return None, ()
        try:
            values = tuple(v for v in split_fields(t[1:close]) if v != "")
        except ValueError:
            return None, ()
        return "nominal", values
    word = t.split(None, 1)[0].lower() if t else ""
    if word in _NUMERIC:
        return word, ()
    if word in ("string", "date", "relational"):
        return word, ()
    return None, ()
