"""Labelled sequences for classification: the readers, their messages, splits, aeon's data sets."""

from __future__ import annotations

import gzip
import importlib.util
import re

import numpy as np
import pandas as pd
import pytest

from lstmkit.data import (
    SequenceData,
    available_datasets,
    check_trainable,
    load_dataset,
    read_sequences,
    stratified_split,
)
from lstmkit.cli.flags import flag_for
from lstmkit.data.datasets import MissingPackageError
from lstmkit.errors import InputError

HAS_AEON = importlib.util.find_spec("aeon") is not None


def write(tmp_path, name: str, text: str | bytes):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refused(path, match: str, **kwargs) -> str:
    with pytest.raises(InputError, match=match) as info:
        read_sequences(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


MULTI = """# a comment
% another comment
@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
"""


def as_lists(data: SequenceData):
    return [s.tolist() for s in data.sequences]


# --------------------------------------------------------------------------- .ts: good files


def test_ts_univariate_equal_length(tmp_path):
    text = "@problemName U\n@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true 1 2 10\n@data\n"
    text += "1,2,3:1\n4,5,6:10\n7,8,9:2\n"
    data = read_sequences(write(tmp_path, "u.ts", text))
    assert len(data) == 3 and data.n_channels == 1
    assert data.lengths.tolist() == [3, 3, 3]
    assert data.sequences[1].dtype == np.float32 and data.sequences[1].shape == (3, 1)
    assert data.sequences[1].ravel().tolist() == [4, 5, 6]
    assert data.labels.tolist() == ["1", "10", "2"]
    assert data.classes == ["1", "2", "10"]  # numeric labels sort as numbers
    assert data.ids.tolist() == ["7", "8", "9"]  # the line of each case
    assert data.problem_name == "U" and data.declared_classes == ("1", "2", "10")
    assert data.channel_names == ["dim_1"]


def test_ts_multivariate_unequal_length(tmp_path):
    data = read_sequences(write(tmp_path, "m.ts", MULTI + "1,2,3:4,5,6:a\n\n7,8:9,10:b\n"))
    assert as_lists(data) == [[[1, 4], [2, 5], [3, 6]], [[7, 9], [8, 10]]]
    assert data.labels.tolist() == ["a", "b"] and data.classes == ["a", "b"]
    assert data.channel_names == ["dim_1", "dim_2"]
    assert data.pad().shape == (2, 3, 2) and data.pad()[1, 2].tolist() == [0, 0]


def test_ts_trailing_missing_is_padding(tmp_path):
    data = read_sequences(write(tmp_path, "p.ts", MULTI + "1,2,?:4,5,NaN:a\n1,2,3:4,5,6:b\n"))
    assert data.lengths.tolist() == [2, 3]


def test_ts_without_labels(tmp_path):
    text = "@univariate true\n@classLabel false\n@data\n1,2,3\n4,5\n"
    data = read_sequences(write(tmp_path, "x.ts", text))
    assert data.labels is None and data.classes == [] and data.lengths.tolist() == [3, 2]


def test_ts_timestamps(tmp_path):
    text = "@timeStamps true\n@univariate true\n@classLabel true 1 2\n@data\n"
    text += "(2007-01-01 00:00:00,241.97),(2007-01-01 00:01:00,241.75):1\n(0,1.5),(1,2.5),(2,3.5):2\n"
    data = read_sequences(write(tmp_path, "t.ts", text))
    assert as_lists(data) == [[[241.97000122070312], [241.75]], [[1.5], [2.5], [3.5]]]


def test_ts_gzip_and_format_override(tmp_path):
    path = tmp_path / "m.data"
    path.write_bytes(gzip.compress((MULTI + "1,2:3,4:a\n").encode()))
    assert len(read_sequences(path, format="ts")) == 1
    path = tmp_path / "m.ts.gz"
    path.write_bytes(gzip.compress((MULTI + "1,2:3,4:a\n").encode()))
    assert len(read_sequences(path)) == 1


# --------------------------------------------------------------------------- .ts: refusals


def test_ts_wrong_number_of_dimensions(tmp_path):
    path = write(tmp_path, "d.ts", MULTI + "1,2,3:4,5,6:a\n1,2:b\n")
    refused(path, r"d\.ts: line 12: the case has 1 dimension \(separated by ':'\), expected 2 \(from @dimensions\); the class label comes last$")


def test_ts_dimensions_from_first_case(tmp_path):
    text = "@univariate false\n@classLabel true a b\n@data\n1:2:3:a\n1:2:b\n"
    refused(write(tmp_path, "d.ts", text), r"line 5: the case has 2 dimensions .* expected 3 \(from the first case \(line 4\)\)")


def test_ts_undeclared_label(tmp_path):
    refused(write(tmp_path, "l.ts", MULTI + "1:2:c\n"), r"l\.ts: line 11: class label 'c' is not declared by @classLabel \(a, b\); add it there or fix the label$")
    refused(write(tmp_path, "l.ts", MULTI + "1:2:A\n"), r"\(labels are case-sensitive: 'a'\?\)")


def test_ts_not_a_number(tmp_path):
    refused(write(tmp_path, "n.ts", MULTI + "1,2:3,x:a\n"), r"n\.ts: line 11: dimension 2, value 2: 'x' is not a number$")


def test_ts_infinite_value(tmp_path):
    refused(write(tmp_path, "i.ts", MULTI + "1,inf:3,4:a\n"), r"line 11: dimension 1, value 2: inf is not a finite number$")


def test_ts_missing_inside_refused(tmp_path):
    message = refused(
        write(tmp_path, "h.ts", MULTI + "1,?,3:4,5,6:a\n"),
        r"h\.ts: line 11: dimension 1, value 2: missing value inside the sequence; only trailing padding",
        missing="refuse",
    )
    assert message.endswith("(missing='refuse'): fill it in, leave the case out, or pass missing='interpolate'")
    # trailing in one dimension only is not padding
    refused(write(tmp_path, "h.ts", MULTI + "1,2,?:4,5,6:a\n"), r"line 11: dimension 1, value 3: missing value inside",
            missing="refuse")


def test_ts_missing_inside_interpolated(tmp_path):
    """A gap inside a case is filled linearly in time; one at a dimension's end (not every
    dimension's: not padding) or start takes the nearest value; the trailing padding of a
    shorter case is still cut."""
    data = read_sequences(write(tmp_path, "h.ts", MULTI + "1,?,?,7:?,5,6,?:a\n2,?:3,?:b\n0,1,2,3:4,5,6,7:a\n"))
    assert as_lists(data)[0] == [[1.0, 5.0], [3.0, 5.0], [5.0, 6.0], [7.0, 6.0]]
    assert as_lists(data)[1] == [[2.0, 3.0]]  # the '?' of both dimensions: padding, cut
    assert (data.filled, data.filled_sequences) == (4, 1)
    refused(write(tmp_path, "e.ts", MULTI + "1,2,3:?,?,?:a\n"),
            r"e\.ts: line 11: dimension 2 has no value at all \(every value is missing\); a missing value can be filled")


def test_ts_all_missing(tmp_path):
    refused(write(tmp_path, "e.ts", MULTI + "?,?:?,?:a\n"), r"line 11: the case has no values \(every value is missing\)")


def test_ts_dimensions_of_unequal_length(tmp_path):
    refused(
        write(tmp_path, "u.ts", MULTI + "1,2,3:4,5:a\n"),
        r"line 11: dimension 2 has 2 values but dimension 1 has 3; the dimensions of a case must have the same length$",
    )


def test_ts_equal_length_declared(tmp_path):
    head = "@univariate true\n@equalLength true\n@classLabel true a b\n@data\n"
    refused(write(tmp_path, "q.ts", head + "1,2,3:a\n1,2:b\n"), r"line 6: the case has 2 values per dimension but the first case \(line 5\) has 3, and @equalLength is true")
    head = "@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n"
    refused(write(tmp_path, "q.ts", head + "1,2:a\n"), r"line 6: the case has 2 values per dimension but @seriesLength is 3$")


def test_ts_no_data_line(tmp_path):
    refused(write(tmp_path, "n.ts", "@problemName t\n@classLabel true a b\n"), r"n\.ts: has no @data line; a \.ts file has header lines")


def test_ts_no_cases(tmp_path):
    refused(write(tmp_path, "n.ts", "@classLabel true a b\n@data\n\n# nothing\n"), r"line 2: @data is followed by no cases")


def test_ts_header_errors(tmp_path):
    refused(write(tmp_path, "h.ts", "@classlable true a\n@data\n1:a\n"), r"line 1: unknown header tag '@classlable' \(did you mean @classLabel\?\); known tags: @problemName")
    refused(write(tmp_path, "h.ts", "@univariate maybe\n@data\n"), r"line 1: @univariate takes true or false, got 'maybe'$")
    refused(write(tmp_path, "h.ts", "@dimensions two\n@data\n"), r"line 1: @dimensions takes a whole number of at least 1, got 'two'$")
    refused(write(tmp_path, "h.ts", "@classLabel true\n@data\n"), r"line 1: @classLabel true must be followed by the class labels")
    refused(write(tmp_path, "h.ts", "@classLabel true a a\n@data\n"), r"line 1: @classLabel declares 'a' twice$")
    refused(write(tmp_path, "h.ts", "@univariate true\n@dimensions 3\n@data\n"), r"line 2: @dimensions 3 contradicts @univariate true$")
    refused(write(tmp_path, "h.ts", "hello\n@data\n"), r"line 1: 'hello' comes before the @data line")
    refused(write(tmp_path, "h.ts", "@data now\n"), r"line 1: @data takes no value")
    refused(write(tmp_path, "h.ts", "@targetLabel true\n@data\n1,2:0.5\n"), r"line 1: @targetLabel true: this is a regression problem")


def test_ts_timestamps_malformed(tmp_path):
    text = "@timeStamps true\n@univariate true\n@classLabel true 1\n@data\n1,2,3:1\n"
    refused(write(tmp_path, "t.ts", text), r"line 5: dimension 1 is not a list of \(time,value\) pairs")


# --------------------------------------------------------------------------- UCR .tsv


def test_tsv_unequal_length_with_nan_padding(tmp_path):
    data = read_sequences(write(tmp_path, "a.tsv", "1\t1.0\t2.0\tNaN\tNaN\n2\t3\t4\t5\t6\n\n"))
    assert data.lengths.tolist() == [2, 4] and data.labels.tolist() == ["1", "2"]
    assert data.ids.tolist() == ["1", "2"] and data.channel_names == ["value"]


def test_ucr_comma_and_space_separated(tmp_path):
    data = read_sequences(write(tmp_path, "a.csv", "a,1,2,3\nb,4,5,\n"), format="ucr")
    assert as_lists(data) == [[[1], [2], [3]], [[4], [5]]]
    old = "  1.0000000e+00  -1.2e+00  3.0e-01\n -1.0000000e+00  2.0e+00  3.0e+00\n"
    data = read_sequences(write(tmp_path, "Old_TRAIN.txt", old))
    assert data.labels.tolist() == ["1", "-1"] and data.classes == ["-1", "1"]


def test_tsv_refusals(tmp_path):
    refused(
        write(tmp_path, "h.tsv", "label\tt1\tt2\n1\t1\t2\n"),
        r"h\.tsv: line 1, column 2: 't1' is not a number \(is it a header\? UCR files have none: pass format='csv'",
    )
    refused(write(tmp_path, "b.tsv", "1\t1\t2\n2\t3\tx\n"), r"b\.tsv: line 2, column 3: 'x' is not a number$")
    refused(write(tmp_path, "m.tsv", "1\t1.0\t\t3\n"), r"m\.tsv: line 1, column 3: missing value inside the sequence",
            missing="refuse")
    refused(write(tmp_path, "e.tsv", "1\t1\n2\tNaN\tNaN\n"), r"e\.tsv: line 2: the sequence has no values after its label '2'")
    refused(write(tmp_path, "l.tsv", "\t1\t2\n"), r"l\.tsv: line 1, column 1: no class label")


# --------------------------------------------------------------------------- CSV and Parquet tables


def test_wide_csv(tmp_path):
    data = read_sequences(write(tmp_path, "w.csv", "id,label,t1,t2,t3\na,x,1,2,3\n,,,,\nb,y,4,5,\n"))
    assert data.ids.tolist() == ["a", "b"] and data.labels.tolist() == ["x", "y"]
    assert as_lists(data) == [[[1], [2], [3]], [[4], [5]]]
    assert data.label_column == "label" and data.columns == ("id", "label", "t1", "t2", "t3")


def test_wide_csv_without_id_or_label(tmp_path):
    data = read_sequences(write(tmp_path, "w.csv", "t1;t2\n1;2\n3;4\n"))  # semicolons
    assert data.labels is None and data.ids.tolist() == ["2", "3"]
    with pytest.raises(InputError, match=r"w\.csv: has no class labels, which training needs; name the column that holds them \(label_column; columns: t1, t2\)$") as info:
        check_trainable(data)
    assert info.value.param == "label_column"
    assert info.value.render(flag_for("classify")).endswith("name the column that holds them (--label-column; columns: t1, t2)")


def test_wide_csv_named_label_column(tmp_path):
    path = write(tmp_path, "w.csv", "Species,t1,t2\ncat,1,2\ndog,3,4\n")
    data = read_sequences(path, label_column="species")
    assert data.labels.tolist() == ["cat", "dog"] and data.label_column == "Species"
    with pytest.raises(
        InputError,
        match=r"w\.csv: row 2, column 'Species': 'cat' is not a number \(column 'Species' holds no numbers: if it holds the class labels, name it with label_column;",
    ) as info:
        read_sequences(path)
    assert "name it with --label-column; else leave it out" in info.value.render(flag_for("classify"))


def test_wide_value_columns(tmp_path):
    path = write(tmp_path, "w.csv", "label,note,t1,t2\nx,hi,1,2\ny,ho,3,4\n")
    data = read_sequences(path, value_columns=["t1", "t2"])
    assert as_lists(data) == [[[1], [2]], [[3], [4]]]
    refused(path, r"no value column 't9'; the columns are label, note, t1, t2$", value_columns=["t9"])


def test_long_csv(tmp_path):
    text = "id,time,label,speaker,x,y\ns2,1,b,m,5,6\ns1,2,a,f,1,2\ns1,1,a,f,3,4\n"
    data = read_sequences(write(tmp_path, "l.csv", text))
    assert data.ids.tolist() == ["s2", "s1"]  # order of first appearance
    assert data.channel_names == ["x", "y"]  # 'speaker' holds no numbers
    assert as_lists(data) == [[[5, 6]], [[3, 4], [1, 2]]]  # sorted by time
    assert data.labels.tolist() == ["b", "a"]


def test_long_csv_named_columns_and_dates(tmp_path):
    text = "utt,frame,cls,c1\nu1,2020-01-02,a,1\nu1,2020-01-01,a,2\n"
    data = read_sequences(write(tmp_path, "l.csv", text), id_column="utt", time_column="frame", label_column="cls")
    assert as_lists(data) == [[[2], [1]]]


def test_long_csv_refusals(tmp_path):
    refused(
        write(tmp_path, "l.csv", "id,time,label,x\ns1,1,a,1\ns1,2,b,2\n"),
        r"l\.csv: sequence 's1' has class 'a' at row 2 but 'b' at row 3; a sequence has one class",
    )
    refused(
        write(tmp_path, "d.csv", "id,time,label,x\ns1,1,a,1\ns1,1,a,2\n"),
        r"d\.csv: row 3, column 'time': sequence 's1' has time '1' twice \(also at row 2\)",
    )
    refused(write(tmp_path, "m.csv", "id,time,label,x\ns1,1,a,1\ns1,2,a,\n"),
            r"m\.csv: row 3, column 'x': missing value \(missing='refuse'\); in a long table", missing="refuse")
    refused(write(tmp_path, "b.csv", "id,time,label,x\ns1,1,a,1\ns1,2,a,zz\n"), r"b\.csv: row 3, column 'x': 'zz' is not a number$")
    refused(write(tmp_path, "t.csv", "id,time,label,x\ns1,1,a,1\ns1,xx,a,2\n"), r"t\.csv: row 3, column 'time': 'xx' is not a number, as the other times are")
    refused(write(tmp_path, "t.csv", "id,time,label,x\ns1,2020-01-01,a,1\ns1,yy,a,2\n"), r"t\.csv: row 3, column 'time': 'yy' is neither a number nor a date")
    refused(write(tmp_path, "n.csv", "time,label,x\n1,a,1\n"), r"n\.csv: a long table \(time column 'time'\) needs an id column", time_column="time")


def test_table_refusals(tmp_path):
    refused(write(tmp_path, "l.csv", "id,label,t1\na,x,1\n"), r"l\.csv: no label column 'klass'; the columns are id, label, t1$", label_column="klass")
    refused(write(tmp_path, "l.csv", "id,label,t1\na,x,1\n"), r"no label column 'lable' \(did you mean 'label'\?\); the columns", label_column="lable")
    refused(write(tmp_path, "v.csv", "label,t1,t2\nx,1,abc\ny,2,3\n"), r"v\.csv: row 2, column 't2': 'abc' is not a number$")
    refused(write(tmp_path, "e.csv", "label,t1,t2\nx,1,2\ny,,\n"), r"e\.csv: row 3: the sequence has no values \(every value column is empty\)")
    refused(write(tmp_path, "h.csv", "label,t1,t2,t3\nx,1,,3\n"), r"h\.csv: row 2, column 't2': missing value inside the sequence",
            missing="refuse")
    refused(write(tmp_path, "f.csv", "label,t1,t2\nx,1,,3\n"), r"f\.csv: the data rows have 1 field more than the header \(row 1\) has column names")
    refused(write(tmp_path, "u.csv", "id,label,t1\na,x,1\na,y,2\n"), r"u\.csv: row 3, column 'id': id 'a' again \(first at row 2\); in a wide table each row is one sequence")
    refused(write(tmp_path, "m.csv", "label,t1\nx,1\n,2\n"), r"m\.csv: row 3, column 'label': missing class label")
    refused(write(tmp_path, "o.csv", "label,t1\n"), r"o\.csv: the file has a header \(row 1\) but no data rows")


def test_parquet_wide_and_long(tmp_path):
    wide = pd.DataFrame({"label": [1, 2, 1], "t1": [1.0, 2.0, 3.0], "t2": [4.0, np.nan, 6.0]})
    wide.to_parquet(tmp_path / "w.parquet")
    data = read_sequences(tmp_path / "w.parquet")
    assert data.labels.tolist() == ["1", "2", "1"] and data.lengths.tolist() == [2, 1, 2]
    assert data.ids.tolist() == ["1", "2", "3"]  # Parquet rows count from 1
    long = pd.DataFrame({"id": ["a", "a", "b"], "time": [1, 0, 0], "label": ["x", "x", "y"], "v": [1.0, 2.0, np.inf]})
    long.to_parquet(tmp_path / "l.pq")
    refused(tmp_path / "l.pq", r"l\.pq: row 3, column 'v': inf is not a finite number$")
    long.loc[2, "v"] = 3.0
    long.to_parquet(tmp_path / "l.pq")
    assert as_lists(read_sequences(tmp_path / "l.pq")) == [[[2], [1]], [[3]]]


def test_dataframe_input():
    frame = pd.DataFrame({"label": ["x", "y"], "t1": [1.0, 2.0]}, index=[10, 11])
    data = read_sequences(frame)
    assert data.source == "DataFrame" and data.ids.tolist() == ["10", "11"]
    assert data.sequences[1].tolist() == [[2.0]]
    long = pd.DataFrame({"time": [0, 1, 0], "label": ["x", "x", "y"], "v": [1.0, 2.0, 3.0]}, index=pd.Index(["a", "a", "b"], name="id"))
    data = read_sequences(long)
    assert data.ids.tolist() == ["a", "b"] and data.channel_names == ["v"]
    with pytest.raises(InputError, match=r"^DataFrame: index 2, column 'v': missing value"):
        read_sequences(long.assign(v=[1.0, 2.0, np.nan]))


# --------------------------------------------------------------------------- the file itself


def test_file_refusals(tmp_path):
    missing = tmp_path / "nope.ts"
    refused(missing, rf"^{re.escape(str(missing))}: no such file; check the path \(relative paths start at .+\)$")
    refused(write(tmp_path, "e.ts", ""), r"e\.ts: the file is empty \(0 bytes\); expected a \.ts file \(UTF-8 text\)$")
    refused(write(tmp_path, "b.csv", b"label,t1\nx,\x00\x01\n"), r"b\.csv: is a binary file, not text \(a NUL byte on line 2, offset 11\)")
    refused(write(tmp_path, "n.csv", b"label,t1\ncaf\xe9,1\n"), r"n\.csv: line 2 is not UTF-8 text \(byte 0xe9 at offset 12\); save the file as UTF-8$")
    refused(write(tmp_path, "x.arff", "@relation x\n"), r"x\.arff: has no @data line")
    refused(write(tmp_path, "x.xlsx", "not a workbook"), r"x\.xlsx: is an Excel workbook \(save it as CSV\); expected a \.ts, \.tsv, \.arff, \.csv or \.parquet file")
    refused(write(tmp_path, "x.dat", "1,2\n"), r"x\.dat: cannot tell the format from the name \(\.dat\)")
    refused(write(tmp_path, "x.ts", "@data\n"), r"unknown format 'xml'", format="xml")
    refused(write(tmp_path, "p.parquet", "not parquet"), r"p\.parquet: cannot be read as Parquet")
    refused(tmp_path, r"is a directory", format="csv")
    refused(write(tmp_path, "c.ts", MULTI), r"label_column applies to CSV and Parquet tables", label_column="y")


# --------------------------------------------------------------------------- container, checks, splits


def make(labels, ids=None) -> SequenceData:
    labels = np.array(labels, dtype=str)
    n = len(labels)
    return SequenceData(
        sequences=[np.full((i + 1, 2), i, dtype=np.float32) for i in range(n)],
        labels=labels,
        classes=sorted(set(labels.tolist())),
        channel_names=["a", "b"],
        source="f.csv",
        ids=np.array(ids or [str(i + 2) for i in range(n)], dtype=str),
    )


def test_subset_and_label_indices():
    data = make(["b", "a", "c", "a"])
    sub = data.subset([3, 0])
    assert sub.labels.tolist() == ["a", "b"] and sub.ids.tolist() == ["5", "2"]
    assert sub.classes == ["a", "b", "c"] and sub.lengths.tolist() == [4, 1]
    assert data.label_indices().tolist() == [1, 0, 2, 0]
    assert data.label_indices(["c", "b", "a"]).tolist() == [1, 2, 0, 2]
    with pytest.raises(InputError, match=r"f\.csv: sequence 4 has class 'c', which is not among the 2 classes the model knows \(a, b\)"):
        data.label_indices(["a", "b"])


def test_check_trainable():
    check_trainable(make(["a", "a", "b", "b"]))
    with pytest.raises(InputError, match=r"f\.csv: every one of the 3 sequences has class 'a'; a classifier needs at least 2 classes"):
        check_trainable(make(["a", "a", "a"]))
    with pytest.raises(
        InputError,
        match=r"f\.csv: class 'c' has only 1 sequence \(id 6\); 1 more class too \('d'\); each class needs at least 2 \(to learn it and to validate on it\)",
    ):
        check_trainable(make(["a", "a", "b", "b", "c", "d"]))


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1])
def test_stratified_split(fraction, seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice(["a", "b", "c", "d"], size=83, p=[0.5, 0.3, 0.15, 0.05]).tolist() + ["solo"]
    train, test = stratified_split(labels, fraction, seed=seed)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(labels)
    assert train.dtype == np.int64 and (np.diff(train) > 0).all() and (np.diff(test) > 0).all()
    arr = np.array(labels)
    for c in set(labels):
        n = int((arr == c).sum())
        k = int((arr[test] == c).sum())
        if n >= 2:
            assert 1 <= k <= n - 1
            assert abs(k - n * fraction) <= 1.0 + 1e-9
        else:
            assert k == 0
    assert abs(len(test) - len(labels) * fraction) <= 1.0
    again = stratified_split(labels, fraction, seed=seed)
    assert np.array_equal(again[1], test)


def test_stratified_split_keeps_min_train_of_every_class_for_training():
    labels = ["a"] * 2 + ["b"] * 3 + ["c"] * 12
    for seed in range(5):
        train, test = stratified_split(labels, 0.5, seed=seed, min_train=2)
        arr = np.array(labels)
        kept = {c: int((arr[train] == c).sum()) for c in "abc"}
        assert kept["a"] == 2 and kept["b"] == 2 and 2 <= kept["c"] <= 11  # a: none to spare; b: one
    assert len(stratified_split(["a", "a", "b", "b"], 0.25, min_train=2)[1]) == 0
    assert len(stratified_split(["a", "a", "b", "b"], 0.25)[1]) == 2  # the default keeps one of each


def test_stratified_split_bad_fraction():
    with pytest.raises(InputError, match=r"the test fraction must be between 0 and 1"):
        stratified_split(["a", "b"], 1.0)


# --------------------------------------------------------------------------- aeon's data sets


def test_load_dataset_without_aeon(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "aeon" else real(name, *a))
    with pytest.raises(MissingPackageError, match=r"the UCR/UEA data sets come with aeon, which is not installed; pip install aeon"):
        load_dataset("GunPoint")
    with pytest.raises(MissingPackageError):
        available_datasets()


@pytest.mark.skipif(not HAS_AEON, reason="aeon is not installed")
def test_load_dataset_refusals():
    with pytest.raises(InputError, match=r"unknown data set 'GunPont' \(did you mean 'GunPoint'\?\); the installed aeon ships: .*JapaneseVowels"):
        load_dataset("GunPont")
    with pytest.raises(InputError, match=r"split must be 'train' or 'test'"):
        load_dataset("GunPoint", "valid")
    data = load_dataset("japanesevowels", "test")
    assert data.source == "JapaneseVowels_TEST.ts" and len(data) == 370 and data.n_channels == 12


@pytest.mark.skipif(not HAS_AEON, reason="aeon is not installed")
def test_reader_matches_aeon_on_every_shipped_dataset():
    from aeon.datasets import load_from_ts_file

    from lstmkit.data.sequences import _aeon_data_dir, _aeon_datasets

    names = available_datasets()
    assert {"GunPoint", "JapaneseVowels", "BasicMotions", "ItalyPowerDemand", "ArrowHead"} <= set(names)
    files = _aeon_datasets(str(_aeon_data_dir()))
    for name in names:
        for split, path in zip(("train", "test"), files[name]):
            ours = load_dataset(name, split)
            X, y = load_from_ts_file(path)
            assert len(X) == len(ours), (name, split)
            for i, (theirs, mine) in enumerate(zip(X, ours.sequences)):
                expected = np.asarray(theirs, dtype=np.float32).T  # aeon: (channels, length)
                assert np.array_equal(expected, mine), (name, split, i)
            # aeon lower-cases labels (BasicMotions: 'Standing' -> 'standing'); this reader keeps them
            assert [s.lower() for s in ours.labels.tolist()] == [str(v) for v in y], (name, split)
            check_trainable(ours)
    # the timestamped unit-test file too
    stamped = _aeon_data_dir() / "UnitTest" / "UnitTestTimeStamps_TRAIN.ts"
    X, y = load_from_ts_file(str(stamped))
    ours = read_sequences(stamped)
    assert np.array_equal(np.asarray(X, dtype=np.float32).transpose(0, 2, 1), np.stack(ours.sequences))
    assert ours.labels.tolist() == [str(v) for v in y]


def test_tsv_and_wide_table_gaps_interpolated(tmp_path):
    tsv = read_sequences(write(tmp_path, "m.tsv", "1\t1.0\t\t\t4\tNaN\n2\t?\t2\t2\n"))
    assert as_lists(tsv) == [[[1.0], [2.0], [3.0], [4.0]], [[2.0], [2.0], [2.0]]]
    assert (tsv.filled, tsv.filled_sequences) == (3, 2)
    wide = read_sequences(write(tmp_path, "h.csv", "label,t1,t2,t3,t4\nx,1,,3,\ny,,0,2,4\n"))
    assert as_lists(wide) == [[[1.0], [2.0], [3.0]], [[0.0], [0.0], [2.0], [4.0]]]
    assert (wide.filled, wide.filled_sequences) == (2, 2)


def test_long_table_gaps_interpolated_in_time_order(tmp_path):
    """The rows of a long table are filled in the order of their time column, not the file's."""
    text = "id,time,a,b,label\ns,3,3,,x\ns,1,1,10,x\ns,2,,,x\nr,1,5,1,y\n"
    data = read_sequences(write(tmp_path, "l.csv", text))
    assert as_lists(data) == [[[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]], [[5.0, 1.0]]]
    assert (data.filled, data.filled_sequences) == (3, 1)
    refused(write(tmp_path, "l.csv", text), r"l\.csv: row 2, column 'b': missing value \(missing='refuse'\); in a long table",
            missing="refuse")
    refused(write(tmp_path, "e.csv", "id,time,a,b,label\ns,1,1,,x\ns,2,2,,x\nr,1,1,1,y\n"),
            r"e\.csv: row 2, column 'b': missing value, and sequence 's' has no value in this column in any of its rows")


def test_missing_policy_checked(tmp_path):
    refused(write(tmp_path, "h.tsv", "1\t1\n"), r"missing must be one of interpolate, refuse, got 'drop'", missing="drop")
