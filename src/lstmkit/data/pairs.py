"""Sentence pairs for ``lstmkit translate``: reading, validating and splitting.

Three ways in, all giving :class:`SentencePairs` (parallel lists of source and target
sentences with the line each came from):

* :func:`read_pairs` ``(path)``: one pair a line, source and target separated by a tab (the
  Tatoeba / manythings.org format); columns after the second (an attribution) are ignored;
* :func:`read_pairs` ``(path, target_path=...)``: two aligned files, line i of one
  translating line i of the other;
* :func:`pairs_from_frame` ``(frame)``: a DataFrame with a source and a target column.

Validation happens here, once: a missing, empty, binary or non-UTF-8 file, a line without a
tab, a pair whose source or target is blank, two aligned files of different lengths: an
:class:`~lstmkit.errors.InputError` naming the file and the line. Blank lines are skipped.

Several lines may share a source sentence (several translations of it): evaluation counts
them as several references (:meth:`SentencePairs.references`), and :meth:`SentencePairs.split`
holds out whole source sentences, so no held-out sentence was seen in training under another
translation.

This module imports numpy (and pandas for frames), never torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from lstmkit.data.files import decode_utf8, read_file_bytes
from lstmkit.errors import InputError, param_ref

__all__ = ["SentencePairs", "read_pairs", "pairs_from_frame", "bundled_pairs_path", "BUNDLED_PAIRS"]

PathLike = Union[str, "os.PathLike[str]"]
EXPECTED = "a UTF-8 text file of sentence pairs, one a line: source<TAB>target"
#: The bundled sentence pairs (English -> German, see data/bundled/README.md).
BUNDLED_PAIRS = "numbers_en_de.tsv.gz"


@dataclass
class SentencePairs:
    """Parallel source and target sentences.

    ``sources[i]`` translates to ``targets[i]``; ``lines[i]`` is where the pair was read (the
    line in the file, or the row of a frame, counted from 1); ``source_name`` and
    ``target_name`` name the file(s) for messages.
    """

    sources: list[str]
    targets: list[str]
    lines: list[int] = field(default_factory=list)
    source_name: str = "<pairs>"
    target_name: str | None = None

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets):
            raise InputError(f"{self.source_name}: {len(self.sources)} sources but {len(self.targets)} targets")
        if not self.lines:
            self.lines = list(range(1, len(self.sources) + 1))

    def __len__(self) -> int:
        return len(self.sources)

    def where(self, i: int, side: str = "source") -> str:
        """``FILE: line N`` of pair ``i`` (the target file for ``side="target"`` when there are two)."""
        name = self.target_name if side == "target" and self.target_name else self.source_name
        unit = "row" if name.startswith("<") else "line"  # a DataFrame's rows
        return f"{name}: {unit} {self.lines[i]}"

    def subset(self, index) -> "SentencePairs":
        index = [int(i) for i in index]
        return SentencePairs([self.sources[i] for i in index], [self.targets[i] for i in index],
                             [self.lines[i] for i in index], self.source_name, self.target_name)

    def references(self) -> tuple[list[str], list[list[str]]]:
        """The distinct source sentences in order of first appearance, and for each the list of
        its target sentences (its references, in file order)."""
        refs: dict[str, list[str]] = {}
        for s, t in zip(self.sources, self.targets):
            refs.setdefault(s, []).append(t)
        return list(refs), list(refs.values())

    def split(self, fraction: float, seed: int = 0, max_held_out: int | None = None
              ) -> tuple["SentencePairs", "SentencePairs"]:
        """``(train, held_out)``: a seeded ``fraction`` of the distinct source sentences (at
        least one, at most ``max_held_out``, and at least one left to train on) with all their
        translations held out."""
        if not 0.0 < fraction < 1.0:
            raise InputError(f"{param_ref('test_fraction')}: expected a number between 0 and 1; got {fraction}",
                             param="test_fraction")
        distinct, _ = self.references()
        if len(distinct) < 2:
            raise InputError(f"{self.source_name}: holds {len(distinct)} distinct source sentence; "
                             "at least 2 are needed to hold some out for evaluation")
        k = min(len(distinct) - 1, max(1, int(round(fraction * len(distinct)))))
        if max_held_out is not None:
            k = max(1, min(k, int(max_held_out)))
        rng = np.random.default_rng(seed)
        held = set(distinct[i] for i in rng.permutation(len(distinct))[:k])
        test_idx = [i for i, s in enumerate(self.sources) if s in held]
        train_idx = [i for i, s in enumerate(self.sources) if s not in held]
        return self.subset(train_idx), self.subset(test_idx)


def bundled_pairs_path():
    """The path of the bundled English -> German sentence pairs."""
    from importlib.resources import files

    return files("lstmkit.data").joinpath("bundled", BUNDLED_PAIRS)


def _lines(path: PathLike, expected: str) -> tuple[str, list[str]]:
    name = str(path)
    text = decode_utf8(read_file_bytes(path, expected, name), name, expected)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not any(line.strip() for line in lines):
        raise InputError(f"{name}: holds only blank lines; expected {expected}")
    return name, lines


def _field(text: str, where: str, side: str) -> str:
    text = " ".join(text.split())  # tabs/runs of spaces inside a sentence become one space
    if not text:
        raise InputError(f"{where}: the {side} sentence is empty; expected text on both sides of the tab"
                         if side in ("source", "target") else f"{where}: the line is empty")
    return text


def read_pairs(path: PathLike, target_path: PathLike | None = None) -> SentencePairs:
    """Sentence pairs from a tab-separated file, or from two aligned files.

    Args:
        path: the pairs file (``source<TAB>target[<TAB>anything]`` a line; gzip allowed), or
            with ``target_path`` the source sentences, one a line.
        target_path: the target sentences, one a line, aligned with ``path``.

    Raises:
        InputError: naming the file and line: missing, empty, binary or non-UTF-8 file, a line
            without a tab, an empty source or target, files of different lengths.
    """
    if target_path is not None:
        return _read_aligned(path, target_path)
    name, lines = _lines(path, EXPECTED)
    sources, targets, numbers = [], [], []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise InputError(f"{name}: line {no} has no tab; expected source<TAB>target "
                             f"(got {line[:60]!r}{'...' if len(line) > 60 else ''})")
        source, target = line.split("\t")[:2]
        sources.append(_field(source, f"{name}: line {no}", "source"))
        targets.append(_field(target, f"{name}: line {no}", "target"))
        numbers.append(no)
    return SentencePairs(sources, targets, numbers, name)


def _read_aligned(path: PathLike, target_path: PathLike) -> SentencePairs:
    expected = "a UTF-8 text file, one sentence a line"
    src_name, src_lines = _lines(path, expected)
    tgt_name, tgt_lines = _lines(target_path, expected)
    if len(src_lines) != len(tgt_lines):
        def lines(n: int) -> str:
            return f"{n} line{'s' if n != 1 else ''}"

        raise InputError(f"{tgt_name}: has {lines(len(tgt_lines))} but {src_name} has {lines(len(src_lines))}; "
                         "aligned files need one translation per line")
    sources, targets, numbers = [], [], []
    for no, (s, t) in enumerate(zip(src_lines, tgt_lines), start=1):
        if not s.strip() and not t.strip():
            continue
        sources.append(_field(s, f"{src_name}: line {no}", "source"))
        targets.append(_field(t, f"{tgt_name}: line {no}", "target"))
        numbers.append(no)
    return SentencePairs(sources, targets, numbers, src_name, tgt_name)


def pairs_from_frame(frame, source_column: str | None = None, target_column: str | None = None,
                     name: str = "<DataFrame>") -> SentencePairs:
    """Sentence pairs from a DataFrame: ``source_column`` and ``target_column`` (default the
    columns named source/target, else the first two columns). Rows count from 1."""
    columns = [str(c) for c in frame.columns]
    if source_column is None and target_column is None and {"source", "target"} <= set(columns):
        source_column, target_column = "source", "target"
    if source_column is None or target_column is None:
        if len(columns) < 2:
            raise InputError(f"{name}: needs two columns (source and target); got {columns}")
        source_column = source_column or columns[0]
        target_column = target_column or columns[1 if columns[0] != target_column else 0]
    for param, col in (("source_column", source_column), ("target_column", target_column)):
        if col not in columns:
            raise InputError(f"{name}: no column {col!r} ({param_ref(param)}); the columns are {columns}",
                             param=param)
    sources, targets = [], []
    for row, (s, t) in enumerate(zip(frame[source_column].tolist(), frame[target_column].tolist()), start=1):
        where = f"{name}: row {row}"
        sources.append(_field("" if s is None or s != s else str(s), where, "source"))
        targets.append(_field("" if t is None or t != t else str(t), where, "target"))
    if not sources:
        raise InputError(f"{name}: has no rows; expected sentence pairs")
    return SentencePairs(sources, targets, None, name)
