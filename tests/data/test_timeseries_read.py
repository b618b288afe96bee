"""The reader on good input: CSV, Parquet, DataFrame, one or many series, fill, frequency."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli.flags import flag_for
from lstmkit.data import (
    ColumnRoles,
    TimeSeriesData,
    normalize_freq,
    read_timeseries,
    season_length_for,
)
from lstmkit.errors import InputError


def needs_parquet() -> None:
    try:
        pd.DataFrame({"a": [1]}).to_parquet(io.BytesIO())
    except ImportError:
        pytest.skip("pandas cannot write Parquet here (no usable pyarrow)")


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MULTI = (
    "unique_id,ds,y,temp,promo\n"
    "B,2021-01-03,30,1.5,0\n"
    "A,2021-01-01,1,0.1,1\n"
    "B,2021-01-01,10,0.5,1\n"
    "A,2021-01-02,2,0.2,0\n"
    "B,2021-01-02,20,1.0,1\n"
    "A,2021-01-03,3,0.3,1\n"
)


def test_single_series_csv(tmp_path):
    path = write(tmp_path, "one.csv", "ds,y\n2020-01-01,1\n2020-02-01,2.5\n2020-03-01,4\n2020-04-01,3\n")
    ts = read_timeseries(path)
    assert isinstance(ts, TimeSeriesData)
    assert ts.has_id is False
    assert ts.source == str(path)
    assert ts.freq == "MS"
    assert ts.season_length == 12
    assert ts.roles == ColumnRoles()
    assert list(ts.frame.columns) == ["unique_id", "ds", "y"]
    assert ts.frame["unique_id"].unique().tolist() == ["series"]
    assert ts.frame["y"].tolist() == [1.0, 2.5, 4.0, 3.0]
    assert ts.frame["y"].dtype == np.float64
    assert pd.api.types.is_datetime64_any_dtype(ts.frame["ds"])
    assert ts.frame["ds"].iloc[0] == pd.Timestamp("2020-01-01")
    assert ts.lengths() == {"series": 4}
    assert ts.future is None and ts.n_filled == 0


def test_multi_series_csv_sorted_with_covariates(tmp_path):
    path = write(tmp_path, "multi.csv", MULTI)
    ts = read_timeseries(path, past_covariates=["temp"], future_covariates=["promo"])
    assert ts.has_id and ts.n_series == 2 and ts.ids == ["A", "B"]
    assert list(ts.frame.columns) == ["unique_id", "ds", "y", "temp", "promo"]
    assert ts.frame["unique_id"].tolist() == ["A"] * 3 + ["B"] * 3
    assert ts.frame["y"].tolist() == [1, 2, 3, 10, 20, 30]
    assert ts.frame["temp"].tolist() == [0.1, 0.2, 0.3, 0.5, 1.0, 1.5]
    assert ts.freq == "D" and ts.season_length == 7
    assert ts.roles.values == ("y", "temp", "promo")
    assert ts.future is not None and ts.future.empty


def test_custom_column_names(tmp_path):
    path = write(tmp_path, "c.csv", "store,date,sales,other\ns1,2020-01-06,5,x\ns1,2020-01-13,6,y\ns1,2020-01-20,7,z\n")
    ts = read_timeseries(path, id="store", time="date", target="sales")
    assert list(ts.frame.columns) == ["store", "date", "sales"]  # unused columns dropped
    assert ts.freq == "W-MON" and ts.season_length == 52
    assert ts.series("s1")["sales"].tolist() == [5, 6, 7]


def test_parquet_single_and_multi(tmp_path):
    needs_parquet()
    frame = pd.read_csv(write(tmp_path, "m.csv", MULTI))
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame.to_parquet(tmp_path / "m.parquet")
    ts = read_timeseries(tmp_path / "m.parquet", past_covariates=["temp", "promo"])
    assert ts.ids == ["A", "B"] and ts.freq == "D"
    assert ts.frame["y"].tolist() == [1, 2, 3, 10, 20, 30]
    one = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=8, freq="h"), "y": np.arange(8.0)})
    one.to_parquet(tmp_path / "one.parquet")
    ts = read_timeseries(tmp_path / "one.parquet")
    assert ts.freq == normalize_freq("h") and ts.season_length == 24 and not ts.has_id


def test_parquet_rows_count_from_one(tmp_path):
    needs_parquet()
    frame = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=3, freq="D"), "y": [1.0, np.nan, 3.0]})
    frame.to_parquet(tmp_path / "p.parquet")
    with pytest.raises(InputError, match=r"p\.parquet: row 2, column 'y': missing value"):
        read_timeseries(tmp_path / "p.parquet")


def test_dataframe_input_and_index_labels():
    frame = pd.DataFrame(
        {"unique_id": [7, 7, 7], "ds": ["2020-01-01", "2020-01-02", "2020-01-03"], "y": ["1", "2", "x"]},
        index=[10, 11, 12],
    )
    frame.index.name = None
    with pytest.raises(InputError, match=r"^DataFrame: index 12, column 'y': expected a number, got 'x'$"):
        read_timeseries(frame)
    frame["y"] = [1, 2, 3]
    ts = read_timeseries(frame)
    assert ts.ids == ["7"] and ts.frame["y"].tolist() == [1.0, 2.0, 3.0]


def test_time_in_the_index_of_a_frame():
    frame = pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=pd.date_range("2020-01-01", periods=3, freq="QS", name="ds"))
    ts = read_timeseries(frame)
    assert ts.freq.startswith("QS") and ts.season_length == 4


def test_blank_lines_keep_row_numbers(tmp_path):
    path = write(tmp_path, "b.csv", "ds,y\n2020-01-01,1\n\n2020-01-02,x\n")
    with pytest.raises(InputError, match=r"row 4, column 'y': expected a number, got 'x'"):
        read_timeseries(path)
    path = write(tmp_path, "b2.csv", "ds,y\n2020-01-01,1\n\n2020-01-02,2\n2020-01-03,3\n\n")
    assert read_timeseries(path).frame["y"].tolist() == [1, 2, 3]


def test_semicolon_separator_and_bom(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes("\ufeffds;y\n2020-01-01;1\n2020-01-02;2\n2020-01-03;3\n".encode("utf-8"))
    ts = read_timeseries(path)
    assert ts.frame["y"].tolist() == [1, 2, 3]


def test_utf16_with_its_byte_order_mark_as_excel_saves_unicode_text(tmp_path):
    text = "ds\ty\r\n2020-01-01\t1\r\n2020-01-02\t2\r\n2020-01-03\t3\r\n"
    for encoding in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{encoding}.txt"
        bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
        path.write_bytes(bom + text.encode(encoding))
        assert read_timeseries(path).frame["y"].tolist() == [1, 2, 3]
    path = tmp_path / "no_bom.csv"  # without the mark its NUL bytes are a binary file's
    path.write_bytes(text.encode("utf-16-le"))
    with pytest.raises(InputError, match=r"no_bom.csv: is a binary file, not CSV text \(a NUL byte on line 1"):
        read_timeseries(path)
    path = tmp_path / "broken.csv"  # a lone high surrogate
    path.write_bytes(b"\xff\xfe" + "ds".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(InputError, match=r"broken.csv: is not UTF-16 text from offset 6 on, though it starts with"):
        read_timeseries(path)


def test_years_as_numbers_and_text(tmp_path):
    ts = read_timeseries(write(tmp_path, "y.csv", "ds,y\n1871,1120\n1872,1160\n1873,963\n"))
    assert ts.freq == normalize_freq("YS") and ts.season_length == 1
    frame = pd.DataFrame({"ds": [1990, 1991, 1992], "y": [1.0, 2.0, 3.0]})
    assert read_timeseries(frame).frame["ds"].iloc[2] == pd.Timestamp("1992-01-01")
    # statsmodels keeps years as floats, and to_csv writes them so
    ts = read_timeseries(write(tmp_path, "f.csv", "YEAR,SUNACTIVITY\n1700.0,5.0\n1701.0,11.0\n1702.0,16.0\n"),
                         time="YEAR", target="SUNACTIVITY")
    assert ts.freq == normalize_freq("YS") and ts.frame["YEAR"].dt.year.tolist() == [1700, 1701, 1702]
    assert ts.years and read_timeseries(frame).years  # output writes them back as years
    assert not read_timeseries(write(tmp_path, "d.csv", "ds,y\n1871-01-01,1\n1872-01-01,2\n1873-01-01,3\n")).years
    with pytest.raises(InputError, match=r"column 'ds': cannot read '1871.0' as a date"):  # not all whole years
        read_timeseries(write(tmp_path, "h.csv", "ds,y\n1871.0,1\n1871.5,2\n1872.0,3\n"))


def test_whitespace_in_cells_and_names(tmp_path):
    path = write(tmp_path, "w.csv", " ds , y \n 2020-01-01 , 1 \n2020-01-02, 2\n2020-01-03 ,3\n")
    assert read_timeseries(path).frame["y"].tolist() == [1, 2, 3]


def test_mixed_iso_formats(tmp_path):
    path = write(tmp_path, "t.csv", "ds,y\n2020-01-01,1\n2020-01-01 01:00,2\n2020-01-01T02:00:00,3\n")
    ts = read_timeseries(path)
    assert ts.freq == normalize_freq("h")


# --------------------------------------------------------------------------- fill

GAPPY = "ds,y,t\n2020-01-01,0,\n2020-01-02,,2\n2020-01-04,6,\n2020-01-05,8,5\n"
# grid 01..05: y = [0, nan, (gap), 6, 8], t = [nan, 2, (gap), nan, 5]


@pytest.mark.parametrize(
    "fill, y, t",
    [
        ("ffill", [0, 0, 0, 6, 8], [2, 2, 2, 2, 5]),
        ("bfill", [0, 6, 6, 6, 8], [2, 2, 5, 5, 5]),
        ("interpolate", [0, 2, 4, 6, 8], [2, 2, 3, 4, 5]),
        ("zero", [0, 0, 0, 6, 8], [0, 2, 0, 0, 5]),
    ],
)
def test_fill_methods(tmp_path, fill, y, t):
    ts = read_timeseries(write(tmp_path, "g.csv", GAPPY), past_covariates=["t"], fill=fill, freq="D")
    assert ts.frame["ds"].dt.day.tolist() == [1, 2, 3, 4, 5]
    assert ts.frame["y"].tolist() == y
    assert ts.frame["t"].tolist() == t
    assert ts.n_filled == 5 and ts.n_trimmed == 0  # y: 02, 03; t: 01, 03, 04


def test_fill_leaves_out_the_rows_outside_a_series_observed_span(tmp_path):
    """Before a series' first target value and after its last nothing was observed: a table
    padded to a common date range, or rows meant for the future, are left out, never filled."""
    path = write(tmp_path, "g.csv", "ds,y,t\n2020-01-01,,1\n2020-01-02,2,\n2020-01-04,6,4\n2020-01-05,,5\n")
    for fill in ("ffill", "bfill", "interpolate", "zero"):
        ts = read_timeseries(path, past_covariates=["t"], fill=fill, freq="D")
        assert ts.frame["ds"].dt.day.tolist() == [2, 3, 4] and ts.n_trimmed == 2
        assert ts.frame["y"].iloc[[0, 2]].tolist() == [2, 6]
    padded = write(tmp_path, "p.csv", "unique_id,ds,y\n" + "".join(
        f"{uid},2020-01-0{d},{v}\n" for uid, vals in (("A", ["", "", 3, 4, 5]), ("B", [1, "", 3, "", ""]))
        for d, v in zip(range(1, 6), vals)))
    ts = read_timeseries(padded, fill="interpolate")
    assert ts.series("A")["y"].tolist() == [3, 4, 5] and ts.series("A")["ds"].dt.day.tolist() == [3, 4, 5]
    assert ts.series("B")["y"].tolist() == [1, 2, 3] and ts.n_trimmed == 4 and ts.n_filled == 1


def test_fill_per_series_and_infers_freq_despite_gaps(tmp_path):
    path = write(tmp_path, "g.csv", "unique_id,ds,y\nA,2020-01-01,1\nA,2020-01-02,2\nA,2020-01-04,4\nA,2020-01-05,5\nB,2020-01-01,100\nB,2020-01-03,300\nB,2020-01-04,400\n")
    ts = read_timeseries(path, fill="interpolate")
    assert ts.freq == "D"
    assert ts.series("A")["y"].tolist() == [1, 2, 3, 4, 5]
    assert ts.series("B")["y"].tolist() == [100, 200, 300, 400]


def test_fill_with_nothing_to_fill_from(tmp_path):
    path = write(tmp_path, "g.csv", "ds,y,t\n2020-01-01,1,\n2020-01-02,2,\n2020-01-03,3,\n")
    with pytest.raises(InputError, match=r"column 't' of the series has no values at all; fill='ffill' has nothing to fill from$") as info:
        read_timeseries(path, past_covariates=["t"], fill="ffill")
    assert info.value.render(flag_for("forecast")).endswith("; --fill ffill has nothing to fill from")
    assert info.value.param == "fill"


def test_business_days_with_gaps_infer_b(tmp_path):
    days = pd.bdate_range("2024-01-01", periods=30)
    days = days.delete([5, 17])
    frame = pd.DataFrame({"ds": days, "y": np.arange(len(days), dtype=float)})
    ts = read_timeseries(frame, fill="ffill")
    assert ts.freq == "B" and ts.season_length == 5 and len(ts.frame) == 30


def test_future_rows(tmp_path):
    path = write(
        tmp_path, "f.csv",
        "unique_id,ds,y,promo\nA,2020-01-01,1,0\nA,2020-01-02,2,1\nA,2020-01-03,3,0\nA,2020-01-04,,1\nA,2020-01-05,,0\n"
        "B,2020-01-01,5,1\nB,2020-01-02,6,1\nB,2020-01-03,7,1\nB,2020-01-04,,0\n",
    )
    ts = read_timeseries(path, future_covariates=["promo"])
    assert ts.lengths() == {"A": 3, "B": 3}
    assert ts.future["unique_id"].tolist() == ["A", "A", "B"]
    assert ts.future["promo"].tolist() == [1, 0, 0]
    arrays = ts.to_arrays()
    assert arrays[0].target.tolist() == [1, 2, 3]
    assert arrays[0].future[:, 0].tolist() == [0, 1, 0, 1, 0]
    assert arrays[0].n_known_ahead == 2 and arrays[1].n_known_ahead == 1


def test_trailing_empty_target_without_future_covariates_is_missing(tmp_path):
    path = write(tmp_path, "f.csv", "ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,\n")
    with pytest.raises(InputError, match=r"row 4, column 'y': missing value"):
        read_timeseries(path)


# --------------------------------------------------------------------------- frequency


@pytest.mark.parametrize(
    "freq, season",
    [
        ("MS", 12), ("ME", 12), ("QS", 4), ("QE-DEC", 4), ("W", 52), ("W-MON", 52), ("2W", 26),
        ("D", 7), ("B", 5), ("h", 24), ("2h", 12), ("5h", 1), ("YS", 1), ("YE", 1),
        ("min", 1440), ("15min", 96), ("s", 3600), ("5D", 1), ("SMS", 24),
    ],
)
def test_season_length(freq, season):
    assert season_length_for(freq) == season


@pytest.mark.parametrize("old, new", [("M", "ME"), ("Q", "QE-DEC"), ("A", "YE-DEC"), ("H", "h"), ("T", "min"), ("15T", "15min")])
def test_legacy_aliases(old, new):
    assert normalize_freq(old) == normalize_freq(new)


@pytest.mark.parametrize("freq", ["D", "h", "MS", "ME", "QS", "W-WED", "B", "YS", "15min"])
def test_inferred_frequency_round_trips(freq):
    times = pd.date_range("2021-01-01", periods=12, freq=normalize_freq(freq))
    ts = read_timeseries(pd.DataFrame({"ds": times, "y": np.arange(12.0)}))
    assert pd.date_range(times[0], periods=12, freq=ts.freq).equals(pd.DatetimeIndex(ts.frame["ds"]))


def test_given_freq_wins_and_two_rows_are_enough():
    frame = pd.DataFrame({"ds": ["2020-01-01", "2020-01-02"], "y": [1, 2]})
    ts = read_timeseries(frame, freq="D", season_length=3)
    assert ts.freq == "D" and ts.season_length == 3


def test_bad_season_length():
    frame = pd.DataFrame({"ds": ["2020-01-01", "2020-01-02"], "y": [1, 2]})
    with pytest.raises(InputError, match=r"^season_length: expected a whole number >= 1; got 0$") as info:
        read_timeseries(frame, freq="D", season_length=0)
    assert info.value.render(flag_for("forecast")) == "--season-length: expected a whole number >= 1; got 0"
    assert (info.value.param, info.value.got) == ("season_length", 0)
    with pytest.raises(InputError, match=r"^season_length: expected a whole number >= 1; got 'x'$"):
        read_timeseries(frame, freq="D", season_length="x")


def test_local_times_whose_utc_offset_changes(tmp_path):
    """What ``DataFrame.to_csv`` writes for local times across a daylight-saving change: hourly
    data is read in UTC (regular there: the wall clock skips an hour), daily midnights keep their
    local dates (in UTC they would fall an hour apart either side of the change)."""
    hours = pd.date_range("2022-03-26 20:00", periods=12, freq="h", tz="UTC").tz_convert("Europe/Berlin")
    frame = pd.DataFrame({"ds": hours, "y": np.arange(12.0)})
    path = tmp_path / "berlin.csv"
    frame.to_csv(path, index=False)
    assert "+01:00" in path.read_text() and "+02:00" in path.read_text()
    ts = read_timeseries(path)
    assert ts.freq == "h" and ts.frame["y"].tolist() == list(range(12))
    assert ts.frame["ds"].tolist() == list(pd.date_range("2022-03-26 20:00", periods=12, freq="h", tz="UTC"))
    days = pd.date_range("2021-03-10", periods=10, freq="D", tz="America/New_York")
    path = tmp_path / "ny.csv"
    pd.DataFrame({"ds": days, "y": np.arange(10.0)}).to_csv(path, index=False)
    ts = read_timeseries(path)
    assert ts.freq == "D" and ts.frame["ds"].tolist() == list(pd.date_range("2021-03-10", periods=10, freq="D"))
    two = tmp_path / "two.csv"  # series in two zones, each with its own fixed offset
    two.write_text("unique_id,ds,y\n" + "".join(
        f"{uid},2022-01-0{d} {h:02d}:00:00{off},{d}\n" for uid, off in (("a", "+01:00"), ("b", "-05:00"))
        for d in range(1, 4) for h in range(0, 24, 6)))
    ts = read_timeseries(two)
    assert ts.freq == "6h" and ts.lengths() == {"a": 12, "b": 12}
