"""Property-based tests of the readers: whatever bytes or frames come in, the answer is a valid
result or an InputError of one line; never another exception. Through the command line, a
refused file gives exit status 2, one line ``error: ...``, no traceback and no run directory.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from lstmkit.cli.flags import flag_for
from lstmkit.data import read_sequences, read_text, read_timeseries
from lstmkit.data.sequences import check_trainable
from lstmkit.errors import InputError

# LSTMKIT_FUZZ_EXAMPLES=2000 explores more, with a fresh random seed each run
_EXAMPLES = int(os.environ.get("LSTMKIT_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_EXAMPLES or 60, deadline=None, derandomize=not _EXAMPLES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FUZZ_CLI = settings(max_examples=_EXAMPLES or 25, deadline=None, derandomize=not _EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- valid files

TS_CSV = (
    "unique_id,ds,y,temp\n"
    + "".join(f"A,2020-01-{d:02d},{d * 1.5},{d % 3}\n" for d in range(1, 9))
    + "".join(f"B,2020-01-{d:02d},{100 - d},{d % 2}\n" for d in range(1, 9))
).encode()
TS_STEPS_CSV = (  # the time as step numbers (statsforecast's long format for M4)
    "unique_id,ds,y\n" + "".join(f"H1,{t},{(t % 4) * 1.5}\n" for t in range(1, 13))
    + "".join(f"H2,{t},{10 - t % 3}\n" for t in range(5, 17))
).encode()
SEQ_WIDE_CSV = b"id,label,t1,t2,t3\n1,a,1,2,3\n2,b,4,5,\n3,a,7,8,9\n4,b,1.5,2.5,3.5\n"
SEQ_LONG_CSV = (
    "id,time,label,x,z\n" + "".join(f"{i},{t},{'ab'[i % 2]},{i + t},{t * 0.5}\n" for i in range(4) for t in range(3))
).encode()
SEQ_TS = (
    b"# comment\n@problemName Toy\n@timeStamps false\n@univariate false\n@dimensions 2\n"
    b"@equalLength false\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n7,8:9,10:b\n1,?,3:4,5,6:a\n2,3:4,5:b\n"
)
SEQ_TSV = b"1\t1.0\t2.0\t3.0\n2\t4.0\t5.0\tNaN\n1\t7\t8\t9\n2\t1e3\t2\t3\n"
SEQ_ARFF = (
    b"% comment\n@relation Toy\n@attribute t0 numeric\n@attribute t1 numeric\n@attribute t2 numeric\n"
    b"@attribute c {a,'b b'}\n@data\n1,2,3,a\n4,?,6,'b b'\n7,8,?,a\n2,3,4,'b b'\n"
)
SEQ_ARFF_MULTI = (
    b"@relation Toy\n@attribute m relational\n@attribute t0 numeric\n@attribute t1 numeric\n@end m\n"
    b"@attribute c {a,b}\n@data\n'1,2\\n3,4',a\n\"5,?\\n7,?\",b\n'1,?\\n3,4',a\n'2,3\\n4,5',b\n"
)
TEXT = "Long short-term memory: the cell state carries information.\nÜber alles ✓\n".encode()

GARBAGE = ["", " ", "nan", "NaN", "inf", "-inf", "1e999", "-1e999", "9" * 40, "1e-400", "?", "NA", "abc",
           "1,5", "1.234,5", "2020-13-45", "2020-01-01T00:00:00+05:00", "0x1F", "\x00", "é", '"',
           "'", ",", ";", "\t", ":", "(", ")", "@data", "#", "%", "\n", "\r", "True", "-0", "1_000", "١٢"]


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` after none to three random edits: truncated, a field replaced by garbage, a
    column dropped, a line duplicated or dropped, random bytes inserted, re-encoded."""
    data = base
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["truncate", "cell", "column", "dup", "drop", "bytes", "encode"]))
        lines = data.split(b"\n")
        if kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "cell":
            i = draw(st.integers(0, max(0, len(lines) - 1)))
            fields = lines[i].split(b",") if b"," in lines[i] else lines[i].split(b"\t")
            j = draw(st.integers(0, max(0, len(fields) - 1)))
            text = draw(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=8)))
            fields[j] = text.encode("utf-8", "surrogatepass")
            lines[i] = (b"," if b"," in lines[i] else b"\t").join(fields)
            data = b"\n".join(lines)
        elif kind == "column":
            j = draw(st.integers(0, 5))
            header_only = draw(st.booleans())
            out = []
            for k, line in enumerate(lines):
                fields = line.split(b",")
                if (k == 0 or not header_only) and j < len(fields):
                    del fields[j]
                out.append(b",".join(fields))
            data = b"\n".join(out)
        elif kind in ("dup", "drop") and lines:
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "dup":
                lines.insert(draw(st.integers(0, len(lines))), lines[i])
            else:
                del lines[i]
            data = b"\n".join(lines)
        elif kind == "bytes":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
        else:
            how = draw(st.sampled_from(["latin-1", "utf-16", "bom", "crlf", "gzip", "bad-gzip"]))
            text = data.decode("utf-8", "replace")
            if how == "latin-1":
                data = text.encode("latin-1", "replace")
            elif how == "utf-16":
                data = text.encode("utf-16")
            elif how == "bom":
                data = b"\xef\xbb\xbf" + data
            elif how == "crlf":
                data = data.replace(b"\n", b"\r\n")
            elif how == "gzip":
                data = gzip.compress(data)
            else:
                data = gzip.compress(data)[: draw(st.integers(2, 12))]
    return data


# --------------------------------------------------------------------------- checks


def _note(text: str) -> None:
    """Count an outcome for ``--hypothesis-show-statistics``."""
    if currently_in_test_context():
        event(text)


def _outcome(fn, *args, **kwargs):
    """The result, or the InputError; any other exception fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs), None
        except InputError as exc:
            _note(f"InputError from {fn.__name__}")
            message = str(exc)
            assert message and "\n" not in message and "\r" not in message, repr(message)
            assert "\x1f" not in message and "\x1e" not in message  # parameter markers rendered
            return None, exc


def _valid_timeseries(ts) -> None:
    _note("a valid time series")
    values = ts.frame[list(ts.roles.values)].to_numpy(dtype=np.float64)
    assert np.isfinite(values).all()
    assert ts.frame[ts.roles.time].notna().all()
    assert not ts.frame.duplicated([ts.roles.id, ts.roles.time]).any()
    assert ts.season_length >= 1 and ts.freq
    if ts.steps:
        from lstmkit.data.tables import to_steps

        _note("step numbers")
        steps = to_steps(ts.frame[ts.roles.time])
        assert (steps >= 0).all() and steps.dtype == np.int64


def _valid_sequences(data) -> None:
    _note("valid sequences")
    assert len(data.sequences) == len(data.ids)
    for s in data.sequences:
        assert s.dtype == np.float32 and s.ndim == 2 and len(s) >= 1 and s.shape[1] == data.n_channels
        assert np.isfinite(s).all()
    if data.labels is not None:
        assert len(data.labels) == len(data.sequences)
        assert set(data.labels.tolist()) == set(data.classes)


def _write(directory: str, name: str, data: bytes) -> Path:
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def _read_as_tables(path) -> None:
    """Both table readers on ``path``: a valid result or InputError, nothing else."""
    ts, _ = _outcome(read_timeseries, path)
    if ts is not None:
        _valid_timeseries(ts)
    seq, _ = _outcome(read_sequences, path)
    if seq is not None:
        _valid_sequences(seq)


def _read_all(directory: str, data: bytes, suffixes=(".csv", ".tsv", ".ts", ".arff", ".parquet", ".txt")) -> None:
    for suffix in suffixes:
        _read_as_tables(_write(directory, "f" + suffix, data))
    text, _ = _outcome(read_text, _write(directory, "f.txt", data))
    assert text is None or (isinstance(text, str) and text)


# --------------------------------------------------------------------------- random bytes and mutated files


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    with tempfile.TemporaryDirectory() as d:
        _read_all(d, data)


@FUZZ
@given(st.one_of(mutated(TS_CSV), mutated(TS_STEPS_CSV), mutated(SEQ_WIDE_CSV), mutated(SEQ_LONG_CSV)))
def test_mutated_tables(data):
    with tempfile.TemporaryDirectory() as d:
        _read_all(d, data, suffixes=(".csv",))
        path = _write(d, "g.csv", data)
        for kwargs in ({"id": "unique_id", "past_covariates": ["temp"], "fill": "interpolate"},
                       {"future_covariates": ["temp"], "freq": "D"}):
            ts, _ = _outcome(read_timeseries, path, **kwargs)
            if ts is not None:
                _valid_timeseries(ts)
        for kwargs in ({"id_column": "id", "time_column": "time"}, {"label_column": "label", "value_columns": ["x"]}):
            seq, _ = _outcome(read_sequences, path, **kwargs)
            if seq is not None:
                _valid_sequences(seq)


@FUZZ
@given(st.one_of(mutated(SEQ_TS), mutated(SEQ_TSV), mutated(SEQ_ARFF), mutated(SEQ_ARFF_MULTI)))
def test_mutated_sequence_files(data):
    with tempfile.TemporaryDirectory() as d:
        for suffix in (".ts", ".tsv", ".arff"):
            seq, _ = _outcome(read_sequences, _write(d, "s" + suffix, data))
            if seq is not None:
                _valid_sequences(seq)


@FUZZ
@given(mutated(TEXT))
def test_mutated_text(data):
    with tempfile.TemporaryDirectory() as d:
        text, _ = _outcome(read_text, _write(d, "t.txt", data))
        assert text is None or (isinstance(text, str) and text)


# --------------------------------------------------------------------------- frames and Parquet

CELLS = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.sampled_from(GARBAGE + ["2020-01-01", "2020-01-02", "2021-06-30 12:00", "1", "2.5", "a", "b"]),
    st.datetimes(min_value=pd.Timestamp("1700-01-01").to_pydatetime(), max_value=pd.Timestamp("2200-01-01").to_pydatetime()),
)


@st.composite
def frames(draw) -> pd.DataFrame:
    """A frame near the readers' expectations: usual column names (or others), cells of one
    kind per column mostly, with outliers."""
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 10, 10, 10]))
    names = draw(st.lists(st.sampled_from(["ds", "y", "unique_id", "id", "label", "time", "x", "t1", "t2", 0, "Y"]),
                          min_size=0, max_size=5))
    columns = {}
    for k, name in enumerate(names):
        kind = draw(st.sampled_from(["float", "date", "text", "mixed", "int", "bool", "tz", "category", "Int64",
                                     "boolean", "timedelta", "bigint"]))
        if kind == "tz":
            col = pd.Series(pd.date_range("2020-01-01", periods=n, freq="D", tz=draw(st.sampled_from(["UTC", "Europe/Paris"]))))
        elif kind == "category":
            col = pd.Series(draw(st.lists(st.sampled_from(["a", "b", "1", "2020-01-01"]), min_size=n, max_size=n)),
                            dtype="category")
        elif kind == "Int64":
            col = pd.Series(draw(st.lists(st.one_of(st.none(), st.integers(-5, 2030)), min_size=n, max_size=n)), dtype="Int64")
        elif kind == "boolean":
            col = pd.Series(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)), dtype="boolean")
        elif kind == "timedelta":
            col = pd.Series(pd.to_timedelta(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)), unit="s"))
        elif kind == "bigint":
            col = pd.Series(draw(st.lists(st.integers(-(2**80), 2**80), min_size=n, max_size=n)), dtype=object)
        elif kind == "float":
            col = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
        elif kind == "date":
            col = list(pd.date_range("2020-01-01", periods=n, freq=draw(st.sampled_from(["D", "MS", "h", "7D"]))))
        elif kind == "int":
            col = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
        elif kind == "bool":
            col = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        elif kind == "text":
            col = draw(st.lists(st.sampled_from(["a", "b", "1", "2020-01-03", "", "?", "x y"]), min_size=n, max_size=n))
        else:
            col = draw(st.lists(CELLS, min_size=n, max_size=n))
        columns[(k, name)] = col
    frame = pd.DataFrame({k: (v.to_numpy() if isinstance(v, pd.Series) and v.dtype == object else v)
                          for (k, _), v in columns.items()}, index=pd.RangeIndex(n))
    frame.columns = [name for _, name in columns]
    if draw(st.booleans()):  # near a valid frame: a good one with some of its columns replaced
        good = pd.DataFrame({"unique_id": ["A"] * 5 + ["B"] * 5, "ds": list(pd.date_range("2021-03-01", periods=5)) * 2,
                             "y": np.arange(10.0), "x": np.arange(10) % 3, "label": list("ababababab")})
        k = min(draw(st.integers(0, 2)), len(frame.columns))
        if len(frame) == len(good):
            for j in range(k):
                good[str(frame.columns[j])] = frame.iloc[:, j].to_numpy()
        frame = good
    n = len(frame)
    if draw(st.booleans()) and n:
        frame.index = draw(st.sampled_from([pd.RangeIndex(5, 5 + n), pd.Index(list("abcdefghij")[:n], name="idx"),
                                            pd.date_range("2020-01-01", periods=n)]))
    return frame


@FUZZ
@given(frames())
def test_frames_and_parquet(frame):
    ts, _ = _outcome(read_timeseries, frame)
    if ts is not None:
        _valid_timeseries(ts)
    for kwargs in ({}, {"id_column": "id", "time_column": "time"}):
        seq, _ = _outcome(read_sequences, frame, **kwargs)
        if seq is not None:
            _valid_sequences(seq)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame.to_parquet(buffer)
    except Exception:  # noqa: BLE001 - pyarrow refuses mixed columns and duplicate names
        return
    with tempfile.TemporaryDirectory() as d:
        _read_as_tables(_write(d, "p.parquet", buffer.getvalue()))


# --------------------------------------------------------------------------- through the command line


def _cli(argv: list[str]) -> tuple[int, str, str]:
    from lstmkit.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _refused_by_cli(command: str, argv: list[str], exc: InputError, out_dir: Path) -> None:
    code, _, err = _cli(argv)
    assert code == 2, err
    assert err == f"error: {exc.render(flag_for(command))}\n"
    assert "Traceback" not in err and err.count("\n") == 1
    assert not out_dir.exists()


@FUZZ_CLI
@given(st.one_of(mutated(TS_CSV), st.binary(max_size=80)))
def test_forecast_command_refuses_in_one_line(data):
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, "in.csv", data)
        _, exc = _outcome(read_timeseries, path)
        if exc is None:
            return  # a valid file would train a model: not for a fuzz test
        out = Path(d) / "run"
        _refused_by_cli("forecast", ["forecast", str(path), "--out", str(out), "--max-epochs", "1"], exc, out)


@FUZZ_CLI
@given(st.one_of(mutated(SEQ_WIDE_CSV), mutated(SEQ_TS), mutated(SEQ_ARFF)), st.sampled_from([".csv", ".ts", ".arff"]))
def test_classify_command_refuses_in_one_line(data, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = _write(d, "in" + suffix, data)
        seq, exc = _outcome(read_sequences, path)
        if exc is None:
            _, exc = _outcome(check_trainable, seq, min_per_class=2)
        if exc is None:
            return  # trainable: the command would train
        out = Path(d) / "run"
        _refused_by_cli("classify", ["classify", str(path), "--out", str(out), "--max-epochs", "1"], exc, out)


def test_cli_renders_parameters_as_flags(tmp_path):
    """A message naming a parameter reads as Python in the library and as the flag in the CLI."""
    path = tmp_path / "m.csv"
    path.write_text("ds,y\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n")
    _, exc = _outcome(read_timeseries, path)
    assert str(exc).endswith("fill it in or pass fill='ffill', bfill, interpolate or zero")
    code, _, err = _cli(["forecast", str(path), "--out", str(tmp_path / "run"), "--max-epochs", "1"])
    assert code == 2 and err == f"error: {path}: row 3, column 'y': missing value; fill it in or pass --fill ffill, bfill, interpolate or zero\n"
