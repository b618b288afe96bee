"""ARFF files of labelled sequences (the UCR/UEA archive ships every set as .arff beside .ts):
values, labels, padding, gaps, the unlabelled case, and one-line refusals naming the line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from lstmkit.cli.main import main
from lstmkit.data import read_sequences
from lstmkit.data.arff import split_fields
from lstmkit.errors import InputError

UNIVARIATE = """% a comment
@RELATION 'Toy ramps'

@ATTRIBUTE att0 NUMERIC
@attribute att1 numeric
@attribute att2 real
@attribute att3 integer
@attribute 'the class' {up,'down hill'}

@DATA
1,2,3,4,up
% a comment among the rows
4,?,2,1,'down hill'
0.5,1.5,?,?,up
"""

MULTIVARIATE = """@relation Motions
@attribute motion relational
  @attribute t0 numeric
  @attribute t1 numeric
  @attribute t2 numeric
@end motion
@attribute activity {walk,run}
@data
'1,2,3\\n10,20,30',walk
"4,5,?\\n40,50,?",run
'7,?,9\\n70,80,90',walk
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path, match: str, **kwargs) -> str:
    with pytest.raises(InputError, match=match) as info:
        read_sequences(path, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_univariate_values_labels_padding_and_gaps(tmp_path):
    data = read_sequences(write(tmp_path, "toy.arff", UNIVARIATE))
    assert [s[:, 0].tolist() for s in data.sequences] == [[1, 2, 3, 4], [4, 3, 2, 1], [0.5, 1.5]]
    assert list(data.labels) == ["up", "down hill", "up"]  # quoted label, space kept
    assert data.classes == ["down hill", "up"] and data.declared_classes == ("up", "down hill")
    assert data.channel_names == ["dim_1"] and data.problem_name == "Toy ramps"
    assert list(data.ids) == ["11", "13", "14"]  # the line numbers
    assert (data.filled, data.filled_sequences) == (1, 1)  # line 13's gap; line 14's ?s are padding


def test_multivariate_relational_rows(tmp_path):
    data = read_sequences(write(tmp_path, "m.arff", MULTIVARIATE))
    assert data.n_channels == 2 and list(data.labels) == ["walk", "run", "walk"]
    np.testing.assert_array_equal(data.sequences[0], [[1, 10], [2, 20], [3, 30]])
    np.testing.assert_array_equal(data.sequences[1], [[4, 40], [5, 50]])  # trailing ? in both: padding
    np.testing.assert_array_equal(data.sequences[2], [[7, 70], [8, 80], [9, 90]])  # the gap interpolated
    assert data.sequences[0].dtype == np.float32


def test_every_label_missing_reads_unlabelled(tmp_path):
    text = UNIVARIATE.replace(",up\n", ",?\n").replace(",'down hill'\n", ",?\n")
    data = read_sequences(write(tmp_path, "new.arff", text))
    assert data.labels is None and len(data.sequences) == 3


def test_split_fields_keeps_commas_and_escapes_inside_quotes():
    assert split_fields("'a,b', \"c\\\"d\" ,e") == ["a,b", 'c"d', "e"]
    assert split_fields("'1,2\\n3,4',x") == ["1,2\\n3,4", "x"]
    with pytest.raises(ValueError, match="not closed"):
        split_fields("'1,2,x")


@pytest.mark.parametrize("text,match", [
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n", r"x\.arff: has no @data line"),
    ("@relation x\n@attribute a numeric\n@attribute y numeric\n@data\n1,2\n",
     r"x\.arff: line 3: the last attribute, 'y', is numeric: this is a regression problem"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n1,r\n",
     r"x\.arff: line 5: class label 'r' is not declared by @attribute c \(p, q\); add it there"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n1,P\n", r"labels are case-sensitive: 'p'\?"),
    ("@relation x\n@attribute a numeric\n@attribute b numeric\n@attribute c {p,q}\n@data\n1,2,p\n1,p\n",
     r"x\.arff: line 7: the row has 2 values, expected 3: the 2 time steps declared by @attribute, then the class"),
    ("@relation x\n@attribute a numeric\n@attribute b numeric\n@attribute c {p,q}\n@data\n1,abc,p\n",
     r"x\.arff: line 6: value 2: 'abc' is not a number \(or \? for a missing value\)"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n{0 1, 1 p}\n", r"line 5: a sparse row"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n1,p\n2,?\n",
     r"line 6: the class label is missing \(\?\) while other cases have one"),
    ("@relation x\n@attribute a timestamp\n@attribute c {p,q}\n@data\n1,p\n",
     r"line 2: attribute 'a' has the type 'timestamp'; known types"),
    ("@relation x\n@attribute m relational\n@attribute t0 numeric\n@attribute c {p,q}\n@data\n'1',p\n",
     r"line 4: attribute 'c' inside relational 'm' is nominal; the time steps of a case are numeric "
     r"\(is '@end m' missing before it\?\)"),
    ("@relation x\n@attribute m relational\n@attribute t0 numeric\n@data\n'1',p\n",
     r"line 2: relational attribute 'm' is not closed by '@end m' before @data"),
    ("@relation x\n@attribute a string\n@attribute c {p,q}\n@data\n1,p\n",
     r"line 2: attribute 'a' is string; the time steps of a univariate ARFF file are numeric"),
    ("@relation x\nhello\n@data\n", r"line 2: 'hello' comes before the @data line"),
    ("@relation\n@attribute\n@data\n", r"line 2: '@attribute': an @attribute line names the attribute, then its type"),
    ("@relation x\n@attribute a {p,q\n@data\n", r"line 2: attribute 'a' has the type '\{p,q'; known types"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n'1,p\n", r"line 5: a quote \(\'\) is not closed"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n1e39,p\n", r"line 5: value 1: 1e\+39 is too large"),
    ("@relation x\n@attribute a numeric\n@attribute c {p,q}\n@data\n", r"line 4: @data is followed by no cases"),
])
def test_refusals_name_the_line(tmp_path, text, match):
    refused(write(tmp_path, "x.arff", text), match)


def test_multivariate_refusals(tmp_path):
    bad_dims = MULTIVARIATE + "'1,2,3',run\n"
    refused(write(tmp_path, "d.arff", bad_dims),
            r"d\.arff: line 12: the case has 1 dimension \(separated by \\n\), expected 2 \(from the first case \(line 9\)\)")
    ragged = MULTIVARIATE + "'1,2,3\\n4,5',run\n"
    refused(write(tmp_path, "r.arff", ragged), r"line 12: dimension 2 has 2 values but dimension 1 has 3")
    not_number = MULTIVARIATE + "'1,2,3\\n4,x,6',run\n"
    refused(write(tmp_path, "n.arff", not_number), r"line 12: dimension 2, value 2: 'x' is not a number")
    refused(write(tmp_path, "g.arff", MULTIVARIATE), r"g\.arff: line 11: dimension 1, value 2: missing value inside "
                                                     r"the sequence", missing="refuse")


def test_format_named_for_another_suffix(tmp_path):
    path = write(tmp_path, "toy.txt", UNIVARIATE)
    assert len(read_sequences(path, format="arff").sequences) == 3


@pytest.mark.skipif(importlib.util.find_spec("aeon") is None, reason="aeon is not installed")
@pytest.mark.parametrize("name", ["GunPoint", "ArrowHead", "BasicMotions"])
def test_aeons_arff_files_read_as_their_ts_twins(name):
    spec = importlib.util.find_spec("aeon")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name
    arff, ts = folder / f"{name}_TRAIN.arff", folder / f"{name}_TRAIN.ts"
    if not arff.is_file() or not ts.is_file():
        pytest.skip(f"the installed aeon ships no {name}_TRAIN.arff / .ts")
    a, t = read_sequences(arff), read_sequences(ts)
    assert len(a.sequences) == len(t.sequences) and a.n_channels == t.n_channels
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, t.sequences))
    assert list(a.labels) == list(t.labels) and a.classes == t.classes


def test_cli_classifies_arff_files_and_refuses_a_bad_one(tmp_path, capsys):
    rng = np.random.default_rng(0)
    header = "@relation ramps\n" + "".join(f"@attribute t{k} numeric\n" for k in range(16)) + "@attribute c {up,down}\n@data\n"

    def rows(n):
        out = []
        for i in range(n):
            sign = 1 if i % 2 else -1
            values = sign * np.linspace(0, 1, 16) + 0.05 * rng.standard_normal(16)
            out.append(",".join(f"{v:.4f}" for v in values) + ("," + ("up" if sign > 0 else "down")))
        return "\n".join(out) + "\n"

    train = write(tmp_path, "train.arff", header + rows(16))
    test = write(tmp_path, "test.arff", header + rows(8))
    out = tmp_path / "run"
    assert main(["classify", str(train), str(test), "--hidden-size", "8", "--max-epochs", "1", "--ensemble", "1",
                 "--conv-segments", "1", "--conv-max", "off", "--no-baseline", "--out", str(out)]) == 0
    assert (out / "metrics.json").is_file()
    capsys.readouterr()
    bad = write(tmp_path, "bad.arff", header + rows(4) + "1,2,up\n")
    out2 = tmp_path / "run2"
    assert main(["classify", str(bad), "--out", str(out2)]) == 2
    assert capsys.readouterr().err == (f"error: {bad}: line 24: the row has 3 values, expected 17: the 16 time "
                                       "steps declared by @attribute, then the class\n")
    assert not out2.exists()
