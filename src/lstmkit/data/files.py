"""Opening a data file, once, at the door: the checks every reader of :mod:`lstmkit.data`
shares.

* :func:`read_file_bytes` refuses a missing, unreadable or empty file and a directory, and
  gunzips a gzip-compressed file (``data.csv.gz``);
* :func:`decode_utf8` refuses a binary file (a NUL byte) and text that is not UTF-8, naming
  the line and the byte offset, and gives the text with ``\\n`` newlines (UTF-16 with its
  byte-order mark is read too);
* :func:`sniff` names the format the first bytes announce (Parquet, a ZIP archive).

Every refusal is an :class:`lstmkit.errors.InputError` whose one line starts with the file as
the user named it. Lines are counted from 1, byte offsets from 0, in the file as read (after
gunzipping).

This module imports nothing beyond the standard library and :mod:`lstmkit.errors`.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Union

from lstmkit.errors import InputError

__all__ = ["GZIP_MAGIC", "PARQUET_MAGIC", "ZIP_MAGIC", "decode_utf8", "read_file_bytes", "sniff"]

PathLike = Union[str, "os.PathLike[str]"]

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
UTF16_LE_BOM, UTF16_BE_BOM = b"\xff\xfe", b"\xfe\xff"


def read_file_bytes(path: PathLike, expected: str, name: str | None = None, *, empty: str | None = None) -> bytes:
    """The bytes of a file, gunzipped when it is gzip-compressed.

    Args:
        path: the file.
        expected: what the file should be, for the messages, e.g. ``"UTF-8 text"``.
        name: how messages name the file; defaults to ``str(path)``.
        empty: what an empty file should have held (default ``expected``), e.g.
            ``"a header line such as 'ds,y' and data rows"``.

    Raises:
        InputError: the file is missing, a directory, unreadable, empty, or a damaged gzip
            file.
    """
    name = str(path) if name is None else name
    empty = expected if empty is None else empty
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{name}: no such file; check the path (relative paths start at {os.getcwd()})")
    if p.is_dir():
        raise InputError(f"{name}: is a directory; expected {expected}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc}); check its permissions") from None
    if not data:
        raise InputError(f"{name}: the file is empty (0 bytes); expected {empty}")
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{name}: is a damaged gzip file ({exc}); expected {expected}") from None
        if not data:
            raise InputError(f"{name}: the gzip file holds nothing (0 bytes); expected {empty}")
    return data


def decode_utf8(
    data: bytes,
    name: str,
    expected: str,
    *,
    what: str = "text",
    offset: bool = True,
    fix: str = "save the file as UTF-8",
) -> str:
    """Decode UTF-8 (a leading byte-order mark is dropped, CRLF and CR become LF), and UTF-16
    that starts with its byte-order mark (what Excel's "Unicode Text" and Windows' Notepad save
    as "Unicode"): its NUL bytes are halves of characters, not a binary file's.

    Args:
        data: the bytes of the file.
        name: how messages name the file.
        expected: what the file should be, e.g. ``"a UTF-8 text file"``.
        what: what a binary file is not, e.g. ``"CSV text"``.
        offset: whether the message on a NUL byte gives its byte offset beside its line.
        fix: the advice on bytes that are not UTF-8.

    Raises:
        InputError: a NUL byte (a binary file) or a byte sequence that is not UTF-8, naming
            the line and the byte offset (both counted in the file, lines from 1, offsets
            from 0).
    """
    if data.startswith((UTF16_LE_BOM, UTF16_BE_BOM)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: is not UTF-16 text from offset {exc.start} on, though it starts with "
                             f"UTF-16's byte-order mark; {fix}") from None
        return _newlines(text)
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        at = f"line {line}, offset {nul}" if offset else f"line {line}"
        raise InputError(f"{name}: is a binary file, not {what} (a NUL byte on {at}); expected {expected}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line = data.count(b"\n", 0, pos) + 1
        raise InputError(
            f"{name}: line {line} is not UTF-8 text (byte 0x{data[pos]:02x} at offset {pos}); {fix}"
        ) from None
    return _newlines(text[1:] if text.startswith("\ufeff") else text)


def _newlines(text: str) -> str:
    """CRLF and CR as LF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def sniff(data: bytes) -> str | None:
    """The format the first bytes of (gunzipped) ``data`` announce: ``"parquet"``, ``"zip"``
    (an Excel workbook, an ODS spreadsheet, ...) or None (maybe text)."""
    if data.startswith(PARQUET_MAGIC):
        return "parquet"
    if data.startswith(ZIP_MAGIC):
        return "zip"
    return None
