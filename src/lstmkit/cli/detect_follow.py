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
import sys
import time
from pathlib import Path

import numpy as np

from lstmkit.errors import InputError


def _lines(source: str, idle: float | None):
    """Yield ``(line_number, text)``: stdin to its end, or a file followed as it grows."""
    if source == "-":
        for number, line in enumerate(sys.stdin, start=1):
            yield number, line
        return
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{source}: no such file; give the CSV file to follow, or - for stdin", param="follow")
    with path.open("r", encoding="utf-8", newline="") as fh:
        number, pending, last_seen = 0, "", time.monotonic()
        while True:
            chunk = fh.readline()
            if chunk:
                pending += chunk
                if pending.endswith("\n"):
                    number += 1
                    yield number, pending
                    pending = ""
                last_seen = time.monotonic()
                continue
            if idle is not None and time.monotonic() - last_seen >= idle:
                if pending:
                    number += 1
                    yield number, pending
                return
            time.sleep(0.05)


def follow(args: argparse.Namespace) -> int:
    from lstmkit.tasks.detect import AnomalyDetector

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
    try:
        for number, text in _lines(args.follow, args.idle):
            if not text.strip():
                continue
            cells = next(csv.reader(io.StringIO(text)))
            if header is None:
                header = [c.strip() for c in cells]
                needed = [spec.time, *spec.targets, *spec.covariates] + ([spec.id] if spec.has_id else [])
                missing = [c for c in needed if c not in header]
                if missing:
                    raise InputError(f"{name}: row {number}: the header has no column {missing[0]!r}; the model reads "
                                     f"{', '.join(map(repr, needed))}")
                index = {c: header.index(c) for c in needed}
                continue
            if len(cells) != len(header):
                raise InputError(f"{name}: row {number}: expected {len(header)} cells as in the header, got {len(cells)}")
            uid = cells[index[spec.id]].strip() if spec.has_id else next(iter(spec.mean))
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
            if uid not in streams:
                if uid not in spec.mean:
                    raise InputError(f"{name}: row {number}, column {spec.id!r}: series {uid!r} is not one the model "
                                     f"was trained on")
                streams[uid] = detector.stream(uid)
            started = time.perf_counter()
            point = streams[uid].update(values)
            latencies.append(time.perf_counter() - started)
            rows += 1
            stamp = cells[index[spec.time]].strip()
            who = f"series {uid}  " if spec.has_id else ""
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
        who = f"series {uid}  " if spec.has_id else ""
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
