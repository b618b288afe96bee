"""Labelled sequences, validated: the container every sequence reader returns
(:class:`SequenceData`), and what a classifier checks and splits before training.

This module imports numpy, never torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np

from lstmkit.data.tables import plural, show
from lstmkit.errors import InputError, param_ref

__all__ = ["SequenceData", "check_trainable", "sort_labels", "stratified_split"]


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
        filled: how many missing values inside the sequences the reader filled by linear
            interpolation (:mod:`lstmkit.data.gaps`), in how many sequences
            (``filled_sequences``); 0 when none was missing or they were refused.
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
    filled: int = 0
    filled_sequences: int = 0

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
                    f"{len(classes)} classes the model knows ({show(classes)}); "
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
            f"name the column that holds them ({param_ref('label_column')}; columns: {show(data.columns)})"
        )
    if data.problem_name is not None or str(data.source).lower().endswith(".ts"):
        return "a .ts file needs '@classLabel true <labels>' and the label at the end of each case"
    return "give a file with a label per sequence"


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
            f"{src}: every one of the {plural(len(data), 'sequence')} has class {str(classes[0])!r}; "
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
        ids = show(where[:3]) + (", ..." if len(where) > 3 else "")
        raise InputError(
            f"{src}: class {cls!r} has only {plural(k, 'sequence')} ({'id' if k == 1 else 'ids'} {ids}){more}; each class needs at least "
            f"{min_per_class} (to learn it and to validate on it): add examples or leave the class out"
        )


def stratified_folds(labels: Sequence[str] | np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0..folds-1) of every sequence for a stratified ``folds``-fold cross-validation:
    each class's sequences, in a random order (``seed``), are dealt to the folds in turn, the
    dealing carried on from one class to the next, so every fold holds ``floor`` or ``ceil`` of
    ``n / folds`` sequences and of each class's count over ``folds``. int64, ``(n,)``.

    Raises:
        InputError: ``folds`` is not a whole number >= 2.
    """
    if isinstance(folds, bool) or int(folds) != folds or folds < 2:
        raise InputError(f"the number of folds must be a whole number >= 2, got {folds!r}",
                         param="folds", expected="a whole number >= 2", got=folds)
    labels = np.asarray(labels).astype(str)
    _, inverse = np.unique(labels, return_inverse=True)
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=np.int64)
    dealt = 0
    for c in range(int(inverse.max()) + 1 if len(labels) else 0):
        members = rng.permutation(np.flatnonzero(inverse == c))
        out[members] = (dealt + np.arange(len(members))) % int(folds)
        dealt += len(members)
    return out


def stratified_split(
    labels: Sequence[str] | np.ndarray, test_fraction: float = 0.25, seed: int = 0, min_train: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into ``(train_idx, test_idx)``, keeping the class proportions.

    About ``test_fraction`` of each class goes to the test part (rounded so the total is
    ``round(n * test_fraction)`` where the classes allow it); every class keeps at least
    ``min_train`` sequences for training, and a class with more has at least one in each part;
    a class with ``min_train`` or fewer goes wholly to training.
    The same labels and seed give the same split. Both arrays are sorted int64.

    Raises:
        InputError: ``test_fraction`` is not strictly between 0 and 1.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise InputError(f"the test fraction must be between 0 and 1 (exclusive), got {test_fraction}",
                         param="test_fraction", expected="between 0 and 1", got=test_fraction)
    labels = np.asarray(labels).astype(str)
    n = len(labels)
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    ideal = counts * float(test_fraction)
    spare = counts > max(int(min_train), 1)
    lo = np.where(spare, 1, 0)
    hi = np.where(spare, counts - max(int(min_train), 1), 0)
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


