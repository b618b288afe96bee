"""``lstmkit detect --model DIR --follow FILE|-``: score rows as they are appended.

The file (or stdin) is CSV with a header line naming at least the model's time column and
its channels (and its id column when it was trained on many series). Every row is scored at
once by the detector's stream (the compiled LSTM step, state kept per series); the first
flagged row of an event prints a line at once, and its end another. A file is read from its start, then followed like ``tail -f``
(until Ctrl-C, or ``--idle`` seconds without a new row); stdin until it ends. At the end: how
many rows, how many flagged, and the per-point latency of ``update``.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

from lstmkit.errors import InputError


def _text(raw: bytes, source: str, number: int) -> str:
    """Row ``number``'s bytes as text (UTF-8; a byte-order mark before the header dropped)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: row {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at column "
                         f"{exc.start + 1} of the line); write the file as UTF-8") from None
    return text.removeprefix("\ufeff") if number == 1 else text


def _lines(source: str, idle: float | None):
    """Yield ``(line_number, text)``: stdin to its end, or a file followed as it grows. A file
    truncated or replaced while followed (log rotation) is an error: the rows written to it
    since would be lost without a word. So is one truncated and written again past the point
    read between two reads (the size alone cannot show it): before each line the previous one
    is read back from its place in the file, and a file only appended to still holds it there."""
    name = "stdin" if source == "-" else source
    if source == "-":
        stream = getattr(sys.stdin, "buffer", None)
        for number, line in enumerate(stream if stream is not None else sys.stdin, start=1):
            yield number, _text(line, name, number) if isinstance(line, bytes) else line.removeprefix("\ufeff")
        return
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{source}: no such file; give the CSV file to follow, or - for stdin", param="follow")
    with path.open("rb") as fh:
        inode = os.fstat(fh.fileno()).st_ino
        number, pending, last_seen = 0, b"", time.monotonic()
        previous, previous_at = b"", 0  # the last whole line yielded, and its offset
        while True:
            chunk = fh.readline()
            if chunk:
                pending += chunk
                if pending.endswith(b"\n"):
                    if previous and os.pread(fh.fileno(), len(previous), previous_at) != previous:
                        raise InputError(f"{source}: the file was truncated and written again while followed, "
                                         f"after row {number}; the rows written to it since are not read: run "
                                         f"detect --follow on it again")
                    number += 1
                    yield number, _text(pending, name, number)
                    previous, previous_at = pending, fh.tell() - len(pending)
                    pending = b""
                last_seen = time.monotonic()
                continue
            try:
                now = os.stat(path)
            except FileNotFoundError:
                now = None
            if now is None or now.st_ino != inode or now.st_size < fh.tell():
                what = "replaced (or removed)" if now is None or now.st_ino != inode else "truncated"
                raise InputError(f"{source}: the file was {what} while followed, after row {number}; the rows "
                                 f"written to it since are not read: run detect --follow on it again")
            if idle is not None and time.monotonic() - last_seen >= idle:
                if pending:
                    number += 1
                    yield number, _text(pending, name, number)
                return
            time.sleep(0.05)


def _as_written(value, like, like_text: str) -> str:
    """``value`` written as the file wrote ``like`` (``like_text``): the zeros the file left
    off (seconds, a midnight time) left off here too."""
    full, text = str(like), str(value)
    suffix = full[len(like_text):] if full.startswith(like_text) else ""
    return text[:-len(suffix)] if suffix and text.endswith(suffix) else text


class _Clock:
    """Each series' rows must come one step after the other, as the model was trained: the
    time column read as the training data's was (step numbers or times), every row one step
    (the training frequency) after its series' previous one. The stream's state assumes it;
    a gap, a repeat or a row out of order would be scored as the next step."""

    def __init__(self, spec, source: str) -> None:
        import pandas as pd

        self.spec, self.source, self.last = spec, source, {}
        self.step = None  # one step: an offset of times, or a stride of step numbers
        if spec.steps is not None and spec.freq:
            try:
                offset = pd.tseries.frequencies.to_offset(spec.freq)
                # step numbers were read as seconds: the training data's stride
                self.step = round(pd.Timedelta(offset).total_seconds()) if spec.steps else offset
            except (ValueError, TypeError):
                self.step = None

    def check(self, uid: str, stamp: str, number: int) -> None:
        import pandas as pd

        spec, where = self.spec, f"{self.source}: row {number}, column {self.spec.time!r}"
        if spec.steps is None:  # a model saved before its timing was kept: not checked
            return
        number_like = _STEP.fullmatch(stamp) is not None
        if spec.steps:
            if not number_like:
                raise InputError(f"{where}: expected a step number, as the model was trained on, got {stamp!r}")
            now = int(float(stamp))
        else:
            if number_like:
                raise InputError(f"{where}: a step number ({stamp!r}) where the model was trained on times")
            try:
                now = pd.Timestamp(stamp)
            except (ValueError, TypeError, OverflowError):
                raise InputError(f"{where}: not a time: {stamp!r}") from None
        last, last_text = self.last.get(uid, (None, None))  # the previous row's time, and as the file wrote it
        if last is not None:
            expected = last + self.step if self.step is not None else None
            series = f" of series {uid!r}" if spec.has_id or len(self.last) > 1 else ""
            try:
                earlier = now <= last
            except TypeError:  # a time with a UTC offset after one without, or the reverse
                raise InputError(f"{where}: {stamp} and the previous row's time{series} ({last_text}) are not both "
                                 f"with or both without a UTC offset") from None
            if earlier:
                raise InputError(f"{where}: {stamp} is not after the previous row{series} ({last_text}); rows must come "
                                 f"in time order, one step apart")
            if expected is not None and now != expected:
                raise InputError(f"{where}: {stamp} skips steps after {last_text}{series} (the next step is "
                                 f"{_as_written(expected, last, last_text)}); "
                                 f"the stream scores regular steps: fill the gap in the rows it reads")
        self.last[uid] = (now, stamp)


_STEP = re.compile(r"[+-]?\d+(\.0*)?")


def _refuse_unused(args: argparse.Namespace) -> None:
    """--follow reads the model's own columns from FILE or stdin, and writes nothing: the
    options that would go unheard are refused."""
    from lstmkit.cli.main import UsageError

    given = [flag for flag, value in (
        ("DATA", args.data), ("--out", args.out), ("--resume", args.resume), ("--label", args.label),
        ("--label-windows", args.label_windows), ("--normal", args.normal), ("--normal-until", args.normal_until),
        ("--time", args.time), ("--target", args.target), ("--id", args.id), ("--covariates", args.covariates),
        ("--freq", args.freq), ("--fill", args.fill)) if value]
    if given:
        raise UsageError(f"{given[0]} does not go with --follow, which reads the model's columns from the followed "
                         f"rows and writes nothing (name the file to follow with --follow FILE)")
    if args.follow == "-" and args.idle is not None:
        raise UsageError("--idle goes with --follow FILE; --follow - reads stdin until its writer closes it")


def follow(args: argparse.Namespace) -> int:
    from lstmkit.tasks.detect import AnomalyDetector

    _refuse_unused(args)
    detector = AnomalyDetector.load(args.model)
    spec = detector.spec
    if detector.params.method != "prediction":
        raise InputError(f"{args.model}: --follow scores one row at a time, which needs a detector trained with "
                         f"--method prediction (this one reconstructs windows)")
    name = "stdin" if args.follow == "-" else args.follow
    header: list[str] | None = None
    streams: dict[str, object] = {}
    latencies: list[float] = []
    rows = flagged = 0
    open_runs: dict[str, list] = {}  # series -> [first time, last time, steps, peak score] of its open event
    clock = _Clock(spec, name)
    by_id = spec.has_id
    try:
        for number, text in _lines(args.follow, args.idle):
            if not text.strip():
                continue
            cells = next(csv.reader(io.StringIO(text)))
            if header is None:
                header = [c.strip() for c in cells]
                twice = next((c for c in header if header.count(c) > 1), None)
                if twice is not None:
                    raise InputError(f"{name}: row {number}: the header names column {twice!r} twice")
                # a one-series model reads a file of several series each with its own state,
                # each scored as it would be alone (as detect DATA --model does)
                by_id = spec.has_id or spec.id in header
                needed = [spec.time, *spec.targets, *spec.covariates] + ([spec.id] if by_id else [])
                missing = [c for c in needed if c not in header]
                if missing:
                    raise InputError(f"{name}: row {number}: the header has no column {missing[0]!r}; the model reads "
                                     f"{', '.join(map(repr, needed))}")
                index = {c: header.index(c) for c in needed}
                continue
            if len(cells) != len(header):
                raise InputError(f"{name}: row {number}: expected {len(header)} cells as in the header, got {len(cells)}")
            uid = cells[index[spec.id]].strip() if by_id else next(iter(spec.mean))
            values = []
            for column in (*spec.targets, *spec.covariates):
                cell = cells[index[column]].strip()
                try:
                    value = float(cell)
                except ValueError:
                    value = float("nan")
                if not np.isfinite(value):
                    raise InputError(f"{name}: row {number}, column {column!r}: expected a finite number, got {cell!r}")
                values.append(value)
            clock.check(uid, cells[index[spec.time]].strip(), number)
            if uid not in streams:
                known = uid if uid in spec.mean else (next(iter(spec.mean)) if not spec.has_id else None)
                if known is None:
                    raise InputError(f"{name}: row {number}, column {spec.id!r}: series {uid!r} is not one the model "
                                     f"was trained on")
                streams[uid] = detector.stream(known)
            started = time.perf_counter()
            point = streams[uid].update(values)
            latencies.append(time.perf_counter() - started)
            rows += 1
            stamp = cells[index[spec.time]].strip()
            who = f"series {uid}  " if by_id else ""
            run = open_runs.get(uid)
            if point.flag:
                flagged += 1
                if run is None:
                    open_runs[uid] = [stamp, stamp, 1, point.score]
                    print(f"anomaly  {who}{stamp}  score {point.score:.2f}", flush=True)
                else:
                    run[1], run[2], run[3] = stamp, run[2] + 1, max(run[3], point.score)
            elif run is not None:
                print(f"  ended  {who}{run[1]}  ({run[2]} steps from {run[0]}, peak score {run[3]:.2f})", flush=True)
                del open_runs[uid]
    except KeyboardInterrupt:
        pass
    for uid, run in open_runs.items():
        who = f"series {uid}  " if by_id else ""
        print(f"  still open  {who}{run[1]}  ({run[2]} steps from {run[0]}, peak score {run[3]:.2f})")
    _summary(rows, flagged, latencies, streams)
    return 0


def _summary(rows: int, flagged: int, latencies: list[float], streams: dict) -> None:
    if not latencies:
        print("no rows scored")
        return
    us = np.asarray(latencies) * 1e6
    compiled = all(getattr(s, "compiled", False) for s in streams.values())
    print(f"{rows} rows scored, {flagged} flagged; latency per point: mean {us.mean():.0f} us, "
          f"median {np.median(us):.0f} us, p99 {np.percentile(us, 99):.0f} us "
          f"({'compiled LSTM step' if compiled else 'reference cell'})")
