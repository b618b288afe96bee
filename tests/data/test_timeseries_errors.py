"""Each way the reader refuses input, with its one-line message."""

from __future__ import annotations

import gzip
import io
import re

import pandas as pd
import pytest

from lstmkit.cli.flags import flag_for
from lstmkit.data import check_future_covariates, check_min_length, read_timeseries
from lstmkit.errors import InputError


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refused(data, match: str, cli: str | None = None, **kwargs) -> str:
    """``match``: the message in Python's words; ``cli``: as ``lstmkit forecast`` prints it."""
    with pytest.raises(InputError, match=match) as info:
        read_timeseries(data, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    if cli is not None:
        assert re.search(cli, info.value.render(flag_for("forecast"))), info.value.render(flag_for("forecast"))
    return message


def cli_text(info) -> str:
    return info.value.render(flag_for("forecast"))


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


# --------------------------------------------------------------------------- the file itself


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    refused(path, rf"^{re.escape(str(path))}: no such file; check the path \(relative paths start at .+\)$")


def test_directory(tmp_path):
    refused(tmp_path, r": is a directory; expected a CSV or Parquet file$")


def test_empty_file(tmp_path):
    path = write(tmp_path, "e.csv", "")
    refused(
        path,
        rf"^{re.escape(str(path))}: the file is empty \(0 bytes\); expected a header line such as 'ds,y' and data rows$",
    )


def test_header_only(tmp_path):
    path = write(tmp_path, "h.csv", "ds,y\n")
    refused(path, r"h\.csv: the file has a header \(row 1\) but no data rows; expected data from row 2 on$")


def test_header_and_blank_lines_only(tmp_path):
    refused(write(tmp_path, "h.csv", "ds,y\n\n\n"), r"h\.csv: the file has a header \(row 1\) but no data rows")


def test_only_blank_lines(tmp_path):
    refused(write(tmp_path, "b.csv", "\n\n"), r"b\.csv: the file has no header line \(only blank lines\)")


def test_binary_file(tmp_path):
    path = write(tmp_path, "bin.csv", b"ds,y\n2020-01-01,1\n2020-01-02,2\x00\x01\n")
    refused(path, r"bin\.csv: is a binary file, not CSV text \(a NUL byte on line 3\); expected a UTF-8 CSV or a Parquet file$")


def test_not_utf8(tmp_path):
    path = write(tmp_path, "latin.csv", "unique_id,ds,y\nA,2020-01-01,1\nCaf\u00e9,2020-01-02,2\n".encode("latin-1"))
    refused(
        path,
        r"latin\.csv: line 3 is not UTF-8 text \(byte 0xe9 at offset 33\); save the file as UTF-8 \(in Excel: 'CSV UTF-8'\)$",
    )


def test_zip_file(tmp_path):
    refused(write(tmp_path, "book.csv", b"PK\x03\x04rest"), r"book\.csv: is a ZIP archive \(an Excel workbook\?\)")


def test_other_format_by_extension(tmp_path):
    refused(write(tmp_path, "d.json", '{"ds": 1}'), r"d\.json: is a JSON file \(\.json\); expected a CSV or Parquet file$")


def test_fake_parquet(tmp_path):
    refused(write(tmp_path, "f.parquet", "ds,y\n"), r"f\.parquet: is named \.parquet but is not a Parquet file")


def test_corrupt_parquet(tmp_path):
    try:
        pd.DataFrame({"a": [1]}).to_parquet(io.BytesIO())
    except ImportError:
        pytest.skip("pandas cannot read Parquet here (no usable pyarrow)")
    refused(write(tmp_path, "c.parquet", b"PAR1 then garbage"), r"c\.parquet: cannot be read as Parquet \(.+\); expected a Parquet file$")


def test_ragged_csv(tmp_path):
    path = write(tmp_path, "r.csv", "ds,y\n2020-01-01,1\n2020-01-02,2,3\n")
    refused(path, r"r\.csv: cannot be read as CSV \(Expected 2 fields in line 3, saw 3\); check the separators and quotes")


def test_not_a_path():
    with pytest.raises(InputError, match=r"expected a file path or a pandas DataFrame, got int"):
        read_timeseries(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- columns


def test_missing_time_column_lists_columns(tmp_path):
    path = write(tmp_path, "c.csv", "date,sales\n2020-01-01,1\n")
    refused(
        path,
        r"c\.csv: no column 'ds' \(the time column\); the columns are: date, sales; name the time column with time$",
        cli=r"c\.csv: no column 'ds' \(the time column\); the columns are: date, sales; name the time column with --time$",
    )


def test_missing_column_suggests_close_name(tmp_path):
    path = write(tmp_path, "c.csv", "Date,sales\n2020-01-01,1\n")
    refused(path, r"c\.csv: no column 'date' \(the time column\) \(did you mean 'Date'\?\); the columns are: Date, sales", time="date")


def test_missing_target_column(tmp_path):
    path = write(tmp_path, "c.csv", "ds,sales\n2020-01-01,1\n")
    refused(path, r"no column 'y' \(the target column\); the columns are: ds, sales; name the target column with target$",
            cli=r"no column 'y' \(the target column\); the columns are: ds, sales; name the target column with --target$")


def test_missing_id_column_when_named(tmp_path):
    path = write(tmp_path, "c.csv", "ds,y\n2020-01-01,1\n")
    refused(path, r"no column 'store' \(the id column\); the columns are: ds, y; name the id column with id$",
            cli=r"no column 'store' \(the id column\); the columns are: ds, y; name the id column with --id$", id="store")


def test_missing_covariate_columns(tmp_path):
    path = write(tmp_path, "c.csv", "ds,y,temp\n2020-01-01,1,3\n")
    refused(path, r"no column 'price' \(the past covariate column\); the columns are: ds, y, temp; name the past covariate column with past_covariates$",
            cli=r"no column 'price' \(the past covariate column\); the columns are: ds, y, temp; name the past covariate column with --covariates$",
            past_covariates=["price"])
    refused(path, r"no column 'promo' \(the future covariate column\).* with future_covariates$",
            cli=r"no column 'promo' \(the future covariate column\).* with --future-covariates$", future_covariates=["promo"])


def test_column_with_two_roles(tmp_path):
    path = write(tmp_path, "c.csv", "ds,y\n2020-01-01,1\n")
    refused(path, r"^column 'y' is named as both the target and the future covariate; give each column one role$", future_covariates=["y"])


# --------------------------------------------------------------------------- values


def test_non_numeric_target(tmp_path):
    path = write(tmp_path, "v.csv", "ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,abc\n")
    refused(path, r"^.*v\.csv: row 4, column 'y': expected a number, got 'abc'$")


def test_non_numeric_covariate(tmp_path):
    path = write(tmp_path, "v.csv", "ds,y,temp\n2020-01-01,1,3\n2020-01-02,2,warm\n2020-01-03,3,5\n")
    refused(path, r"v\.csv: row 3, column 'temp': expected a number, got 'warm'$", past_covariates=["temp"])


def test_thousands_separator_hint(tmp_path):
    path = write(tmp_path, "v.csv", 'ds,y\n2020-01-01,1\n2020-01-02,"1,234"\n')
    refused(path, r"row 3, column 'y': expected a number, got '1,234' \(remove the thousands separators\)$")


def test_decimal_comma_hint(tmp_path):
    path = write(tmp_path, "v.csv", "ds;y\n2020-01-01;1\n2020-01-02;3,5\n")
    refused(path, r"row 3, column 'y': expected a number, got '3,5' \(use a dot as the decimal mark\)$")


def test_infinite_value(tmp_path):
    path = write(tmp_path, "v.csv", "ds,y\n2020-01-01,1\n2020-01-02,inf\n")
    refused(path, r"row 3, column 'y': expected a finite number, got 'inf'$")


def test_unparseable_date(tmp_path):
    path = write(tmp_path, "d.csv", "ds,y\n2020-01-01,1\n2020-01-02,2\nsoon,3\n")
    refused(
        path,
        r"d\.csv: row 4, column 'ds': cannot read 'soon' as a date; expected a date such as 2024-01-31 or 2024-01-31 13:00, in one format for the whole column$",
    )


def test_missing_time(tmp_path):
    path = write(tmp_path, "d.csv", "ds,y\n2020-01-01,1\n,2\n")
    refused(path, r"d\.csv: row 3, column 'ds': the time is missing; every row needs a time$")


def test_missing_id(tmp_path):
    path = write(tmp_path, "d.csv", "unique_id,ds,y\nA,2020-01-01,1\n,2020-01-02,2\n")
    refused(path, r"d\.csv: row 3, column 'unique_id': the series id is missing; every row needs one$")


def test_number_in_time_column_of_a_frame():
    frame = pd.DataFrame({"ds": [20200101, 20200102, 20200103], "y": [1.0, 2.0, 3.0]})
    refused(frame, r"^DataFrame: index 0, column 'ds': expected a date or a year, got the number 20200101; write dates such as 2024-01-31$")


def test_duplicate_timestamp(tmp_path):
    path = write(tmp_path, "dup.csv", "unique_id,ds,y\nA,2020-01-01,1\nA,2020-01-02,2\nB,2020-01-01,1\nA,2020-01-02,3\n")
    refused(
        path,
        r"dup\.csv: row 5: series 'A' has time 2020-01-02 twice \(also at row 3\); each series needs one row per time: remove or aggregate the duplicates$",
    )


def test_duplicate_timestamp_single_series(tmp_path):
    path = write(tmp_path, "dup.csv", "ds,y\n2020-01-01,1\n2020-01-01,2\n")
    refused(path, r"dup\.csv: row 3: the series has time 2020-01-01 twice \(also at row 2\)")


# --------------------------------------------------------------------------- missing values and gaps


def test_missing_value(tmp_path):
    path = write(tmp_path, "m.csv", "ds,y\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n")
    refused(path, r"m\.csv: row 3, column 'y': missing value; fill it in or pass fill='ffill', bfill, interpolate or zero$",
            cli=r"m\.csv: row 3, column 'y': missing value; fill it in or pass --fill ffill, bfill, interpolate or zero$")


@pytest.mark.parametrize("token", ["NA", "nan", "NULL", "None", "#N/A", " "])
def test_missing_value_tokens(tmp_path, token):
    path = write(tmp_path, "m.csv", f"ds,y\n2020-01-01,1\n2020-01-02,{token}\n2020-01-03,3\n")
    refused(path, r"row 3, column 'y': missing value")


def test_missing_value_in_covariate_of_a_series(tmp_path):
    path = write(tmp_path, "m.csv", "unique_id,ds,y,t\nA,2020-01-01,1,1\nA,2020-01-02,2,2\nA,2020-01-03,3,\n")
    refused(path, r"m\.csv: row 4, column 't': missing value of series 'A'; fill it in or pass fill='ffill'",
            cli=r"m\.csv: row 4, column 't': missing value of series 'A'; fill it in or pass --fill ffill", past_covariates=["t"])


def test_missing_value_reports_first_row_of_the_file(tmp_path):
    # the file is not sorted: the first missing value in file order is row 3
    path = write(tmp_path, "m.csv", "unique_id,ds,y\nB,2020-01-01,1\nB,2020-01-02,\nA,2020-01-01,\nA,2020-01-02,2\n")
    refused(path, r"row 3, column 'y': missing value of series 'B'")


def test_gap(tmp_path):
    path = write(tmp_path, "g.csv", "ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-05,5\n2020-01-06,6\n")
    refused(
        path,
        r"g\.csv: the series has no row for 2020-01-04 \(between rows 4 and 5, frequency D\); add the rows or pass fill='ffill', bfill, interpolate or zero$",
        cli=r"g\.csv: the series has no row for 2020-01-04 \(between rows 4 and 5, frequency D\); add the rows or pass --fill ffill, bfill, interpolate or zero$",
    )


def test_gap_counts_the_missing_steps(tmp_path):
    path = write(
        tmp_path, "g.csv",
        "unique_id,ds,y\nA,2020-01-01,1\nA,2020-02-01,2\nA,2020-03-01,3\nA,2020-06-01,6\nA,2020-08-01,8\n",
    )
    refused(path, r"series 'A' has no row for 2020-04-01 \(between rows 4 and 5, frequency MS\); 3 steps are missing in all; add the rows")


def test_bad_fill():
    with pytest.raises(InputError, match=r"^fill: expected one of ffill, bfill, interpolate, zero; got 'mean'$") as info:
        read_timeseries(pd.DataFrame({"ds": ["2020-01-01"], "y": [1]}), fill="mean")
    assert cli_text(info) == "--fill: expected one of ffill, bfill, interpolate, zero; got 'mean'"
    assert (info.value.param, info.value.got) == ("fill", "mean")


# --------------------------------------------------------------------------- frequency


def test_irregular_times(tmp_path):
    path = write(tmp_path, "i.csv", "ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-04,3\n2020-01-09,5\n")
    refused(
        path,
        r"i\.csv: cannot infer the frequency of the series \(rows 2 to 5\): its times are not evenly spaced \(2020-01-01, 2020-01-02, 2020-01-04, 2020-01-09\); pass freq, e.g. freq='D'$",
        cli=r"i\.csv: cannot infer the frequency of the series \(rows 2 to 5\): its times are not evenly spaced \(2020-01-01, 2020-01-02, 2020-01-04, 2020-01-09\); pass --freq, e.g. --freq D$",
    )


def test_too_few_rows_to_infer(tmp_path):
    path = write(tmp_path, "t.csv", "ds,y\n2020-01-01,1\n2020-01-02,2\n")
    refused(path, r"t\.csv: cannot infer the frequency: the series has only 2 time steps \(3 needed\); pass freq, e.g. freq='D'$",
            cli=r"t\.csv: cannot infer the frequency: the series has only 2 time steps \(3 needed\); pass --freq, e.g. --freq D$")


def test_series_disagree_on_frequency(tmp_path):
    path = write(
        tmp_path, "f.csv",
        "unique_id,ds,y\nB,2020-01-01,1\nB,2020-02-01,2\nB,2020-03-01,3\nA,2020-01-01,1\nA,2020-01-02,2\nA,2020-01-03,3\n",
    )
    refused(path, r"f\.csv: series 'A' has frequency D but series 'B' has MS; all series must share one frequency: resample them, or pass freq \(with fill for the gaps\)$",
            cli=r"f\.csv: series 'A' has frequency D but series 'B' has MS; all series must share one frequency: resample them, or pass --freq \(with --fill for the gaps\)$")


def test_bad_freq_alias():
    frame = pd.DataFrame({"ds": ["2020-01-01"], "y": [1]})
    with pytest.raises(InputError, match=r"^freq: 'XYZ' is not a pandas frequency; use an alias such as D, B, W-SUN, MS") as info:
        read_timeseries(frame, freq="XYZ")
    assert cli_text(info).startswith("--freq: 'XYZ' is not a pandas frequency; use an alias such as D, B, W-SUN, MS")
    assert info.value.param == "freq"


def test_time_off_the_given_grid(tmp_path):
    path = write(tmp_path, "o.csv", "ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,4\n")
    refused(path, r"o\.csv: row 3, column 'ds': time 2020-01-02 of the series is not a whole number of 2D steps after 2020-01-01; check the times or pass the right freq$",
            cli=r"o\.csv: row 3, column 'ds': time 2020-01-02 of the series is not a whole number of 2D steps after 2020-01-01; check the times or pass the right --freq$", freq="2D")


def test_first_time_not_on_the_offset(tmp_path):
    path = write(tmp_path, "o.csv", "ds,y\n2020-01-15,1\n2020-02-15,2\n")
    refused(path, r"row 2, column 'ds': time 2020-01-15 of the series is not a MS time \(the next one is 2020-02-01\)", freq="MS")


# --------------------------------------------------------------------------- length and future


def test_check_min_length(tmp_path):
    path = write(
        tmp_path, "s.csv",
        "unique_id,ds,y\n" + "".join(f"A,2020-01-{d:02d},{d}\n" for d in range(1, 11))
        + "".join(f"B,2020-01-{d:02d},{d}\n" for d in range(1, 5))
        + "".join(f"C,2020-01-{d:02d},{d}\n" for d in range(1, 4)),
    )
    ts = read_timeseries(path)
    check_min_length(ts, 3)
    with pytest.raises(
        InputError,
        match=r"^.*s\.csv: series 'B' has 4 time steps; needs at least 5 \(lookback \+ horizon = 5\); 1 more series is shorter too; use a shorter lookback or horizon, or leave the short series out$",
    ) as info:
        check_min_length(ts, 5, why="lookback + horizon = 5")
    assert cli_text(info).endswith("; 1 more series is shorter too; use a shorter --lookback or --horizon, or leave the short series out")
    assert info.value.param == "lookback"


def test_check_min_length_single_series():
    ts = read_timeseries(pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=20, freq="MS"), "y": range(20)}))
    with pytest.raises(InputError, match=r"^DataFrame: the series has 20 time steps; needs at least 36 \(lookback \+ horizon = 36\); use a shorter"):
        check_min_length(ts, 36, why="lookback + horizon = 36")


def test_future_covariates_must_cover_the_horizon(tmp_path):
    path = write(tmp_path, "f.csv", "ds,y,promo\n2020-01-01,1,0\n2020-01-02,2,1\n2020-01-03,3,0\n2020-01-04,,1\n")
    ts = read_timeseries(path, future_covariates=["promo"])
    check_future_covariates(ts, 1)
    with pytest.raises(
        InputError,
        match=r"f\.csv: the series has 1 future row after 2020-01-03; the forecast needs the future covariates \(promo\) for 3 steps: add 2 more rows with an empty 'y'$",
    ):
        check_future_covariates(ts, 3)


def test_missing_future_covariate(tmp_path):
    path = write(tmp_path, "f.csv", "ds,y,promo\n2020-01-01,1,0\n2020-01-02,2,1\n2020-01-03,3,0\n2020-01-04,,\n")
    refused(path, r"f\.csv: row 5, column 'promo': missing future covariate; fill it in or pass fill='ffill'",
            cli=r"f\.csv: row 5, column 'promo': missing future covariate; fill it in or pass --fill ffill", future_covariates=["promo"])


def test_series_without_any_target(tmp_path):
    path = write(tmp_path, "f.csv", "unique_id,ds,y,promo\nA,2020-01-01,1,0\nA,2020-01-02,2,0\nA,2020-01-03,3,0\nB,2020-01-01,,1\n")
    refused(path, r"f\.csv: series 'B' has no values in column 'y'; expected numbers in it$", future_covariates=["promo"])


def test_gzip_csv_is_read(tmp_path):
    path = tmp_path / "g.csv.gz"
    path.write_bytes(gzip.compress(b"ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n"))
    assert read_timeseries(path).frame["y"].tolist() == [1.0, 2.0, 3.0]


def test_step_numbers_are_read_as_steps_and_other_whole_numbers_as_dates_or_refused():
    from lstmkit.data.tables import STEP_ORIGIN, to_steps
    from lstmkit.data.timeseries import step_numbers

    ts = read_timeseries(pd.DataFrame({"ds": ["1", "2", "3", "4"], "y": [1, 2, 3, 4]}))
    assert ts.steps and ts.freq == "s" and ts.season_length == 1
    assert ts.frame["ds"].iloc[0] == STEP_ORIGIN + pd.Timedelta(seconds=1)
    assert to_steps(ts.frame["ds"]).tolist() == [1, 2, 3, 4]
    every_fifth = read_timeseries(pd.DataFrame({"ds": [0, 5, 10, 15], "y": [1.0, 2, 3, 4]}), season_length=24)
    assert every_fifth.steps and every_fifth.freq == "5s" and every_fifth.season_length == 24
    years = read_timeseries(pd.DataFrame({"ds": [1990, 1991, 1992], "y": [1.0, 2, 3]}))
    assert not years.steps and years.frame["ds"].iloc[0] == pd.Timestamp("1990-01-01")
    for before_any_datetime in ([1500, 1501, 1502], ["1000", "1001", "1002"]):  # pandas holds no such year
        ts = read_timeseries(pd.DataFrame({"ds": before_any_datetime, "y": [1.0, 2, 3]}))
        assert ts.steps and to_steps(ts.frame["ds"]).tolist() == [int(v) for v in before_any_datetime]
    compact = read_timeseries(pd.DataFrame({"ds": ["20240131", "20240201", "20240202"], "y": [1, 2, 3]}))
    assert not compact.steps and compact.frame["ds"].iloc[1] == pd.Timestamp("2024-02-01")
    refused(pd.DataFrame({"ds": ["1700000000", "1700000060", "1700000120"], "y": [1, 2, 3]}),
            r"index 0, column 'ds': cannot read '1700000000' as a date; .*; whole numbers are read as step numbers "
            r"\(0, 1, 2, ...\) only below 10000000 .*: write dates$")
    negative = pd.DataFrame({"ds": ["-1", "0", "1"], "y": [1, 2, 3]})
    assert step_numbers(negative["ds"]) is None  # not steps; what dates pandas makes of them varies by version
    with pytest.raises(InputError, match=r"column 'ds': cannot read '-?[01]' as a date"):
        read_timeseries(negative)


def test_step_numbers_are_worded_as_steps_in_the_messages(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_text("unique_id,ds,y\n" + "".join(f"A,{t},{t}\n" for t in range(1, 9) if t != 5))
    refused(path, r"/steps.csv: series 'A' has no row for step 5 \(between rows 5 and 6, frequency 1 step\); add")
    path.write_text("ds,y\n1,1\n2,2\n2,3\n")
    refused(path, r"row 4: the series has time step 2 twice \(also at row 3\)")
    path.write_text("ds,y\n0,1\n2,2\n4,3\n5,4\n")
    refused(path, r"the series has no row for step 1 \(between rows 2 and 3, frequency 1 step\); 2 steps are missing")
    refused(path, r"^freq: .* holds step numbers \(0, 1, 2, ...\), which have no calendar frequency; leave freq "
            r"out \(season_length gives the season\)$", cli=r"^--freq: \S*steps.csv's time column .*leave --freq out \(--season-length gives the season\)$", freq="D")
    assert read_timeseries(path, fill="ffill").frame["y"].tolist() == [1, 1, 2, 2, 3, 4]
    path.write_text("unique_id,ds,y\n" + "".join(f"A,{t},1\n" for t in range(0, 12, 2))
                    + "".join(f"B,{t},1\n" for t in range(0, 12, 3)))
    refused(path, r"series 'A' has frequency 2 steps but series 'B' has 3 steps; all series must share one")
