"""Text for ``lstmkit generate``, a character-level language model.

* :func:`read_text` reads any UTF-8 text file and refuses, with one line naming the file (and
  the line and byte offset where it applies), a missing, empty, binary or non-UTF-8 file.
* :func:`default_corpus` is a corpus every Python install has: the source code of a fixed list
  of pure-Python standard-library modules (:data:`DEFAULT_CORPUS_MODULES`), docstrings and
  comments included, concatenated in that order.
* :class:`Vocabulary` maps characters to integer ids and back. Index 0 is reserved for
  characters not seen when the vocabulary was built (:data:`UNKNOWN`).
* :func:`split_text` cuts encoded text into a training part and a validation part, each
  contiguous (the validation part is the end of the text).

The file checks (:func:`read_file_bytes`, :func:`decode_utf8`) live in
:mod:`lstmkit.data.files`, shared by every reader; they stay importable from here.

This module imports numpy, never torch.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Iterable, Mapping, Sequence, Union

import numpy as np

from lstmkit.data.files import decode_utf8, read_file_bytes
from lstmkit.errors import InputError

__all__ = [
    "DEFAULT_CORPUS_MODULES",
    "UNKNOWN",
    "UNKNOWN_ID",
    "Vocabulary",
    "decode_utf8",
    "default_corpus",
    "read_file_bytes",
    "read_text",
    "split_text",
]

PathLike = Union[str, "os.PathLike[str]"]

#: The character that stands for anything not in the vocabulary; it always has index 0.
UNKNOWN = "\ufffd"
UNKNOWN_ID = 0

#: The standard-library modules whose source makes :func:`default_corpus`, in this order.
#: All are pure Python in CPython 3.10 to 3.13, and most of their text is prose: module and
#: function docstrings and comments, with the code around them.
DEFAULT_CORPUS_MODULES: tuple[str, ...] = (
    "argparse",
    "textwrap",
    "difflib",
    "collections",
    "string",
    "shlex",
    "pprint",
    "calendar",
    "functools",
    "dataclasses",
    "heapq",
    "bisect",
    "statistics",
    "fractions",
    "contextlib",
    "copy",
    "random",
    "json",
    "csv",
    "optparse",
    "configparser",
    "cmd",
    "getopt",
    "queue",
    "numbers",
    "gettext",
    "glob",
    "fnmatch",
)


# --------------------------------------------------------------------------- reading


def read_text(path: PathLike) -> str:
    """The text of a UTF-8 file (gzip-compressed or not), newlines as ``\\n``.

    Raises:
        InputError: one line naming the file when it is missing, a directory, empty, binary
            (a NUL byte) or not UTF-8 (with the line and byte offset of the first bad byte).
    """
    expected = "a UTF-8 text file"
    name = str(path)
    text = decode_utf8(read_file_bytes(path, expected, name), name, expected)
    if not text:
        raise InputError(f"{name}: holds only a byte-order mark, no text; expected {expected}")
    return text


# --------------------------------------------------------------------------- default corpus


def default_corpus(max_chars: int | None = 1_000_000, modules: Sequence[str] = DEFAULT_CORPUS_MODULES) -> str:
    """A corpus every Python install has: standard-library source code.

    The source files of ``modules`` (by default :data:`DEFAULT_CORPUS_MODULES`, about 0.8
    million characters on CPython 3.11) are found with ``importlib.util.find_spec(name).origin``
    (the module is not imported), read as UTF-8 and joined in the given order with a blank
    line between them. The result is the same on every run with the same Python version;
    another version gives slightly different text. A module whose source is not installed
    (some distributions ship only ``.pyc`` files) is left out.

    Args:
        max_chars: cut the corpus to at most this many characters, at the end of a line
            where one ends in the last tenth; None: no limit.
        modules: the modules to read, in order.

    Raises:
        InputError: no source file of any of the modules could be read.
    """
    if max_chars is not None and max_chars < 1:
        raise InputError(f"max_chars must be at least 1, got {max_chars}")
    parts: list[str] = []
    total = 0
    for module in modules:
        source = _module_source(module)
        if source is None:
            continue
        parts.append(source.rstrip("\n") + "\n")
        total += len(parts[-1]) + 1
        if max_chars is not None and total >= max_chars:
            break
    if not parts:
        raise InputError(
            "the default corpus is the source of standard-library modules, and none could be read "
            "(this Python has no .py sources); give a text file instead"
        )
    text = "\n".join(parts)
    if max_chars is not None and len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        text = text[: cut + 1] if cut >= int(0.9 * max_chars) else text[:max_chars]
    return text


def _module_source(module: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py"):
        return None
    try:
        with open(origin, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------- vocabulary


class Vocabulary:
    """Characters to integer ids and back.

    Index 0 is :data:`UNKNOWN` (U+FFFD, the replacement character); the characters seen in
    the text the vocabulary was built from follow from index 1 in code-point order.
    :meth:`encode` maps any character not in the vocabulary (text the model never saw) to 0,
    and :meth:`decode` writes index 0 as U+FFFD. A U+FFFD in the training text is the same
    unknown character.
    """

    def __init__(self, chars: Iterable[str]):
        seen = set()
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise InputError(f"vocabulary: each entry must be one character, got {ch!r}")
            seen.add(ch)
        seen.discard(UNKNOWN)
        self._itos: list[str] = [UNKNOWN, *sorted(seen)]
        self._stoi = {ch: i for i, ch in enumerate(self._itos)}
        self._codes = np.array([ord(ch) for ch in self._itos[1:]], dtype=np.int64)  # sorted

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        """The vocabulary of every character in ``text``."""
        return cls(set(text))

    @property
    def chars(self) -> str:
        """The known characters in index order, starting at index 1 (without :data:`UNKNOWN`)."""
        return "".join(self._itos[1:])

    @property
    def unknown_index(self) -> int:
        return 0

    def __len__(self) -> int:
        """Number of ids, the unknown one included."""
        return len(self._itos)

    def __contains__(self, ch: object) -> bool:
        return isinstance(ch, str) and ch in self._stoi and ch != UNKNOWN

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._itos == other._itos

    def __repr__(self) -> str:
        return f"Vocabulary({len(self) - 1} characters + unknown)"

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text``, int64; unknown characters give 0."""
        if not text:
            return np.zeros(0, dtype=np.int64)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        if len(self._codes) == 0:
            return np.zeros(len(codes), dtype=np.int64)
        pos_c = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        hit = self._codes[pos_c] == codes
        return np.where(hit, pos_c + 1, 0).astype(np.int64)

    def count_unknown(self, text: str) -> int:
        """How many characters of ``text`` are not in the vocabulary."""
        return int((self.encode(text) == 0).sum())

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """The text of ``ids``; 0 gives U+FFFD.

        Raises:
            InputError: an id outside ``0 .. len(self) - 1``.
        """
        arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self._itos)):
            bad = int(arr[(arr < 0) | (arr >= len(self._itos))][0])
            raise InputError(f"vocabulary: id {bad} is out of range 0 .. {len(self._itos) - 1}")
        itos = self._itos
        return "".join(itos[i] for i in arr.tolist())

    def to_dict(self) -> dict:
        """A JSON-ready description: ``{"chars": ..., "unknown": "\\ufffd", "unknown_index": 0}``."""
        return {"chars": self.chars, "unknown": UNKNOWN, "unknown_index": 0}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Vocabulary":
        """The vocabulary :meth:`to_dict` described.

        Raises:
            InputError: not such a description.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("chars"), str):
            raise InputError("vocabulary: expected a mapping with a 'chars' string (from Vocabulary.to_dict)")
        if data.get("unknown", UNKNOWN) != UNKNOWN or data.get("unknown_index", 0) != 0:
            raise InputError("vocabulary: the unknown character must be U+FFFD at index 0")
        chars = data["chars"]
        if list(chars) != sorted(set(chars)) or UNKNOWN in chars:
            raise InputError("vocabulary: 'chars' must hold distinct characters in code-point order, without U+FFFD")
        return cls(chars)


# --------------------------------------------------------------------------- splitting


def split_text(ids: np.ndarray | Sequence[int], val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split encoded text into ``(train, val)``, both contiguous: ``val`` is the last
    ``round(len(ids) * val_fraction)`` ids (at least 1 when ``val_fraction > 0``), ``train``
    everything before.

    Raises:
        InputError: ``val_fraction`` is not in ``[0, 1)``, or the text is too short to leave
            at least one id in each part.
    """
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise InputError(f"split_text: expected a 1-d array of ids, got shape {arr.shape}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise InputError(f"the validation fraction must be at least 0 and below 1, got {val_fraction}")
    n = len(arr)
    if val_fraction == 0:
        return arr, arr[n:]
    k = max(1, int(round(n * float(val_fraction))))
    if n - k < 1:
        raise InputError(
            f"the text has {n} character{'s' if n != 1 else ''}; too short to split into training and validation text"
        )
    return arr[: n - k], arr[n - k :]
